// Messages between two transports in one process over loopback: reliable messages per
// second at 64 B and 1 KiB with 0% and 10% of datagrams lost, the round-trip time of a
// reliable message, and best-effort messages per second. Each transport runs on an
// io_context and a thread of its own, so the two sides can use two cores; the
// benchmark thread is the application that sends. Discovery (multicast on loopback)
// runs before the timed region.
//
//   scripts/isolated.sh build-release/bench/transport_bench
#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "glue/base/status_macros.h"
#include "glue/discovery/discovery.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/transport/transport.h"
#include "loopback.h"

namespace glue::transport {
namespace {

// How long the peers may take to find each other, and a batch to be acknowledged.
constexpr absl::Duration kSetupTimeout = absl::Seconds(5);
constexpr absl::Duration kBatchTimeout = absl::Seconds(30);
// Messages per iteration of a throughput benchmark: enough that the round trip that
// ends a batch weighs little beside it.
constexpr uint64_t kBatch = 20000;
// The default send window, in KiB; the benchmark compares it with a smaller one.
constexpr int64_t kDefaultWindowKib = SendWindowOptions().max_bytes >> 10;

using bench::LoopbackConfig;
using bench::Tally;

// SideOptions are the options of a side's discovery and transport.
struct SideOptions {
  discovery::Discovery::Options discovery;
  TransportOptions transport;
};

// Side is one transport, over its discovery, on an io_context of its own, run by a
// thread of its own, and what its listener heard.
struct Side final : Transport::Listener {
  void OnPeerAdded(const discovery::Peer&) override { peers.Add(); }
  void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}
  void OnMessage(const discovery::Peer&, Delivery message) override {
    if (on_message) on_message(message);
    received.Add();
  }
  void OnSendDone(uint64_t, absl::Span<const uint64_t> tokens,
                  SendOutcome outcome) override {
    if (outcome != SendOutcome::kAcknowledged) not_acknowledged += tokens.size();
    done.Add(tokens.size());
  }

  uint64_t id = 0;
  // Runs on the io thread for every message, before `received` counts it.
  std::function<void(const Delivery&)> on_message;
  Tally peers;     // peers added
  Tally received;  // messages handed up
  Tally done;      // reliable sends ended, whatever the outcome
  std::atomic<uint64_t> not_acknowledged{0};  // of those, expired or released
  boost::asio::io_context io;
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<Transport> transport;
  std::thread thread;
};

// Pair is two transports that see each other on loopback: `a` sends, `b` receives.
class Pair {
 public:
  Pair() {
    static std::atomic<uint64_t> next_id{1};
    a.id = next_id++;
    b.id = next_id++;
  }

  ~Pair() {
    for (Side* side : {&a, &b}) {
      if (side->transport) side->transport->Stop();
      side->io.stop();
      if (side->thread.joinable()) side->thread.join();
    }
  }

  Pair(const Pair&) = delete;
  Pair& operator=(const Pair&) = delete;

  // Start starts both transports with their options and waits until each sees the
  // other. Set the sides' on_message first.
  absl::Status Start(const SideOptions& options_a, const SideOptions& options_b) {
    if (absl::Status status = StartSide(a, options_a); !status.ok()) return status;
    if (absl::Status status = StartSide(b, options_b); !status.ok()) return status;
    if (!a.peers.WaitFor(1, kSetupTimeout) || !b.peers.WaitFor(1, kSetupTimeout)) {
      return absl::DeadlineExceededError(
          absl::StrCat("the two transports did not see each other within ",
                       absl::FormatDuration(kSetupTimeout), bench::kSetupHint));
    }
    return absl::OkStatus();
  }

  Side a;
  Side b;

 private:
  static absl::Status StartSide(Side& side, SideOptions options) {
    options.discovery.datagram_budget = options.transport.max_datagram_bytes;
    absl::StatusOr<std::unique_ptr<discovery::Discovery>> below =
        discovery::Discovery::Create(boost::asio::make_strand(side.io),
                                     LoopbackConfig(side.id), options.discovery);
    if (!below.ok()) return below.status();
    side.discovery = *std::move(below);
    absl::StatusOr<std::unique_ptr<Transport>> transport =
        Transport::Create(*side.discovery, options.transport);
    if (!transport.ok()) return transport.status();
    side.transport = *std::move(transport);
    if (absl::Status status = side.transport->Start(&side); !status.ok()) return status;
    side.thread = std::thread([&side] {
      auto work = boost::asio::make_work_guard(side.io);
      side.io.run();
    });
    return absl::OkStatus();
  }
};

// Options are the defaults but for a send window of `window_kib` KiB and a loss of
// `percent` % of the datagrams sent, drawn from a fixed seed so that runs repeat the
// same pattern.
SideOptions Options(int64_t percent, int64_t window_kib, uint64_t seed) {
  SideOptions options;
  options.transport.session.window.max_bytes = static_cast<size_t>(window_kib) << 10;
  if (percent > 0) {
    options.discovery.data_faults =
        network::FaultOptions{.drop = static_cast<double>(percent) / 100, .seed = seed};
  }
  return options;
}

// Started starts `pair` with the options given, or skips the benchmark saying why.
bool Started(benchmark::State& state, Pair& pair, const SideOptions& options_a = {},
             const SideOptions& options_b = {}) {
  const absl::Status status = pair.Start(options_a, options_b);
  if (!status.ok()) state.SkipWithError(status.ToString().c_str());
  return status.ok();
}

// SendBatch sends kBatch messages of `size` bytes from a to b.
absl::Status SendBatch(Pair& pair, size_t size, const SendOptions& options) {
  for (uint64_t i = 0; i < kBatch; ++i) {
    GLUE_RETURN_IF_ERROR(
        pair.a.transport->Send(pair.b.id, std::vector<uint8_t>(size, 0x42), options));
  }
  return absl::OkStatus();
}

// PerMessage divides a count by the number of messages sent.
double PerMessage(uint64_t count, uint64_t messages) {
  return messages == 0 ? 0 : static_cast<double>(count) / static_cast<double>(messages);
}

// ReportThroughput sets the rates from the messages b received, and counters that
// show where the time goes: datagrams (data from a, acknowledgements from b) and a's
// send system calls per message sent; retransmissions, and copies b received twice,
// per message; datagrams the kernel refused at a full send buffer (send_failures) and
// overflows of a full receive buffer (kernel_drops; with segmentation offload one
// overflow can lose a run of datagrams), per message; a's smoothed round-trip time and
// retransmission timeout at the end.
void ReportThroughput(benchmark::State& state, const Pair& pair, uint64_t sent,
                      uint64_t delivered, size_t size) {
  const TransportCounters a = pair.a.transport->counters();
  const TransportCounters b = pair.b.transport->counters();
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.SetBytesProcessed(static_cast<int64_t>(delivered * size));
  state.counters["a_datagrams/msg"] = PerMessage(a.datagrams_sent, sent);
  state.counters["a_syscalls/msg"] = PerMessage(a.discovery.data_link.send_calls, sent);
  state.counters["b_datagrams/msg"] = PerMessage(b.datagrams_sent, sent);
  state.counters["resent/msg"] = PerMessage(a.sessions.data_resent, sent);
  state.counters["dups/msg"] = PerMessage(b.sessions.duplicates, sent);
  state.counters["send_failures/msg"] =
      PerMessage(a.send_failures + b.send_failures, sent);
  state.counters["kernel_drops/msg"] = PerMessage(
      a.discovery.data_link.dropped_by_kernel + b.discovery.data_link.dropped_by_kernel,
      sent);
  if (std::optional<PeerCounters> peer = pair.a.transport->peer_counters(pair.b.id)) {
    state.counters["srtt_us"] = absl::ToDoubleMicroseconds(peer->session.smoothed_rtt);
    state.counters["rto_ms"] = absl::ToDoubleMilliseconds(peer->session.rto);
  }
}

// Reliable messages of state.range(0) bytes from a to b, state.range(1) percent of
// the datagrams lost both ways (data and acknowledgements), send windows of
// state.range(2) KiB. An iteration sends kBatch messages, waiting at the send
// window's bound, and ends when a has had every one acknowledged and b has received
// every one.
void BM_ReliableThroughput(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Pair pair;
  if (!Started(state, pair, Options(state.range(1), state.range(2), 1),
               Options(state.range(1), state.range(2), 2))) {
    return;
  }
  uint64_t sent = 0;
  for (auto _ : state) {
    const absl::Status status =
        SendBatch(pair, size, {.wait_until = absl::Now() + kBatchTimeout});
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
    sent += kBatch;
    if (!pair.a.done.WaitFor(sent, kBatchTimeout) ||
        !pair.b.received.WaitFor(sent, kBatchTimeout)) {
      state.SkipWithError("a batch was not delivered in time");
      return;
    }
  }
  if (pair.a.not_acknowledged > 0) {
    state.SkipWithError("reliable messages expired or were released");
    return;
  }
  ReportThroughput(state, pair, sent, pair.b.received.count(), size);
}

// Best-effort messages of state.range(0) bytes from a to b, nothing lost on purpose.
// An iteration sends kBatch messages and then one reliable message; as loopback keeps
// the order of datagrams and a session puts best-effort frames before reliable ones,
// once that one is acknowledged every best-effort message of the batch has arrived or
// never will. Rates count the messages b received; `lost` is the fraction that did not
// arrive, `queue_drops/msg` the part of it dropped from a's queue (the rest the kernel
// dropped).
void BM_BestEffortThroughput(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  Pair pair;
  if (!Started(state, pair)) return;
  uint64_t sent = 0;
  uint64_t markers = 0;
  for (auto _ : state) {
    absl::Status status = SendBatch(pair, size, {.reliable = false});
    if (status.ok()) {
      status = pair.a.transport->Send(pair.b.id, std::vector<uint8_t>(1, 0),
                                      {.token = ++markers});
    }
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
    sent += kBatch;
    if (!pair.a.done.WaitFor(markers, kBatchTimeout)) {
      state.SkipWithError("the end of a batch was not acknowledged in time");
      return;
    }
  }
  const uint64_t delivered = pair.b.received.count() - markers;
  ReportThroughput(state, pair, sent, delivered, size);
  state.counters["lost"] = 1 - PerMessage(delivered, sent);
  state.counters["queue_drops/msg"] =
      PerMessage(pair.a.transport->counters().sessions.best_effort_dropped_queue, sent);
}

// The round trip of a reliable message of state.range(0) bytes: a sends it to b,
// whose on_message sends it back; the time runs from a's Send until a's on_message.
// The benchmark time is the mean; p50_us and p99_us are percentiles in microseconds.
void BM_ReliableRoundTrip(benchmark::State& state) {
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0x42);
  Pair pair;
  std::atomic<bool> reply_failed{false};
  std::atomic<std::chrono::steady_clock::time_point> replied_at;
  pair.a.on_message = [&replied_at](const Delivery&) {
    replied_at = std::chrono::steady_clock::now();
  };
  pair.b.on_message = [&pair, &reply_failed](const Delivery& message) {
    if (!pair.b.transport->Send(pair.a.id, message.payload, {}).ok()) {
      reply_failed = true;
    }
  };
  if (!Started(state, pair)) return;
  std::vector<double> microseconds;
  uint64_t round_trips = 0;
  for (auto _ : state) {
    std::vector<uint8_t> message = payload;
    const auto start = std::chrono::steady_clock::now();
    absl::Status status = pair.a.transport->Send(pair.b.id, std::move(message), {});
    if (!status.ok() || !pair.a.received.WaitFor(++round_trips, kSetupTimeout) ||
        reply_failed) {
      state.SkipWithError("a round trip failed or timed out");
      return;
    }
    const std::chrono::duration<double> elapsed = replied_at.load() - start;
    state.SetIterationTime(elapsed.count());
    microseconds.push_back(elapsed.count() * 1e6);
  }
  std::sort(microseconds.begin(), microseconds.end());
  if (!microseconds.empty()) {
    state.counters["p50_us"] = microseconds[microseconds.size() / 2];
    state.counters["p99_us"] = microseconds[microseconds.size() * 99 / 100];
  }
}

// Without loss the library chooses the number of iterations. With loss one batch can
// take from a tenth of a second to several seconds (see BENCHMARKS.md), so that a fast
// first iteration could make it choose a run of minutes: two iterations.
BENCHMARK(BM_ReliableThroughput)
    ->ArgNames({"size", "loss_percent", "window_kib"})
    ->ArgsProduct({{64, 1024}, {0}, {kDefaultWindowKib, 64}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReliableThroughput)
    ->ArgNames({"size", "loss_percent", "window_kib"})
    ->ArgsProduct({{64, 1024}, {10}, {kDefaultWindowKib, 64}})
    ->Iterations(2)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BestEffortThroughput)
    ->ArgName("size")
    ->Arg(64)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_ReliableRoundTrip)
    ->ArgName("size")
    ->Arg(64)
    ->Arg(1024)
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace glue::transport

BENCHMARK_MAIN();
