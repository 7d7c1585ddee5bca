#include "glue/transport/send_window.h"

#include "glue/base/status_matchers.h"

namespace glue::transport {
namespace {

using ::glue::testing::StatusIs;
using serialization::AckFrame;
using serialization::AckRange;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const absl::Time kWindowStart = absl::FromUnixSeconds(1000);
const absl::Duration kRto = absl::Milliseconds(10);
const absl::Time kWindowFarFuture = kWindowStart + absl::Hours(1);

std::vector<uint8_t> WindowPayload(size_t n) { return std::vector<uint8_t>(n, 0x5a); }

std::vector<uint64_t> Sequences(const std::vector<const PendingFrame*>& frames) {
  std::vector<uint64_t> sequences;
  for (const PendingFrame* f : frames) sequences.push_back(f->sequence);
  return sequences;
}

// A window with frames 1..n queued, tokens 101..100+n.
void Fill(SendWindow& window, int n, absl::Time expiry = kWindowFarFuture) {
  for (int i = 1; i <= n; ++i) {
    ASSERT_OK(window.Add(WindowPayload(10), 0, expiry, 100 + static_cast<uint64_t>(i)));
  }
}

TEST(SendWindow, SendsEachFrameOnceUntilItsTimeoutPasses) {
  SendWindow window;
  Fill(window, 3);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  EXPECT_THAT(Sequences(due), ElementsAre(1, 2, 3));
  due.clear();
  window.CollectDue(kWindowStart + kRto - absl::Nanoseconds(1), kRto, &due);
  EXPECT_THAT(due, IsEmpty());
  window.CollectDue(kWindowStart + kRto, kRto, &due);
  EXPECT_THAT(Sequences(due), ElementsAre(1, 2, 3));
  EXPECT_EQ(due[0]->transmissions, 2u);
  EXPECT_EQ(window.counters().sent, 3u);
  EXPECT_EQ(window.counters().resent, 3u);
  EXPECT_EQ(window.counters().timeouts, 1u);
}

TEST(SendWindow, ABurstWaitingBehindItselfIsNotResent) {
  // Frames sent later, or acknowledged, push the timeout back: a burst that drains
  // slowly through the receiver's queue is not sent again.
  SendWindow window;
  Fill(window, 2);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  Fill(window, 1);
  window.CollectDue(kWindowStart + kRto / 2, kRto, &due);
  EXPECT_EQ(window.NextDeadline(kRto), kWindowStart + kRto / 2 + kRto);
  due.clear();
  window.CollectDue(kWindowStart + kRto, kRto, &due);
  EXPECT_THAT(due, IsEmpty());
  window.OnAck({.cumulative = 1}, kWindowStart + kRto + kRto / 4);
  EXPECT_EQ(window.NextDeadline(kRto), kWindowStart + 2 * kRto + kRto / 4);
  window.CollectDue(kWindowStart + 2 * kRto, kRto, &due);
  EXPECT_THAT(due, IsEmpty());
  EXPECT_EQ(window.counters().resent, 0u);
  // Silence for rto: what is still outstanding goes again.
  window.CollectDue(kWindowStart + 2 * kRto + kRto / 4, kRto, &due);
  EXPECT_THAT(Sequences(due), ElementsAre(2, 3));
}

TEST(SendWindow, AnOrderedFrameAcknowledgedAboveAGapHoldsItsRoom) {
  // The receiver holds ordered frames above a gap until it fills, in a buffer as large
  // as the window: they count until the cumulative acknowledgement passes them.
  SendWindow window({.max_bytes = 30});
  for (uint64_t token = 1; token <= 3; ++token) {
    ASSERT_OK(window.Add(WindowPayload(10), kFlagReliable | kFlagOrdered,
                         kWindowFarFuture, token));
  }
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  window.OnAck({.cumulative = 0, .ranges = {{.first = 2, .last = 3}}}, kWindowStart);
  EXPECT_EQ(window.size(), 1u);
  EXPECT_EQ(window.bytes(), 30u);
  EXPECT_FALSE(window.HasRoom(1));
  window.OnAck({.cumulative = 3}, kWindowStart);
  EXPECT_EQ(window.bytes(), 0u);
  EXPECT_TRUE(window.HasRoom(30));
  // Unordered frames are handed up at once: an ack above a gap frees their room.
  ASSERT_OK(window.Add(WindowPayload(10), kFlagReliable, kWindowFarFuture, 4));
  ASSERT_OK(window.Add(WindowPayload(10), kFlagReliable, kWindowFarFuture, 5));
  window.CollectDue(kWindowStart, kRto, &due);
  window.OnAck({.cumulative = 3, .ranges = {{.first = 5, .last = 5}}}, kWindowStart);
  EXPECT_EQ(window.bytes(), 10u);
}

TEST(SendWindow, CumulativeAndRangeAcksRemoveFramesAndReportTheirTokens) {
  SendWindow window;
  Fill(window, 5);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  const AckRange ranges[] = {{4, 4}};
  const AckOutcome outcome = window.OnAck(AckFrame{.cumulative = 2, .ranges = ranges},
                                          kWindowStart + absl::Microseconds(300));
  EXPECT_THAT(outcome.acknowledged, ElementsAre(101, 102, 104));
  EXPECT_EQ(outcome.rtt_sample, absl::Microseconds(300));
  EXPECT_EQ(window.size(), 2u);
  EXPECT_EQ(window.bytes(), 20u);
  // A second copy of the same acknowledgement changes nothing.
  const AckOutcome again =
      window.OnAck(AckFrame{.cumulative = 2, .ranges = ranges}, kWindowStart);
  EXPECT_THAT(again.acknowledged, IsEmpty());
  EXPECT_EQ(window.counters().acknowledged, 3u);
}

TEST(SendWindow, TakesRttSamplesOnlyFromFramesSentOnce) {
  SendWindow window;
  Fill(window, 1);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  window.CollectDue(kWindowStart + kRto, kRto, &due);  // resent: its ack is ambiguous
  const AckOutcome outcome =
      window.OnAck(AckFrame{.cumulative = 1}, kWindowStart + 2 * kRto);
  EXPECT_THAT(outcome.acknowledged, ElementsAre(101));
  EXPECT_EQ(outcome.rtt_sample, std::nullopt);
}

TEST(SendWindow, FastRetransmitsAFrameOnceLaterOnesAreAcknowledged) {
  SendWindow window;  // threshold 3
  Fill(window, 5);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  // 5 arrived, 1 and 2 are three or more below it: lost. 3 and 4 are not yet.
  const AckRange five[] = {{5, 5}};
  const AckOutcome outcome =
      window.OnAck(AckFrame{.cumulative = 0, .ranges = five}, kWindowStart);
  EXPECT_EQ(outcome.marked_lost, 2u);
  due.clear();
  window.CollectDue(kWindowStart + absl::Microseconds(10), kRto,
                    &due);  // long before the RTO
  EXPECT_THAT(Sequences(due), ElementsAre(1, 2));
  EXPECT_EQ(window.counters().fast_retransmits, 2u);
  // The same evidence does not mark the resent frames again.
  EXPECT_EQ(
      window.OnAck(AckFrame{.cumulative = 0, .ranges = five}, kWindowStart).marked_lost,
      0u);
}

TEST(SendWindow, ExpiredFramesAreReportedAndNeverResent) {
  SendWindow window;
  Fill(window, 2, kWindowStart + 5 * kRto);
  ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, 103));
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  std::vector<uint64_t> expired;
  EXPECT_EQ(window.Expire(kWindowStart + 5 * kRto - absl::Nanoseconds(1), &expired), 0u);
  EXPECT_EQ(window.Expire(kWindowStart + 5 * kRto, &expired), 2u);
  EXPECT_THAT(expired, ElementsAre(101, 102));
  due.clear();
  window.CollectDue(kWindowStart + 6 * kRto, kRto, &due);
  EXPECT_THAT(Sequences(due), ElementsAre(3));
  EXPECT_EQ(window.counters().expired, 2u);
}

TEST(SendWindow, FramesExpireInTheOrderOfTheirExpiriesWhateverTheOrderAdded) {
  SendWindow window;
  const absl::Duration expiries[] = {absl::Hours(1), 5 * kRto, 5 * kRto,      2 * kRto,
                                     7 * kRto,       3 * kRto, absl::Hours(1)};
  uint64_t token = 100;
  for (absl::Duration expiry : expiries) {
    ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowStart + expiry, ++token));
  }
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  window.OnAck(AckFrame{.cumulative = 0, .ranges = {{.first = 3, .last = 3}}},
               kWindowStart);
  EXPECT_EQ(window.NextDeadline(absl::Hours(2)), kWindowStart + 2 * kRto);
  std::vector<uint64_t> expired;
  EXPECT_EQ(window.Expire(kWindowStart + 5 * kRto, &expired), 3u);
  EXPECT_THAT(expired, ElementsAre(104, 106, 102));  // 103 was acknowledged
  EXPECT_EQ(window.NextDeadline(absl::Hours(2)), kWindowStart + 7 * kRto);
  EXPECT_EQ(window.Expire(kWindowStart + 10 * kRto, &expired), 1u);
  EXPECT_EQ(expired.back(), 105u);
  EXPECT_EQ(window.size(), 2u);
  EXPECT_EQ(window.lowest_held(), 1u);
}

TEST(SendWindow, AFrameAcknowledgedAboveALostOneKeepsItsPlaceInTheSpan) {
  // The frame bound is on sequence numbers, from the lowest held to the newest: what
  // the ring holding them weighs.
  SendWindow window({.max_frames = 3});
  Fill(window, 3);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  window.OnAck(AckFrame{.cumulative = 0, .ranges = {{.first = 2, .last = 3}}},
               kWindowStart);
  EXPECT_EQ(window.size(), 1u);
  EXPECT_EQ(window.bytes(), 10u);
  EXPECT_THAT(window.Add(WindowPayload(1), 0, kWindowFarFuture, 104),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("3 frames")));
  window.OnAck(AckFrame{.cumulative = 3}, kWindowStart);
  EXPECT_EQ(window.lowest_held(), 4u);
  EXPECT_OK(window.Add(WindowPayload(1), 0, kWindowFarFuture, 104));
}

TEST(SendWindow, KeepsEveryFrameAcrossTheRingGrowingAndWrapping) {
  // Frames acknowledged out of order while the ring grows and wraps: each token is
  // reported once, and the rest stay where they are found.
  SendWindow window({.max_frames = 1000});
  std::vector<uint64_t> acknowledged;
  std::vector<const PendingFrame*> due;
  uint64_t added = 0;
  for (int round = 0; round < 50; ++round) {
    while (window.HasRoom(10))
      ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, ++added));
    due.clear();
    window.CollectDue(kWindowStart, kRto, &due);
    // Every other frame of the newest half, then everything to a point behind it.
    const uint64_t low = window.lowest_held(), high = window.next_sequence() - 1;
    std::vector<serialization::AckRange> ranges;
    for (uint64_t s = high; s > (low + high) / 2; s -= 2) ranges.push_back({s, s});
    AckOutcome outcome = window.OnAck(AckFrame{.ranges = ranges}, kWindowStart);
    acknowledged.insert(acknowledged.end(), outcome.acknowledged.begin(),
                        outcome.acknowledged.end());
    outcome = window.OnAck(AckFrame{.cumulative = (low + high) / 2}, kWindowStart);
    acknowledged.insert(acknowledged.end(), outcome.acknowledged.begin(),
                        outcome.acknowledged.end());
  }
  std::vector<uint64_t> released;
  window.Clear(&released);
  acknowledged.insert(acknowledged.end(), released.begin(), released.end());
  std::sort(acknowledged.begin(), acknowledged.end());
  ASSERT_EQ(acknowledged.size(), added);
  for (uint64_t i = 0; i < added; ++i) ASSERT_EQ(acknowledged[i], i + 1);
  EXPECT_GT(added, 10000u);
}

TEST(SendWindow, AFrameNotSentBeforeItsExpiryIsNeverSent) {
  SendWindow window;
  ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowStart, 101));
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  EXPECT_THAT(due, IsEmpty());
}

TEST(SendWindow, RefusesBeyondItsBoundsWithoutAddingAnything) {
  SendWindow window({.max_bytes = 25, .max_frames = 2});
  ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, 1));
  EXPECT_THAT(window.Add(WindowPayload(20), 0, kWindowFarFuture, 2),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("25 bytes")));
  ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, 3));
  EXPECT_THAT(window.Add(WindowPayload(1), 0, kWindowFarFuture, 4),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("2 frames")));
  EXPECT_THAT(window.Add(WindowPayload(26), 0, kWindowFarFuture, 5),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("26 bytes")));
  EXPECT_EQ(window.size(), 2u);
  EXPECT_EQ(window.bytes(), 20u);
  EXPECT_EQ(window.counters().refused, 2u);
  // Room again once acknowledged.
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  window.OnAck(AckFrame{.cumulative = 1}, kWindowStart);
  EXPECT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, 6));
}

TEST(SendWindow, CountsAndIgnoresAcknowledgementsOfUnsentSequenceNumbers) {
  SendWindow window;
  Fill(window, 3);
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  ASSERT_OK(window.Add(WindowPayload(10), 0, kWindowFarFuture, 104));  // queued, not sent
  const AckRange bogus[] = {{4, 4}, {50, 60}};
  const AckOutcome outcome =
      window.OnAck(AckFrame{.cumulative = 10, .ranges = bogus}, kWindowStart);
  EXPECT_THAT(outcome.acknowledged, ElementsAre(101, 102, 103));
  EXPECT_EQ(outcome.unknown, 6u + 1u + 1u + 11u);  // 5..10, 4 (unsent) twice, 50..60
  EXPECT_EQ(window.size(), 1u);
  EXPECT_EQ(window.counters().unknown_acks, outcome.unknown);
}

TEST(SendWindow, ClearReleasesEverythingForAPeerThatIsGone) {
  SendWindow window;
  Fill(window, 3);
  std::vector<uint64_t> released;
  window.Clear(&released);
  EXPECT_THAT(released, ElementsAre(101, 102, 103));
  EXPECT_EQ(window.size(), 0u);
  EXPECT_EQ(window.bytes(), 0u);
  EXPECT_EQ(window.counters().released, 3u);
}

TEST(SendWindow, NextDeadlineIsTheEarliestSendResendOrExpiry) {
  SendWindow window;
  EXPECT_EQ(window.NextDeadline(kRto), std::nullopt);
  Fill(window, 1, kWindowStart + 3 * kRto);
  EXPECT_EQ(window.NextDeadline(kRto), absl::InfinitePast());  // never sent: now
  std::vector<const PendingFrame*> due;
  window.CollectDue(kWindowStart, kRto, &due);
  EXPECT_EQ(window.NextDeadline(kRto), kWindowStart + kRto);
  EXPECT_EQ(window.NextDeadline(5 * kRto),
            kWindowStart + 3 * kRto);  // expiry comes first
}

TEST(SendWindow, ValidateNamesTheBadOption) {
  EXPECT_OK(SendWindow::Validate({}));
  EXPECT_THAT(SendWindow::Validate({.max_bytes = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_bytes")));
  EXPECT_THAT(SendWindow::Validate({.max_frames = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_frames")));
  EXPECT_THAT(SendWindow::Validate({.fast_retransmit_threshold = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("fast_retransmit_threshold")));
}

}  // namespace
}  // namespace glue::transport
