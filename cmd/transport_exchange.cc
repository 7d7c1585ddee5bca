// transport_exchange: the transport and fragmentation layers on loopback, under the
// faults GLUE_FAULT_* asks for. Two endpoints in one process, "alpha" and "beta", find
// each other by multicast on lo; alpha sends beta a run of numbered messages of any
// size up to GLUE_MAX_MESSAGE_BYTES (those larger than one datagram of GLUE_MTU bytes
// go as fragments), and the program checks that each arrived once, intact (and in
// order, for ordered ones), then prints what both sides counted. Exit status 1 when a
// message is missing, repeated, corrupt or out of order; 77 (a skip, to CTest) when
// loopback cannot carry multicast, or 1 then too when CI is set: there loopback must
// carry it, and a skipped exchange would check nothing.
//
//   GLUE_FAULT_LOSS=0.2 GLUE_FAULT_REORDER=0.1 transport_exchange [--messages N]
//       [--size BYTES] [--unordered] [--best-effort]
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/clock.h"
#include "glue/base/log.h"
#include "glue/base/status_macros.h"
#include "glue/discovery/discovery.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/interfaces.h"
#include "glue/transport/transport.h"

namespace glue {
namespace {

using fragmentation::MessageTransport;
using fragmentation::MessageTransportCounters;
using transport::SendOutcome;

constexpr int kSkipped = 77;  // what CTest's SKIP_RETURN_CODE expects

// MissingIsFailure says whether lacking what the exchange needs is a failure rather
// than a skip: when CI is set to a non-empty value, as in the tests' skips
// (glue/base/skip.h, test code this program does not link).
bool MissingIsFailure() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

struct Options {
  uint64_t messages = 10000;
  uint64_t size = 100;
  bool ordered = true;
  bool reliable = true;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    if (flag == "--unordered") {
      options->ordered = false;
    } else if (flag == "--best-effort") {
      options->reliable = false;
      options->ordered = false;
    } else if ((flag == "--messages" || flag == "--size") && value != nullptr) {
      uint64_t* target = flag == "--messages" ? &options->messages : &options->size;
      if (!absl::SimpleAtoi(value, target)) {
        std::fprintf(stderr, "transport_exchange: %s '%s' is not a number\n",
                     flag.c_str(), value);
        return false;
      }
      ++i;
    } else {
      std::fprintf(stderr,
                   "usage: transport_exchange [--messages N] [--size BYTES] "
                   "[--unordered] [--best-effort]\n");
      return false;
    }
  }
  if (options->size < sizeof(uint64_t)) {
    std::fprintf(stderr, "transport_exchange: --size must be at least %zu\n",
                 sizeof(uint64_t));
    return false;
  }
  return true;
}

// Payload is message `index`: the index, then bytes derived from it.
std::vector<uint8_t> Payload(uint64_t index, size_t size) {
  std::vector<uint8_t> payload(size);
  std::memcpy(payload.data(), &index, sizeof(index));
  for (size_t i = sizeof(index); i < size; ++i) {
    payload[i] = static_cast<uint8_t>(index * 131 + i);
  }
  return payload;
}

// What beta saw.
struct Received {
  uint64_t count = 0;
  uint64_t repeated = 0;
  uint64_t corrupt = 0;
  uint64_t out_of_order = 0;
  int64_t last = -1;
  std::vector<bool> seen;
};

void Check(const std::vector<uint8_t>& message, const Options& options,
           Received* received) {
  uint64_t index = 0;
  if (message.size() != options.size) {
    ++received->corrupt;
    return;
  }
  std::memcpy(&index, message.data(), sizeof(index));
  if (index >= options.messages || message != Payload(index, options.size)) {
    ++received->corrupt;
    return;
  }
  if (received->seen[index]) {
    ++received->repeated;
    return;
  }
  received->seen[index] = true;
  ++received->count;
  if (static_cast<int64_t>(index) < received->last) ++received->out_of_order;
  received->last = static_cast<int64_t>(index);
}

void PrintCounters(const char* name, const MessageTransportCounters& m) {
  const transport::TransportCounters& c = m.transport;
  const transport::SessionCounters& s = c.sessions;
  std::printf("%s: datagrams sent %" PRIu64 ", frames sent %" PRIu64 ", resent %" PRIu64
              ", acknowledged %" PRIu64 ", expired %" PRIu64 ", acks sent %" PRIu64
              ", duplicates dropped %" PRIu64 ", best-effort lost %" PRIu64
              ", corrupt datagrams %" PRIu64 ", dropped by the kernel %" PRIu64
              ", refused beyond the reorder buffer %" PRIu64 " or window %" PRIu64 "\n",
              name, c.datagrams_sent, s.data_sent, s.data_resent, s.acked, s.expired,
              s.acks_sent, s.duplicates, s.best_effort_lost, c.discovery.corrupt,
              c.discovery.data_link.dropped_by_kernel, s.reorder_dropped,
              s.beyond_window);
  const fragmentation::ReassemblerCounters& r = m.reassembly;
  std::printf("%s: messages sent %" PRIu64 " (%" PRIu64 " in %" PRIu64
              " fragments), received %" PRIu64 " whole and %" PRIu64
              " reassembled; incomplete dropped: %" PRIu64 " expired, %" PRIu64
              " at a cap, %" PRIu64 " checksum mismatches\n",
              name, m.messages_sent, m.sent_fragmented, m.fragments_sent,
              m.received_whole, m.received_reassembled, r.expired,
              r.dropped_peer_cap + r.dropped_total_cap, r.checksum_mismatches);
}

// Node is one side of the exchange: its stack, each layer over the one beneath, and
// what its listener heard.
struct Node final : MessageTransport::Listener {
  std::function<void(std::vector<uint8_t>)> on_message;
  bool peer_seen = false;
  uint64_t acknowledged = 0;
  uint64_t given_up = 0;
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<MessageTransport> messages;

  void OnPeerAdded(const discovery::Peer&) override { peer_seen = true; }
  void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}
  void OnMessage(const discovery::Peer&, uint64_t,
                 std::vector<uint8_t> message) override {
    if (on_message) on_message(std::move(message));
  }
  void OnSendDone(uint64_t, uint64_t, SendOutcome outcome) override {
    (outcome == SendOutcome::kAcknowledged ? acknowledged : given_up) += 1;
  }
};

// Assemble makes and starts `node`'s stack on `io`.
absl::Status Assemble(boost::asio::io_context& io, const discovery::Config& config,
                      const discovery::Discovery::Options& discovery_options,
                      const transport::TransportOptions& transport_options,
                      const fragmentation::MessageTransportOptions& message_options,
                      Node* node) {
  GLUE_ASSIGN_OR_RETURN(node->discovery,
                        discovery::Discovery::Create(boost::asio::make_strand(io), config,
                                                     discovery_options));
  GLUE_ASSIGN_OR_RETURN(
      node->transport, transport::Transport::Create(*node->discovery, transport_options));
  GLUE_ASSIGN_OR_RETURN(node->messages,
                        MessageTransport::Create(*node->transport, message_options));
  return node->messages->Start(node);
}

int Run(int argc, char** argv) {
  Options options;
  if (!ParseOptions(argc, argv, &options)) return 2;
  if (absl::Status level = LogSeverityFromEnvironment().status(); !level.ok()) {
    std::fprintf(stderr, "transport_exchange: %s\n", level.ToString().c_str());
    return 2;
  }
  absl::StatusOr<discovery::Config> config = discovery::ConfigFromEnvironment();
  if (!config.ok()) {
    std::fprintf(stderr, "transport_exchange: %s\n", config.status().ToString().c_str());
    return 2;
  }
  absl::StatusOr<network::Interface> lo = network::FindInterface("lo");
  if (!lo.ok() || !lo->multicast) {
    std::fprintf(stderr,
                 "transport_exchange: loopback has no MULTICAST flag; run it in a "
                 "network namespace that has (see README)\n");
    return MissingIsFailure() ? 1 : kSkipped;
  }
  absl::StatusOr<std::optional<network::FaultOptions>> faults =
      network::FaultOptionsFromEnvironment();
  if (!faults.ok()) {
    std::fprintf(stderr, "transport_exchange: %s\n", faults.status().ToString().c_str());
    return 2;
  }
  // Both on loopback, whatever the environment says of addresses; announcements cross
  // the faults too, so peers are kept for 30 silent periods.
  config->listen_interface = "lo";
  config->listen_interface_origin = "transport_exchange";
  config->listen_address =
      network::Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  config->rate_timeout_multiplier =
      std::max<uint32_t>(config->rate_timeout_multiplier, 30);
  absl::StatusOr<fragmentation::MessageTransportOptions> message_options =
      fragmentation::OptionsFromEnvironment(ProcessEnvironment());
  absl::StatusOr<transport::TransportOptions> transport_options =
      transport::OptionsFromEnvironment(ProcessEnvironment());
  for (const absl::Status& status :
       {message_options.status(), transport_options.status()}) {
    if (!status.ok()) {
      std::fprintf(stderr, "transport_exchange: %s\n", status.ToString().c_str());
      return 2;
    }
  }
  if (options.size > message_options->max_message_bytes) {
    std::fprintf(stderr,
                 "transport_exchange: --size %" PRIu64
                 " exceeds GLUE_MAX_MESSAGE_BYTES = %" PRIu64 "\n",
                 options.size, message_options->max_message_bytes);
    return 2;
  }
  discovery::Discovery::Options discovery_options;
  discovery_options.data_faults = *faults;
  discovery_options.datagram_budget = transport_options->max_datagram_bytes;

  boost::asio::io_context io;
  Received received;
  received.seen.resize(options.messages);

  discovery::Config alpha_config = *config;
  alpha_config.endpoint_id = 1;
  alpha_config.endpoint_name = "alpha";
  discovery::Config beta_config = *config;
  beta_config.endpoint_id = 2;
  beta_config.endpoint_name = "beta";
  Node alpha_node, beta_node;
  beta_node.on_message = [&](std::vector<uint8_t> message) {
    Check(message, options, &received);
  };
  for (auto [node, config] :
       {std::pair{&alpha_node, &alpha_config}, std::pair{&beta_node, &beta_config}}) {
    if (absl::Status made = Assemble(io, *config, discovery_options, *transport_options,
                                     *message_options, node);
        !made.ok()) {
      std::fprintf(stderr, "transport_exchange: %s\n", made.ToString().c_str());
      return 2;
    }
  }
  const bool& beta_seen = alpha_node.peer_seen;
  const bool& alpha_seen = beta_node.peer_seen;
  const uint64_t& acknowledged = alpha_node.acknowledged;
  const uint64_t& given_up = alpha_node.given_up;
  MessageTransport* const alpha = alpha_node.messages.get();
  const auto deadline = [](absl::Duration d) { return absl::Now() + d; };
  const absl::Time discovery_deadline = deadline(absl::Seconds(10));
  while (!(alpha_seen && beta_seen) && absl::Now() < discovery_deadline) {
    io.run_one_for(std::chrono::milliseconds(10));
  }
  if (!(alpha_seen && beta_seen)) {
    std::fprintf(stderr, "transport_exchange: alpha and beta did not find each other\n");
    return 1;
  }

  std::printf("alpha -> beta: %" PRIu64 " %s messages of %" PRIu64
              " bytes (GLUE_MTU %zu)%s\n",
              options.messages,
              options.reliable ? (options.ordered ? "reliable ordered" : "reliable")
                               : "best-effort",
              options.size, transport_options->max_datagram_bytes,
              *faults ? ", through injected faults" : "");
  const absl::Time start = absl::Now();
  const uint64_t beta_id = 2;
  for (uint64_t i = 0; i < options.messages; ++i) {
    transport::SendOptions send{.reliable = options.reliable,
                                .ordered = options.ordered,
                                .expiry = deadline(absl::Seconds(60)),
                                .token = i};
    const auto message =
        std::make_shared<const std::vector<uint8_t>>(Payload(i, options.size));
    absl::Status sent = alpha->Send(beta_id, message, send);
    // At the queue's bound: let the acknowledgements in, then retry.
    while (absl::IsResourceExhausted(sent)) {
      io.run_one_for(std::chrono::milliseconds(1));
      sent = alpha->Send(beta_id, message, send);
    }
    if (!sent.ok()) {
      std::fprintf(stderr, "transport_exchange: send %" PRIu64 ": %s\n", i,
                   sent.ToString().c_str());
      return 1;
    }
    if (i % 64 == 63) io.poll();
  }
  // Reliable: until every message is acknowledged or given up. Best-effort: until
  // nothing has come for 200 ms.
  absl::Time quiet_since = absl::Now();
  uint64_t last_count = 0;
  const absl::Time end_deadline = deadline(absl::Seconds(120));
  while (absl::Now() < end_deadline) {
    if (options.reliable ? acknowledged + given_up == options.messages
                         : absl::Now() - quiet_since > absl::Milliseconds(200)) {
      break;
    }
    io.run_one_for(std::chrono::milliseconds(10));
    if (received.count != last_count) {
      last_count = received.count;
      quiet_since = absl::Now();
    }
  }
  const absl::Duration elapsed = absl::Now() - start;

  std::printf("beta: received %" PRIu64 " of %" PRIu64 ", repeated %" PRIu64
              ", corrupt %" PRIu64 ", out of order %" PRIu64 ", in %s\n",
              received.count, options.messages, received.repeated, received.corrupt,
              received.out_of_order, absl::FormatDuration(elapsed).c_str());
  PrintCounters("alpha", alpha->counters());
  PrintCounters("beta", beta_node.messages->counters());
  if (std::optional<transport::PeerCounters> peer =
          alpha_node.transport->peer_counters(beta_id)) {
    std::printf("alpha's round-trip estimate to beta: %s (timeout %s)\n",
                absl::FormatDuration(peer->session.smoothed_rtt).c_str(),
                absl::FormatDuration(peer->session.rto).c_str());
  }
  alpha->Stop();
  beta_node.messages->Stop();
  const bool complete = !options.reliable || received.count == options.messages;
  const bool ok = complete && received.repeated == 0 && received.corrupt == 0 &&
                  (!options.ordered || received.out_of_order == 0);
  std::printf("%s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace glue

int main(int argc, char** argv) { return glue::Run(argc, argv); }
