// The fragmentation layer: splitting a message into fragments and reassembling it,
// in memory, in GB/s of message; and messages of 64 KiB and 1 MiB between two
// MessageTransports in one process over loopback, in Gb/s. Each MessageTransport runs
// on an io_context and a thread of its own; the benchmark thread is the application
// that sends. Discovery (multicast on loopback) runs before the timed region.
//
//   scripts/isolated.sh build-release/bench/fragmentation_bench
#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "glue/base/crc32c.h"
#include "glue/base/status_macros.h"
#include "glue/discovery/discovery.h"
#include "glue/fragmentation/fragment_header.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/fragmentation/reassembler.h"
#include "glue/fragmentation/splitter.h"
#include "glue/transport/transport.h"
#include "loopback.h"

namespace glue::fragmentation {
namespace {

using bench::LoopbackConfig;
using bench::Tally;

constexpr absl::Duration kSetupTimeout = absl::Seconds(5);
constexpr absl::Duration kBatchTimeout = absl::Seconds(60);
// Bytes of messages an end-to-end iteration sends.
constexpr uint64_t kBatchBytes = uint64_t{256} << 20;
// The in-memory benchmarks cut fragments of about what the default MTU (1400 bytes
// of UDP payload) leaves once the envelope, the frame and the fragment header are in.
constexpr size_t kFragmentRoom = 1330;

// Fragment is one fragment as the transport would carry it: its meta and a view of
// the message.
struct Fragment {
  std::vector<uint8_t> meta;
  absl::Span<const uint8_t> payload;
};

// Split does what MessageTransport::Send does to a message before the transport: its
// checksum, its plan, and each fragment's header and view.
std::vector<Fragment> Split(const std::vector<uint8_t>& message, size_t fragment_room,
                            uint64_t message_id) {
  const SplitPlan plan = *PlanSplit(message.size(), fragment_room, message.size());
  FragmentHeader header{.message_id = message_id,
                        .total_bytes = message.size(),
                        .fragment_bytes = plan.fragment_bytes,
                        .checksum = Crc32c(message)};
  std::vector<Fragment> fragments(plan.count);
  for (uint32_t i = 0; i < plan.count; ++i) {
    header.index = i;
    fragments[i].meta.resize(kMaxFragmentHeaderBytes);
    fragments[i].meta.resize(
        EncodeFragmentHeader(header, absl::MakeSpan(fragments[i].meta)));
    fragments[i].payload = FragmentPayload(message, plan, i);
  }
  return fragments;
}

// A message of state.range(0) bytes split into fragments of kFragmentRoom bytes.
void BM_Split(benchmark::State& state) {
  const std::vector<uint8_t> message(static_cast<size_t>(state.range(0)), 0x42);
  uint64_t id = 0;
  for (auto _ : state) {
    std::vector<Fragment> fragments = Split(message, kFragmentRoom, ++id);
    benchmark::DoNotOptimize(fragments.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}

// A message of state.range(0) bytes reassembled from fragments of kFragmentRoom bytes,
// decoding each header as the receiver does, and checked; in order, or last fragment
// first when state.range(1) is 1.
void BM_Reassemble(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  std::vector<uint8_t> message(size);
  for (size_t i = 0; i < size; ++i) message[i] = static_cast<uint8_t>(i * 7);
  std::vector<Fragment> fragments = Split(message, kFragmentRoom, 0);
  if (state.range(1) == 1) std::swap(fragments.front(), fragments.back());
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  const absl::Time now = absl::Now();
  uint64_t id = 0;
  for (auto _ : state) {
    ++id;
    Reassembler::Outcome outcome;
    for (const Fragment& fragment : fragments) {
      std::optional<FragmentHeader> header =
          ParseFragmentHeader(fragment.meta, kDefaultMaxMessageBytes);
      header->message_id = id;  // a new message each iteration
      outcome = reassembler.OnFragment(*header, fragment.payload, now);
    }
    if (outcome.result != Reassembler::Result::kCompleted) {
      state.SkipWithError("the message was not reassembled");
      return;
    }
    benchmark::DoNotOptimize(outcome.message.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
}

// Side is one MessageTransport, over its transport and discovery, on an io_context
// and a thread of its own.
struct Side final : MessageTransport::Listener {
  void OnPeerAdded(const discovery::Peer&) override { peers.Add(); }
  void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}
  void OnMessage(const discovery::Peer&, uint64_t, std::vector<uint8_t>) override {
    received.Add();
  }
  void OnSendDone(uint64_t, uint64_t, transport::SendOutcome outcome) override {
    if (outcome != transport::SendOutcome::kAcknowledged) ++not_acknowledged;
    done.Add();
  }

  uint64_t id = 0;
  Tally peers;     // peers added
  Tally received;  // messages handed up
  Tally done;      // reliable sends ended, whatever the outcome
  std::atomic<uint64_t> not_acknowledged{0};
  boost::asio::io_context io;
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<MessageTransport> messages;
  std::thread thread;

  absl::Status Start(const transport::TransportOptions& options) {
    GLUE_ASSIGN_OR_RETURN(
        discovery,
        discovery::Discovery::Create(boost::asio::make_strand(io), LoopbackConfig(id),
                                     {.datagram_budget = options.max_datagram_bytes}));
    GLUE_ASSIGN_OR_RETURN(transport, transport::Transport::Create(*discovery, options));
    GLUE_ASSIGN_OR_RETURN(messages, MessageTransport::Create(*transport, {}));
    if (absl::Status status = messages->Start(this); !status.ok()) return status;
    thread = std::thread([this] {
      auto work = boost::asio::make_work_guard(io);
      io.run();
    });
    return absl::OkStatus();
  }

  void Stop() {
    if (messages) messages->Stop();
    io.stop();
    if (thread.joinable()) thread.join();
  }
};

// Reliable messages of state.range(0) bytes from a to b over loopback, at an MTU of
// state.range(1) bytes. An iteration sends kBatchBytes of them, waiting whenever a's
// queue is full, and ends when b has received and a has had acknowledged every one.
// Gbit/s counts the bytes of the messages b received.
void BM_EndToEnd(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  transport::TransportOptions options;
  options.max_datagram_bytes = static_cast<size_t>(state.range(1));
  static std::atomic<uint64_t> next_id{1};
  Side a;
  Side b;
  a.id = next_id++;
  b.id = next_id++;
  absl::Status status = a.Start(options);
  if (status.ok()) status = b.Start(options);
  if (status.ok() &&
      (!a.peers.WaitFor(1, kSetupTimeout) || !b.peers.WaitFor(1, kSetupTimeout))) {
    status = absl::DeadlineExceededError(
        absl::StrCat("the endpoints did not see each other within ",
                     absl::FormatDuration(kSetupTimeout), bench::kSetupHint));
  }
  // One buffer, sent again and again: Send keeps it, never copies it.
  const auto message = std::make_shared<const std::vector<uint8_t>>(size, 0x42);
  const uint64_t batch = std::max<uint64_t>(1, kBatchBytes / size);
  uint64_t sent = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; status.ok() && i < batch; ++i) {
      status = a.messages->Send(b.id, message, {});
      while (absl::IsResourceExhausted(status)) {  // the queue is full: wait for room
        if (!a.done.WaitFor(a.done.count() + 1, kBatchTimeout)) break;
        status = a.messages->Send(b.id, message, {});
      }
      if (status.ok()) ++sent;
    }
    if (status.ok() && (!b.received.WaitFor(sent, kBatchTimeout) ||
                        !a.done.WaitFor(sent, kBatchTimeout))) {
      status = absl::DeadlineExceededError("a batch was not delivered in time");
    }
    if (!status.ok()) break;
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
  } else if (a.not_acknowledged > 0) {
    state.SkipWithError("reliable messages expired or were released");
  } else {
    const uint64_t bytes = b.received.count() * size;
    const MessageTransportCounters counters = a.messages->counters();
    state.SetBytesProcessed(static_cast<int64_t>(bytes));
    state.counters["Gbit/s"] = benchmark::Counter(static_cast<double>(bytes) * 8 / 1e9,
                                                  benchmark::Counter::kIsRate);
    state.counters["fragments/msg"] =
        static_cast<double>(counters.fragments_sent) / static_cast<double>(sent);
    const MessageTransportCounters receiver = b.messages->counters();
    state.counters["kernel_drops/msg"] =
        static_cast<double>(receiver.transport.discovery.data_link.dropped_by_kernel) /
        static_cast<double>(sent);
    if (auto peer = a.transport->peer_counters(b.id)) {
      state.counters["srtt_us"] = absl::ToDoubleMicroseconds(peer->session.smoothed_rtt);
      state.counters["rto_ms"] = absl::ToDoubleMilliseconds(peer->session.rto);
    }
    state.counters["resent/msg"] =
        static_cast<double>(counters.transport.sessions.data_resent) /
        static_cast<double>(sent);
  }
  a.Stop();
  b.Stop();
}

BENCHMARK(BM_Split)->ArgName("size")->Arg(64 << 10)->Arg(1 << 20);
BENCHMARK(BM_Reassemble)
    ->ArgNames({"size", "last_first"})
    ->ArgsProduct({{64 << 10, 1 << 20}, {0, 1}});
BENCHMARK(BM_EndToEnd)
    ->ArgNames({"size", "mtu"})
    ->ArgsProduct({{64 << 10, 1 << 20}, {1400, 65000}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glue::fragmentation

BENCHMARK_MAIN();
