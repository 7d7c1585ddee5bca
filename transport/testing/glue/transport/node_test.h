// NodeTest: a test fixture for nodes that stand on a Transport (the transport
// itself, or a layer above it), on a simulated network or over multicast on loopback,
// and Observed, what such a node's listener saw of its peers and its reliable sends.
//
//   struct Node : transport::testing::Observed {
//     std::unique_ptr<Transport> transport;
//     uint64_t id() const;  // its endpoint id
//     void Stop();
//   };
//   class MyTest : public transport::testing::NodeTest<Node> { ... };
//   Node* a = Keep(MakeNode(...));  // stopped by TearDown
//   ASSERT_TRUE(Connect(a, b));
#ifndef GLUE_TRANSPORT_TESTING_NODE_TEST_H_
#define GLUE_TRANSPORT_TESTING_NODE_TEST_H_

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/mutex.h"
#include "glue/base/run_until.h"
#include "glue/base/simulated_clock.h"
#include "glue/base/skip.h"
#include "glue/discovery/config.h"
#include "glue/discovery/discovery.h"
#include "glue/discovery/loopback_network.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/network/link_factory.h"
#include "glue/network/simulated_network.h"
#include "glue/transport/transport.h"
#include "gtest/gtest.h"

namespace glue::transport::testing {

// Observed records what a node's callbacks report. They may run on another
// thread than the test's, hence the lock.
struct Observed {
  mutable Mutex mu;
  std::set<uint64_t> peers ABSL_GUARDED_BY(mu);
  std::map<uint64_t, SendOutcome> done ABSL_GUARDED_BY(mu);  // by token
  uint64_t done_twice ABSL_GUARDED_BY(mu) = 0;  // tokens reported more than once

  void PeerAdded(const discovery::Peer& peer) {
    MutexLock lock(&mu);
    peers.insert(peer.id);
  }
  void PeerRemoved(const discovery::Peer& peer) {
    MutexLock lock(&mu);
    peers.erase(peer.id);
  }
  void SendDone(uint64_t token, SendOutcome outcome) {
    MutexLock lock(&mu);
    if (!done.emplace(token, outcome).second) ++done_twice;
  }

  size_t done_count() const {
    MutexLock lock(&mu);
    return done.size();
  }
  bool Sees(uint64_t peer) const {
    MutexLock lock(&mu);
    return peers.contains(peer);
  }
};

// TestSeed is GLUE_TEST_SEED when set, to repeat a run, or a random seed.
inline uint64_t TestSeed() {
  if (const char* seed = std::getenv("GLUE_TEST_SEED"))
    return std::strtoull(seed, nullptr, 10);
  return std::random_device()();
}

// NodeTest runs nodes on the fixture's io_context or on io_b_, and stops every node
// it keeps at TearDown. Node derives from Observed and has id() and Stop().
//
// By default the nodes stand on a SimulatedNetwork, each on a host of its own, with
// a SimulatedClock: RunUntil and RunFor drive io_ and jump the clock from alarm to
// alarm, so that a test takes the time its work takes, not the time its timeouts
// wait, and repeats exactly. A fixture that sets `simulated_ = false` in its
// constructor runs the same on a LoopbackNetwork of real sockets and the system
// clock instead (skipping where loopback cannot carry multicast).
template <typename Node>
class NodeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (simulated_) {
      // Nothing waits in Asio on the simulated network (alarms wait in the clock), so
      // the io_contexts are kept from stopping when they run out of work.
      work_.emplace(io_.get_executor());
      work_b_.emplace(io_b_.get_executor());
      std::printf("simulated network seed: %llu (GLUE_TEST_SEED repeats it)\n",
                  static_cast<unsigned long long>(simulated_network_.seed()));
      return;
    }
    absl::StatusOr<discovery::testing::LoopbackNetwork> network =
        discovery::testing::LoopbackNetwork::Make(io_);
    if (absl::IsFailedPrecondition(network.status())) {
      GLUE_SKIP_UNLESS_CI(network.status().message());
    }
    ASSERT_TRUE(network.ok()) << network.status();
    loopback_ = *network;
  }

  void TearDown() override {
    for (auto& node : nodes_) node->Stop();
  }

  // Keep holds `node` (null stays null) until the fixture ends.
  Node* Keep(std::unique_ptr<Node> node) {
    Node* e = node.get();
    if (e != nullptr) nodes_.push_back(std::move(node));
    return e;
  }

  // ExecutorOf is `io`'s executor, or the fixture's when `io` is null.
  boost::asio::any_io_executor ExecutorOf(boost::asio::io_context* io) {
    return (io != nullptr ? *io : io_).get_executor();
  }

  // The clock every layer of every node reads.
  Clock& clock() {
    return simulated_ ? static_cast<Clock&>(simulated_clock_) : SystemClock();
  }
  absl::Time Now() { return clock().Now(); }

  // MakeDiscovery makes the discovery of `config` on the fixture's network and clock,
  // on a strand of `io` (the fixture's by default), for a node to stand on.
  std::unique_ptr<discovery::Discovery> MakeDiscovery(
      const discovery::Config& config, discovery::Discovery::Options options = {},
      boost::asio::io_context* io = nullptr) {
    network::LinkFactory& links =
        simulated_ ? simulated_network_.Host(config.listen_address.address())
                   : network::SystemLinks();
    auto made = discovery::Discovery::Create(boost::asio::make_strand(ExecutorOf(io)),
                                             config, std::move(options), clock(), links);
    EXPECT_TRUE(made.ok()) << made.status();
    return made.ok() ? *std::move(made) : nullptr;
  }

  // OpenRawLink opens a link of the test's own on the nodes' network (a host of its
  // own on the simulated one), to send them what no node would.
  std::unique_ptr<network::DatagramLink> OpenRawLink() {
    const boost::asio::ip::address host =
        simulated_ ? discovery::testing::SimulatedHostAddress(254)
                   : boost::asio::ip::make_address("127.0.0.1");
    network::UdpSocketOptions options;
    options.bind_address = network::Address(host, 0);
    network::LinkFactory& links =
        simulated_ ? simulated_network_.Host(host) : network::SystemLinks();
    auto link = links.Open(io_.get_executor(), options, {});
    EXPECT_TRUE(link.ok()) << link.status();
    if (!link.ok()) return nullptr;
    EXPECT_TRUE((*link)->Start([](const network::ReceivedDatagram&) {}).ok());
    return *std::move(link);
  }

  // MulticastConfig is node `id` named `name`, announcing every `rate`, removed
  // after two silent periods: on a simulated host of its own (host `id`), or on the
  // loopback network.
  discovery::Config MulticastConfig(uint64_t id, const std::string& name,
                                    absl::Duration rate = absl::Milliseconds(50)) {
    if (!simulated_) return loopback_.MulticastConfig(id, name, rate);
    return discovery::testing::SimulatedHostConfig(static_cast<int>(1 + id % 250), id,
                                                   name, rate);
  }

  // Config is node `id` announcing at the network's default rate.
  discovery::Config Config(uint64_t id) {
    return MulticastConfig(id, "endpoint-" + std::to_string(id));
  }

  // Lossy is a node whose announcements may cross a lossy network: it announces
  // every second and removes a peer only after 30 silent periods of that peer, so
  // that no test removes a live peer, even one whose loop is held by a long check.
  discovery::Config Lossy(uint64_t id, const std::string& name) {
    discovery::Config config = MulticastConfig(id, name, absl::Seconds(1));
    config.rate_timeout_multiplier = 30;
    return config;
  }

  // RunUntil runs `io` until `done()` holds, or `timeout` passes (of simulated time
  // on the simulated network); returns `done`'s last answer. Tests call it as they
  // would glue::testing::RunUntil, which it hides.
  template <typename Done>
  bool RunUntil(
      boost::asio::io_context& io, Done done,
      std::chrono::steady_clock::duration timeout = glue::testing::kDefaultRunTimeout) {
    if (!simulated_) return glue::testing::RunUntil(io, done, timeout);
    return glue::testing::RunSimulatedUntil(io, simulated_clock_, done,
                                            absl::FromChrono(timeout));
  }

  // RunFor runs `io` for `duration`, handling whatever becomes ready: for checking
  // that something does NOT happen within it.
  void RunFor(boost::asio::io_context& io, std::chrono::steady_clock::duration duration) {
    if (!simulated_) return glue::testing::RunFor(io, duration);
    glue::testing::RunSimulatedFor(io, simulated_clock_, absl::FromChrono(duration));
  }

  // Connect runs until `a` and `b` see each other, driving `other` too when given.
  bool Connect(Node* a, Node* b, boost::asio::io_context* other = nullptr) {
    return RunUntil(io_, [&] {
      if (other != nullptr) other->poll();
      return a->Sees(b->id()) && b->Sees(a->id());
    });
  }

  // RunBothUntil runs the fixture's io_context, and io_b_ between its handlers,
  // until `done` says so or a deadline passes; returns `done`'s last answer.
  template <typename Done>
  bool RunBothUntil(Done done) {
    return RunUntil(io_, [&] {
      io_b_.poll();
      return done();
    });
  }

  // Whether the nodes run on the simulated network; set before the first node.
  bool simulated_ = true;
  glue::testing::SimulatedClock simulated_clock_;
  boost::asio::io_context io_;
  // For a node whose process stalls: a test runs it only when it wants. Declared
  // before nodes_, which must go first.
  boost::asio::io_context io_b_;
  network::testing::SimulatedNetwork simulated_network_{simulated_clock_, TestSeed()};
  discovery::testing::LoopbackNetwork loopback_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>
      work_, work_b_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

}  // namespace glue::transport::testing

#endif  // GLUE_TRANSPORT_TESTING_NODE_TEST_H_
