// Publish to delivery through the topics layer. Within one endpoint: a Topics on an
// io_context run by threads of its own, 1 to 16 local subscriptions whose filters all
// match the topic, and the benchmark thread publishing 64 B and 1 KiB messages;
// deliveries per second. Between two endpoints in one process over loopback, each on
// an io_context and a thread of its own: messages and bytes per second from a
// publisher to a subscriber. Messages are reliable and keep no history. Discovery
// (multicast on loopback) and the exchange of interests run before the timed region.
//
//   scripts/isolated.sh build-release/bench/topics_bench
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
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
#include "glue/fragmentation/message_transport.h"
#include "glue/topics/topics.h"
#include "glue/transport/transport.h"
#include "loopback.h"

namespace glue::topics {
namespace {

using bench::LoopbackConfig;
using bench::Tally;

constexpr absl::Duration kSetupTimeout = absl::Seconds(5);
constexpr absl::Duration kBatchTimeout = absl::Seconds(30);
// Long enough that no message expires on its way, however slow a run.
constexpr absl::Duration kExpiry = absl::Seconds(60);
// Messages per iteration: enough that waking the benchmark thread at the end of a
// batch weighs little beside it.
constexpr uint64_t kBatch = 10000;
constexpr char kTopic[] = "bench/room/kitchen/temperature";
constexpr char kType[] = "bench.Payload";
constexpr PublishOptions kPublishOptions{.history_depth = 0};

// Sixteen distinct filters that all match kTopic: the topic itself, then wildcards.
constexpr const char* kFilters[] = {
    "bench/room/kitchen/temperature",
    "#",
    "bench/#",
    "bench/room/#",
    "bench/room/kitchen/#",
    "bench/room/kitchen/temperature/#",
    "+/room/kitchen/temperature",
    "bench/+/kitchen/temperature",
    "bench/room/+/temperature",
    "bench/room/kitchen/+",
    "+/+/kitchen/temperature",
    "+/room/+/temperature",
    "+/room/kitchen/+",
    "bench/+/+/temperature",
    "bench/+/kitchen/+",
    "bench/room/+/+",
};

// Side is one Topics, over the rest of its stack, on an io_context of its own, run by
// threads of its own, and what it reported.
struct Side final : discovery::PeerListener {
  Side() {
    static std::atomic<uint64_t> next_id{1};
    id = next_id++;
  }
  ~Side() { Stop(); }

  Side(const Side&) = delete;
  Side& operator=(const Side&) = delete;

  // Create makes the Topics and subscribes to the first `subscriptions` of kFilters,
  // each callback counting into `received`.
  absl::Status Create(const TopicsOptions& options, int64_t subscriptions) {
    const discovery::Config config = LoopbackConfig(id);
    const transport::TransportOptions transport_options;
    GLUE_ASSIGN_OR_RETURN(discovery,
                          discovery::Discovery::Create(
                              boost::asio::make_strand(io), config,
                              {.datagram_budget = transport_options.max_datagram_bytes}));
    GLUE_ASSIGN_OR_RETURN(transport,
                          transport::Transport::Create(*discovery, transport_options));
    GLUE_ASSIGN_OR_RETURN(messages,
                          fragmentation::MessageTransport::Create(*transport, {}));
    GLUE_ASSIGN_OR_RETURN(topics, Topics::Create(*messages, config, options));
    for (int64_t i = 0; i < subscriptions; ++i) {
      absl::Status status =
          topics->Subscribe(kFilters[i], kType, [this](const Message& m) {
            benchmark::DoNotOptimize(m.payload.data());
            received.Add();
          });
      if (!status.ok()) return status;
    }
    return absl::OkStatus();
  }

  // Start starts the Topics and `io_threads` threads to run its io_context.
  absl::Status Start(int64_t io_threads) {
    if (absl::Status status = topics->Start(this); !status.ok()) return status;
    for (int64_t i = 0; i < io_threads; ++i) {
      threads.emplace_back([this] {
        auto work = boost::asio::make_work_guard(io);
        io.run();
      });
    }
    return absl::OkStatus();
  }

  void Stop() {
    if (topics) topics->Stop();
    io.stop();
    for (std::thread& thread : threads) thread.join();
    threads.clear();
  }

  void OnPeerAdded(const discovery::Peer&) override { peers.Add(); }
  void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}

  uint64_t id = 0;
  Tally peers;     // peers added
  Tally received;  // messages handed to this side's subscriptions
  boost::asio::io_context io;
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<fragmentation::MessageTransport> messages;
  std::unique_ptr<Topics> topics;
  std::vector<std::thread> threads;
};

// Publish publishes one message on kTopic. When a peer's queue is full it waits a
// little and publishes again, counting that in `retries`.
absl::Status Publish(Topics& topics, const std::vector<uint8_t>& payload,
                     uint64_t& retries) {
  absl::Status status = topics.Publish(kTopic, kType, kExpiry, payload, kPublishOptions);
  while (absl::IsResourceExhausted(status)) {
    ++retries;
    std::this_thread::sleep_for(std::chrono::microseconds(50));
    status = topics.Publish(kTopic, kType, kExpiry, payload, kPublishOptions);
  }
  return status;
}

// Messages of state.range(0) bytes published to state.range(1) local subscriptions of
// one endpoint, whose io_context state.range(2) threads run. An iteration publishes
// kBatch messages and ends when every subscription's callback has run for each. A
// subscription's bound of pending messages is raised to a batch, so that none is
// dropped while the benchmark thread publishes faster than the callbacks run (with
// the default bound, 4096, they would be, and counted as slow_subscriber_drops).
// items_per_second counts deliveries (messages times subscriptions), published/s the
// messages.
void BM_Local(benchmark::State& state) {
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0x42);
  const int64_t subscriptions = state.range(1);
  TopicsOptions options;
  options.max_pending_per_subscription = kBatch;
  Side side;
  absl::Status status = side.Create(options, subscriptions);
  if (status.ok()) status = side.Start(state.range(2));
  uint64_t published = 0;
  for (auto _ : state) {
    // Without peers no queue can be full: Publish is never refused.
    for (uint64_t i = 0; status.ok() && i < kBatch; ++i) {
      status = side.topics->Publish(kTopic, kType, kExpiry, payload, kPublishOptions);
    }
    if (!status.ok()) break;
    published += kBatch;
    if (!side.received.WaitFor(published * static_cast<uint64_t>(subscriptions),
                               kBatchTimeout)) {
      status = absl::DeadlineExceededError("a batch was not delivered in time");
      break;
    }
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const TopicsCounters counters = side.topics->counters();
  state.SetItemsProcessed(static_cast<int64_t>(side.received.count()));
  state.counters["published/s"] =
      benchmark::Counter(static_cast<double>(published), benchmark::Counter::kIsRate);
  state.counters["drops"] = static_cast<double>(counters.slow_subscriber_drops);
}

// Delivered waits until `subscriber` has received every message `publisher` handed to
// its message transport so far, but those dropped at the subscription's bound of
// pending messages (a subscriber slower than its publisher), which it counts.
bool Delivered(const Side& publisher, Side& subscriber, absl::Duration timeout) {
  const uint64_t sent = publisher.topics->counters().sent;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    const uint64_t dropped = subscriber.topics->counters().slow_subscriber_drops;
    if (subscriber.received.WaitFor(sent - dropped, absl::Milliseconds(1))) return true;
  }
  return false;
}

// Messages of state.range(0) bytes from a publisher to a subscriber, two endpoints in
// one process over loopback. An iteration publishes kBatch messages and ends when the
// subscriber has received every one that the publisher handed to its message
// transport; a Publish refused at the peer's full queue is retried (`retries`).
// The subscription holds at most state.range(1) pending messages (4096 is the
// default); `dropped` is the fraction of the messages sent that the subscriber
// dropped at that bound, which the rates leave out.
void BM_Remote(benchmark::State& state) {
  const std::vector<uint8_t> payload(static_cast<size_t>(state.range(0)), 0x42);
  TopicsOptions subscriber_options;
  subscriber_options.max_pending_per_subscription = static_cast<size_t>(state.range(1));
  Side publisher;
  Side subscriber;
  absl::Status status = publisher.Create({}, 0);
  if (status.ok()) status = subscriber.Create(subscriber_options, 1);
  if (status.ok()) status = publisher.Start(1);
  if (status.ok()) status = subscriber.Start(1);
  if (status.ok() && (!publisher.peers.WaitFor(1, kSetupTimeout) ||
                      !subscriber.peers.WaitFor(1, kSetupTimeout))) {
    status = absl::DeadlineExceededError(
        absl::StrCat("the endpoints did not see each other within ",
                     absl::FormatDuration(kSetupTimeout), bench::kSetupHint));
  }
  // The publisher sends only once the subscriber's interest has reached it: publish
  // until a message arrives, then wait for those sent since.
  uint64_t retries = 0;
  const absl::Time setup_deadline = absl::Now() + kSetupTimeout;
  while (status.ok() && !subscriber.received.WaitFor(1, absl::Milliseconds(10))) {
    status = Publish(*publisher.topics, payload, retries);
    if (status.ok() && absl::Now() > setup_deadline) {
      status = absl::DeadlineExceededError("the subscriber's interest did not arrive");
    }
  }
  if (status.ok() && !Delivered(publisher, subscriber, kSetupTimeout)) {
    status = absl::DeadlineExceededError("the first messages were not delivered");
  }
  const uint64_t before = subscriber.received.count();
  retries = 0;
  for (auto _ : state) {
    for (uint64_t i = 0; status.ok() && i < kBatch; ++i) {
      status = Publish(*publisher.topics, payload, retries);
    }
    if (!status.ok()) break;
    if (!Delivered(publisher, subscriber, kBatchTimeout)) {
      status = absl::DeadlineExceededError("a batch was not delivered in time");
      break;
    }
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const uint64_t delivered = subscriber.received.count() - before;
  const TopicsCounters sent = publisher.topics->counters();
  const TopicsCounters received = subscriber.topics->counters();
  state.SetItemsProcessed(static_cast<int64_t>(delivered));
  state.SetBytesProcessed(static_cast<int64_t>(delivered * payload.size()));
  const double messages = static_cast<double>(delivered);
  state.counters["retries/msg"] = static_cast<double>(retries) / messages;
  state.counters["resent/msg"] =
      static_cast<double>(sent.messages.transport.sessions.data_resent) / messages;
  state.counters["kernel_drops/msg"] =
      static_cast<double>(
          received.messages.transport.discovery.data_link.dropped_by_kernel) /
      messages;
  state.counters["dropped"] = static_cast<double>(received.slow_subscriber_drops) /
                              static_cast<double>(sent.sent);
}

BENCHMARK(BM_Local)
    ->ArgNames({"size", "subscriptions", "io_threads"})
    ->Args({64, 1, 1})
    ->Args({1024, 1, 1})
    ->Args({64, 4, 1})
    ->Args({64, 16, 1})
    ->Args({64, 4, 2})
    ->Args({64, 16, 2})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Remote)
    ->ArgNames({"size", "max_pending"})
    ->ArgsProduct({{64, 1024}, {4096, 65536}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glue::topics

BENCHMARK_MAIN();
