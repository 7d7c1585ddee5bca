// Discovery's providers on a simulated network: endpoints that find each other through
// addresses a provider gives (multicast off), the peers a rendezvous introduced keeping
// each other once it is gone, and the polling provider's own contract.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/simulated_clock.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/discovery.h"
#include "glue/discovery/function_listener.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/network/simulated_network.h"

namespace glue::discovery {
namespace {

using ::glue::testing::RunSimulatedFor;
using ::glue::testing::RunSimulatedUntil;
using ::glue::testing::SimulatedClock;
using ::glue::testing::StatusIs;
using network::testing::SimulatedNetwork;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SimulatedHostAddress;
using testing::SimulatedHostConfig;

constexpr uint16_t kProviderDataPort = 7000;

network::Address ProviderDataAddress(int host) {
  return network::Address(SimulatedHostAddress(host), kProviderDataPort);
}

// PushProvider gives the addresses its test sets, when it sets them.
class PushProvider final : public Provider {
 public:
  PushProvider(std::string name, std::vector<network::Address> addresses)
      : name_(std::move(name)), addresses_(std::move(addresses)) {}
  const std::string& name() const override { return name_; }
  absl::Status Start(Update update) override {
    update_ = std::move(update);
    update_(addresses_);
    return absl::OkStatus();
  }
  void Stop() override { update_ = nullptr; }
  ProviderCounters counters() const override { return {}; }
  void Set(std::vector<network::Address> addresses) {
    addresses_ = std::move(addresses);
    if (update_) update_(addresses_);
  }

 private:
  const std::string name_;
  std::vector<network::Address> addresses_;
  Update update_;
};

class DiscoveryProviderTest : public ::testing::Test {
 protected:
  struct Node {
    testing::FunctionListener listener;
    std::set<std::string> peers;
    std::unique_ptr<Discovery> discovery;
  };

  // Add starts an endpoint on `host`, taking data at ProviderDataAddress(host).
  Node* Add(int host, Config config, Discovery::Options options = {}) {
    auto node = std::make_unique<Node>();
    Node* n = node.get();
    n->listener.on_added = [n](const Peer& p) { n->peers.insert(p.name); };
    n->listener.on_removed = [n](const Peer& p, RemovalReason) {
      n->peers.erase(p.name);
    };
    auto discovery =
        Discovery::Create(boost::asio::make_strand(io_), config, std::move(options),
                          clock_, network_.Host(SimulatedHostAddress(host)));
    EXPECT_OK(discovery);
    if (!discovery.ok()) return nullptr;
    n->discovery = *std::move(discovery);
    EXPECT_OK(n->discovery->Start(&n->listener));
    nodes_.push_back(std::move(node));
    return n;
  }

  static Config HostConfig(int host, absl::Duration rate = absl::Milliseconds(50)) {
    Config config = SimulatedHostConfig(host, 100 + host, absl::StrCat("e", host), rate);
    config.listen_address = ProviderDataAddress(host);
    return config;
  }

  void TearDown() override {
    for (auto& node : nodes_) node->discovery->Stop();
  }

  boost::asio::io_context io_;
  SimulatedClock clock_;
  SimulatedNetwork network_{clock_, /*seed=*/7};
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(DiscoveryProviderTest,
       WithMulticastOffFourEndpointsFindEachOtherThroughAProvider) {
  std::vector<network::Address> all;
  for (int host = 1; host <= 4; ++host) all.push_back(ProviderDataAddress(host));
  std::vector<Node*> nodes;
  for (int host = 1; host <= 4; ++host) {
    Config config = HostConfig(host);
    config.providers = {std::string(kNoProvider)};
    Discovery::Options options;
    options.providers.push_back(std::make_shared<PushProvider>("inventory", all));
    nodes.push_back(Add(host, config, options));
  }
  ASSERT_TRUE(RunSimulatedUntil(io_, clock_, [&] {
    for (Node* n : nodes) {
      if (n->peers.size() != 3) return false;
    }
    return true;
  }));
  for (Node* n : nodes) {
    for (const Peer& peer : n->discovery->peers()) {
      EXPECT_THAT(peer.providers, ElementsAre("inventory")) << peer.name;
    }
    const DiscoveryCounters c = n->discovery->counters();
    EXPECT_EQ(c.own_multicast_heard, 0u);  // nothing went to the group
    EXPECT_EQ(c.discovery_link.datagrams_sent, 0u);
    EXPECT_EQ(c.provider_addresses_dropped, 1u);  // its own address
  }
}

TEST_F(DiscoveryProviderTest, AnAddressAProviderAddsJoinsWithoutWaitingForThePeriod) {
  // A period of 10 s: a join within 100 ms is the provider's doing.
  auto provider =
      std::make_shared<PushProvider>("inventory", std::vector<network::Address>{});
  Config a_config = HostConfig(1, absl::Seconds(10));
  a_config.providers = {std::string(kNoProvider)};
  Discovery::Options options;
  options.providers.push_back(provider);
  Node* a = Add(1, a_config, options);
  Config b_config = HostConfig(2, absl::Seconds(10));
  b_config.providers = {std::string(kNoProvider)};
  Node* b = Add(2, b_config);
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_TRUE(a->peers.empty());
  provider->Set({ProviderDataAddress(2)});
  ASSERT_TRUE(RunSimulatedUntil(
      io_, clock_, [&] { return a->peers.size() == 1 && b->peers.size() == 1; },
      absl::Milliseconds(100)));
}

TEST_F(DiscoveryProviderTest, ClientsOfARendezvousKeepEachOtherWhenItIsGone) {
  const network::Address rendezvous_address(SimulatedHostAddress(1), 27320);
  Config rendezvous = HostConfig(1);
  rendezvous.discovery_target.reset();
  rendezvous.discovery_listen = rendezvous_address;
  Node* r = Add(1, rendezvous);
  std::vector<Node*> clients;
  for (int host = 2; host <= 4; ++host) {
    Config config = HostConfig(host);
    config.discovery_target = rendezvous_address;
    config.discovery_listen = network::Address(SimulatedHostAddress(host), 27320);
    clients.push_back(Add(host, config));
  }
  ASSERT_TRUE(RunSimulatedUntil(io_, clock_, [&] {
    for (Node* n : clients) {
      if (n->peers.size() != 3) return false;
    }
    return true;
  }));
  // Each client knows the others by the rendezvous's word, which comes with the answer
  // to each of its announcements.
  RunSimulatedFor(io_, clock_, absl::Milliseconds(200));
  for (Node* n : clients) {
    for (const Peer& peer : n->discovery->peers()) {
      EXPECT_THAT(peer.providers, ElementsAre("rendezvous")) << peer.name;
    }
  }
  r->discovery->Stop();
  // Ten timeouts (a period of 50 ms, removed after two silent periods) later, the
  // rendezvous is gone and the clients still hold each other.
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  for (Node* n : clients) {
    EXPECT_EQ(n->peers.size(), 2u);
    EXPECT_FALSE(n->peers.contains("e1"));
    EXPECT_GT(n->discovery->counters().direct_announcements_sent, 0u);
  }
}

TEST_F(DiscoveryProviderTest, DirectAnnouncementsTakeTurnsOverTheirBound) {
  std::vector<network::Address> all;
  for (int host = 1; host <= 4; ++host) all.push_back(ProviderDataAddress(host));
  // Three peers known by a rendezvous-like provider would each be announced to; a
  // bound of one takes them in turn.
  const network::Address rendezvous_address(SimulatedHostAddress(1), 27320);
  Config rendezvous = HostConfig(1);
  rendezvous.discovery_target.reset();
  rendezvous.discovery_listen = rendezvous_address;
  Add(1, rendezvous);
  std::vector<Node*> clients;
  for (int host = 2; host <= 5; ++host) {
    Config config = HostConfig(host);
    config.discovery_target = rendezvous_address;
    config.discovery_listen = network::Address(SimulatedHostAddress(host), 27320);
    Discovery::Options options;
    options.max_direct_peers = 1;
    clients.push_back(Add(host, config, options));
  }
  ASSERT_TRUE(RunSimulatedUntil(io_, clock_, [&] {
    for (Node* n : clients) {
      if (n->peers.size() != 4) return false;
    }
    return true;
  }));
  const DiscoveryCounters before = clients[0]->discovery->counters();
  RunSimulatedFor(io_, clock_, absl::Seconds(1));  // 20 periods
  const DiscoveryCounters after = clients[0]->discovery->counters();
  const uint64_t sent =
      after.direct_announcements_sent - before.direct_announcements_sent;
  EXPECT_GE(sent, 19u);
  EXPECT_LE(sent, 21u);  // one a period
  EXPECT_GE(after.direct_announcements_deferred - before.direct_announcements_deferred,
            2 * 19u);
}

TEST_F(DiscoveryProviderTest, CreateRefusesProvidersByName) {
  Config config = HostConfig(1);
  Discovery::Options twice;
  twice.providers.push_back(
      std::make_shared<PushProvider>("multicast", std::vector<network::Address>{}));
  EXPECT_THAT(Discovery::Create(boost::asio::make_strand(io_), config, twice, clock_,
                                network_.Host(SimulatedHostAddress(1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("used twice")));
  Discovery::Options bad;
  bad.providers.push_back(
      std::make_shared<PushProvider>("in ventory", std::vector<network::Address>{}));
  EXPECT_THAT(Discovery::Create(boost::asio::make_strand(io_), config, bad, clock_,
                                network_.Host(SimulatedHostAddress(1))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in ventory")));
}

// The polling provider, driven by the simulated clock.
class PollingProviderTest : public ::testing::Test {
 protected:
  SimulatedClock clock_;
};

TEST_F(PollingProviderTest, AFailingFirstPollFailsStart) {
  auto provider = MakePollingProvider(
      "p", absl::Seconds(1),
      []() -> absl::StatusOr<std::vector<network::Address>> {
        return absl::NotFoundError("no such file");
      },
      /*fail_at_start=*/true, clock_);
  EXPECT_THAT(provider->Start([](std::vector<network::Address>) {}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no such file")));
  provider->Stop();
}

TEST_F(PollingProviderTest, PollsEachIntervalGivesChangesOnlyAndKeepsAddressesOnError) {
  Mutex mu;
  int polls = 0;
  // The poll builds its error afresh each time: a Status shared between threads is
  // reference counted inside Abseil's uninstrumented library, which ThreadSanitizer
  // cannot see.
  bool failing = false;
  std::vector<network::Address> next{ProviderDataAddress(1)};
  std::vector<std::vector<network::Address>> updates;
  auto provider = MakePollingProvider(
      "p", absl::Seconds(1),
      [&]() -> absl::StatusOr<std::vector<network::Address>> {
        MutexLock lock(&mu);
        ++polls;
        mu.NotifyAll();
        if (failing) return absl::UnavailableError("resolver down");
        return next;
      },
      true, clock_);
  ASSERT_OK(provider->Start([&](std::vector<network::Address> a) {
    MutexLock lock(&mu);
    updates.push_back(std::move(a));
    mu.NotifyAll();
  }));
  auto await_polls = [&](int n) {
    MutexLock lock(&mu);
    return mu.AwaitUntil([&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return polls >= n; },
                         absl::Now() + absl::Seconds(10));
  };
  EXPECT_TRUE(await_polls(1));
  clock_.AdvanceBy(absl::Seconds(1));  // the same set again: no update
  ASSERT_TRUE(await_polls(2));
  {
    MutexLock lock(&mu);
    failing = true;
  }
  clock_.AdvanceBy(absl::Seconds(1));
  ASSERT_TRUE(await_polls(3));
  {
    MutexLock lock(&mu);
    failing = false;
    next = {ProviderDataAddress(2), ProviderDataAddress(1), ProviderDataAddress(2)};
  }
  clock_.AdvanceBy(absl::Seconds(1));
  ASSERT_TRUE(await_polls(4));
  {
    MutexLock lock(&mu);
    ASSERT_TRUE(mu.AwaitUntil(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return updates.size() == 2; },
        absl::Now() + absl::Seconds(10)));
  }
  provider->Stop();
  EXPECT_EQ(provider->counters().failures, 1u);
  EXPECT_EQ(provider->counters().updates, 2u);
  MutexLock lock(&mu);
  ASSERT_EQ(updates.size(), 2u);
  EXPECT_THAT(updates[0], ElementsAre(ProviderDataAddress(1)));
  EXPECT_THAT(updates[1], ElementsAre(ProviderDataAddress(1),
                                      ProviderDataAddress(2)));  // sorted, once
}

}  // namespace
}  // namespace glue::discovery
