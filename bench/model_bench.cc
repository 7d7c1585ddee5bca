// Replicated models between endpoints in one process over loopback, through the
// Endpoint API: updates per second from a writer to a replica, the bytes each update
// costs on the wire and in a delta, the memory a key costs and what a deleted key
// leaves, ten endpoints healing a partition between two halves, a late joiner taking
// 100k keys, and the traffic of an idle model's anti-entropy. Each endpoint runs its
// own threads (a network thread and a thread for slow callbacks); discovery is
// multicast on loopback. Convergence is polled: a benchmark waits on a condition with
// a deadline and reports, when one does not hold, what the counters showed.
//
//   scripts/isolated.sh build-release/bench/model_bench --benchmark_counters_tabular=true
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/endpoint/endpoint.h"
#include "glue/model/model.h"
#include "glue/network/link.h"
#include "glue/network/link_factory.h"
#include "loopback.h"
#include "model/model_message.h"

namespace glue::model {
namespace {

constexpr char kModelName[] = "bench";
// How long endpoints may take to find each other, and replicas to converge, before a
// benchmark gives up and reports what it saw.
constexpr absl::Duration kSetupTimeout = absl::Seconds(20);
constexpr absl::Duration kConvergeTimeout = absl::Seconds(60);
constexpr size_t kKeys = 100'000;
// The bytes of IP and UDP headers of a datagram, which the link's counters leave out.
constexpr double kIpUdpHeaderBytes = 28;

// Key is key `i` < kKeys: 16 bytes, made once so that writing one costs only the
// model's work.
const std::string& Key(size_t i) {
  static const std::vector<std::string>* const keys = [] {
    auto* keys = new std::vector<std::string>();
    for (size_t i = 0; i < kKeys; ++i) {
      keys->push_back(absl::StrFormat("bench/key/%06d", i));
    }
    return keys;
  }();
  return (*keys)[i];
}
constexpr size_t kKeyBytes = 16;

using bench::PollUntil;

// Halves splits endpoints in two sides: every link an endpoint opens through its
// HalfLinks is on that endpoint's side, and while the halves are cut, a link drops
// every datagram that comes from a link of the other side. Members of one side keep
// reaching each other. Any thread.
class Halves {
 public:
  void Add(uint16_t port, int side) {
    MutexLock lock(&mu_);
    side_of_[port] = side;
  }
  void Cut(bool cut) { cut_.store(cut); }
  bool Drops(int side, uint16_t source_port) const {
    if (!cut_.load(std::memory_order_relaxed)) return false;
    MutexLock lock(&mu_);
    auto it = side_of_.find(source_port);
    return it != side_of_.end() && it->second != side;
  }

 private:
  std::atomic<bool> cut_{false};
  mutable Mutex mu_;
  // By the port of each endpoint's data link, which sends all it sends (its
  // announcements too); links bound to a multicast group share their port and only
  // receive.
  absl::flat_hash_map<uint16_t, int> side_of_ ABSL_GUARDED_BY(mu_);
};

// HalfLink is a system link that drops what comes from the other side while cut.
class HalfLink final : public network::DatagramLink {
 public:
  HalfLink(std::unique_ptr<network::DatagramLink> link, const Halves& halves, int side)
      : link_(std::move(link)), halves_(halves), side_(side) {}
  absl::Status Start(ReceiveHandler handler) override {
    return link_->Start(
        [this, handler = std::move(handler)](const network::ReceivedDatagram& d) {
          if (!halves_.Drops(side_, d.source.port())) handler(d);
        });
  }
  void Stop() override { link_->Stop(); }
  absl::Status Send(const network::Address& destination,
                    absl::Span<const uint8_t> bytes) override {
    return link_->Send(destination, bytes);
  }
  absl::StatusOr<size_t> SendBatch(
      absl::Span<const network::OutgoingDatagram> datagrams) override {
    return link_->SendBatch(datagrams);
  }
  network::Address local_address() const override { return link_->local_address(); }
  network::LinkCounters counters() const override { return link_->counters(); }

 private:
  const std::unique_ptr<network::DatagramLink> link_;
  const Halves& halves_;
  const int side_;
};

// HalfLinks opens system links on one side of `halves`, which must outlive it.
class HalfLinks final : public network::LinkFactory {
 public:
  HalfLinks(Halves& halves, int side) : halves_(halves), side_(side) {}
  absl::StatusOr<std::unique_ptr<network::DatagramLink>> Open(
      const boost::asio::any_io_executor& executor,
      const network::UdpSocketOptions& options,
      absl::Span<const boost::asio::ip::address> groups) override {
    GLUE_ASSIGN_OR_RETURN(std::unique_ptr<network::DatagramLink> link,
                          network::SystemLinks().Open(executor, options, groups));
    if (groups.empty()) halves_.Add(link->local_address().port(), side_);
    return std::make_unique<HalfLink>(std::move(link), halves_, side_);
  }

 private:
  Halves& halves_;
  const int side_;
};

// NodeOptions are what differs between the endpoints of the benchmarks.
struct NodeOptions {
  absl::Duration announce = absl::Seconds(1);
  uint32_t timeout_multiplier = 10;
  network::LinkFactory* links = &network::SystemLinks();
  ModelOptions model;
};

// Node is one endpoint with the model open on it; the model goes first.
struct Node {
  std::unique_ptr<Endpoint> endpoint;
  std::unique_ptr<Model> model;
};

absl::StatusOr<Node> StartNode(const NodeOptions& o) {
  static std::atomic<uint64_t> next_id{1};
  EndpointOptions options;
  options.discovery = bench::LoopbackConfig(next_id++);
  options.discovery.rate = o.announce;
  options.discovery.rate_timeout_multiplier = o.timeout_multiplier;
  options.linger = absl::Milliseconds(200);
  options.links = o.links;
  Node node;
  GLUE_ASSIGN_OR_RETURN(node.endpoint, Endpoint::Create(options));
  GLUE_RETURN_IF_ERROR(node.endpoint->Start());
  GLUE_ASSIGN_OR_RETURN(node.model, node.endpoint->OpenModel(kModelName, o.model));
  return node;
}

// StartNodes starts `n` nodes, the i-th with options[i] (or the last given), and
// waits until every model knows every other replica.
absl::StatusOr<std::vector<Node>> StartNodes(size_t n,
                                             const std::vector<NodeOptions>& options) {
  std::vector<Node> nodes;
  for (size_t i = 0; i < n; ++i) {
    GLUE_ASSIGN_OR_RETURN(Node node, StartNode(options[std::min(i, options.size() - 1)]));
    nodes.push_back(std::move(node));
  }
  if (!PollUntil(
          [&] {
            return std::all_of(nodes.begin(), nodes.end(), [n](const Node& node) {
              return node.model->replicas() == n - 1;
            });
          },
          kSetupTimeout)) {
    return absl::DeadlineExceededError(
        absl::StrCat("the replicas did not all find each other within ",
                     absl::FormatDuration(kSetupTimeout), bench::kSetupHint));
  }
  return nodes;
}

// Describe says what each node's model holds and did: for a benchmark that gives up.
std::string Describe(const std::vector<Node>& nodes) {
  std::string out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ModelCounters c = nodes[i].model->counters();
    absl::StrAppend(&out, "; node ", i, ": keys ", c.keys, ", replicas ",
                    nodes[i].model->replicas(), ", revision ", nodes[i].model->revision(),
                    ", deltas sent/received ", c.deltas_sent, "/", c.deltas_received,
                    ", writes applied ", c.writes_applied, ", summaries sent/received ",
                    c.summaries_sent, "/", c.summaries_received, ", answers sent ",
                    c.answers_sent, ", publish refused ", c.publish_refused,
                    ", refused at bounds ", c.refused_bounds);
  }
  return out;
}

// Quiet waits until no node has a message queued or unacknowledged.
bool Quiet(const std::vector<Node>& nodes) {
  return PollUntil(
      [&] {
        return std::all_of(nodes.begin(), nodes.end(), [](const Node& node) {
          const EndpointCounters c = node.endpoint->counters();
          return c.topics.messages.bytes_queued == 0 &&
                 c.topics.messages.transport.bytes_unacknowledged == 0;
        });
      },
      kSetupTimeout);
}

// Wire is what a node's data link sent: every datagram of the node (data,
// acknowledgements and announcements), UDP payload bytes.
struct Wire {
  uint64_t bytes = 0;
  uint64_t datagrams = 0;
};

Wire WireOf(const std::vector<Node>& nodes) {
  Wire w;
  for (const Node& node : nodes) {
    const network::LinkCounters c =
        node.endpoint->counters().topics.messages.transport.discovery.data_link;
    w.bytes += c.bytes_sent;
    w.datagrams += c.datagrams_sent;
  }
  return w;
}

// HeapBytes is what malloc has handed out and not taken back, over every arena.
double HeapBytes() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<double>(m.uordblks + m.hblkhd);
}

// Target 1 and 2: a writer Puts state.range(1) keys with values of state.range(0)
// bytes (16-byte keys, the same keys again in each iteration), and an iteration ends
// when the other replica shows every write. updates/s is keys over that time. The
// bytes per update are what both data links sent (the writer's deltas, the reader's
// acknowledgements, both endpoints' announcements) over every iteration, divided by
// the updates; "overhead" is that less the key and the value, and "+IP/UDP" adds the
// 28 bytes of headers each datagram carries on a real wire. updates/delta is how many
// writes a delta message carried (a flush takes what Puts left pending meanwhile),
// resent/update the transport's retransmissions.
void BM_Replicate(benchmark::State& state) {
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const size_t n = static_cast<size_t>(state.range(1));
  absl::StatusOr<std::vector<Node>> nodes = StartNodes(2, {NodeOptions()});
  if (!nodes.ok()) {
    state.SkipWithError(nodes.status().ToString().c_str());
    return;
  }
  Model& writer = *(*nodes)[0].model;
  Model& reader = *(*nodes)[1].model;
  const Wire wire_before = WireOf(*nodes);
  const ModelCounters writer_before = writer.counters();
  const EndpointCounters sent_before = (*nodes)[0].endpoint->counters();
  uint64_t updates = 0;
  absl::Status status;
  for (auto _ : state) {
    const uint64_t target = reader.revision() + n;
    for (size_t i = 0; status.ok() && i < n; ++i) status = writer.Put(Key(i), value);
    if (!status.ok()) break;
    if (!PollUntil([&] { return reader.revision() >= target; }, kConvergeTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the reader did not show every write", Describe(*nodes)));
      break;
    }
    updates += n;
  }
  if (status.ok() && !Quiet(*nodes)) {
    status = absl::DeadlineExceededError("the endpoints did not go quiet");
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const Wire wire = WireOf(*nodes);
  const ModelCounters c = writer.counters();
  const EndpointCounters sent = (*nodes)[0].endpoint->counters();
  const double u = static_cast<double>(updates);
  const double bytes = static_cast<double>(wire.bytes - wire_before.bytes) / u;
  const double datagrams =
      static_cast<double>(wire.datagrams - wire_before.datagrams) / u;
  state.SetItemsProcessed(static_cast<int64_t>(updates));
  state.counters["B/update"] = bytes;
  state.counters["overhead"] = bytes - static_cast<double>(kKeyBytes + value.size());
  state.counters["+IP/UDP"] = bytes + datagrams * kIpUdpHeaderBytes -
                              static_cast<double>(kKeyBytes + value.size());
  state.counters["dgrams/update"] = datagrams;
  state.counters["resent/update"] =
      static_cast<double>(sent.topics.messages.transport.sessions.data_resent -
                          sent_before.topics.messages.transport.sessions.data_resent) /
      u;
  state.counters["updates/delta"] =
      u / static_cast<double>(c.deltas_sent - writer_before.deltas_sent);
  state.counters["refused"] =
      static_cast<double>(c.publish_refused - writer_before.publish_refused);
  // Answers to the reader's summaries sent in the timed region: writes sent again.
  state.counters["answers"] =
      static_cast<double>(c.answers_sent - writer_before.answers_sent);
}

// Target 2, the model's share: a delta as a writer's flush makes it, of 16-byte keys
// and values of state.range(0) bytes, written one after another as fast as
// BM_Replicate writes them, new keys (range(1) 0) or each replacing the writer's
// earlier write of the key (1); as many versions as fill ModelOptions::message_bytes.
// "overhead" is the encoded bytes per version beyond its key and value.
void BM_DeltaEncoding(benchmark::State& state) {
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  const bool replacing = state.range(1) != 0;
  const Writer self{1, 0x1234567890abcdefULL};
  internal::Delta delta{.incarnation = self.incarnation};
  delta.writers.push_back({self, "bench-1"});
  const uint64_t now_ms = static_cast<uint64_t>(absl::ToUnixMillis(absl::Now()));
  size_t estimate = 0;
  size_t payload = 0;
  for (size_t i = 0; estimate < ModelOptions().message_bytes; ++i) {
    // About 300 writes a millisecond, the hybrid clock's counter ordering those of
    // one millisecond.
    // Counters as in BM_Replicate's fourth round, replacing those of its third.
    internal::WireVersion v{.writer = 0,
                            .counter = 3 * kKeys + 1 + i,
                            .time = HybridTime::Of(now_ms + i / 300, i % 300),
                            .key = Key(i % 2048),
                            .value = value};
    if (replacing) v.replaced.emplace_back(0, 2 * kKeys + 1 + i);
    estimate += internal::VersionWireBytes(v);
    payload += v.key.size() + value.size();
    delta.versions.push_back(std::move(v));
  }
  size_t encoded = 0;
  for (auto _ : state) {
    const std::vector<uint8_t> bytes = internal::EncodeModelMessage(delta);
    encoded = bytes.size();
    benchmark::DoNotOptimize(bytes.data());
  }
  const double versions = static_cast<double>(delta.versions.size());
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(delta.versions.size()));
  state.counters["versions"] = versions;
  state.counters["B/version"] = static_cast<double>(encoded) / versions;
  state.counters["overhead"] = static_cast<double>(encoded - payload) / versions;
}

// Target 3: the heap (mallinfo2, every arena) of the process before and after one
// writer Puts kKeys keys of 16 bytes with values of 64 bytes, and after it deletes
// them all, with state.range(0) replicas (1: the writer alone; 2: and a replica,
// measured once it shows every write and then every delete, the heap divided between
// the two). Figures per key and replica, beyond the key and the value. Twice: the
// first time ("1st") counts what a model allocates once and keeps, whatever its
// number of keys (its change log, max_change_log changes, and the capacity of its
// buffers); the second, against the heap after the first, what a key costs.
void BM_MemoryPerKey(benchmark::State& state) {
  const size_t replicas = static_cast<size_t>(state.range(0));
  const std::string value(64, 'v');
  absl::StatusOr<std::vector<Node>> nodes = StartNodes(replicas, {NodeOptions()});
  if (!nodes.ok()) {
    state.SkipWithError(nodes.status().ToString().c_str());
    return;
  }
  Model& writer = *nodes->front().model;
  Model& last = *nodes->back().model;
  Key(0);  // the keys are made before the heap is measured
  absl::Status status;
  auto settle = [&](uint64_t keys) {
    if (!status.ok()) return;
    status = writer.Sync(absl::Now() + kConvergeTimeout);  // sends what is pending
    if (status.ok() &&
        !PollUntil([&] { return last.counters().keys == keys; }, kConvergeTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the replicas did not converge", Describe(*nodes)));
    }
    if (status.ok() && !Quiet(*nodes)) {
      status = absl::DeadlineExceededError("the endpoints did not go quiet");
    }
  };
  // Cycle puts and deletes every key, and says the heap's growth with every key held
  // and after every key was deleted, per key and replica.
  const double per = static_cast<double>(kKeys * replicas);
  auto cycle = [&](double* held, double* deleted) {
    settle(0);
    const double before = HeapBytes();
    for (size_t i = 0; status.ok() && i < kKeys; ++i) status = writer.Put(Key(i), value);
    settle(kKeys);
    *held = (HeapBytes() - before) / per;
    for (size_t i = 0; status.ok() && i < kKeys; ++i) status = writer.Delete(Key(i));
    settle(0);
    *deleted = (HeapBytes() - before) / per;
  };
  double first_held = 0, first_deleted = 0, held = 0, deleted = 0;
  for (auto _ : state) {
    cycle(&first_held, &first_deleted);
    cycle(&held, &deleted);
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const double payload = static_cast<double>(kKeyBytes + value.size());
  state.counters["B/key"] = held;
  state.counters["overhead"] = held - payload;
  state.counters["deleted B/key"] = deleted;
  state.counters["1st overhead"] = first_held - payload;
  state.counters["1st deleted B/key"] = first_deleted;
}

// Digest is the sum of a hash of (key, winner's version) over the keys a replica
// shows, kept by a watch: equal digests on every replica say they show the same.
struct Digest {
  static uint64_t Of(const Entry& e) {
    return absl::HashOf(e.key, e.version.writer, e.version.counter);
  }
  std::atomic<uint64_t> sum{0};
  std::atomic<bool> overflowed{false};
};

// KeepDigest sets `digest` from what `model` shows, and has a watch keep it; `digest`
// must outlive the model.
absl::Status KeepDigest(Model& model, Digest& digest) {
  GLUE_ASSIGN_OR_RETURN(const ModelSnapshot snapshot, model.Snapshot("#"));
  uint64_t sum = 0;
  for (const Entry& e : snapshot.entries) sum += Digest::Of(e);
  digest.sum = sum;
  auto keep = [&digest](const WatchEvent& e) {
    if (e.kind == WatchEvent::Kind::kOverflow) digest.overflowed = true;
    if (e.old_entry) digest.sum -= Digest::Of(*e.old_entry);
    if (e.new_entry) digest.sum += Digest::Of(*e.new_entry);
  };
  return model.Watch("#", keep, snapshot.revision).status();
}

// Contents is what a replica shows, siblings counted: to check convergence exactly.
std::vector<std::tuple<std::string, Writer, uint64_t, size_t>> Contents(const Model& m) {
  std::vector<std::tuple<std::string, Writer, uint64_t, size_t>> out;
  absl::StatusOr<ModelSnapshot> s = m.Snapshot("#");
  if (!s.ok()) return out;
  for (const Entry& e : s->entries) {
    out.emplace_back(e.key, e.version.writer, e.version.counter, e.siblings);
  }
  return out;
}

// DescribeHalves says, of each node of BM_PartitionHeal, how many of the keys each
// side deleted it still shows, how many of the changed keys show siblings, and its
// digest: for a heal that does not converge.
std::string DescribeHalves(const std::vector<Node>& nodes,
                           const std::vector<Digest>& digests) {
  std::string out;
  for (size_t i = 0; i < nodes.size(); ++i) {
    const Model& m = *nodes[i].model;
    size_t deleted[2] = {0, 0}, siblings = 0;
    for (size_t side = 0; side < 2; ++side) {
      for (size_t k = 50'000 + side * 10'000; k < 50'100 + side * 10'000; ++k) {
        deleted[side] += m.Get(Key(k)).ok() ? 1 : 0;
      }
    }
    for (size_t k = 0; k < 1500; ++k) {
      const absl::StatusOr<Entry> e = m.Get(Key(k));
      siblings += e.ok() && e->siblings > 0 ? 1 : 0;
    }
    absl::StrAppend(&out, "; node ", i, " shows ", deleted[0], " and ", deleted[1],
                    " of the keys sides 0 and 1 deleted, ", siblings,
                    " keys with siblings, digest ", digests[i].sum.load());
  }
  return out;
}

// Target 4: ten endpoints, five on each side of Halves, announcing every
// state.range(0) ms (1000: discovery's default) and removing a peer after 2 s of
// silence (the default for 1000 ms). One writes kKeys keys (64-byte values) and
// all show them; the halves are cut and wait until each side's discovery removed the
// other; then each side changes 1% of the keys (its five members 200 each; the two
// sides' keys overlap by 500, concurrent writes that every replica keeps as siblings)
// and deletes 100 (20 each), and waits until its members agree. The time is from the
// heal until every replica shows the same (watch digests), checked after by comparing
// every replica's whole contents, siblings included. `peers_s` is when every
// endpoint's discovery held the nine others again (0: not before the replicas
// converged), `rediscovered_s` when every model did (their hellos heard), which may
// come after they converged.
void BM_PartitionHeal(benchmark::State& state) {
  constexpr size_t kNodes = 10;
  constexpr size_t kSide = kNodes / 2;
  Halves halves;
  HalfLinks side_links[2] = {HalfLinks(halves, 0), HalfLinks(halves, 1)};
  std::vector<NodeOptions> options(kNodes);
  for (size_t i = 0; i < kNodes; ++i) {
    options[i].announce = absl::Milliseconds(state.range(0));
    options[i].timeout_multiplier = static_cast<uint32_t>(2000 / state.range(0));
    options[i].links = &side_links[i / kSide];
  }
  // Before the nodes, whose watches write them until the nodes go.
  std::vector<Digest> digests(kNodes);
  absl::StatusOr<std::vector<Node>> started = StartNodes(kNodes, options);
  if (!started.ok()) {
    state.SkipWithError(started.status().ToString().c_str());
    return;
  }
  std::vector<Node>& nodes = *started;
  auto all = [&](size_t first, size_t end, auto predicate) {
    for (size_t i = first; i < end; ++i) {
      if (!predicate(i)) return false;
    }
    return true;
  };
  auto same_digest = [&](size_t first, size_t end) {
    return all(first, end, [&](size_t i) {
      return digests[i].sum.load() == digests[first].sum.load() &&
             !digests[i].overflowed.load();
    });
  };
  auto replicas_are = [&](size_t n) {
    return all(0, kNodes, [&](size_t i) { return nodes[i].model->replicas() == n; });
  };
  absl::Status status;
  double heal_seconds = 0, rediscovered_seconds = 0, peers_seconds = 0;
  for (auto _ : state) {
    const std::string value(64, 'v');
    for (size_t i = 0; status.ok() && i < kKeys; ++i) {
      status = nodes[0].model->Put(Key(i), value);
    }
    if (status.ok() && !PollUntil(
                           [&] {
                             return all(0, kNodes, [&](size_t i) {
                               return nodes[i].model->counters().keys == kKeys;
                             });
                           },
                           kConvergeTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the first writes did not reach every replica", Describe(nodes)));
    }
    for (size_t i = 0; status.ok() && i < kNodes; ++i) {
      status = KeepDigest(*nodes[i].model, digests[i]);
    }
    halves.Cut(true);
    if (status.ok() &&
        !PollUntil([&] { return replicas_are(kSide - 1); }, kSetupTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the halves did not lose each other", Describe(nodes)));
    }
    for (size_t i = 0; status.ok() && i < kNodes; ++i) {
      const size_t side = i / kSide, j = i % kSide;
      const std::string changed = absl::StrCat("changed by ", i);
      const size_t first_change = side * 500 + j * 200;
      for (size_t k = first_change; status.ok() && k < first_change + 200; ++k) {
        status = nodes[i].model->Put(Key(k), changed);
      }
      const size_t first_delete = 50'000 + side * 10'000 + j * 20;
      for (size_t k = first_delete; status.ok() && k < first_delete + 20; ++k) {
        status = nodes[i].model->Delete(Key(k));
      }
    }
    if (status.ok() &&
        !PollUntil([&] { return same_digest(0, kSide) && same_digest(kSide, kNodes); },
                   kConvergeTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the members of a half did not agree", Describe(nodes)));
    }
    if (!status.ok()) break;
    const absl::Time healed = absl::Now();
    halves.Cut(false);
    bool rediscovered = false, peers_back = false;
    const bool converged = PollUntil(
        [&] {
          if (!peers_back && all(0, kNodes, [&](size_t i) {
                return nodes[i].endpoint->peers().size() == kNodes - 1;
              })) {
            peers_back = true;
            peers_seconds = absl::ToDoubleSeconds(absl::Now() - healed);
          }
          if (!rediscovered && replicas_are(kNodes - 1)) {
            rediscovered = true;
            rediscovered_seconds = absl::ToDoubleSeconds(absl::Now() - healed);
          }
          return same_digest(0, kNodes);
        },
        kConvergeTimeout);
    heal_seconds = absl::ToDoubleSeconds(absl::Now() - healed);
    state.SetIterationTime(heal_seconds);
    if (!converged) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the replicas did not converge after the heal",
                       DescribeHalves(nodes, digests), Describe(nodes)));
      break;
    }
    // Each replica may have had the other half's writes from one peer before it
    // heard of every other.
    if (!rediscovered &&
        !PollUntil([&] { return replicas_are(kNodes - 1); }, kSetupTimeout)) {
      status = absl::DeadlineExceededError(
          absl::StrCat("the halves did not find each other again", Describe(nodes)));
      break;
    }
    if (!rediscovered) {
      rediscovered_seconds = absl::ToDoubleSeconds(absl::Now() - healed);
    }
    const auto first = Contents(*nodes[0].model);
    size_t siblings = 0;
    for (const auto& entry : first) siblings += std::get<3>(entry) > 0 ? 1 : 0;
    for (size_t i = 1; status.ok() && i < kNodes; ++i) {
      if (Contents(*nodes[i].model) != first) {
        status = absl::InternalError(absl::StrCat(
            "the digests agree but the contents of node ", i, " differ from node 0's"));
      }
    }
    if (status.ok() && (first.size() != kKeys - 200 || siblings != 500)) {
      status = absl::InternalError(
          absl::StrCat("every replica shows ", first.size(), " keys, ", siblings,
                       " with siblings; expected ", kKeys - 200, " and 500"));
    }
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  uint64_t answers = 0, versions = 0;
  for (const Node& node : nodes) {
    const ModelCounters c = node.model->counters();
    answers += c.answers_sent;
    versions += c.answer_versions_sent;
  }
  state.counters["heal_s"] = heal_seconds;
  state.counters["rediscovered_s"] = rediscovered_seconds;
  state.counters["peers_s"] = peers_seconds;
  state.counters["answers"] = static_cast<double>(answers);
  state.counters["answer_versions"] = static_cast<double>(versions);
}

// Target 5: one endpoint holds kKeys keys of 16 bytes with values of state.range(0)
// bytes; each iteration starts a new endpoint, opens the model on it and ends when it
// shows every key: the time from Endpoint::Start, discovery included. The joiner then
// stops (untimed).
void BM_LateJoiner(benchmark::State& state) {
  const std::string value(static_cast<size_t>(state.range(0)), 'v');
  absl::StatusOr<Node> holder = StartNode(NodeOptions());
  absl::Status status = holder.status();
  for (size_t i = 0; status.ok() && i < kKeys; ++i) {
    status = holder->model->Put(Key(i), value);
  }
  if (status.ok()) status = holder->model->Sync(absl::Now() + kConvergeTimeout);
  double open_seconds = 0;
  uint64_t chunks = 0;
  for (auto _ : state) {
    if (!status.ok()) break;
    const uint64_t answers_before = holder->model->counters().answers_sent;
    const absl::Time start = absl::Now();
    absl::StatusOr<Node> joiner = StartNode(NodeOptions());
    if (!joiner.ok()) {
      status = joiner.status();
      break;
    }
    const absl::Time opened = absl::Now();
    const bool all =
        PollUntil([&] { return joiner->model->revision() >= kKeys; }, kConvergeTimeout);
    const absl::Time end = absl::Now();
    state.SetIterationTime(absl::ToDoubleSeconds(end - start));
    open_seconds += absl::ToDoubleSeconds(end - opened);
    chunks += holder->model->counters().answers_sent - answers_before;
    if (!all) {
      status = absl::DeadlineExceededError(absl::StrCat(
          "the joiner did not get every key: it holds ", joiner->model->counters().keys,
          ", the holder sent ", holder->model->counters().answers_sent - answers_before,
          " answers"));
    }
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const double n = static_cast<double>(state.iterations());
  state.counters["from_open_s"] = open_seconds / n;
  state.counters["chunks"] = static_cast<double>(chunks) / n;
}

// Target 6: two endpoints share a model of state.range(0) keys (16-byte keys, 64-byte
// values, one key in three written again and one in seven deleted, so that the values
// each writer still holds are many runs of counters), with anti_entropy_interval
// shortened to 100 ms; once they agree and are quiet, both data links' bytes over 5 s
// of idle time, as bytes per minute (announcements and acknowledgements included)
// and per summary sent.
void BM_IdleAntiEntropy(benchmark::State& state) {
  const size_t keys = static_cast<size_t>(state.range(0));
  constexpr absl::Duration kIdle = absl::Seconds(5);
  NodeOptions options;
  options.model.anti_entropy_interval = absl::Milliseconds(100);
  absl::StatusOr<std::vector<Node>> nodes = StartNodes(2, {options});
  if (!nodes.ok()) {
    state.SkipWithError(nodes.status().ToString().c_str());
    return;
  }
  Model& writer = *(*nodes)[0].model;
  Model& reader = *(*nodes)[1].model;
  const std::string value(64, 'v');
  absl::Status status;
  for (size_t i = 0; status.ok() && i < keys; ++i) status = writer.Put(Key(i), value);
  for (size_t i = 0; status.ok() && i < keys; i += 3) status = writer.Put(Key(i), "w");
  for (size_t i = 0; status.ok() && i < keys; i += 7) status = writer.Delete(Key(i));
  if (status.ok()) status = writer.Sync(absl::Now() + kConvergeTimeout);
  if (status.ok() && !PollUntil([&] { return Contents(reader) == Contents(writer); },
                                kConvergeTimeout)) {
    status = absl::DeadlineExceededError(
        absl::StrCat("the replicas did not converge", Describe(*nodes)));
  }
  if (status.ok() && !Quiet(*nodes)) {
    status = absl::DeadlineExceededError("the endpoints did not go quiet");
  }
  Wire before, after;
  ModelCounters a_before, b_before, a_after, b_after;
  for (auto _ : state) {
    if (!status.ok()) break;
    before = WireOf(*nodes);
    a_before = writer.counters();
    b_before = reader.counters();
    std::this_thread::sleep_for(absl::ToChronoNanoseconds(kIdle));  // the idle time
    after = WireOf(*nodes);
    a_after = writer.counters();
    b_after = reader.counters();
    state.SetIterationTime(absl::ToDoubleSeconds(kIdle));
  }
  if (!status.ok()) {
    state.SkipWithError(status.ToString().c_str());
    return;
  }
  const double summaries =
      static_cast<double>(a_after.summaries_sent - a_before.summaries_sent +
                          b_after.summaries_sent - b_before.summaries_sent);
  const double bytes = static_cast<double>(after.bytes - before.bytes);
  state.counters["B/min"] = bytes * 60 / absl::ToDoubleSeconds(kIdle);
  state.counters["summaries"] = summaries;
  state.counters["B/summary"] = bytes / summaries;
  state.counters["dgrams/summary"] =
      static_cast<double>(after.datagrams - before.datagrams) / summaries;
  state.counters["answers"] =
      static_cast<double>(a_after.answers_sent - a_before.answers_sent +
                          b_after.answers_sent - b_before.answers_sent);
  state.counters["answer_versions"] =
      static_cast<double>(a_after.answer_versions_sent - a_before.answer_versions_sent +
                          b_after.answer_versions_sent - b_before.answer_versions_sent);
  state.counters["keys"] = static_cast<double>(a_after.keys);
}

BENCHMARK(BM_Replicate)
    ->ArgNames({"value", "keys"})
    ->Args({64, kKeys})
    ->Iterations(5)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_DeltaEncoding)
    ->ArgNames({"value", "replacing"})
    ->ArgsProduct({{64}, {0, 1}});
BENCHMARK(BM_MemoryPerKey)
    ->ArgName("replicas")
    ->Arg(1)
    ->Arg(2)
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PartitionHeal)
    ->ArgName("announce_ms")
    ->Arg(1000)
    ->Arg(250)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LateJoiner)
    ->ArgName("value")
    ->Arg(100)
    ->Iterations(3)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_IdleAntiEntropy)
    ->ArgName("keys")
    ->Arg(1000)
    ->Arg(kKeys)
    ->Iterations(1)
    ->UseManualTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace glue::model

BENCHMARK_MAIN();
