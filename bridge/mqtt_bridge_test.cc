// The MQTT bridge: its parsers, and the bridge itself between glue endpoints on a
// simulated network and a real Mosquitto on 127.0.0.1 (started by the test), with a
// libmosquitto client on the MQTT side. cmd/glue_bridge_test.sh runs the `glue bridge`
// program through the same and its every error; these run under the sanitizers too.
#include "glue/bridge/mqtt_bridge.h"

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/bridge/mosquitto_broker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::bridge {
namespace {

using ::glue::bridge::testing::MosquittoBroker;
using ::glue::bridge::testing::MqttClient;
using ::glue::bridge::testing::ReceivedMessage;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

absl::Span<const uint8_t> Bytes(absl::string_view text) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

TEST(ParseMapping, ThePrefixIsTheFarSidesByDirection) {
  ASSERT_OK_AND_ASSIGN(Mapping out,
                       ParseMapping(Mapping::Direction::kOut, "a/#=site1/", 1));
  EXPECT_EQ(out.pattern, "a/#");
  EXPECT_EQ(out.remote_prefix, "site1/");
  EXPECT_EQ(out.local_prefix, "");
  EXPECT_EQ(out.remote_filter(), "site1/a/#");
  ASSERT_OK_AND_ASSIGN(Mapping in, ParseMapping(Mapping::Direction::kIn, "b/+=from/", 0));
  EXPECT_EQ(in.local_prefix, "from/");
  EXPECT_EQ(in.local_filter(), "from/b/+");
  EXPECT_EQ(in.qos, 0);
}

TEST(ParseMapping, RefusesWhatCannotBeBridged) {
  for (auto [text, qos, why] : std::vector<std::tuple<const char*, int, const char*>>{
           {"", 1, "no topic pattern"},
           {"=x/", 1, "no topic pattern"},
           {"a/#", 2, "qos 2: 0 or 1"},
           {"a/#=x/+/", 1, "holds a wildcard"},
           {"a/#/b", 1, "a/#/b"}}) {
    absl::StatusOr<Mapping> m = ParseMapping(Mapping::Direction::kOut, text, qos);
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << text;
    EXPECT_THAT(m.status().message(), HasSubstr(why)) << text;
  }
}

TEST(ParseBridgeConfig, ReadsMosquittosBridgeLines) {
  ASSERT_OK_AND_ASSIGN(std::vector<Mapping> mappings,
                       ParseBridgeConfig("# sites\n"
                                         "topic a/#\n"
                                         "\n"
                                         "  topic s/+ out 0 \"\" site1/\n"
                                         "topic c/# in 1 local/ remote/\n",
                                         "bridge.conf"));
  ASSERT_EQ(mappings.size(), 4u);  // `both` by default: two
  EXPECT_EQ(mappings[0].direction, Mapping::Direction::kOut);
  EXPECT_EQ(mappings[1].direction, Mapping::Direction::kIn);
  EXPECT_EQ(mappings[1].qos, 1);
  EXPECT_EQ(mappings[2].local_prefix, "");
  EXPECT_EQ(mappings[2].remote_prefix, "site1/");
  EXPECT_EQ(mappings[2].qos, 0);
  EXPECT_EQ(mappings[3].local_filter(), "local/c/#");
  EXPECT_EQ(mappings[3].remote_filter(), "remote/c/#");
}

TEST(ParseBridgeConfig, AnErrorNamesTheFileAndTheLine) {
  for (auto [text, why] : std::vector<std::pair<const char*, const char*>>{
           {"topic a/# out\nconnection x\n", "bridge.conf:2: 'connection' is not topic"},
           {"\ntopic a/# sideways\n", "bridge.conf:2: 'sideways' is not out, in or both"},
           {"topic a/# out one\n", "bridge.conf:1: qos 'one' is not a number"},
           {"topic a/# out 1 only-one\n", "bridge.conf:1: expected: topic PATTERN"},
           {"topic\n", "bridge.conf:1: expected"},
           {"topic a/# in 3\n", "bridge.conf:1: qos 3"}}) {
    absl::StatusOr<std::vector<Mapping>> m = ParseBridgeConfig(text, "bridge.conf");
    EXPECT_TRUE(absl::IsInvalidArgument(m.status())) << text;
    EXPECT_THAT(m.status().message(), HasSubstr(why)) << text;
  }
}

TEST(ParseBrokerUrl, TakesMqttAndMqttsWithTheirDefaultPorts) {
  ASSERT_OK_AND_ASSIGN(BrokerUrl plain, ParseBrokerUrl("mqtt://broker.example"));
  EXPECT_EQ(plain.host, "broker.example");
  EXPECT_EQ(plain.port, 1883);
  EXPECT_FALSE(plain.tls);
  ASSERT_OK_AND_ASSIGN(BrokerUrl tls, ParseBrokerUrl("mqtts://10.0.0.1"));
  EXPECT_EQ(tls.port, 8883);
  EXPECT_TRUE(tls.tls);
  ASSERT_OK_AND_ASSIGN(BrokerUrl port, ParseBrokerUrl("mqtt://127.0.0.1:18830/"));
  EXPECT_EQ(port.port, 18830);
  for (const char* bad : {"tcp://h:1", "127.0.0.1:1883", "mqtt://", "mqtt://:1883",
                          "mqtt://h:0", "mqtt://h:65536", "mqtt://h:x"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseBrokerUrl(bad).status())) << bad;
  }
}

// MqttBridgeTest runs glue endpoints on the simulated network and a real Mosquitto.
class MqttBridgeTest : public EndpointTest {
 protected:
  void SetUp() override {
    EndpointTest::SetUp();
    absl::StatusOr<std::unique_ptr<MosquittoBroker>> broker = MosquittoBroker::Create();
    if (absl::IsFailedPrecondition(broker.status())) {
      GLUE_SKIP_UNLESS_CI(broker.status().message());
    }
    ASSERT_OK(broker);
    broker_ = *std::move(broker);
    ASSERT_OK(broker_->Start());
  }

  BridgeOptions Options(std::vector<Mapping> mappings) {
    return {.broker = broker_->url(), .mappings = std::move(mappings)};
  }

  // Client connects an MQTT client subscribed to `filter` at QoS 1.
  std::unique_ptr<MqttClient> Client(absl::string_view id, absl::string_view filter) {
    absl::StatusOr<std::unique_ptr<MqttClient>> client =
        MqttClient::Connect(broker_->port(), id);
    EXPECT_OK(client);
    if (!client.ok()) return nullptr;
    EXPECT_OK((*client)->Subscribe(filter, 1));
    return *std::move(client);
  }

  // PublishUntil publishes `payload` on `topic` from `from` every kRetry until
  // `arrived` holds (the subscription's interest reaches a bridge a little after it
  // starts), up to kWait.
  template <typename F>
  bool PublishUntil(Endpoint& from, absl::string_view topic, absl::string_view payload,
                    F arrived) {
    const absl::Time give_up = absl::Now() + kWait;
    while (absl::Now() < give_up) {
      EXPECT_OK(from.Publish(topic, "t.T", absl::Seconds(30), Bytes(payload)));
      const absl::Time next = absl::Now() + kRetry;
      while (absl::Now() < next) {
        if (arrived()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    }
    return false;
  }

  std::unique_ptr<MosquittoBroker> broker_;
  Inbox peers_;
};

TEST_F(MqttBridgeTest, GlueGoesOutUnderTheRemotePrefixWithItsTypeAndExpiry) {
  auto publisher = Make(1, &peers_);
  auto bridging = Make(2, &peers_);
  ASSERT_TRUE(peers_.WaitFor(2));
  ASSERT_OK_AND_ASSIGN(Mapping out,
                       ParseMapping(Mapping::Direction::kOut, "s/#=site1/", 1));
  ASSERT_OK_AND_ASSIGN(auto bridge, MqttBridge::Start(*bridging, Options({out})));
  auto client = Client("watcher", "site1/#");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(PublishUntil(*publisher, "s/a", "x", [&] { return client->count() > 0; }));
  const ReceivedMessage got = client->messages().front();
  EXPECT_EQ(got.topic, "site1/s/a");
  EXPECT_EQ(got.payload, "x");
  EXPECT_EQ(got.qos, 1);
  EXPECT_EQ(got.user_properties.at("glue-type"), "t.T");
  EXPECT_EQ(got.user_properties.at("glue-network"),
            absl::StrCat(bridging->config().network_id));
  EXPECT_GE(got.expiry_interval, 29u);
  EXPECT_LE(got.expiry_interval, 30u);
  // Counted once libmosquitto has it, which may be after the broker delivered it.
  EXPECT_TRUE(Eventually([&] { return bridge->counters().out >= 1; }));
}

TEST_F(MqttBridgeTest, MqttComesInUnderTheLocalPrefixWithItsType) {
  auto subscriber = Make(1, &peers_);
  auto bridging = Make(2, &peers_);
  ASSERT_TRUE(peers_.WaitFor(2));
  ASSERT_OK_AND_ASSIGN(Mapping in,
                       ParseMapping(Mapping::Direction::kIn, "cmd/#=from-mqtt/", 1));
  ASSERT_OK_AND_ASSIGN(auto bridge, MqttBridge::Start(*bridging, Options({in})));
  Inbox got;
  ASSERT_OK(
      subscriber->Subscribe("from-mqtt/#", topics::kAnyType, [&got](const Message& m) {
        got.Add(absl::StrCat(m.topic, " ", m.type, " ",
                             std::string(m.payload.begin(), m.payload.end())));
      }));
  auto client = Client("commander", "unused");
  ASSERT_NE(client, nullptr);
  const absl::Time give_up = absl::Now() + kWait;
  while (!got.WaitFor(1, kRetry) && absl::Now() < give_up) {
    ASSERT_OK(client->Publish("cmd/go", "now", 1, false, {{"glue-type", "t.Cmd"}}));
  }
  ASSERT_FALSE(got.payloads().empty());
  EXPECT_EQ(got.payloads().front(), "from-mqtt/cmd/go t.Cmd now");
  // Counted once glue took it, which may be after glue delivered it.
  EXPECT_TRUE(Eventually([&] { return bridge->counters().in >= 1; }));
}

// Two out mappings of one glue filter (to two prefixes): each sends its copy, from the
// one subscription the endpoint takes for the filter.
TEST_F(MqttBridgeTest, TwoOutMappingsOfOneFilterEachSendTheirCopy) {
  auto publisher = Make(1, &peers_);
  auto bridging = Make(2, &peers_);
  ASSERT_TRUE(peers_.WaitFor(2));
  ASSERT_OK_AND_ASSIGN(Mapping x, ParseMapping(Mapping::Direction::kOut, "a/#=x/", 1));
  ASSERT_OK_AND_ASSIGN(Mapping y, ParseMapping(Mapping::Direction::kOut, "a/#=y/", 0));
  ASSERT_OK_AND_ASSIGN(auto bridge, MqttBridge::Start(*bridging, Options({x, y})));
  auto client = Client("watcher", "+/a/#");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(PublishUntil(*publisher, "a/1", "p", [&] {
    std::set<std::string> topics;
    for (const ReceivedMessage& m : client->messages()) topics.insert(m.topic);
    return topics.size() == 2;
  }));
  std::set<std::string> topics;
  for (const ReceivedMessage& m : client->messages()) topics.insert(m.topic);
  EXPECT_THAT(topics, ElementsAre("x/a/1", "y/a/1"));
}

// Retained, so that a subscriber that comes once the broker is back sees them all,
// whether the bridge sent them before it subscribed or after.
TEST_F(MqttBridgeTest, WhatWaitedWhileTheBrokerWasAwayGoesOutWhenItIsBack) {
  auto publisher = Make(1, &peers_);
  auto bridging = Make(2, &peers_);
  ASSERT_TRUE(peers_.WaitFor(2));
  ASSERT_OK_AND_ASSIGN(Mapping out, ParseMapping(Mapping::Direction::kOut, "w/#", 1));
  BridgeOptions options = Options({out});
  options.retain = true;
  ASSERT_OK_AND_ASSIGN(auto bridge, MqttBridge::Start(*bridging, options));
  {
    // The interest of the bridge's subscription has reached the publisher.
    auto client = Client("probe", "w/probe");
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(
        PublishUntil(*publisher, "w/probe", "p", [&] { return client->count() > 0; }));
  }
  broker_->Stop();
  ASSERT_TRUE(Eventually([&] { return !bridge->connected(); }));
  constexpr int kMessages = 50;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK(publisher->Publish(absl::StrCat("w/", i), "t.T", absl::Seconds(60),
                                 Bytes(absl::StrCat(i))));
  }
  ASSERT_TRUE(Eventually([&] { return bridge->counters().buffered >= kMessages; }))
      << bridge->counters().buffered;
  EXPECT_EQ(bridge->counters().waiting, static_cast<size_t>(kMessages));
  ASSERT_OK(broker_->Start());
  ASSERT_TRUE(Eventually([&] { return bridge->counters().waiting == 0; }));
  auto client = Client("late", "w/#");
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->WaitForCount(kMessages, kWait)) << client->count();
  std::set<std::string> payloads;
  for (const ReceivedMessage& m : client->messages()) {
    if (m.topic != "w/probe") payloads.insert(m.payload);
  }
  EXPECT_EQ(payloads.size(), static_cast<size_t>(kMessages));
  EXPECT_EQ(bridge->counters().dropped, 0u);
  EXPECT_GE(bridge->counters().connects, 2u);
}

// Two bridges with the same mapping: once each knows the other, every message goes
// out once, from one of them; what one brought in is not sent out by the other.
TEST_F(MqttBridgeTest, TwoBridgesSendEachMessageOnceAndLoopNothing) {
  auto publisher = Make(1, &peers_);
  auto first = Make(2, &peers_);
  auto second = Make(3, &peers_);
  ASSERT_TRUE(peers_.WaitFor(6));
  ASSERT_OK_AND_ASSIGN(Mapping out, ParseMapping(Mapping::Direction::kOut, "d/#", 1));
  ASSERT_OK_AND_ASSIGN(Mapping in, ParseMapping(Mapping::Direction::kIn, "d/#", 1));
  BridgeOptions a = Options({out, in});
  a.client_id = "bridge-a";
  BridgeOptions b = Options({out, in});
  b.client_id = "bridge-b";
  ASSERT_OK_AND_ASSIGN(auto bridge_a, MqttBridge::Start(*first, a));
  ASSERT_OK_AND_ASSIGN(auto bridge_b, MqttBridge::Start(*second, b));
  auto sent = [&] { return bridge_a->counters().out + bridge_b->counters().out; };
  auto left = [&] {
    return bridge_a->counters().not_ours + bridge_b->counters().not_ours;
  };
  // Both bridges' subscriptions have reached the publisher: each has every message.
  ASSERT_TRUE(
      Eventually([&] { return publisher->Subscribers("d/x", "t.T").size() == 2; }));
  // Until the bridges know each other: a message sent by one and left by the other.
  bool settled = false;
  for (int probe = 0; probe < 100 && !settled; ++probe) {
    const uint64_t sent_before = sent();
    const uint64_t left_before = left();
    ASSERT_OK(publisher->Publish("d/x", "t.T", absl::Seconds(30), Bytes("probe")));
    ASSERT_TRUE(
        Eventually([&] { return sent() + left() == sent_before + left_before + 2; }));
    settled = left() == left_before + 1;
    if (!settled) absl::SleepFor(kRetry);  // a pace between probes, not a wait
  }
  ASSERT_TRUE(settled);
  auto client = Client("watcher", "d/x");
  ASSERT_NE(client, nullptr);
  const uint64_t sent_before = sent();
  const uint64_t left_before = left();
  constexpr int kMessages = 20;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_OK(publisher->Publish("d/x", "t.T", absl::Seconds(30), Bytes("m")));
  }
  ASSERT_TRUE(Eventually(
      [&] { return sent() + left() == sent_before + left_before + 2 * kMessages; }));
  EXPECT_EQ(sent() - sent_before, static_cast<uint64_t>(kMessages));
  ASSERT_TRUE(client->WaitForCount(kMessages, kWait)) << client->count();
  // MQTT -> glue by one bridge, and neither sends it back out.
  Inbox got;
  ASSERT_OK(publisher->Subscribe("d/in", topics::kAnyType,
                                 [&got](const Message&) { got.Add("in"); }));
  auto mqtt = Client("publisher", "unused");
  ASSERT_NE(mqtt, nullptr);
  const absl::Time give_up = absl::Now() + kWait;
  while (!got.WaitFor(1, kRetry) && absl::Now() < give_up) {
    ASSERT_OK(mqtt->Publish("d/in", "m", 1));
  }
  ASSERT_FALSE(got.payloads().empty());
  // Counted once glue took it, which may be after glue delivered it.
  ASSERT_TRUE(
      Eventually([&] { return bridge_a->counters().in + bridge_b->counters().in >= 1; }));
  const uint64_t brought_in = bridge_a->counters().in + bridge_b->counters().in;
  // Each bridge's out mapping has each of them, and leaves it.
  ASSERT_TRUE(Eventually([&] {
    return bridge_a->counters().looped + bridge_b->counters().looped >= 2 * brought_in;
  }));
  EXPECT_EQ(sent() - sent_before, static_cast<uint64_t>(kMessages));
}

TEST_F(MqttBridgeTest, StartSaysWhyItCannotBridge) {
  auto bridging = Make(1, &peers_);
  ASSERT_OK_AND_ASSIGN(Mapping out, ParseMapping(Mapping::Direction::kOut, "a/#", 1));
  BridgeOptions bad_url = Options({out});
  bad_url.broker = "tcp://127.0.0.1:1";
  EXPECT_TRUE(absl::IsInvalidArgument(MqttBridge::Start(*bridging, bad_url).status()));
  EXPECT_TRUE(
      absl::IsInvalidArgument(MqttBridge::Start(*bridging, Options({})).status()));
  // Nothing listens on the port of a broker that has stopped.
  broker_->Stop();
  absl::StatusOr<std::unique_ptr<MqttBridge>> away =
      MqttBridge::Start(*bridging, Options({out}));
  EXPECT_TRUE(absl::IsUnavailable(away.status())) << away.status();
  EXPECT_THAT(away.status().message(), HasSubstr(broker_->url()));
}

}  // namespace
}  // namespace glue::bridge
