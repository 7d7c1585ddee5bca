// Session: delivery, best effort, ordering, expiry and bounds.
#include "glue/transport/session.h"

#include <algorithm>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
#include "glue/transport/session_link.h"

namespace glue::transport {
namespace {

using ::glue::testing::StatusIs;
using serialization::AckFrame;
using serialization::AckRange;
using serialization::DataFrame;
using testing::Bytes;
using ::testing::ElementsAre;
using testing::Indexed;
using testing::IndexOf;
using ::testing::IsEmpty;
using testing::kFarFuture;
using testing::kStart;
using testing::Link;
using testing::LinkOptions;
using testing::Reliable;
using testing::RunReliableStream;
using testing::Sequences;
using testing::StreamResult;
using ::testing::UnorderedElementsAre;

TEST(Session, ValidateNamesTheOffendingField) {
  struct Case {
    std::string name;
    void (*change)(SessionOptions&);
  };
  const Case cases[] = {
      {"max_bytes", [](SessionOptions& o) { o.window.max_bytes = 0; }},
      {"min_rto", [](SessionOptions& o) { o.rtt.min_rto = absl::ZeroDuration(); }},
      {"window", [](SessionOptions& o) { o.receive.window = 0; }},
      {"ack_delay", [](SessionOptions& o) { o.ack_delay = -absl::Milliseconds(1); }},
      {"ack_delay", [](SessionOptions& o) { o.ack_delay = absl::InfiniteDuration(); }},
      {"max_ack_ranges", [](SessionOptions& o) { o.max_ack_ranges = 0; }},
      {"ack_every_frames", [](SessionOptions& o) { o.ack_every_frames = 0; }},
      {"max_ack_ranges", [](SessionOptions& o) { o.max_ack_ranges = kMaxAckRanges + 1; }},
      {"max_best_effort_queue", [](SessionOptions& o) { o.max_best_effort_queue = 0; }},
  };
  EXPECT_OK(Session::Validate(SessionOptions{}));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SessionOptions options;
    c.change(options);
    EXPECT_THAT(Session::Validate(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     ::testing::HasSubstr(c.name)));
  }
}

TEST(Session, ReliableMessagesArriveExactlyOnceOverALossyLink) {
  struct Case {
    bool ordered;
    uint32_t seed;
  };
  const Case cases[] = {{true, 20261124}, {false, 4242}};
  const LinkOptions link{.loss = 0.2, .duplicate = 0.05, .reorder = 0.1};
  constexpr uint32_t kMessages = 10000;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "ordered " << c.ordered << ", seed " << c.seed);
    std::cout << "seed " << c.seed << " (ordered " << c.ordered << ")\n";
    const StreamResult result = RunReliableStream(kMessages, c.ordered, link, c.seed);
    ASSERT_EQ(result.delivered.size(), kMessages);
    if (c.ordered) {
      for (uint32_t i = 0; i < kMessages; ++i) ASSERT_EQ(result.delivered[i], i);
    } else {
      std::vector<uint32_t> sorted = result.delivered;
      std::sort(sorted.begin(), sorted.end());
      for (uint32_t i = 0; i < kMessages; ++i) ASSERT_EQ(sorted[i], i);
    }
    EXPECT_EQ(result.sender.acked, kMessages);
    EXPECT_EQ(result.sender.expired, 0u);
    EXPECT_EQ(result.sender.unknown_acks, 0u);
    EXPECT_GT(result.sender.data_resent, 0u);
    EXPECT_GT(result.receiver.duplicates, 0u);
    EXPECT_EQ(result.receiver.delivered, kMessages);
    EXPECT_EQ(result.sender_bytes_held, 0u);
    EXPECT_EQ(result.receiver_bytes_held, 0u);
    std::cout << "  simulated " << result.elapsed << ", resent "
              << result.sender.data_resent << ", acks " << result.receiver.acks_sent
              << ", srtt " << result.sender.smoothed_rtt << "\n";
  }
}

TEST(Session, BestEffortIsNeverDeliveredTwiceAndItsLossesAreCounted) {
  const uint32_t seed = 777;
  std::cout << "seed " << seed << "\n";
  Session a;
  Session b;
  Link link({.loss = 0.2, .duplicate = 0.1, .reorder = 0.1}, seed);
  constexpr uint32_t kMessages = 5000;
  std::vector<Delivery> deliveries;
  std::vector<uint64_t> acknowledged;
  Outgoing out;
  absl::Time now = kStart;
  for (uint32_t i = 0; i < kMessages; ++i) {
    a.SendBestEffort(Indexed(i));
    if (i % 10 == 9) {
      a.Poll(now, &out);
      EXPECT_FALSE(out.ack.has_value());
      link.Send(out, now);
    }
    now += absl::Microseconds(100);
    link.Arrive(now, b, &deliveries, &acknowledged);
  }
  link.Arrive(now + absl::Seconds(1), b, &deliveries, &acknowledged);
  EXPECT_THAT(acknowledged, IsEmpty());

  std::set<uint64_t> sequences;
  uint64_t highest = 0;
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(delivery.flags, 0u);
    EXPECT_TRUE(sequences.insert(delivery.sequence).second) << delivery.sequence;
    EXPECT_EQ(IndexOf(delivery.payload) + 1, delivery.sequence);
    highest = std::max(highest, delivery.sequence);
  }
  // The receiver can know only of losses below the highest sequence that arrived.
  const auto& dropped = link.best_effort_dropped();
  const uint64_t knowable =
      static_cast<uint64_t>(std::distance(dropped.begin(), dropped.lower_bound(highest)));
  EXPECT_GT(knowable, 0u);
  EXPECT_EQ(b.counters().best_effort_lost, knowable);
  EXPECT_EQ(b.counters().best_effort_lost, highest - sequences.size());
  EXPECT_GT(b.counters().duplicates, 0u);
  EXPECT_EQ(b.counters().delivered, sequences.size());
  EXPECT_EQ(a.counters().data_sent, kMessages);
  EXPECT_EQ(a.counters().data_resent, 0u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, BestEffortQueueDropsItsOldestFrameWhenFull) {
  SessionOptions options;
  options.max_best_effort_queue = 2;
  Session session(options);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  for (uint8_t i = 1; i <= 3; ++i) session.SendBestEffort(Bytes(4, i));
  EXPECT_EQ(session.bytes_held(), 8u);
  EXPECT_EQ(session.NextDeadline(), absl::InfinitePast());
  Outgoing out;
  session.Poll(kStart, &out);
  ASSERT_EQ(out.data.size(), 2u);
  EXPECT_EQ(out.data[0], (DataFrame{.sequence = 1, .flags = 0, .payload = Bytes(4, 2)}));
  EXPECT_EQ(out.data[1], (DataFrame{.sequence = 2, .flags = 0, .payload = Bytes(4, 3)}));
  EXPECT_EQ(session.counters().best_effort_queued, 3u);
  EXPECT_EQ(session.counters().best_effort_dropped_queue, 1u);
  EXPECT_EQ(session.bytes_held(), 0u);
}

TEST(Session, BestEffortQueueKeepsTheNewestThroughManyDropsAndPolls) {
  SessionOptions options;
  options.max_best_effort_queue = 3;
  Session session(options);
  uint64_t next_sequence = 1;
  for (int round = 0; round < 3; ++round) {
    // Ten frames into a queue of three: the seven oldest are dropped, the space they
    // held taken back along the way.
    for (uint8_t i = 1; i <= 10; ++i) {
      session.SendBestEffort(Bytes(4, static_cast<uint8_t>(10 * round + i)));
    }
    EXPECT_EQ(session.bytes_held(), 12u);
    Outgoing out;
    session.Poll(kStart, &out);
    ASSERT_EQ(out.data.size(), 3u);
    for (uint8_t k = 0; k < 3; ++k) {
      EXPECT_EQ(
          out.data[k],
          (DataFrame{.sequence = next_sequence++,
                     .flags = 0,
                     .payload = Bytes(4, static_cast<uint8_t>(10 * round + 8 + k))}));
    }
    EXPECT_EQ(session.bytes_held(), 0u);
    EXPECT_EQ(session.NextDeadline(), std::nullopt);
  }
  EXPECT_EQ(session.counters().best_effort_dropped_queue, 21u);
  EXPECT_EQ(session.counters().data_sent, 9u);
}

TEST(Session, OrderedFramesWaitForTheGapAndUnorderedOnesDoNot) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(3, payload, true), kStart, &deliveries);
  b.OnData(Reliable(4, payload, false), kStart, &deliveries);
  b.OnData(Reliable(5, payload, true), kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].sequence, 4u);
  EXPECT_EQ(b.bytes_held(), 16u);
  b.OnData(Reliable(1, payload, true), kStart, &deliveries);
  b.OnData(Reliable(2, payload, false), kStart, &deliveries);
  std::vector<uint64_t> order;
  for (const Delivery& delivery : deliveries) order.push_back(delivery.sequence);
  EXPECT_THAT(order, ElementsAre(4, 1, 2, 3, 5));
  EXPECT_EQ(deliveries[3].flags, kFlagReliable | kFlagOrdered);
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, AnExpiredFrameIsSkippedAndTheOrderedFramesBehindItGoUp) {
  Session a;
  Session b;
  const absl::Time expiry = kStart + absl::Milliseconds(50);
  for (uint64_t token = 1; token <= 3; ++token) {
    ASSERT_OK(a.SendReliable(Indexed(token), token == 1 ? expiry : kFarFuture,
                             /*ordered=*/true, token));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_THAT(Sequences(out), ElementsAre(1, 2, 3));
  // Frame 1 is lost every time; 2 and 3 arrive and wait for it.
  std::vector<Delivery> deliveries;
  b.OnData(out.data[1], kStart, &deliveries);
  b.OnData(out.data[2], kStart, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  Outgoing back;
  b.Poll(kStart, &back);
  ASSERT_TRUE(back.ack.has_value());
  std::vector<uint64_t> acknowledged;
  a.OnAck(*back.ack, kStart, &acknowledged);
  EXPECT_THAT(acknowledged, ElementsAre(2, 3));

  std::vector<uint64_t> expired;
  a.Expire(expiry, &expired);
  EXPECT_THAT(expired, ElementsAre(1));
  EXPECT_EQ(a.NextDeadline(), absl::InfinitePast());
  a.Poll(expiry, &out);
  ASSERT_EQ(out.data.size(), 1u);
  EXPECT_EQ(out.data[0].flags, kFlagSkip);
  EXPECT_EQ(out.data[0].sequence, 3u);
  EXPECT_TRUE(out.data[0].payload.empty());
  // Lost too: resent after the timeout, not before.
  a.Poll(expiry + a.counters().rto / 2, &out);
  EXPECT_THAT(out.data, IsEmpty());
  const absl::Time resend = expiry + a.counters().rto;
  EXPECT_EQ(a.NextDeadline(), resend);
  a.Poll(resend, &out);
  ASSERT_EQ(out.data.size(), 1u);
  EXPECT_EQ(a.counters().skips_sent, 2u);

  b.OnData(out.data[0], resend, &deliveries);
  std::vector<uint32_t> indices;
  for (const Delivery& delivery : deliveries)
    indices.push_back(IndexOf(delivery.payload));
  EXPECT_THAT(indices, ElementsAre(2, 3));
  EXPECT_EQ(b.counters().skipped, 1u);
  EXPECT_EQ(b.bytes_held(), 0u);
  // Frame 1 turning up late is not handed up after the skip.
  b.OnData(Reliable(1, Indexed(1), true), resend, &deliveries);
  EXPECT_EQ(deliveries.size(), 2u);
  // The acknowledgement of the skip ends the resends.
  b.Poll(resend + absl::Seconds(1), &back);
  ASSERT_TRUE(back.ack.has_value());
  EXPECT_EQ(back.ack->cumulative, 3u);
  a.OnAck(*back.ack, resend + absl::Seconds(1), &acknowledged);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
}

TEST(Session, SendsFromTheCallersBufferAndCarriesMetaToTheOtherSide) {
  Session a;
  Session b;
  const auto buffer = std::make_shared<const std::vector<uint8_t>>(Indexed(7));
  const absl::Span<const uint8_t> whole = *buffer;
  Payload first = Payload::View(buffer, whole.subspan(0, 8));
  first.meta = {1, 2, 3};
  Payload second = Payload::View(buffer, whole.subspan(8));
  ASSERT_OK(a.SendReliable(std::move(second), kFarFuture, /*ordered=*/true, 2));
  ASSERT_OK(a.SendReliable(std::move(first), kFarFuture, /*ordered=*/true, 1));
  EXPECT_EQ(a.bytes_held(), whole.size() + 3);
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_EQ(out.data.size(), 2u);
  // No copy: the frames point into the caller's buffer, which the session keeps.
  EXPECT_EQ(out.data[0].payload.data(), whole.data() + 8);
  EXPECT_EQ(out.data[1].payload.data(), whole.data());
  EXPECT_THAT(out.data[1].meta, ElementsAre(1, 2, 3));
  EXPECT_EQ(buffer.use_count(), 3);
  // Sequence 2 arrives first and waits, meta and all.
  std::vector<Delivery> deliveries;
  b.OnData(out.data[1], kStart, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.bytes_held(), 8u + 3u);
  b.OnData(out.data[0], kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_THAT(deliveries[0].meta, IsEmpty());
  EXPECT_THAT(deliveries[1].meta, ElementsAre(1, 2, 3));
  EXPECT_EQ(deliveries[1].payload,
            std::vector<uint8_t>(whole.begin(), whole.begin() + 8));
  std::vector<uint64_t> acknowledged;
  a.OnAck(AckFrame{.cumulative = 2}, kStart, &acknowledged);
  EXPECT_EQ(buffer.use_count(), 1);  // released with the frames
}

TEST(Session, FramesWithInvalidFlagsAreCountedAndDropped) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  const uint32_t invalid[] = {kFlagOrdered, 8, kFlagReliable | 16,
                              kFlagSkip | kFlagReliable};
  for (uint32_t flags : invalid) {
    b.OnData(DataFrame{.sequence = 1, .flags = flags, .payload = payload}, kStart,
             &deliveries);
  }
  // A skip frame carries no payload, and no meta.
  b.OnData(DataFrame{.sequence = 1, .flags = kFlagSkip, .payload = payload}, kStart,
           &deliveries);
  b.OnData(DataFrame{.sequence = 1, .flags = kFlagSkip, .meta = payload}, kStart,
           &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.counters().invalid_frames, 6u);
  EXPECT_EQ(b.NextDeadline(), std::nullopt);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  EXPECT_EQ(deliveries.size(), 1u);
}

TEST(Session, ReorderBufferBoundDropsUnacknowledgedAndTheResendFillsIn) {
  SessionOptions options;
  options.max_reorder_bytes = 20;
  Session a(options);
  Session b(options);
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_OK(a.SendReliable(Bytes(10, static_cast<uint8_t>(i)), kFarFuture, true, i));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_THAT(Sequences(out), ElementsAre(1, 2, 3, 4));
  // Frame 1 is lost; 2 and 3 fill the reorder buffer; 4 is dropped unacknowledged.
  std::vector<Delivery> deliveries;
  const absl::Time arrival = kStart + absl::Microseconds(500);
  for (size_t i = 1; i < out.data.size(); ++i)
    b.OnData(out.data[i], arrival, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.counters().reorder_dropped, 1u);
  EXPECT_EQ(b.bytes_held(), 20u);
  Outgoing ack;
  b.Poll(arrival, &ack);
  ASSERT_TRUE(ack.ack.has_value());
  EXPECT_EQ(ack.ack->cumulative, 0u);
  EXPECT_EQ(std::vector<AckRange>(ack.ack->ranges.begin(), ack.ack->ranges.end()),
            (std::vector<AckRange>{{2, 3}}));
  std::vector<uint64_t> acknowledged;
  a.OnAck(*ack.ack, kStart + absl::Milliseconds(1), &acknowledged);
  EXPECT_THAT(acknowledged, UnorderedElementsAre(1, 2));

  // Resends, by timeout, bring 1 and 4; everything is handed up in order.
  absl::Time now = kStart + absl::Milliseconds(1);
  while (deliveries.size() < 4 && now < kStart + absl::Seconds(1)) {
    now += absl::Milliseconds(1);
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) b.OnData(frame, now, &deliveries);
  }
  std::vector<uint8_t> order;
  for (const Delivery& delivery : deliveries) order.push_back(delivery.payload[0]);
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, CloseReleasesEveryTokenAndLaterCallsDoNothing) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, true, 11));
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 12));
  a.SendBestEffort(Bytes(8));
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  a.OnData(Reliable(2, payload, true), kStart, &deliveries);
  EXPECT_EQ(a.bytes_held(), 32u);
  std::vector<uint64_t> released;
  a.Close(&released);
  EXPECT_THAT(released, UnorderedElementsAre(11, 12));
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
  EXPECT_THAT(a.SendReliable(Bytes(8), kFarFuture, false, 13),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(out.data, IsEmpty());
  EXPECT_FALSE(out.ack.has_value());
}

}  // namespace
}  // namespace glue::transport
