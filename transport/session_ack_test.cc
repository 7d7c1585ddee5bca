// Session: when acknowledgements go, and how resends follow from them.
#include <algorithm>
#include <iostream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
#include "glue/transport/session.h"
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

TEST(Session, AckRidesOnDataWhenThereIsSome) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_OK(b.SendReliable(Bytes(4), kFarFuture, false, 7));
  Outgoing out;
  b.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  ASSERT_TRUE(out.ack.has_value());
  EXPECT_EQ(out.ack->cumulative, 1u);
  EXPECT_THAT(out.ack->ranges, IsEmpty());
  // Nothing is left for an ack-only Poll.
  b.Poll(kStart + absl::Milliseconds(2), &out);
  EXPECT_THAT(out.data, IsEmpty());
  EXPECT_FALSE(out.ack.has_value());
  EXPECT_EQ(b.counters().acks_sent, 1u);
}

TEST(Session, AckWithoutDataWaitsForTheAckDelay) {
  SessionOptions options;
  options.ack_delay = absl::Milliseconds(2);
  Session b(options);
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  b.OnData(Reliable(2, payload), kStart + absl::Milliseconds(1), &deliveries);
  EXPECT_EQ(b.NextDeadline(), kStart + absl::Milliseconds(2));
  Outgoing out;
  b.Poll(kStart + absl::Microseconds(1999), &out);
  EXPECT_FALSE(out.ack.has_value());
  b.Poll(kStart + absl::Milliseconds(2), &out);
  EXPECT_THAT(out.data, IsEmpty());
  ASSERT_TRUE(out.ack.has_value());
  EXPECT_EQ(out.ack->cumulative, 2u);
  EXPECT_EQ(b.NextDeadline(), std::nullopt);
}

TEST(Session, AnAckGoesAtOnceEveryAckEveryFramesFrames) {
  SessionOptions options;
  options.ack_every_frames = 3;
  Session b(options);
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  Outgoing out;
  for (uint64_t sequence = 1; sequence <= 6; ++sequence) {
    b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    const bool third = sequence % 3 == 0;
    EXPECT_EQ(b.NextDeadline(), third ? absl::InfinitePast() : kStart + options.ack_delay)
        << sequence;
    b.Poll(kStart, &out);
    EXPECT_EQ(out.ack.has_value(), third) << sequence;
  }
  EXPECT_EQ(out.ack->cumulative, 6u);
  EXPECT_EQ(b.counters().acks_sent, 2u);
}

TEST(Session, DuplicateOrOutOfOrderFrameIsAcknowledgedAtOnce) {
  struct Case {
    std::string name;
    std::vector<uint64_t> arrivals;
    uint64_t cumulative;
    std::vector<AckRange> ranges;
  };
  const Case cases[] = {
      {"duplicate", {1, 1}, 1, {}},
      {"out of order", {1, 3}, 1, {{3, 3}}},
      {"two gaps", {2, 4, 6}, 0, {{6, 6}, {4, 4}, {2, 2}}},
  };
  const std::vector<uint8_t> payload = Bytes(8);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Session b;
    std::vector<Delivery> deliveries;
    Outgoing out;
    for (uint64_t sequence : c.arrivals) {
      b.Poll(kStart, &out);  // clears what is owed
      b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    }
    EXPECT_EQ(b.NextDeadline(), absl::InfinitePast());
    b.Poll(kStart, &out);
    ASSERT_TRUE(out.ack.has_value());
    EXPECT_EQ(out.ack->cumulative, c.cumulative);
    EXPECT_EQ(std::vector<AckRange>(out.ack->ranges.begin(), out.ack->ranges.end()),
              c.ranges);
  }
}

TEST(Session, FramesInOrderAboveAnOldGapWaitForTheAckDelay) {
  // 1 is lost; 2 opens the gap and 5 fills nothing but jumps: both are acknowledged
  // at once. 3 and 4 follow the highest in order: every datagram behind a loss would
  // otherwise draw an ack of its own. 1, when it comes, fills the gap: at once.
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  Outgoing out;
  for (const auto& [sequence, at_once] : std::vector<std::pair<uint64_t, bool>>{
           {2, true}, {3, false}, {4, false}, {6, true}, {5, true}, {1, true}}) {
    b.Poll(kStart, &out);  // clears what is owed
    b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    EXPECT_EQ(b.NextDeadline(),
              at_once ? absl::InfinitePast() : kStart + SessionOptions().ack_delay)
        << sequence;
  }
}

// Acknowledges `ranges` (and nothing cumulatively) at `session`.
std::vector<uint64_t> Ack(Session& session, uint64_t cumulative,
                          std::vector<AckRange> ranges, absl::Time now) {
  std::vector<uint64_t> acknowledged;
  session.OnAck(AckFrame{.cumulative = cumulative, .ranges = ranges}, now, &acknowledged);
  return acknowledged;
}

TEST(Session, FastRetransmitResendsALostFrameBeforeItsTimeout) {
  Session a;
  for (uint64_t token = 1; token <= 5; ++token) {
    ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, token));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1, 2, 3, 4, 5));
  const absl::Duration rto = a.counters().rto;
  // Frame 1 lost; 2..5 acknowledged.
  const absl::Time acked_at = kStart + absl::Milliseconds(1);
  EXPECT_THAT(Ack(a, 0, {{2, 5}}, acked_at), UnorderedElementsAre(2, 3, 4, 5));
  a.Poll(acked_at, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_LT(acked_at, kStart + rto);
  EXPECT_EQ(a.counters().data_resent, 1u);
  EXPECT_EQ(a.counters().fast_retransmits, 1u);
  EXPECT_EQ(a.counters().timeouts, 0u);
  // A fast retransmit is no timeout: the RTO stands on the sample alone.
  RttEstimator expected;
  expected.OnSample(absl::Milliseconds(1));
  EXPECT_EQ(a.counters().rto, expected.rto());
}

TEST(Session, TimeoutResendBacksOffAndAnRttSampleResetsIt) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 1));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  const absl::Duration initial = a.counters().rto;
  EXPECT_EQ(a.NextDeadline(), kStart + initial);
  a.Poll(kStart + initial - absl::Microseconds(1), &out);
  EXPECT_THAT(out.data, IsEmpty());
  // The first timeout resends without backing off: one loss says little.
  a.Poll(kStart + initial, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_EQ(a.counters().rto, initial);
  EXPECT_EQ(a.counters().data_resent, 1u);
  EXPECT_EQ(a.counters().timeouts, 1u);
  EXPECT_EQ(a.counters().fast_retransmits, 0u);
  // The resend timing out too does: twice the timeout until the next one.
  const absl::Time second = kStart + 2 * initial;
  a.Poll(second, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_EQ(a.counters().rto, 2 * initial);
  EXPECT_EQ(a.NextDeadline(), second + 2 * initial);
  EXPECT_EQ(a.counters().data_resent, 2u);

  // Frame 2 is sent once, so its acknowledgement is a sample (Karn), which resets the
  // backoff.
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 2));
  const absl::Time sent_at = second + absl::Milliseconds(1);
  a.Poll(sent_at, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(2));
  EXPECT_THAT(Ack(a, 2, {}, sent_at + absl::Milliseconds(2)), UnorderedElementsAre(1, 2));
  RttEstimator expected;
  expected.OnSample(absl::Milliseconds(2));
  EXPECT_EQ(a.counters().rto, expected.rto());
  EXPECT_EQ(a.counters().smoothed_rtt, absl::Milliseconds(2));
}

TEST(Session, AFrameNeverAcknowledgedExpiresAndIsNeverResent) {
  Session a;
  const absl::Time expiry = kStart + absl::Seconds(1);
  ASSERT_OK(a.SendReliable(Bytes(100), expiry, true, 41));
  ASSERT_OK(a.SendReliable(Bytes(50), kFarFuture, true, 42));
  Outgoing out;
  std::vector<uint64_t> expired;
  // The peer is silent: resends with backoff until the expiry.
  uint64_t transmissions_of_1 = 0;
  for (absl::Time now = kStart; now < expiry; now += absl::Milliseconds(1)) {
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) transmissions_of_1 += frame.sequence == 1;
    a.Expire(now, &expired);
  }
  EXPECT_GT(transmissions_of_1, 1u);
  EXPECT_THAT(expired, IsEmpty());
  EXPECT_EQ(a.bytes_held(), 150u);
  a.Expire(expiry, &expired);
  EXPECT_THAT(expired, ElementsAre(41));
  EXPECT_EQ(a.counters().expired, 1u);
  EXPECT_EQ(a.bytes_held(), 50u);
  for (absl::Time now = expiry; now < expiry + absl::Seconds(10);
       now += absl::Milliseconds(10)) {
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) {
      if (frame.flags == kFlagSkip) {
        EXPECT_EQ(frame.sequence, 1u);  // the peer may give up 1
      } else {
        EXPECT_EQ(frame.sequence, 2u);
      }
    }
  }
  EXPECT_THAT(Ack(a, 2, {}, expiry + absl::Seconds(10)), ElementsAre(42));
  EXPECT_EQ(a.counters().unknown_acks, 0u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
}

TEST(Session, SendAtTheBoundIsRefusedUntilAcknowledged) {
  SessionOptions options;
  options.window.max_bytes = 100;
  Session a(options);
  ASSERT_OK(a.SendReliable(Bytes(60), kFarFuture, false, 1));
  ASSERT_OK(a.SendReliable(Bytes(40), kFarFuture, false, 2));
  EXPECT_THAT(a.SendReliable(Bytes(1), kFarFuture, false, 3),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(a.SendReliable(Bytes(101), kFarFuture, false, 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a.bytes_held(), 100u);
  EXPECT_EQ(a.counters().reliable_queued, 2u);
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1, 2));
  EXPECT_THAT(Ack(a, 1, {}, kStart + absl::Milliseconds(1)), ElementsAre(1));
  EXPECT_EQ(a.bytes_held(), 40u);
  ASSERT_OK_AND_ASSIGN(const uint64_t sequence,
                       a.SendReliable(Bytes(60), kFarFuture, false, 5));
  EXPECT_EQ(sequence, 3u);
}

TEST(Session, AcksOfUnknownSequencesAreCountedAndIgnored) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 1));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Ack(a, 0, {{5, 6}}, kStart), IsEmpty());
  EXPECT_EQ(a.counters().unknown_acks, 2u);
  EXPECT_EQ(a.bytes_held(), 8u);
}

}  // namespace
}  // namespace glue::transport
