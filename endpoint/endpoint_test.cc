#include "glue/endpoint/endpoint.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "endpoint/endpoint_test.pb.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/base/mutex.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/loopback_network.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/network/interfaces.h"
#include "glue/network/simulated_network.h"
#include "glue/transport/transport.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST_F(EndpointLoopbackTest, TheTypedFormCarriesProtocolBuffersMessages) {
  Inbox peers_a, peers_b, got;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  ASSERT_OK(b->Subscribe<test::Reading>(
      "sensors/+", [&got](const Message& m, const test::Reading& reading) {
        EXPECT_EQ(m.type, "glue.test.Reading");
        got.Add(reading.sensor() + "=" +
                std::to_string(static_cast<int>(reading.celsius())));
      }));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  // b's interest may not have reached a yet: a publishes until b has one.
  test::Reading reading;
  reading.set_sensor("kitchen");
  reading.set_celsius(21);
  const absl::Time give_up = absl::Now() + kWait;
  while (got.payloads().empty() && absl::Now() < give_up) {
    ASSERT_OK(
        a->Publish("sensors/kitchen", absl::Seconds(1), reading, {.history_depth = 1}));
    got.WaitFor(1, kRetry);
  }
  ASSERT_FALSE(got.payloads().empty());
  EXPECT_EQ(got.payloads()[0], "kitchen=21");
  // Bytes that are not a Reading, under its type, are counted, not handed up.
  const std::vector<uint8_t> garbage = {0xff, 0xff, 0xff};
  ASSERT_OK(a->Publish("sensors/hall", "glue.test.Reading", absl::Seconds(1), garbage));
  const absl::Time until = absl::Now() + kWait;
  while (b->counters().typed_parse_failures == 0 && absl::Now() < until) {
    std::this_thread::yield();
  }
  EXPECT_EQ(b->counters().typed_parse_failures, 1u);
}

TEST_F(EndpointTest, ASlowCallbackRunsOffTheNetworkThreadAndHoldsUpNothingElse) {
  Inbox peers_a, peers_b, quick;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  // The slow callback takes 200 us for its first three messages, which makes it slow,
  // then blocks on its fourth until the quick subscription got its messages.
  Mutex mu;
  std::vector<std::thread::id> slow_threads;
  bool release = false;
  ASSERT_OK(b->Subscribe("slow", "text", [&](const Message&) {
    MutexLock lock(&mu);
    slow_threads.push_back(std::this_thread::get_id());
    if (slow_threads.size() <= 3) {
      const auto start = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - start < std::chrono::microseconds(200)) {
      }
    } else if (slow_threads.size() == 4) {
      mu.AwaitUntil([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return release; },
                    absl::Now() + kWait);
    }
  }));
  ASSERT_OK(b->Subscribe("quick", "text", [&](const Message& m) {
    quick.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  const std::vector<uint8_t> text = {'x'};
  // b's interest may not have reached a yet: a publishes until b has one.
  const absl::Time give_up = absl::Now() + kWait;
  while (quick.payloads().empty() && absl::Now() < give_up) {
    ASSERT_OK(a->Publish("quick", "text", absl::Seconds(30), text));
    quick.WaitFor(1, kRetry);
  }
  for (int i = 0; i < 4; ++i)
    ASSERT_OK(a->Publish("slow", "text", absl::Seconds(30), text));
  auto slow_calls = [&] {
    MutexLock lock(&mu);
    return slow_threads.size();
  };
  while (slow_calls() < 4 && absl::Now() < give_up) std::this_thread::yield();
  ASSERT_EQ(slow_calls(), 4u);
  // The fourth slow call blocks; the quick messages still arrive, acknowledged.
  const size_t quick_before = quick.payloads().size();
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(a->Publish("quick", "text", absl::Seconds(30), text));
  }
  EXPECT_TRUE(quick.WaitFor(quick_before + 100));
  {
    MutexLock lock(&mu);
    release = true;
    mu.NotifyAll();
    // The first slow call ran where its message arrived, the network thread (which
    // runs peer events too), the blocked one elsewhere.
    const std::thread::id network_thread = peers_b.adder();
    EXPECT_EQ(slow_threads[0], network_thread);
    EXPECT_NE(slow_threads[3], network_thread);
  }
}

TEST_F(EndpointTest, WithMaxBlockingPublishWaitsForTheWindowInsteadOfQueueing) {
  Inbox peers_a, peers_b, got;
  // A window of 4 frames: a publisher that does not wait queues at once.
  std::unique_ptr<Endpoint> a = Make(1, &peers_a, absl::Seconds(2), /*window_frames=*/4);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  ASSERT_OK(b->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  const std::vector<uint8_t> first = {'0'};
  // b's interest may not have reached a yet: kept in the history, the first message
  // goes to b when it does.
  ASSERT_OK(a->Publish("news", "text", absl::Seconds(30), first, {.history_depth = 1}));
  ASSERT_TRUE(got.WaitFor(1));
  ASSERT_FALSE(got.payloads().empty());
  const size_t before = got.payloads().size();

  // Waiting: after each Publish nothing of it waits in the queue.
  const PublishOptions blocking{.history_depth = 0, .max_blocking = kWait};
  for (int i = 0; i < 100; ++i) {
    const std::string text = "w" + std::to_string(i);
    ASSERT_OK(a->Publish("news", "text", absl::Seconds(30),
                         std::vector<uint8_t>(text.begin(), text.end()), blocking));
    ASSERT_EQ(a->counters().topics.messages.bytes_queued, 0u) << i;
  }
  // Not waiting: the same burst queues behind the window.
  size_t most_queued = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string text = "q" + std::to_string(i);
    ASSERT_OK(a->Publish("news", "text", absl::Seconds(30),
                         std::vector<uint8_t>(text.begin(), text.end()),
                         {.history_depth = 0}));
    most_queued =
        std::max<size_t>(most_queued, a->counters().topics.messages.bytes_queued);
  }
  EXPECT_GT(most_queued, 0u);
  ASSERT_TRUE(got.WaitFor(before + 200));
  const std::vector<std::string> payloads = got.payloads();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(payloads[before + i], "w" + std::to_string(i));
    EXPECT_EQ(payloads[before + 100 + i], "q" + std::to_string(i));
  }
  EXPECT_THAT(a->Publish("news", "text", absl::Seconds(30), first,
                         {.max_blocking = -absl::Seconds(1)}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_blocking")));
}

TEST_F(EndpointTest, APartitionSwitchedOnWhileRunningRemovesPeersAndHealingFindsThem) {
  faults_ = true;
  Inbox peers_a, peers_b, removed_a, removed_b, got;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a, absl::Seconds(2), 0, &removed_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b, absl::Seconds(2), 0, &removed_b);
  ASSERT_TRUE(a && b);
  ASSERT_OK(b->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  // Cut off: each side removes the other (its rate of 50 ms times 2, and probes).
  ASSERT_OK(a->SetFaults({.partitioned = true}));
  ASSERT_TRUE(removed_a.WaitFor(1) && removed_b.WaitFor(1));
  EXPECT_TRUE(a->peers().empty());
  // A message published meanwhile, kept in the history, reaches b once healed.
  const std::vector<uint8_t> text = {'h', 'i'};
  ASSERT_OK(a->Publish("news", "text", absl::Seconds(30), text, {.history_depth = 1}));
  ASSERT_OK(a->SetFaults({}));
  ASSERT_TRUE(peers_a.WaitFor(2) && peers_b.WaitFor(2));
  ASSERT_TRUE(got.WaitFor(1));
  EXPECT_EQ(got.payloads().front(), "hi");
  // An endpoint made without faults has no fault link to switch.
  faults_ = false;
  Inbox peers_c;
  std::unique_ptr<Endpoint> c = Make(3, &peers_c);
  ASSERT_TRUE(c);
  EXPECT_THAT(c->SetFaults({.partitioned = true}),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(EndpointTest, StopLingersUntilReliableMessagesAreAcknowledged) {
  Inbox peers_a, peers_b, got;
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(b);
  ASSERT_OK(b->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  std::unique_ptr<Endpoint> a = Make(1, &peers_a, absl::Seconds(10));
  ASSERT_TRUE(a);
  // b subscribed before a started: its first interest names "news".
  ASSERT_TRUE(peers_a.WaitFor(1));
  const absl::Time give_up = absl::Now() + kWait;
  while (a->counters().topics.interests_received == 0 && absl::Now() < give_up) {
    std::this_thread::yield();
  }
  ASSERT_GT(a->counters().topics.interests_received, 0u);
  for (int i = 0; i < 200; ++i) {
    const std::string text = "n" + std::to_string(i);
    ASSERT_OK(a->Publish("news", "text", absl::Seconds(30),
                         std::vector<uint8_t>(text.begin(), text.end())));
  }
  a->Stop();  // lingers until b has acknowledged all
  ASSERT_TRUE(got.WaitFor(200));
  EXPECT_EQ(got.payloads().size(), 200u);
  EXPECT_EQ(a->counters().topics.messages.transport.bytes_unacknowledged, 0u);
}

TEST_F(EndpointTest, FlushSaysWhetherAllWasAcknowledgedAndPeerCountersSayByWhom) {
  faults_ = true;
  Inbox peers_a, peers_b, got;
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(b);
  ASSERT_OK(b->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  ASSERT_TRUE(a);
  ASSERT_TRUE(Eventually([&] { return !a->Subscribers("news", "text").empty(); }));
  const std::vector<uint8_t> text = {'h', 'i'};
  ASSERT_OK(a->Publish("news", "text", absl::Seconds(30), text));
  EXPECT_TRUE(a->Flush(kWait));
  ASSERT_TRUE(got.WaitFor(1));
  std::optional<transport::PeerCounters> to_b = a->peer_counters(2);
  ASSERT_TRUE(to_b.has_value());
  EXPECT_EQ(to_b->peer_name, "endpoint-2");
  EXPECT_GE(to_b->session.data_sent, 1u);
  EXPECT_GT(to_b->session.smoothed_rtt, absl::ZeroDuration());
  EXPECT_FALSE(a->peer_counters(99).has_value());
  // b's acknowledgements now take 40 ms to come back (its announcements too, which
  // keeps it well within its expiry): a flush shorter than that fails, and the
  // counters show what b has not acknowledged yet.
  ASSERT_OK(b->SetFaults({.delay = 1, .delay_duration = absl::Milliseconds(40)}));
  ASSERT_OK(a->Publish("news", "text", absl::Seconds(30), text));
  EXPECT_FALSE(a->Flush(absl::Milliseconds(5)));
  EXPECT_GT(a->peer_counters(2)->bytes_unacknowledged, 0u);
  const absl::Time flushing = absl::Now();
  EXPECT_TRUE(a->Flush(kWait));
  EXPECT_GE(absl::Now() - flushing, absl::Milliseconds(20));  // it waited for b
  EXPECT_TRUE(a->peer_counters(2).has_value());               // b was not removed
  EXPECT_TRUE(got.WaitFor(2));
  a->Stop();
  EXPECT_FALSE(a->Flush(absl::Milliseconds(1)));  // not running
  EXPECT_FALSE(a->peer_counters(2).has_value());
}

TEST(EndpointOptions, WithoutGlueMtuDatagramsFitTheInterface) {
  absl::StatusOr<EndpointOptions> options =
      OptionsFromEnvironment(MapEnvironment({{"GLUE_LISTEN_INTERFACE", "lo"}}));
  ASSERT_OK(options);
  absl::StatusOr<network::Interface> lo = network::FindInterface("lo");
  ASSERT_OK(lo);
  EXPECT_EQ(options->transport.max_datagram_bytes,
            transport::DatagramBytesForMtu(lo->mtu));
  EXPECT_EQ(transport::DatagramBytesForMtu(65536), transport::kMaxDefaultDatagramBytes);
  EXPECT_EQ(transport::DatagramBytesForMtu(1500), 1452u);
  EXPECT_EQ(transport::DatagramBytesForMtu(100), transport::kMinDatagramBytes);
  EXPECT_EQ(transport::DatagramBytesForMtu(0),
            transport::TransportOptions().max_datagram_bytes);
}

TEST(EndpointOptions, ReadsEveryVariableAndNamesABadOne) {
  absl::StatusOr<EndpointOptions> options =
      OptionsFromEnvironment(MapEnvironment({{"GLUE_LISTEN_INTERFACE", "lo"},
                                             {"GLUE_MTU", "9000"},
                                             {"GLUE_THREADS", "4"},
                                             {"GLUE_LINGER_MILLISECONDS", "250"},
                                             {"GLUE_SPIN_MICROSECONDS", "0"},
                                             {"GLUE_FAULT_LOSS", "0.1"}}));
  ASSERT_OK(options);
  EXPECT_EQ(options->discovery.listen_interface, "lo");
  EXPECT_EQ(options->transport.max_datagram_bytes, 9000u);
  EXPECT_EQ(options->threads, 4u);
  EXPECT_EQ(options->linger, absl::Milliseconds(250));
  EXPECT_EQ(options->spin, absl::ZeroDuration());
  ASSERT_TRUE(options->discovery_options.data_faults.has_value());
  EXPECT_EQ(options->discovery_options.data_faults->drop, 0.1);
  for (const auto& [name, value] : std::vector<std::pair<std::string, std::string>>{
           {"GLUE_THREADS", "0"},
           {"GLUE_THREADS", "65"},
           {"GLUE_LINGER_MILLISECONDS", "600001"},
           {"GLUE_SPIN_MICROSECONDS", "10001"},
           {"GLUE_MAX_MESSAGE_BYTES", "x"},
           {"GLUE_FAULT_LOSS", "2"},
           {"GLUE_LOG_LEVEL", "loud"}}) {
    SCOPED_TRACE(name + "=" + value);
    EXPECT_THAT(OptionsFromEnvironment(
                    MapEnvironment({{"GLUE_LISTEN_INTERFACE", "lo"}, {name, value}}))
                    .status(),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(name), HasSubstr(value))));
  }
}

TEST(EndpointOptions, AMalformedLogLevelIsRefusedNotTakenForInfo) {
  EXPECT_THAT(Endpoint::FromEnvironment(MapEnvironment(
                  {{"GLUE_LISTEN_INTERFACE", "lo"}, {"GLUE_LOG_LEVEL", "verbose"}})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("GLUE_LOG_LEVEL='verbose'")));
}

}  // namespace
}  // namespace glue
