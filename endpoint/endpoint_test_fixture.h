// The fixture of the endpoint's tests: endpoints on a simulated network or on real
// loopback sockets, and an inbox a test waits on.
#ifndef GLUE_ENDPOINT_ENDPOINT_TEST_FIXTURE_H_
#define GLUE_ENDPOINT_ENDPOINT_TEST_FIXTURE_H_

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "glue/base/mutex.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/loopback_network.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/endpoint/endpoint.h"
#include "glue/network/simulated_network.h"
#include "gtest/gtest.h"

namespace glue {

constexpr absl::Duration kWait = absl::Seconds(30);
constexpr absl::Duration kRetry = absl::Milliseconds(100);

// Eventually waits for `condition` to hold, up to kWait, looking every 2 ms: for what
// no callback tells (a counter).
template <typename F>
bool Eventually(F condition) {
  const absl::Time give_up = absl::Now() + kWait;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// Inbox collects what a subscription received; the test thread waits on it.
class Inbox {
 public:
  void Add(std::string payload) {
    MutexLock lock(&mu_);
    payloads_.push_back(std::move(payload));
    adder_ = std::this_thread::get_id();
    mu_.NotifyAll();
  }
  // adder is the thread that called Add last.
  std::thread::id adder() const {
    MutexLock lock(&mu_);
    return adder_;
  }
  // WaitFor waits up to `within` for `count` payloads; a loop that publishes until one
  // arrives waits a short while each time round (kRetry), not the whole kWait.
  bool WaitFor(size_t count, absl::Duration within = kWait) {
    MutexLock lock(&mu_);
    return mu_.AwaitUntil(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return payloads_.size() >= count; },
        absl::Now() + within);
  }
  std::vector<std::string> payloads() const {
    MutexLock lock(&mu_);
    return payloads_;
  }

 private:
  mutable Mutex mu_;
  std::vector<std::string> payloads_ ABSL_GUARDED_BY(mu_);
  std::thread::id adder_ ABSL_GUARDED_BY(mu_);
};

// EndpointTest runs endpoints on a simulated network, each on a host of its own, with
// their own threads and the system clock; EndpointLoopbackTest on real sockets.
class EndpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (simulated_) return;
    boost::asio::io_context io;
    absl::StatusOr<discovery::testing::LoopbackNetwork> network =
        discovery::testing::LoopbackNetwork::Make(io);
    if (absl::IsFailedPrecondition(network.status())) {
      GLUE_SKIP_UNLESS_CI(network.status().message());
    }
    ASSERT_OK(network);
    network_ = *network;
  }

  // Make starts endpoint `id`; `peers` counts the peers it has seen added, `removed`
  // (when given) those it has seen removed.
  std::unique_ptr<Endpoint> Make(uint64_t id, Inbox* peers,
                                 absl::Duration linger = absl::Seconds(2),
                                 size_t window_frames = 0, Inbox* removed = nullptr) {
    EndpointOptions options;
    if (faults_) options.discovery_options.data_faults = network::FaultOptions{};
    if (window_frames > 0) {
      options.transport.session.window.max_frames = window_frames;
    }
    const std::string name = "endpoint-" + std::to_string(id);
    if (simulated_) {
      options.discovery =
          discovery::testing::SimulatedHostConfig(static_cast<int>(id), id, name);
      options.links =
          &simulated_network_.Host(options.discovery.listen_address.address());
    } else {
      options.discovery = network_.MulticastConfig(id, name);
    }
    options.linger = linger;
    if (!model_root_.empty()) options.model_directory = model_root_ + "/" + name;
    if (max_model_bytes_ != 0) options.max_model_bytes = max_model_bytes_;
    options.on_peer_added = [peers](const discovery::Peer& peer) {
      peers->Add(peer.name);
    };
    if (removed != nullptr) {
      options.on_peer_removed = [removed](const discovery::Peer& peer,
                                          discovery::RemovalReason) {
        removed->Add(peer.name);
      };
    }
    if (customize_) customize_(id, options);
    absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = Endpoint::Create(options);
    EXPECT_OK(endpoint);
    if (!endpoint.ok()) return nullptr;
    EXPECT_OK((*endpoint)->Start());
    return *std::move(endpoint);
  }

  // When set, changes the options of each endpoint Make makes, by its id.
  std::function<void(uint64_t id, EndpointOptions& options)> customize_;
  bool simulated_ = true;
  bool faults_ = false;
  // When set, each endpoint keeps its models in a directory of its own below it.
  std::string model_root_;
  size_t max_model_bytes_ =
      0;  // when set, the endpoints' bound over all their models  // endpoints made with
          // a fault link (no faults yet): SetFaults
  network::testing::SimulatedNetwork simulated_network_{SystemClock(),
                                                        std::random_device()()};
  discovery::testing::LoopbackNetwork network_;
};

class EndpointLoopbackTest : public EndpointTest {
 protected:
  EndpointLoopbackTest() { simulated_ = false; }
};

}  // namespace glue

#endif  // GLUE_ENDPOINT_ENDPOINT_TEST_FIXTURE_H_
