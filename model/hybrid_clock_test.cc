#include "glue/model/hybrid_clock.h"

#include <gtest/gtest.h>

namespace glue::model {
namespace {

const absl::Time kNoon = absl::FromUnixSeconds(1'764'936'000);  // 2025-12-05 12:00

TEST(HybridClock, FollowsPhysicalTimeAndCountsWithinAMillisecond) {
  HybridClock clock;
  const HybridTime first = clock.Tick(kNoon);
  EXPECT_EQ(first.time(), kNoon);
  EXPECT_EQ(first.counter(), 0u);
  const HybridTime second = clock.Tick(kNoon + absl::Microseconds(300));
  EXPECT_EQ(second.milliseconds(), first.milliseconds());
  EXPECT_EQ(second.counter(), 1u);
  const HybridTime later = clock.Tick(kNoon + absl::Milliseconds(5));
  EXPECT_EQ(later.time(), kNoon + absl::Milliseconds(5));
  EXPECT_EQ(later.counter(), 0u);
  EXPECT_LT(first, second);
  EXPECT_LT(second, later);
  EXPECT_EQ(Format(later), "2025-12-05T12:00:00.005+00:00/0");
}

TEST(HybridClock, APhysicalClockThatGoesBackDoesNotTakeTheTimesBack) {
  HybridClock clock;
  const HybridTime before = clock.Tick(kNoon);
  const HybridTime after = clock.Tick(kNoon - absl::Minutes(5));
  EXPECT_GT(after, before);
  EXPECT_EQ(after.milliseconds(), before.milliseconds());
  EXPECT_EQ(after.counter(), 1u);
}

TEST(HybridClock, AnEventAfterSeeingAPeersIsLaterThoughOurClockIsBehind) {
  HybridClock ours;
  HybridClock theirs;
  // Their clock runs 3 s ahead of ours: their write, then ours after seeing it.
  const HybridTime their_write = theirs.Tick(kNoon + absl::Seconds(3));
  ours.Observe(their_write, kNoon);
  const HybridTime our_write = ours.Tick(kNoon + absl::Milliseconds(1));
  EXPECT_GT(our_write, their_write);
  EXPECT_EQ(ours.counters().observed_ahead, 0u);
  // Observing an older time changes nothing.
  ours.Observe(HybridTime::Of(1, 0), kNoon);
  EXPECT_EQ(ours.last(), our_write);
}

TEST(HybridClock, APeerFarAheadDragsOurClockNoFurtherThanMaxAhead) {
  HybridClock ours({.max_ahead = absl::Seconds(10)});
  const HybridTime far = HybridTime::Of(absl::ToUnixMillis(kNoon + absl::Minutes(5)), 7);
  ours.Observe(far, kNoon);
  EXPECT_EQ(ours.counters().observed_ahead, 1u);
  const HybridTime next = ours.Tick(kNoon);
  EXPECT_LE(next.time(), kNoon + absl::Seconds(10));
  EXPECT_GT(next.time(), kNoon + absl::Seconds(9));
  EXPECT_LT(next, far);
  // As physical time passes our times catch up with it, as if nothing had happened.
  EXPECT_EQ(ours.Tick(kNoon + absl::Seconds(11)).time(), kNoon + absl::Seconds(11));
}

TEST(HybridClock, MoreThanTheCounterHoldsInOneMillisecondMovesToTheNext) {
  HybridClock clock;
  HybridTime last = clock.Tick(kNoon);
  for (uint64_t i = 0; i < HybridTime::kMaxCounter; ++i) {
    const HybridTime next = clock.Tick(kNoon);
    ASSERT_GT(next, last);
    last = next;
  }
  EXPECT_EQ(last.counter(), HybridTime::kMaxCounter);
  const HybridTime overflowed = clock.Tick(kNoon);
  EXPECT_GT(overflowed, last);
  EXPECT_EQ(overflowed.time(), kNoon + absl::Milliseconds(1));
  EXPECT_EQ(clock.counters().counter_overflows, 1u);
}

TEST(HybridTime, PackedValuesOrderAsTheTimes) {
  EXPECT_LT(HybridTime::Of(5, HybridTime::kMaxCounter), HybridTime::Of(6, 0));
  EXPECT_EQ(HybridTime::Of(5, 9).milliseconds(), 5u);
  EXPECT_EQ(HybridTime::Of(5, 9).counter(), 9u);
  EXPECT_EQ(HybridTime{}.time(), absl::UnixEpoch());
}

}  // namespace
}  // namespace glue::model
