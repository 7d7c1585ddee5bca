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
// (only when started with faults: any GLUE_FAULT_* set, even GLUE_FAULT_LOSS=0). The
// flags are in cmd/simple_endpoint_flags.h:
//
//   simple_endpoint [-sendMessages] [-topicName some_topic] [-payloadSize 65536]
//                   [-rate 20] [-expiry 1000] [-duration 0]
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <string>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cmd/message_tally.h"
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
  if (!flags.send_messages) {
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
  absl::Time next_stats = start + absl::Seconds(1);
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
    const absl::Time wake =
        std::min({flags.send_messages ? next_publish : next_stats, next_stats, end});
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(
        std::clamp(wake - absl::Now(), absl::ZeroDuration(), absl::Milliseconds(50))));
  }
  GLUE_LOG(kInfo, "simple_endpoint: stopping: lingering, then saying goodbye");
  (*endpoint)->Stop();
  PrintLine(flags.send_messages ? publisher_line("final")
                                : tally.Line("final", flags.topic));
  return 0;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) { return glue::Run(argc, argv); }
