#include "glue/topics/topics.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/mutex.h"
#include "glue/base/run_until.h"
#include "glue/base/status_matchers.h"
#include "glue/topics/topic_message.h"
#include "glue/transport/node_test.h"
#include "topics/topics_state.h"

namespace glue::topics {

// TopicsPeer reaches into a Topics for tests: it plays the message transport's part,
// on the transport's strand (the test's io_context runs it), and reads what no public
// method shows.
class TopicsPeer {
 public:
  // AddPeer tells `topics` that `peer` appeared, as the message transport would.
  static void AddPeer(Topics& topics, const discovery::Peer& peer) {
    std::shared_ptr<internal::TopicsState> state = topics.state_;
    boost::asio::post(state->messages->strand(),
                      [state, peer] { state->OnPeerAdded(peer); });
  }

  // Receive hands `topics` a message from `from`'s session `peer_session`, as the
  // message transport would: what a forger who knows the session's numbers can make
  // the transport deliver.
  static void Receive(Topics& topics, const discovery::Peer& from, uint64_t peer_session,
                      std::vector<uint8_t> message) {
    std::shared_ptr<internal::TopicsState> state = topics.state_;
    boost::asio::post(state->messages->strand(),
                      [state, from, peer_session, m = std::move(message)]() mutable {
                        state->OnMessage(from, peer_session, std::move(m));
                      });
  }

  // PeerSession is the number of `peer`'s session that `topics` knows (0: none).
  static uint64_t PeerSession(const Topics& topics, uint64_t peer) {
    const internal::TopicsState& s = *topics.state_;
    MutexLock lock(&s.mu);
    auto found = s.peers.find(peer);
    return found == s.peers.end() ? 0 : found->second.session;
  }

  // Epoch is the epoch `topics` publishes under.
  static uint64_t Epoch(const Topics& topics) { return topics.state_->epoch; }
  // SetEpoch sets it, before Start: that of a process whose clock differs.
  static void SetEpoch(Topics& topics, uint64_t epoch) { topics.state_->epoch = epoch; }
};

namespace {

using ::glue::testing::RunUntil;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

// Got is what a subscription's callback saw of one message.
struct Got {
  std::string topic;
  uint64_t publisher_id;
  uint64_t publisher_epoch;
  uint64_t sequence;
  bool history;
  std::string payload;
  std::string type;
  absl::Time expires;
};

// Node is one Topics under test, over the rest of its stack, and what its
// subscriptions received.
struct Node : transport::testing::Observed, discovery::PeerListener {
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<fragmentation::MessageTransport> messages;
  std::unique_ptr<Topics> topics;
  std::vector<Got> got ABSL_GUARDED_BY(mu);

  void OnPeerAdded(const discovery::Peer& peer) override { PeerAdded(peer); }
  void OnPeerRemoved(const discovery::Peer& peer, discovery::RemovalReason) override {
    PeerRemoved(peer);
  }

  uint64_t id() const { return discovery->config().endpoint_id; }
  void Stop() { topics->Stop(); }
  size_t got_count() const {
    MutexLock lock(&mu);
    return got.size();
  }
  std::vector<Got> Snapshot() const {
    MutexLock lock(&mu);
    return got;
  }
  MessageCallback Record() {
    return [this](const Message& m) {
      MutexLock lock(&mu);
      got.push_back({m.topic, m.publisher_id, m.publisher_epoch, m.sequence, m.history,
                     std::string(m.payload.begin(), m.payload.end()), m.type, m.expires});
    };
  }
};

std::vector<uint8_t> Bytes(const std::string& s) { return {s.begin(), s.end()}; }

// HeardPeers is what a listener added by AddPeerListener heard; shared, so that a
// test still reads it after dropping the listener.
struct HeardPeers {
  mutable Mutex mu;
  std::vector<std::string> events ABSL_GUARDED_BY(mu);

  std::vector<std::string> Events() const {
    MutexLock lock(&mu);
    return events;
  }
};

// PeerRecorder records in `heard` the peers added and removed, and whether `node`'s
// listener given to Start had heard of each first.
struct PeerRecorder : discovery::PeerListener {
  explicit PeerRecorder(const Node* node) : node(node) {}

  void OnPeerAdded(const discovery::Peer& peer) override {
    Record(absl::StrCat("added ", peer.id, node->Sees(peer.id) ? "" : " first"));
  }
  void OnPeerRemoved(const discovery::Peer& peer, discovery::RemovalReason) override {
    Record(absl::StrCat("removed ", peer.id, node->Sees(peer.id) ? " first" : ""));
  }
  void Record(std::string event) {
    MutexLock lock(&heard->mu);
    heard->events.push_back(std::move(event));
  }

  const std::shared_ptr<HeardPeers> heard = std::make_shared<HeardPeers>();
  const Node* const node;
};

std::vector<std::string> Payloads(const std::vector<Got>& got) {
  std::vector<std::string> payloads;
  for (const Got& g : got) payloads.push_back(g.payload);
  return payloads;
}

class TopicsTest : public transport::testing::NodeTest<Node> {
 protected:
  Node* Add(uint64_t id, TopicsOptions options = {}) {
    return Add(Config(id), std::move(options));
  }

  // Add starts a node on `io` (the fixture's by default), with `epoch` when given
  // rather than its start time.
  Node* Add(const discovery::Config& config, TopicsOptions options,
            boost::asio::io_context* io = nullptr,
            std::optional<uint64_t> epoch = std::nullopt) {
    auto node = std::make_unique<Node>();
    const transport::TransportOptions transport_options;
    node->discovery = MakeDiscovery(
        config, {.datagram_budget = transport_options.max_datagram_bytes}, io);
    if (node->discovery == nullptr) return nullptr;
    auto transport = transport::Transport::Create(*node->discovery, transport_options);
    EXPECT_OK(transport);
    if (!transport.ok()) return nullptr;
    node->transport = *std::move(transport);
    auto messages = fragmentation::MessageTransport::Create(*node->transport, {});
    EXPECT_OK(messages);
    if (!messages.ok()) return nullptr;
    node->messages = *std::move(messages);
    auto topics = Topics::Create(*node->messages, config, std::move(options));
    EXPECT_OK(topics);
    if (!topics.ok()) return nullptr;
    node->topics = *std::move(topics);
    if (epoch) TopicsPeer::SetEpoch(*node->topics, *epoch);
    EXPECT_OK(node->topics->Start(node.get()));
    return Keep(std::move(node));
  }

  // Exchanged runs until each node of `all`, connected to one another, has both
  // interests of every other: the one sent when it appeared, and the reply to its
  // own. Afterwards the next interest to arrive is a change of subscriptions. With
  // `both_ios`, it runs io_b_ too.
  bool Exchanged(std::initializer_list<Node*> all, bool both_ios = false) {
    auto done = [&] {
      for (Node* e : all) {
        if (e->topics->counters().interests_received < 2 * (all.size() - 1)) return false;
      }
      return true;
    };
    return both_ios ? RunBothUntil(done) : RunUntil(io_, done);
  }

  // Meshed connects each node of `all` to every other, then runs until they
  // exchanged their interests (Exchanged).
  bool Meshed(std::initializer_list<Node*> all) {
    for (auto from = all.begin(); from != all.end(); ++from) {
      for (auto to = std::next(from); to != all.end(); ++to) {
        if (!Connect(*from, *to)) return false;
      }
    }
    return Exchanged(all);
  }

  // InterestArrived runs until a new interest reached `publisher`: its
  // interests_received moved past `before`.
  bool InterestArrived(Node* publisher, uint64_t before) {
    return RunUntil(
        io_, [&] { return publisher->topics->counters().interests_received > before; });
  }

  // SubscribeSeen subscribes at `subscriber` and runs until the interest that names
  // the subscription reached `publisher`.
  ::testing::AssertionResult SubscribeSeen(Node* subscriber, Node* publisher,
                                           absl::string_view filter,
                                           absl::string_view type,
                                           MessageCallback callback) {
    const uint64_t before = publisher->topics->counters().interests_received;
    if (absl::Status s = subscriber->topics->Subscribe(filter, type, std::move(callback));
        !s.ok()) {
      return ::testing::AssertionFailure() << s;
    }
    if (!InterestArrived(publisher, before)) {
      return ::testing::AssertionFailure() << "the interest did not reach the publisher";
    }
    return ::testing::AssertionSuccess();
  }

  // RestartPublisher has publisher a publish twice to b, then a run of a under the
  // same id, name and address, whose epoch is a second earlier (its clock went back),
  // publish twice again, and checks that b gets all four once. When `crash`, b never
  // hears a go (its goodbye is lost) and keeps it: only a's new session number tells
  // b that a restarted.
  void RestartPublisher(bool crash) {
    // b keeps a for 30 of a's silent periods, far longer than the restart.
    discovery::Config config_b = Config(2);
    config_b.rate_timeout_multiplier = 30;
    discovery::Config config_a = Config(1);
    config_a.listen_address = network::Address(config_a.listen_address.address(), 40001);
    Node* a = Add(config_a, {});
    Node* b = Add(config_b, {});
    ASSERT_TRUE(a && b);
    ASSERT_TRUE(Connect(a, b));
    ASSERT_TRUE(Exchanged({a, b}));
    ASSERT_TRUE(SubscribeSeen(b, a, "t", "text", b->Record()));
    for (const char* payload : {"m1", "m2"}) {
      ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes(payload),
                                   {.history_depth = 0}));
    }
    ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 2; }));

    const std::vector<boost::asio::ip::address> host_a = {
        config_a.listen_address.address()};
    const std::vector<boost::asio::ip::address> host_b = {
        config_b.listen_address.address()};
    if (crash) simulated_network_.Partition(host_a, host_b);
    a->Stop();
    simulated_network_.Heal();
    if (!crash) {
      ASSERT_TRUE(RunUntil(io_, [&] { return !b->Sees(a->id()); }));
    }
    Node* again = Add(config_a, {}, nullptr, TopicsPeer::Epoch(*a->topics) - 1'000'000);
    ASSERT_TRUE(again);
    // Its interest declared its epoch to b, and b's answered it.
    ASSERT_TRUE(RunUntil(io_, [&] {
      return b->Sees(again->id()) && again->topics->counters().interests_received > 0;
    }));
    for (const char* payload : {"n1", "n2"}) {
      ASSERT_OK(again->topics->Publish("t", "text", absl::Seconds(5), Bytes(payload)));
    }
    ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 4; }));
    const std::vector<Got> got = b->Snapshot();
    EXPECT_EQ(Payloads(got), (std::vector<std::string>{"m1", "m2", "n1", "n2"}));
    EXPECT_EQ(got[2].sequence, 1u);
    const TopicsCounters c = b->topics->counters();
    EXPECT_EQ(c.duplicates, 0u);
    EXPECT_EQ(c.interests_wrong_epoch, 0u);
    EXPECT_EQ(c.publications_wrong_epoch, 0u);
    EXPECT_EQ(b->transport->counters().peers_removed, crash ? 0u : 1u);
    EXPECT_EQ(b->transport->counters().session_restarts, crash ? 1u : 0u);
  }
};

TEST_F(TopicsTest, ALocalSubscriberGetsPublicationsWithoutTheNetwork) {
  Node* a = Add(1);
  ASSERT_TRUE(a);
  ASSERT_OK(a->topics->Subscribe("some_topic", "some_type", a->Record()));
  ASSERT_OK(a->topics->Publish("some_topic", "some_type", absl::Seconds(1), Bytes("hi")));
  ASSERT_TRUE(RunUntil(io_, [&] { return a->got_count() == 1; }));
  const std::vector<Got> got = a->Snapshot();
  EXPECT_EQ(got[0].payload, "hi");
  EXPECT_EQ(got[0].publisher_id, a->id());
  EXPECT_EQ(got[0].sequence, 1u);
  const TopicsCounters c = a->topics->counters();
  EXPECT_EQ(c.delivered_locally, 1u);
  EXPECT_EQ(c.sent, 0u);
}

TEST_F(TopicsTest, APublicationGoesOnlyToThePeersThatWantIt) {
  Node* a = Add(1);
  Node* b = Add(2);
  Node* c = Add(3);
  ASSERT_TRUE(a && b && c);
  ASSERT_TRUE(Meshed({a, b, c}));
  ASSERT_TRUE(SubscribeSeen(b, a, "some_topic", "some_type", b->Record()));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(a->topics->Publish("some_topic", "some_type", absl::Seconds(5),
                                 Bytes("m" + std::to_string(i))));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 10; }));
  const std::vector<Got> got = b->Snapshot();
  for (uint64_t i = 0; i < 10; ++i) {
    EXPECT_EQ(got[i].sequence, i + 1);
    EXPECT_EQ(got[i].payload, "m" + std::to_string(i));
    EXPECT_EQ(got[i].publisher_id, a->id());
  }
  EXPECT_EQ(a->topics->counters().sent, 10u);
  // c subscribes to nothing: the only messages it received are interests (it may
  // publish), never a publication.
  const TopicsCounters at_c = c->topics->counters();
  EXPECT_EQ(at_c.received, 0u);
  EXPECT_EQ(at_c.messages.received_whole + at_c.messages.received_reassembled,
            at_c.interests_received);
  EXPECT_EQ(c->got_count(), 0u);
}

TEST_F(TopicsTest, ARestartedPublisherComesWithALargerEpochAndCountsFromOneAgain) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "some_topic", "some_type", b->Record()));
  for (const char* text : {"m1", "m2"}) {
    ASSERT_OK(
        a->topics->Publish("some_topic", "some_type", absl::Seconds(5), Bytes(text)));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 2; }));
  a->Stop();  // says goodbye
  ASSERT_TRUE(RunUntil(io_, [&] { return !b->Sees(1); }));
  // The same role again: the same id and name.
  Node* again = Add(1);
  ASSERT_TRUE(again);
  ASSERT_TRUE(Connect(again, b));
  ASSERT_TRUE(
      RunUntil(io_, [&] { return again->topics->counters().interests_received > 0; }));
  ASSERT_OK(
      again->topics->Publish("some_topic", "some_type", absl::Seconds(5), Bytes("m3")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 3; }));
  const std::vector<Got> got = b->Snapshot();
  EXPECT_NE(got[0].publisher_epoch, 0u);
  EXPECT_EQ(got[1].publisher_epoch, got[0].publisher_epoch);
  EXPECT_EQ(got[1].sequence, 2u);
  EXPECT_EQ(got[2].payload, "m3");
  EXPECT_EQ(got[2].publisher_id, 1u);
  EXPECT_GT(got[2].publisher_epoch, got[0].publisher_epoch);
  EXPECT_EQ(got[2].sequence, 1u);
}

TEST_F(TopicsTest, AQuickCallbackRunsWhereItsMessageArrivedAndASlowOneMovesOff) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "quick", "some_type", b->Record()));
  for (int i = 0; i < 10; ++i) {
    ASSERT_OK(a->topics->Publish("quick", "some_type", absl::Seconds(5), Bytes("q")));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 10; }));
  const uint64_t quick_inline = b->topics->counters().delivered_inline;
  EXPECT_GE(quick_inline, 1u);

  // A callback that takes 200 us: once it has run three times, its average is above the
  // bound, and its messages go to the executor's threads, still in order.
  MessageCallback record = b->Record();
  ASSERT_TRUE(SubscribeSeen(b, a, "slow", "some_type", [&](const Message& m) {
    const auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::microseconds(200)) {
    }
    record(m);
  }));
  for (int i = 0; i < 20; ++i) {
    ASSERT_OK(a->topics->Publish("slow", "some_type", absl::Seconds(5), Bytes("s")));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 30; }));
  const TopicsCounters c = b->topics->counters();
  EXPECT_LE(c.delivered_inline - quick_inline, 3u);
  EXPECT_EQ(c.delivered, 30u);
  const std::vector<Got> got = b->Snapshot();
  for (uint64_t i = 0; i < 20; ++i) {
    EXPECT_EQ(got[10 + i].topic, "slow");
    EXPECT_EQ(got[10 + i].sequence, i + 1);
  }
}

TEST_F(TopicsTest, AfterUnsubscribeNothingMoreIsSentAndBestEffortArrivesToo) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "t", "text", b->Record()));
  ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes("1"),
                               {.reliable = false, .history_depth = 0}));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 1; }));
  const uint64_t before = a->topics->counters().interests_received;
  ASSERT_OK(b->topics->Unsubscribe("t"));
  ASSERT_TRUE(InterestArrived(a, before));
  ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes("2")));
  EXPECT_EQ(a->topics->counters().sent, 1u);  // the second went nowhere
  EXPECT_EQ(b->got_count(), 1u);
}

TEST_F(TopicsTest, WildcardsMatchLevelsAndTypesMustAgree) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "sensors/+/temperature", "t.Celsius", b->Record()));
  const absl::Duration expiry = absl::Seconds(5);
  ASSERT_OK(
      a->topics->Publish("sensors/kitchen/temperature", "t.Celsius", expiry, Bytes("1")));
  ASSERT_OK(
      a->topics->Publish("sensors/kitchen/humidity", "t.Celsius", expiry, Bytes("2")));
  ASSERT_OK(
      a->topics->Publish("sensors/hall/temperature", "t.Kelvin", expiry, Bytes("3")));
  ASSERT_OK(
      a->topics->Publish("sensors/hall/temperature/x", "t.Celsius", expiry, Bytes("4")));
  ASSERT_OK(
      a->topics->Publish("sensors/cellar/temperature", "t.Celsius", expiry, Bytes("5")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 2; }));
  const std::vector<Got> got = b->Snapshot();
  EXPECT_EQ(got[0].topic, "sensors/kitchen/temperature");
  EXPECT_EQ(got[1].topic, "sensors/cellar/temperature");
  EXPECT_EQ(a->topics->counters().sent, 2u);  // the others never left a
}

// A subscription of any type (kAnyType) takes every type, from peers and from its own
// endpoint, and fixes no topic's type: its endpoint may still publish one.
TEST_F(TopicsTest, ASubscriptionOfAnyTypeTakesEveryTypeHereAndFromPeers) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "sensors/#", kAnyType, b->Record()));
  EXPECT_EQ(a->topics->Subscribers("sensors/x", "t.Celsius").size(), 1u);
  EXPECT_EQ(a->topics->Subscribers("other", "t.Celsius").size(), 0u);
  ASSERT_TRUE(SubscribeSeen(b, a, "m", kAnyType, b->Record()));
  EXPECT_EQ(a->topics->Subscribers("m", "text").size(), 1u);
  // Subscribed before the peers meet: the first interest carries it, its one entry in
  // three bytes (a one-byte filter, an empty type).
  Node* c = Add(3);
  ASSERT_TRUE(c);
  ASSERT_OK(c->topics->Subscribe("k", kAnyType, c->Record()));
  ASSERT_TRUE(Connect(a, c));
  ASSERT_TRUE(Exchanged({a, c}));
  ASSERT_TRUE(
      RunUntil(io_, [&] { return !a->topics->Subscribers("k", "text").empty(); }));
  const absl::Duration expiry = absl::Seconds(5);
  ASSERT_OK(a->topics->Publish("sensors/a", "t.Celsius", expiry, Bytes("1")));
  ASSERT_OK(a->topics->Publish("sensors/b", "t.Kelvin", expiry, Bytes("2")));
  ASSERT_OK(b->topics->Publish("sensors/c", "text", expiry, Bytes("3")));  // local
  ASSERT_OK(a->topics->Publish("other", "text", expiry, Bytes("4")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 3; }));
  std::vector<std::string> seen;
  for (const Got& got : b->Snapshot()) seen.push_back(got.topic + " " + got.type);
  EXPECT_THAT(seen, ::testing::UnorderedElementsAre(
                        "sensors/a t.Celsius", "sensors/b t.Kelvin", "sensors/c text"));
  EXPECT_EQ(a->topics->counters().sent, 2u);  // "other" never left a
}

TEST_F(TopicsTest, AWildcardFirstLevelDoesNotTakeInDollarTopicsHereOrAtPeers) {
  Node* a = Add(1);
  Node* b = Add(2);
  Node* c = Add(3);
  ASSERT_TRUE(a && b && c);
  ASSERT_OK(a->topics->Subscribe("#", "text", a->Record()));
  ASSERT_TRUE(Meshed({a, b, c}));
  ASSERT_TRUE(SubscribeSeen(b, a, "#", "text", b->Record()));
  ASSERT_TRUE(SubscribeSeen(c, a, "$glue/#", "text", c->Record()));
  const absl::Duration expiry = absl::Seconds(5);
  ASSERT_OK(a->topics->Publish("$glue/x", "text", expiry, Bytes("reserved")));
  ASSERT_OK(a->topics->Publish("plain", "text", expiry, Bytes("open")));
  // One message to each peer: "$glue/x" to c alone, "plain" to b alone.
  EXPECT_EQ(a->topics->counters().sent, 2u);
  ASSERT_TRUE(RunUntil(io_, [&] {
    return a->got_count() == 1 && b->got_count() == 1 && c->got_count() == 1;
  }));
  // Each subscription's messages come in order: had "$glue/x" been handed to a's
  // "#", it would have come first.
  EXPECT_EQ(Payloads(a->Snapshot()), std::vector<std::string>{"open"});
  EXPECT_EQ(Payloads(b->Snapshot()), std::vector<std::string>{"open"});
  EXPECT_EQ(Payloads(c->Snapshot()), std::vector<std::string>{"reserved"});
  EXPECT_EQ(a->topics->counters().delivered_locally, 1u);
}

TEST_F(TopicsTest, AnAddedPeerListenerHearsPeersComeAndGoUntilRemovedOrDropped) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  auto kept = std::make_shared<PeerRecorder>(a);
  auto removed = std::make_shared<PeerRecorder>(a);
  auto dropped = std::make_shared<PeerRecorder>(a);
  const std::shared_ptr<HeardPeers> dropped_heard = dropped->heard;
  for (const auto& listener : {kept, removed, dropped}) {
    a->topics->AddPeerListener(listener);
  }
  a->topics->AddPeerListener(kept);  // again: still heard once
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(RunUntil(io_, [&] {
    return kept->heard->Events().size() == 1 && removed->heard->Events().size() == 1 &&
           dropped_heard->Events().size() == 1;
  }));

  a->topics->RemovePeerListener(removed.get());
  const std::weak_ptr<PeerRecorder> dropped_gone = dropped;
  dropped.reset();
  EXPECT_TRUE(dropped_gone.expired());  // the Topics does not keep it
  b->Stop();                            // says goodbye
  ASSERT_TRUE(RunUntil(io_, [&] { return kept->heard->Events().size() == 2; }));
  EXPECT_EQ(kept->heard->Events(), (std::vector<std::string>{"added 2", "removed 2"}));
  // Both heard of b's arrival, and nothing since: the removal reached every listener
  // in the call that reached `kept`.
  EXPECT_EQ(removed->heard->Events(), std::vector<std::string>{"added 2"});
  EXPECT_EQ(dropped_heard->Events(), std::vector<std::string>{"added 2"});
}

// Remover removes `victim` from `topics` when it hears of a peer.
struct Remover : discovery::PeerListener {
  Remover(Topics& topics, const discovery::PeerListener* victim)
      : topics(topics), victim(victim) {}
  void OnPeerAdded(const discovery::Peer&) override { topics.RemovePeerListener(victim); }
  void OnPeerRemoved(const discovery::Peer&, discovery::RemovalReason) override {}

  Topics& topics;
  const discovery::PeerListener* const victim;
};

TEST_F(TopicsTest, APeerListenerRemovedByAnEarlierOneInTheSameCallHearsNothing) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  auto victim = std::make_shared<PeerRecorder>(a);
  auto last = std::make_shared<PeerRecorder>(a);
  auto remover = std::make_shared<Remover>(*a->topics, victim.get());
  a->topics->AddPeerListener(remover);
  a->topics->AddPeerListener(victim);
  a->topics->AddPeerListener(last);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(RunUntil(io_, [&] { return !last->heard->Events().empty(); }));
  EXPECT_EQ(last->heard->Events(), std::vector<std::string>{"added 2"});
  EXPECT_TRUE(victim->heard->Events().empty());
}

TEST_F(TopicsTest, TheLayerAboveRunsOnTheStrandAndClockOfTheStackBeneath) {
  Node* a = Add(1);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->topics->endpoint_id(), a->discovery->config().endpoint_id);
  EXPECT_EQ(a->topics->endpoint_name(), a->discovery->config().endpoint_name);
  EXPECT_EQ(&a->topics->clock(), &a->messages->clock());
  EXPECT_EQ(&a->topics->clock(), &clock());
  // By default, slow callbacks run on the strand's executor.
  EXPECT_TRUE(a->topics->slow_executor() ==
              boost::asio::any_io_executor(a->messages->strand().get_inner_executor()));
  bool on_strand = false;
  bool ran = false;
  boost::asio::post(a->topics->executor(), [&] {
    on_strand = a->messages->strand().running_in_this_thread();
    ran = true;
  });
  ASSERT_TRUE(RunUntil(io_, [&] { return ran; }));
  EXPECT_TRUE(on_strand);
}

TEST_F(TopicsTest, ATopicHasOneTypeHere) {
  Node* a = Add(1);
  ASSERT_TRUE(a);
  ASSERT_OK(a->topics->Publish("t", "type.A", absl::Seconds(1), Bytes("x")));
  EXPECT_THAT(a->topics->Subscribe("t", "type.B", a->Record()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("type.A"), HasSubstr("type.B"))));
  EXPECT_THAT(a->topics->Publish("t", "type.B", absl::Seconds(1), Bytes("x")),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("type.A"), HasSubstr("type.B"))));
  ASSERT_OK(a->topics->Subscribe("u", "type.C", a->Record()));
  EXPECT_THAT(a->topics->Publish("u", "type.D", absl::Seconds(1), Bytes("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type.C")));
  EXPECT_THAT(a->topics->Subscribe("u", "type.C", a->Record()),
              StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_THAT(a->topics->Unsubscribe("v"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(a->topics->Publish("a/+", "type.C", absl::Seconds(1), Bytes("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wildcard")));
  EXPECT_THAT(a->topics->Publish("w", "type.C", absl::ZeroDuration(), Bytes("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expiry")));
}

TEST_F(TopicsTest, ALateSubscriberGetsTheHistoryOnceThenWhatFollows) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  for (int i = 1; i <= 3; ++i) {
    ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30),
                                 Bytes("n" + std::to_string(i)), {.history_depth = 2}));
  }
  ASSERT_OK(b->topics->Subscribe("news", "text", b->Record()));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 2; }));
  // Another subscription makes b send its interest again: a resends the history, and
  // b drops what it has had.
  ASSERT_TRUE(SubscribeSeen(b, a, "other", "text", b->Record()));
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("n4")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 3; }));
  const std::vector<Got> got = b->Snapshot();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, "n2");
  EXPECT_TRUE(got[0].history);
  EXPECT_EQ(got[1].payload, "n3");
  EXPECT_TRUE(got[1].history);
  EXPECT_EQ(got[2].payload, "n4");
  EXPECT_FALSE(got[2].history);
  // Each interest b sent after subscribing (its reply to a's, and the second
  // subscription's) brought the history again.
  EXPECT_GE(b->topics->counters().duplicates, 2u);
}

TEST_F(TopicsTest, AMessageSaysWhenItExpires) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(SubscribeSeen(b, a, "news", "text", b->Record()));
  const absl::Time published = Now();
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("n")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 1; }));
  // Its time to live counts from its arrival, a little after it was published.
  const absl::Time expires = b->Snapshot()[0].expires;
  EXPECT_GE(expires, published + absl::Seconds(30));
  EXPECT_LE(expires, Now() + absl::Seconds(30));
}

TEST_F(TopicsTest, AnExpiredMessageIsNotSentFromHistory) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_OK(a->topics->Publish("news", "text", absl::Milliseconds(20), Bytes("old")));
  const absl::Time expired = Now() + absl::Milliseconds(20);
  ASSERT_TRUE(RunUntil(io_, [&] { return Now() > expired; }));
  ASSERT_OK(a->topics->Publish("other", "text", absl::Seconds(30), Bytes("fresh")));
  ASSERT_OK(b->topics->Subscribe("#", "text", b->Record()));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 1; }));
  EXPECT_EQ(b->Snapshot()[0].payload, "fresh");
  EXPECT_EQ(a->topics->counters().history_sent, 1u);
}

TEST_F(TopicsTest, ASubscriberBackFromAPartitionGetsWhatItMissedOnce) {
  // a removes b after 2 silent periods of b's; b keeps a for 30 of a's.
  Node* a = Add(1);
  discovery::Config config_b = Config(2);
  config_b.rate_timeout_multiplier = 30;
  Node* b = Add(config_b, {}, &io_b_);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b, &io_b_));
  ASSERT_TRUE(Exchanged({a, b}, /*both_ios=*/true));
  ASSERT_OK(b->topics->Subscribe("news", "text", b->Record()));
  const uint64_t before = a->topics->counters().interests_received;
  ASSERT_TRUE(
      RunBothUntil([&] { return a->topics->counters().interests_received > before; }));
  const PublishOptions keep3{.history_depth = 3};
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("m1"), keep3));
  ASSERT_TRUE(RunBothUntil([&] { return b->got_count() == 1; }));

  // b's process stalls: a removes it and publishes on; b, back, still has a.
  ASSERT_TRUE(RunUntil(io_, [&] { return !a->Sees(b->id()); }));
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("m2"), keep3));
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("m3"), keep3));
  ASSERT_TRUE(b->Sees(a->id()));
  ASSERT_TRUE(RunBothUntil([&] { return b->got_count() == 3; }));
  ASSERT_OK(a->topics->Publish("news", "text", absl::Seconds(30), Bytes("m4"), keep3));
  ASSERT_TRUE(RunBothUntil([&] { return b->got_count() == 4; }));
  const std::vector<Got> got = b->Snapshot();
  EXPECT_EQ(Payloads(got), (std::vector<std::string>{"m1", "m2", "m3", "m4"}));
  EXPECT_TRUE(got[1].history);
  EXPECT_FALSE(got[3].history);
}

TEST_F(TopicsTest, AForgedEpochCostsOneMessageNotTheStream) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  ASSERT_TRUE(SubscribeSeen(b, a, "t", "text", b->Record()));
  ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes("m1")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 1; }));

  // A publication in a's name and in a's session with b, whose epoch is above any real
  // one: believed, it would make b drop everything a publishes after it.
  const std::vector<uint8_t> forged_payload = Bytes("forged");
  const uint64_t session = TopicsPeer::PeerSession(*b->topics, a->id());
  ASSERT_NE(session, 0u);
  TopicsPeer::Receive(*b->topics, {.id = a->id(), .name = "endpoint-1"}, session,
                      EncodePublication({.epoch = uint64_t{1} << 62,
                                         .sequence = 1,
                                         .topic = "t",
                                         .type = "text",
                                         .payload = forged_payload}));
  ASSERT_TRUE(
      RunUntil(io_, [&] { return b->topics->counters().publications_wrong_epoch == 1; }));
  for (const char* payload : {"m2", "m3"}) {
    ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes(payload),
                                 {.reliable = false}));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 3; }));
  EXPECT_EQ(Payloads(b->Snapshot()), (std::vector<std::string>{"m1", "m2", "m3"}));
  const TopicsCounters c = b->topics->counters();
  EXPECT_EQ(c.received, 4u);
  EXPECT_EQ(c.duplicates, 0u);
}

TEST_F(TopicsTest, APeerIsBelievedOnlyForTheEpochItDeclaredAtTheStartOfItsSession) {
  Node* b = Add(2);
  ASSERT_TRUE(b);
  ASSERT_OK(b->topics->Subscribe("t", "text", b->Record()));
  const discovery::Peer peer{.id = 9, .name = "p"};
  TopicsPeer::AddPeer(*b->topics, peer);
  const std::vector<uint8_t> payload = Bytes("x");
  auto publication = [&](uint64_t epoch, uint64_t sequence) {
    return EncodePublication({.epoch = epoch,
                              .sequence = sequence,
                              .topic = "t",
                              .type = "text",
                              .payload = payload});
  };
  auto interest = [](uint64_t epoch) { return EncodeInterest({.epoch = epoch}); };
  struct Step {
    const char* what;
    uint64_t session;
    std::vector<uint8_t> message;
    size_t delivered;  // in all, after the step
    uint64_t before_interest;
    uint64_t wrong_epoch;
    uint64_t interests_wrong_epoch;
  };
  const Step steps[] = {
      {"a publication before the interest", 5, publication(100, 1), 0, 1, 0, 0},
      {"the interest declares epoch 100", 5, interest(100), 0, 1, 0, 0},
      {"a publication of epoch 100", 5, publication(100, 1), 1, 1, 0, 0},
      {"a publication of another epoch", 5, publication(101, 2), 1, 1, 1, 0},
      {"an interest of another epoch", 5, interest(101), 1, 1, 1, 1},
      {"epoch 100 still holds", 5, publication(100, 2), 2, 1, 1, 1},
      {"a new session: nothing declared yet", 6, publication(100, 3), 2, 2, 1, 1},
      {"its interest declares epoch 100 again", 6, interest(100), 2, 2, 1, 1},
      {"a publication of the new session", 6, publication(100, 3), 3, 2, 1, 1},
  };
  // Every topic message received is counted as a publication or an interest.
  auto handled = [&] {
    const TopicsCounters c = b->topics->counters();
    return c.received + c.interests_received;
  };
  for (const Step& step : steps) {
    SCOPED_TRACE(step.what);
    const uint64_t before = handled();
    TopicsPeer::Receive(*b->topics, peer, step.session, step.message);
    ASSERT_TRUE(RunUntil(io_, [&] { return handled() > before; }));
    const TopicsCounters c = b->topics->counters();
    EXPECT_EQ(b->got_count(), step.delivered);
    EXPECT_EQ(c.publications_before_interest, step.before_interest);
    EXPECT_EQ(c.publications_wrong_epoch, step.wrong_epoch);
    EXPECT_EQ(c.interests_wrong_epoch, step.interests_wrong_epoch);
  }
}

TEST_F(TopicsTest, AForgedInterestVersionDoesNotMuteTheInterestsThatFollow) {
  Node* a = Add(1);
  Node* b = Add(2);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(Connect(a, b));
  ASSERT_TRUE(Exchanged({a, b}));
  // An interest in b's name, in b's session with a, with b's epoch (any publication of
  // b's shows it) and the largest version.
  const uint64_t before = a->topics->counters().interests_received;
  TopicsPeer::Receive(*a->topics, {.id = b->id(), .name = "endpoint-2"},
                      TopicsPeer::PeerSession(*a->topics, b->id()),
                      EncodeInterest({.version = std::numeric_limits<uint64_t>::max(),
                                      .epoch = TopicsPeer::Epoch(*b->topics)}));
  ASSERT_TRUE(InterestArrived(a, before));
  // b's next interest, of a small version, is a's view of b again.
  ASSERT_TRUE(SubscribeSeen(b, a, "t", "text", b->Record()));
  ASSERT_OK(a->topics->Publish("t", "text", absl::Seconds(5), Bytes("m1")));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->got_count() == 1; }));
  EXPECT_EQ(a->topics->counters().interests_wrong_epoch, 0u);
}

TEST_F(TopicsTest, ARestartedPublisherWithAnEarlierEpochIsDeliveredFromItsNewSession) {
  RestartPublisher(/*crash=*/false);
}

TEST_F(TopicsTest, APublisherRestartedBeforeItsPeersNoticedIsDeliveredToo) {
  RestartPublisher(/*crash=*/true);
}

}  // namespace
}  // namespace glue::topics
