// simple_endpoint: the demo endpoint of the Go reference implementation of glue, with
// the same flags. Configured by the GLUE_* environment; by default it subscribes to a
// topic, with -sendMessages it publishes on it. It prints on stdout, flushed at once,
// one line per peer event
//
//   added name=NAME id=ID address=IP:PORT
//   removed name=NAME id=ID reason=expired|goodbye|replaced
//
// and once a second, and at exit with "final" in place of "stats",
//
//   stats topic=T published=N                                              (publisher)
//   stats topic=T received=N lost=N duplicates=N corrupt=N missed_at_start=N (subscriber)
//
// Each payload carries a CRC-32C of its filler. A subscriber counts each run of a
// publisher (its id and epoch) apart: `lost` counts the gaps in its sequence after
// the first message heard of it, `missed_at_start` the messages before that one
// (cmd/message_tally.h). Logs go to stderr. SIGINT or SIGTERM (or -duration) makes it
// linger for its reliable messages, say goodbye and exit 0. SIGUSR1 cuts it off from
// the network, as a partition would, and the next SIGUSR1 heals it, printing
//
//   partitioned
//   healed
//
// (only when started with faults: any GLUE_FAULT_* set, even GLUE_FAULT_LOSS=0).
//
// With -model NAME it neither publishes nor subscribes: it opens the replicated model
// NAME and takes commands on stdin, one a line (cmd/model_console.h): `put KEY VALUE`,
// `del KEY`, `dump` (prints the state) and `sync` (waits up to 5 s for the peers'
// states, Model::Sync, printing `model NAME: synced replicas=N` or why not). It prints
// each change of the model as it shows here, how many peers hold the model whenever
// that changes, and a command that failed with the reason:
//
//   model NAME: put KEY=VALUE by WRITER
//   model NAME: delete KEY (was VALUE by WRITER)
//   model NAME: replicas=N
//   model NAME: failed 'del KEY': NOT_FOUND: no key 'KEY'
//
// It goes on after the end of stdin. The flags are in cmd/simple_endpoint_flags.h:
//
//   simple_endpoint [-sendMessages] [-topicName some_topic] [-payloadSize 65536]
//                   [-rate 20] [-expiry 1000] [-duration 0]
//   simple_endpoint -model NAME [-duration 0]
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cmd/message_tally.h"
#include "cmd/model_console.h"
#include "cmd/simple_endpoint_flags.h"
#include "glue/base/log.h"
#include "glue/endpoint/endpoint.h"

namespace glue {
namespace {

constexpr char kType[] = "glue.simple_endpoint.Payload";

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

std::atomic<bool> stop_requested{false};
std::atomic<int> partition_toggles{0};
extern "C" void OnSignal(int) { stop_requested = true; }
extern "C" void OnPartitionSignal(int) { partition_toggles.fetch_add(1); }

// How long `sync` waits for the peers.
constexpr absl::Duration kSyncWait = absl::Seconds(5);

// StdinLines reads the commands of the model mode without holding up the main loop.
class StdinLines {
 public:
  // Wait waits up to `timeout` for stdin, and returns the complete lines that arrived
  // (all of them at its end, after which it only sleeps). Main thread.
  std::vector<std::string> Wait(absl::Duration timeout) {
    std::vector<std::string> lines;
    if (ended_) {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(timeout));
      return lines;
    }
    pollfd in{.fd = STDIN_FILENO, .events = POLLIN, .revents = 0};
    const int ms = static_cast<int>(
        absl::ToInt64Milliseconds(absl::Ceil(timeout, absl::Milliseconds(1))));
    if (poll(&in, 1, ms) <= 0) return lines;  // a timeout, or a signal to look at
    char buffer[4096];
    const ssize_t n = read(STDIN_FILENO, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) return lines;
    if (n > 0) {
      partial_.append(buffer, static_cast<size_t>(n));
    } else {
      ended_ = true;
      if (!partial_.empty()) partial_ += '\n';
    }
    size_t start = 0;
    for (size_t end; (end = partial_.find('\n', start)) != std::string::npos;
         start = end + 1) {
      lines.push_back(partial_.substr(start, end - start));
    }
    partial_.erase(0, start);
    return lines;
  }

 private:
  std::string partial_;  // read, and not a complete line yet
  bool ended_ = false;   // at the end of stdin, or an error reading it
};

// RunModelCommand runs one command line on `model`, printing what it shows and why
// it failed. Main thread.
void RunModelCommand(model::Model& model, const std::string& line) {
  const absl::StatusOr<ModelCommand> command = ParseModelCommand(line);
  absl::Status status = command.status();
  if (command.ok()) {
    switch (command->kind) {
      case ModelCommand::Kind::kPut:
        status = model.Put(command->key, command->value);
        break;
      case ModelCommand::Kind::kDelete:
        status = model.Delete(command->key);
        break;
      case ModelCommand::Kind::kDump: {
        const absl::StatusOr<model::ModelSnapshot> snapshot = model.Snapshot("#");
        status = snapshot.status();
        if (snapshot.ok()) PrintLine(FormatModelState(model.name(), *snapshot));
        break;
      }
      case ModelCommand::Kind::kSync: {
        // Counted first: a peer that comes meanwhile may be synced, but not counted.
        const size_t replicas = model.replicas();
        status = model.Sync(absl::Now() + kSyncWait);
        if (status.ok()) {
          PrintLine(
              absl::StrFormat("model %s: synced replicas=%d\n", model.name(), replicas));
        }
        break;
      }
    }
  }
  if (!status.ok()) {
    PrintLine(absl::StrFormat("model %s: failed '%s': %s\n", model.name(),
                              absl::CHexEscape(line), status.ToString()));
  }
}

int Run(int argc, char** argv) {
  const absl::StatusOr<SimpleEndpointFlags> parsed = ParseSimpleEndpointFlags(argc, argv);
  if (!parsed.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n%s",
                 std::string(parsed.status().message()).c_str(), kSimpleEndpointUsage);
    return 2;
  }
  if (parsed->help) {
    std::fputs(kSimpleEndpointUsage, stdout);
    return 0;
  }
  const SimpleEndpointFlags& flags = *parsed;
  absl::StatusOr<EndpointOptions> options = OptionsFromEnvironment();
  if (!options.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", options.status().ToString().c_str());
    return 2;
  }
  // The faults it started with, to return to when a partition heals.
  const std::optional<network::FaultOptions> faults =
      options->discovery_options.data_faults;
  options->on_peer_added = [](const discovery::Peer& peer) {
    PrintLine(absl::StrFormat("added name=%s id=%d address=%s\n", peer.name, peer.id,
                              network::FormatAddress(peer.data_address)));
  };
  options->on_peer_removed = [](const discovery::Peer& peer,
                                discovery::RemovalReason why) {
    PrintLine(absl::StrFormat("removed name=%s id=%d reason=%s\n", peer.name, peer.id,
                              discovery::RemovalReasonName(why)));
  };
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint =
      Endpoint::Create(*std::move(options));
  if (!endpoint.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", endpoint.status().ToString().c_str());
    return 2;
  }
  MessageTally tally;
  const bool topic_mode = flags.model.empty();
  if (topic_mode && !flags.send_messages) {
    if (absl::Status s = (*endpoint)->Subscribe(
            flags.topic, kType, [&tally](const Message& m) { tally.Count(m); });
        !s.ok()) {
      std::fprintf(stderr, "simple_endpoint: %s\n", s.ToString().c_str());
      return 2;
    }
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGUSR1, OnPartitionSignal);
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) {
    std::fprintf(stderr, "simple_endpoint: %s\n", started.ToString().c_str());
    return 1;
  }

  std::unique_ptr<model::Model> model;  // -model: the model, and commands on stdin
  StdinLines commands;
  size_t replicas_shown = 0;
  if (!topic_mode) {
    absl::StatusOr<std::unique_ptr<model::Model>> opened =
        (*endpoint)->OpenModel(flags.model);
    absl::Status s = opened.status();
    if (s.ok()) {
      model = *std::move(opened);
      s = model
              ->Watch("#",
                      [name = flags.model](const model::WatchEvent& event) {
                        PrintLine(FormatModelEvent(name, event));
                      })
              .status();
    }
    if (!s.ok()) {
      std::fprintf(stderr, "simple_endpoint: %s\n", s.ToString().c_str());
      return 1;
    }
  }

  // A publisher keeps every unexpired message for subscribers that appear later (or
  // whose interest arrives after the first messages).
  const absl::Duration expiry = absl::Milliseconds(flags.expiry_ms);
  const PublishOptions publish_options{
      .history_depth = static_cast<size_t>(std::clamp<uint64_t>(
          (flags.rate * flags.expiry_ms + 999) / 1000, 1, topics::kMaxHistoryDepth))};
  const absl::Duration period = absl::Seconds(1) / static_cast<double>(flags.rate);
  const absl::Time start = absl::Now();
  const absl::Time end = flags.duration_s == 0 ? absl::InfiniteFuture()
                                               : start + absl::Seconds(flags.duration_s);
  absl::Time next_publish = start;
  // A model endpoint prints no stats.
  absl::Time next_stats = topic_mode ? start + absl::Seconds(1) : absl::InfiniteFuture();
  uint64_t published = 0;
  int partition_toggles_seen = 0;
  auto publisher_line = [&](const char* what) {
    return absl::StrFormat("%s topic=%s published=%d\n", what, flags.topic, published);
  };
  while (!stop_requested && absl::Now() < end) {
    const absl::Time now = absl::Now();
    if (const int toggles = partition_toggles.load(); toggles != partition_toggles_seen) {
      partition_toggles_seen = toggles;
      network::FaultOptions now_faults = faults.value_or(network::FaultOptions());
      now_faults.partitioned = toggles % 2 == 1;
      if (absl::Status s = (*endpoint)->SetFaults(now_faults); s.ok()) {
        PrintLine(now_faults.partitioned ? "partitioned\n" : "healed\n");
      } else {
        GLUE_LOG(kWarning, "simple_endpoint: SIGUSR1: %s", s.message());
      }
    }
    if (flags.send_messages && now >= next_publish) {
      const absl::Status s = (*endpoint)->Publish(
          flags.topic, kType, expiry, MakePayload(published + 1, flags.payload_size),
          publish_options);
      if (s.ok()) {
        ++published;
      } else {
        GLUE_LOG(kWarning, "simple_endpoint: publish: %s", s.ToString());
      }
      next_publish += period;
    }
    if (now >= next_stats) {
      PrintLine(flags.send_messages ? publisher_line("stats")
                                    : tally.Line("stats", flags.topic));
      next_stats += absl::Seconds(1);
    }
    if (model != nullptr) {
      if (const size_t replicas = model->replicas(); replicas != replicas_shown) {
        replicas_shown = replicas;
        PrintLine(absl::StrFormat("model %s: replicas=%d\n", flags.model, replicas));
      }
    }
    const absl::Time wake =
        std::min({flags.send_messages ? next_publish : next_stats, next_stats, end});
    const absl::Duration nap =
        std::clamp(wake - absl::Now(), absl::ZeroDuration(), absl::Milliseconds(50));
    if (model != nullptr) {
      for (const std::string& line : commands.Wait(nap)) {
        if (line.find_first_not_of(" \t") != std::string::npos) {
          RunModelCommand(*model, line);
        }
      }
    } else {
      std::this_thread::sleep_for(absl::ToChronoNanoseconds(nap));
    }
  }
  GLUE_LOG(kInfo, "simple_endpoint: stopping: lingering, then saying goodbye");
  (*endpoint)->Stop();
  if (topic_mode) {
    PrintLine(flags.send_messages ? publisher_line("final")
                                  : tally.Line("final", flags.topic));
  }
  return 0;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) { return glue::Run(argc, argv); }
