// The MQTT bridge's throughput beside the broker's own. A real Mosquitto runs on
// 127.0.0.1 (started here, one process for every benchmark); the MQTT clients are
// libmosquitto's, as the bridge's is, and the glue endpoints are two or three in this
// process, on loopback with multicast discovery. Each benchmark moves messages of 64 B
// and 1 KiB at QoS 0 and 1, at most kWindow in flight (the sender waits for the
// receiver), and reports messages per second received, and the CPU time each message
// cost the broker (broker_us), the bridge's thread (bridge_us) and this whole process
// (process_us: every client and endpoint in it):
//
//   BM_BrokerClientToClient  an MQTT client to another through the broker: the limit
//                            the bridge is measured against;
//   BM_BridgeGlueToMqtt      a glue endpoint to an MQTT client, through the bridge on
//                            a second endpoint: reliable glue at QoS 1; at QoS 0
//                            best-effort glue (reliable:0), or reliable glue through a
//                            mapping of QoS 0 (reliable:1);
//   BM_BridgeMqttToGlue      an MQTT client to a glue endpoint, through the bridge on a
//                            second endpoint;
//   BM_GlueHop               glue alone: the glue hop of the above, without a bridge;
//   BM_PublisherDriven       how the bridge drives libmosquitto: an MQTT client
//                            publishing to another with libmosquitto's own thread
//                            writing (/0, the bridge's way), or with the publishing
//                            thread writing and reading the socket itself, as an
//                            endpoint's event loop would (/1).
//
//   scripts/isolated.sh build/bench/bridge_bench --benchmark_counters_tabular=true
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "glue/base/status_macros.h"
#include "glue/bridge/mosquitto_broker.h"
#include "glue/bridge/mqtt_bridge.h"
#include "glue/endpoint/endpoint.h"
#include "glue/network/interfaces.h"
#include "glue/transport/transport.h"
#include "loopback.h"

namespace glue {
namespace {

using bench::PollUntil;
using bridge::testing::MosquittoBroker;
using bridge::testing::MqttClient;

constexpr uint64_t kMessages = 20'000;               // an iteration
constexpr uint64_t kWindow = 1'000;                  // in flight at most
constexpr absl::Duration kStall = absl::Seconds(2);  // no progress: the rest is lost
constexpr absl::Duration kSetupTimeout = absl::Seconds(20);
constexpr char kType[] = "bench.Bytes";

// Broker is the Mosquitto of every benchmark, started on first use; nullptr, with
// the benchmark skipped saying why, when it cannot run.
MosquittoBroker* Broker(benchmark::State& state) {
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> broker =
      []() -> absl::StatusOr<std::unique_ptr<MosquittoBroker>> {
    GLUE_ASSIGN_OR_RETURN(std::unique_ptr<MosquittoBroker> b, MosquittoBroker::Create());
    // Every message in flight fits in the broker's queue for a client (1000 by
    // default), so that it drops none.
    GLUE_RETURN_IF_ERROR(b->Start({absl::StrCat("max_queued_messages ", 4 * kWindow)}));
    return b;
  }();
  if (!broker.ok()) {
    state.SkipWithError(broker.status().ToString().c_str());
    return nullptr;
  }
  return broker->get();
}

// Send calls `publish` kMessages times, keeping at most kWindow ahead of what has
// arrived: `await(n, timeout)` waits until n have (a count since the start of the
// process) and returns the count. It returns once all have arrived, or nothing more
// has for kStall: how many arrived. With the window full it waits for half of it to
// drain, so that the receiver's thread is woken once per kWindow / 2 messages.
template <typename Publish, typename Await>
uint64_t Send(Publish publish, Await await) {
  const uint64_t start = await(0, absl::ZeroDuration());
  uint64_t seen = start;
  auto wait_for = [&](uint64_t target) {
    for (;;) {
      const uint64_t before = seen;
      seen = await(target, kStall);
      if (seen >= target) return true;
      if (seen == before) return false;  // nothing for kStall
    }
  };
  for (uint64_t i = 0; i < kMessages; ++i) {
    if (start + i >= seen + kWindow && !wait_for(start + i - kWindow / 2)) {
      return seen - start;
    }
    publish();
  }
  wait_for(start + kMessages);
  return seen - start;
}

// AwaitClient and AwaitTally are Send's `await` for an MQTT client and a glue tally.
auto AwaitClient(MqttClient& client) {
  return [&client](uint64_t n, absl::Duration timeout) {
    client.WaitForCount(n, timeout);
    return client.count();
  };
}
auto AwaitTally(bench::Tally& tally) {
  return [&tally](uint64_t n, absl::Duration timeout) {
    tally.WaitFor(n, timeout);
    return tally.count();
  };
}

// CpuNanos returns the CPU time, in nanoseconds, that the threads of process `pid`
// named `comm` (every thread when empty) have run (/proc/PID/task/TID/schedstat).
uint64_t CpuNanos(pid_t pid, absl::string_view comm = "") {
  uint64_t total = 0;
  std::error_code error;
  for (const auto& task :
       std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), error)) {
    std::string name;
    std::getline(std::ifstream(task.path() / "comm"), name);
    if (!comm.empty() && name != comm) continue;
    uint64_t nanos = 0;
    if (std::ifstream(task.path() / "schedstat") >> nanos) total += nanos;
  }
  return total;
}

// Cpu is the CPU time of the broker, the bridge's thread and this process.
struct Cpu {
  static Cpu Now(pid_t broker) {
    return {CpuNanos(broker), CpuNanos(::getpid(), "glue-mqtt"), CpuNanos(::getpid())};
  }
  uint64_t broker = 0, bridge = 0, process = 0;
};

void Report(benchmark::State& state, uint64_t sent, uint64_t received, const Cpu& before,
            const Cpu& after) {
  state.SetItemsProcessed(static_cast<int64_t>(received));
  state.SetBytesProcessed(static_cast<int64_t>(received) * state.range(0));
  state.counters["lost"] = static_cast<double>(sent - received);
  const double n = std::max<double>(1, static_cast<double>(received)) * 1000;
  state.counters["broker_us"] = static_cast<double>(after.broker - before.broker) / n;
  state.counters["bridge_us"] = static_cast<double>(after.bridge - before.bridge) / n;
  state.counters["process_us"] = static_cast<double>(after.process - before.process) / n;
}

// DatagramsSent is how many datagrams `e` has sent: per message, how well the glue
// hop packs them (datagrams_per_msg).
uint64_t DatagramsSent(const Endpoint& e) {
  return e.counters().topics.messages.transport.datagrams_sent;
}

void ReportDatagrams(benchmark::State& state, uint64_t datagrams, uint64_t sent) {
  state.counters["datagrams_per_msg"] =
      static_cast<double>(datagrams) / static_cast<double>(std::max<uint64_t>(1, sent));
}

void BM_BrokerClientToClient(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int qos = static_cast<int>(state.range(1));
  MosquittoBroker* broker = Broker(state);
  if (broker == nullptr) return;
  auto sub = MqttClient::Connect(broker->port(), "bench-sub", {.record = false});
  auto pub = MqttClient::Connect(broker->port(), "bench-pub", {.record = false});
  if (!sub.ok() || !pub.ok()) return state.SkipWithError("MQTT clients did not connect");
  if (!(*sub)->Subscribe("bench/c2c", qos).ok()) return state.SkipWithError("subscribe");
  const std::string payload(size, 'x');
  uint64_t sent = 0, received = 0;
  const Cpu before = Cpu::Now(broker->pid());
  for (auto _ : state) {
    received += Send([&] { (*pub)->Publish("bench/c2c", payload, qos).IgnoreError(); },
                     AwaitClient(**sub));
    sent += kMessages;
  }
  Report(state, sent, received, before, Cpu::Now(broker->pid()));
}

// Glue is the endpoints of a bridge benchmark: `bridging` runs the bridge, `other`
// publishes or subscribes on glue.
struct Glue {
  std::unique_ptr<Endpoint> other;
  std::unique_ptr<Endpoint> bridging;
  std::unique_ptr<bridge::MqttBridge> bridge;
};

// StartGlue starts the two endpoints, and on `bridging` a bridge with `mapping`
// (none without).
absl::StatusOr<Glue> StartGlue(uint16_t port, std::optional<bridge::Mapping> mapping) {
  static std::atomic<uint64_t> next_id{1};
  Glue g;
  for (std::unique_ptr<Endpoint>* e : {&g.other, &g.bridging}) {
    EndpointOptions options;
    options.discovery = bench::LoopbackConfig(next_id++);
    options.linger = absl::Milliseconds(200);
    // Datagrams as large as loopback carries, as OptionsFromEnvironment (the `glue`
    // command's endpoints) sets them.
    if (absl::StatusOr<network::Interface> lo = network::FindInterface("lo"); lo.ok()) {
      options.transport.max_datagram_bytes = transport::DatagramBytesForMtu(lo->mtu);
    }
    GLUE_ASSIGN_OR_RETURN(*e, Endpoint::Create(options));
    GLUE_RETURN_IF_ERROR((*e)->Start());
  }
  if (!PollUntil([&] { return g.other->peers().size() == 1; }, kSetupTimeout)) {
    return absl::DeadlineExceededError("the endpoints did not find each other");
  }
  if (!mapping.has_value()) return g;
  GLUE_ASSIGN_OR_RETURN(
      g.bridge,
      bridge::MqttBridge::Start(
          *g.bridging, {.broker = absl::StrCat("mqtt://127.0.0.1:", port),
                        .client_id = absl::StrCat("bench-bridge-", next_id.load()),
                        .mappings = {*std::move(mapping)}}));
  return g;
}

// GluePublish is Send's `publish` for glue: `size` bytes on `topic` from `from`.
auto GluePublish(Endpoint& from, std::string topic, size_t size, bool reliable) {
  return [&from, topic = std::move(topic), payload = std::string(size, 'x'), reliable] {
    from.Publish(topic, kType, absl::Seconds(30),
                 absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(payload.data()),
                                     payload.size()),
                 {.reliable = reliable, .history_depth = 0})
        .IgnoreError();
  };
}

void BM_BridgeGlueToMqtt(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int qos = static_cast<int>(state.range(1));
  const bool reliable = state.range(2) == 1;
  MosquittoBroker* broker = Broker(state);
  if (broker == nullptr) return;
  absl::StatusOr<Glue> g = StartGlue(
      broker->port(), bridge::Mapping{.direction = bridge::Mapping::Direction::kOut,
                                      .pattern = "bench/out",
                                      .qos = qos});
  if (!g.ok()) return state.SkipWithError(g.status().ToString().c_str());
  auto sub = MqttClient::Connect(broker->port(), "bench-sub", {.record = false});
  if (!sub.ok() || !(*sub)->Subscribe("bench/out", qos).ok()) {
    return state.SkipWithError("the MQTT subscriber did not subscribe");
  }
  if (!PollUntil([&] { return g->other->Subscribers("bench/out", kType).size() == 1; },
                 kSetupTimeout)) {
    return state.SkipWithError("the bridge's subscription did not reach the publisher");
  }
  uint64_t sent = 0, received = 0;
  const uint64_t datagrams_before = DatagramsSent(*g->other);
  const Cpu before = Cpu::Now(broker->pid());
  for (auto _ : state) {
    received +=
        Send(GluePublish(*g->other, "bench/out", size, reliable), AwaitClient(**sub));
    sent += kMessages;
  }
  Report(state, sent, received, before, Cpu::Now(broker->pid()));
  ReportDatagrams(state, DatagramsSent(*g->other) - datagrams_before, sent);
  state.counters["dropped"] = static_cast<double>(g->bridge->counters().dropped);
}

void BM_BridgeMqttToGlue(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int qos = static_cast<int>(state.range(1));
  MosquittoBroker* broker = Broker(state);
  if (broker == nullptr) return;
  absl::StatusOr<Glue> g = StartGlue(
      broker->port(), bridge::Mapping{.direction = bridge::Mapping::Direction::kIn,
                                      .pattern = "bench/in",
                                      .qos = qos});
  if (!g.ok()) return state.SkipWithError(g.status().ToString().c_str());
  bench::Tally got;
  if (!g->other
           ->Subscribe("bench/in", topics::kAnyType,
                       [&got](const Message&) { got.Add(); })
           .ok() ||
      !PollUntil([&] { return g->bridging->Subscribers("bench/in", "mqtt").size() == 1; },
                 kSetupTimeout)) {
    return state.SkipWithError("the glue subscription did not reach the bridge");
  }
  auto pub = MqttClient::Connect(broker->port(), "bench-pub", {.record = false});
  if (!pub.ok()) return state.SkipWithError("the MQTT publisher did not connect");
  const std::string payload(size, 'x');
  uint64_t sent = 0, received = 0;
  const uint64_t datagrams_before = DatagramsSent(*g->bridging);
  const Cpu before = Cpu::Now(broker->pid());
  for (auto _ : state) {
    received += Send([&] { (*pub)->Publish("bench/in", payload, qos).IgnoreError(); },
                     AwaitTally(got));
    sent += kMessages;
  }
  Report(state, sent, received, before, Cpu::Now(broker->pid()));
  ReportDatagrams(state, DatagramsSent(*g->bridging) - datagrams_before, sent);
  g->other->Unsubscribe("bench/in").IgnoreError();
}

// BM_PublisherDriven/64/0/MODE: MODE 0, libmosquitto's thread writes what the
// benchmark thread publishes (the bridge's way); MODE 1, the benchmark thread writes
// it itself (mosquitto_publish writes at once without the library's thread) and reads
// the socket between messages, as an endpoint's event loop would.
void BM_PublisherDriven(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int qos = static_cast<int>(state.range(1));
  const bool own_loop = state.range(2) == 1;
  MosquittoBroker* broker = Broker(state);
  if (broker == nullptr) return;
  auto sub = MqttClient::Connect(broker->port(), "bench-sub", {.record = false});
  if (!sub.ok() || !(*sub)->Subscribe("bench/driven", qos).ok()) {
    return state.SkipWithError("the MQTT subscriber did not subscribe");
  }
  mosquitto* pub = mosquitto_new("bench-driven", true, nullptr);
  mosquitto_int_option(pub, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(pub, MOSQ_OPT_TCP_NODELAY, 1);
  if (mosquitto_connect(pub, "127.0.0.1", broker->port(), 30) != MOSQ_ERR_SUCCESS ||
      (!own_loop && mosquitto_loop_start(pub) != MOSQ_ERR_SUCCESS)) {
    mosquitto_destroy(pub);
    return state.SkipWithError("the publisher did not connect");
  }
  const std::string payload(size, 'x');
  uint64_t sent = 0, received = 0, published = 0;
  const Cpu before = Cpu::Now(broker->pid());
  for (auto _ : state) {
    received += Send(
        [&] {
          mosquitto_publish(pub, nullptr, "bench/driven", static_cast<int>(size),
                            payload.data(), qos, false);
          // Acknowledgements, and what could not be written at once.
          if (own_loop && ++published % 32 == 0) mosquitto_loop(pub, 0, 1);
        },
        [&](uint64_t n, absl::Duration timeout) {
          // The socket is read between messages, and while waiting.
          const absl::Time give_up = absl::Now() + timeout;
          while (own_loop && (*sub)->count() < n && absl::Now() < give_up) {
            mosquitto_loop(pub, 1, 1);
          }
          (*sub)->WaitForCount(n, give_up - absl::Now());
          return (*sub)->count();
        });
    sent += kMessages;
  }
  Report(state, sent, received, before, Cpu::Now(broker->pid()));
  mosquitto_disconnect(pub);
  if (!own_loop) mosquitto_loop_stop(pub, false);
  mosquitto_destroy(pub);
}

// BM_GlueHop: the glue hop of the bridge benchmarks alone, from one endpoint to the
// other with no bridge (best-effort at QoS 0, reliable at 1), at the same window:
// what glue's part of a bridged message costs. datagrams_per_msg says how many
// messages share a datagram.
void BM_GlueHop(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  const int qos = static_cast<int>(state.range(1));
  MosquittoBroker* broker = Broker(state);  // for Cpu, idle
  if (broker == nullptr) return;
  absl::StatusOr<Glue> g = StartGlue(broker->port(), std::nullopt);
  if (!g.ok()) return state.SkipWithError(g.status().ToString().c_str());
  bench::Tally got;
  if (!g->bridging
           ->Subscribe("bench/hop", topics::kAnyType,
                       [&got](const Message&) { got.Add(); })
           .ok() ||
      !PollUntil([&] { return g->other->Subscribers("bench/hop", kType).size() == 1; },
                 kSetupTimeout)) {
    return state.SkipWithError("the subscription did not reach the publisher");
  }
  const uint64_t datagrams_before = DatagramsSent(*g->other);
  uint64_t sent = 0, received = 0;
  const Cpu before = Cpu::Now(broker->pid());
  for (auto _ : state) {
    received += Send(GluePublish(*g->other, "bench/hop", size, qos > 0), AwaitTally(got));
    sent += kMessages;
  }
  Report(state, sent, received, before, Cpu::Now(broker->pid()));
  ReportDatagrams(state, DatagramsSent(*g->other) - datagrams_before, sent);
}

// Timed: every benchmark here, timed by the wall clock, a second at least.
void Timed(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(1.0);
}

void SizesAndQos(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "qos"});
  for (int64_t size : {64, 1024}) {
    for (int64_t qos : {0, 1}) b->Args({size, qos});
  }
  Timed(b);
}

BENCHMARK(BM_BrokerClientToClient)->Apply(SizesAndQos);
BENCHMARK(BM_GlueHop)->Apply(SizesAndQos);
BENCHMARK(BM_BridgeGlueToMqtt)
    ->ArgNames({"bytes", "qos", "reliable"})
    ->Args({64, 0, 0})
    ->Args({64, 0, 1})
    ->Args({64, 1, 1})
    ->Args({1024, 0, 0})
    ->Args({1024, 0, 1})
    ->Args({1024, 1, 1})
    ->Apply(Timed);
BENCHMARK(BM_BridgeMqttToGlue)->Apply(SizesAndQos);
BENCHMARK(BM_PublisherDriven)
    ->ArgNames({"bytes", "qos", "own_loop"})
    ->Args({64, 0, 0})
    ->Args({64, 0, 1})
    ->Args({1024, 0, 0})
    ->Args({1024, 0, 1})
    ->Apply(Timed);

}  // namespace
}  // namespace glue

BENCHMARK_MAIN();
