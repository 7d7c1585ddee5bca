// EndpointTest: a test fixture for endpoints that stand on a Transport (the transport
// itself, or a layer above it) over multicast on loopback, and Observed, what such an
// endpoint's callbacks saw of its peers and its reliable sends.
//
//   struct Endpoint : transport::testing::Observed {
//     std::unique_ptr<Transport> transport;
//     uint64_t id() const;  // its endpoint id
//     void Stop();
//   };
//   class MyTest : public transport::testing::EndpointTest<Endpoint> { ... };
//   Endpoint* a = Keep(MakeEndpoint(...));  // stopped by TearDown
//   ASSERT_TRUE(Connect(a, b));
#ifndef GLUE_TRANSPORT_TESTING_ENDPOINT_TEST_H_
#define GLUE_TRANSPORT_TESTING_ENDPOINT_TEST_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/base/mutex.h"
#include "glue/base/run_until.h"
#include "glue/base/skip.h"
#include "glue/discovery/config.h"
#include "glue/discovery/loopback_network.h"
#include "glue/transport/transport.h"
#include "gtest/gtest.h"

namespace glue::transport::testing {

// Observed records what an endpoint's callbacks report. They may run on another
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

// EndpointTest runs endpoints on a LoopbackNetwork (skipping the test where loopback
// cannot carry multicast), on the fixture's io_context or on io_b_, and stops every
// endpoint it keeps at TearDown. Endpoint derives from Observed and has id() and
// Stop().
template <typename Endpoint>
class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<discovery::testing::LoopbackNetwork> network =
        discovery::testing::LoopbackNetwork::Make(io_);
    if (absl::IsFailedPrecondition(network.status())) {
      GLUE_SKIP_UNLESS_CI(network.status().message());
    }
    ASSERT_TRUE(network.ok()) << network.status();
    network_ = *network;
  }

  void TearDown() override {
    for (auto& endpoint : endpoints_) endpoint->Stop();
  }

  // Keep holds `endpoint` (null stays null) until the fixture ends.
  Endpoint* Keep(std::unique_ptr<Endpoint> endpoint) {
    Endpoint* e = endpoint.get();
    if (e != nullptr) endpoints_.push_back(std::move(endpoint));
    return e;
  }

  // ExecutorOf is `io`'s executor, or the fixture's when `io` is null.
  boost::asio::any_io_executor ExecutorOf(boost::asio::io_context* io) {
    return (io != nullptr ? *io : io_).get_executor();
  }

  // Config is endpoint `id` announcing at the network's default rate.
  discovery::Config Config(uint64_t id) {
    return network_.MulticastConfig(id, "endpoint-" + std::to_string(id));
  }

  // Lossy is an endpoint whose announcements may cross a lossy network: it announces
  // every second and removes a peer only after 30 silent periods of that peer, so
  // that no test removes a live peer, even one whose loop is held by a long check.
  discovery::Config Lossy(uint64_t id, const std::string& name) {
    discovery::Config config = network_.MulticastConfig(id, name, absl::Seconds(1));
    config.rate_timeout_multiplier = 30;
    return config;
  }

  // Connect runs until `a` and `b` see each other, driving `other` too when given.
  bool Connect(Endpoint* a, Endpoint* b, boost::asio::io_context* other = nullptr) {
    return glue::testing::RunUntil(io_, [&] {
      if (other != nullptr) other->poll();
      return a->Sees(b->id()) && b->Sees(a->id());
    });
  }

  // RunBothUntil runs the fixture's io_context, and io_b_ between its handlers,
  // until `done` says so or a deadline passes; returns `done`'s last answer.
  template <typename Done>
  bool RunBothUntil(Done done) {
    return glue::testing::RunUntil(io_, [&] {
      io_b_.poll();
      return done();
    });
  }

  boost::asio::io_context io_;
  // For an endpoint whose process stalls: a test runs it only when it wants. Declared
  // before endpoints_, which must go first.
  boost::asio::io_context io_b_;
  discovery::testing::LoopbackNetwork network_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
};

}  // namespace glue::transport::testing

#endif  // GLUE_TRANSPORT_TESTING_ENDPOINT_TEST_H_
