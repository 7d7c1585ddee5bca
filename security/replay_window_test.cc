#include "glue/security/replay_window.h"

#include "gtest/gtest.h"

namespace glue::security {
namespace {

TEST(ReplayWindow, AcceptsEachSequenceOnce) {
  ReplayWindow window;
  for (uint64_t s = 1; s <= 3 * kReplayWindowSize; ++s) {
    ASSERT_EQ(window.Check(s), ReplayCheck::kFresh) << s;
    window.Advance(s);
    ASSERT_EQ(window.Check(s), ReplayCheck::kReplay) << s;
  }
  EXPECT_EQ(window.highest(), 3 * kReplayWindowSize);
}

TEST(ReplayWindow, SequenceZeroIsNeverAccepted) {
  ReplayWindow window;
  EXPECT_EQ(window.Check(0), ReplayCheck::kTooOld);
  window.Advance(0);
  EXPECT_EQ(window.highest(), 0u);
}

TEST(ReplayWindow, AcceptsReorderingWithinTheWindow) {
  ReplayWindow window;
  window.Advance(2000);
  const uint64_t oldest = 2000 - kReplayWindowSize + 1;
  EXPECT_EQ(window.Check(oldest), ReplayCheck::kFresh);
  window.Advance(oldest);
  EXPECT_EQ(window.Check(oldest), ReplayCheck::kReplay);
  EXPECT_EQ(window.Check(1500), ReplayCheck::kFresh);
  window.Advance(1500);
  EXPECT_EQ(window.Check(1500), ReplayCheck::kReplay);
  EXPECT_EQ(window.Check(1999), ReplayCheck::kFresh);
  EXPECT_EQ(window.highest(), 2000u);
}

TEST(ReplayWindow, RefusesSequencesBehindTheWindowAsTooOld) {
  ReplayWindow window;
  window.Advance(2000);
  EXPECT_EQ(window.Check(2000 - kReplayWindowSize), ReplayCheck::kTooOld);
  EXPECT_EQ(window.Check(1), ReplayCheck::kTooOld);
  window.Advance(1);
  EXPECT_EQ(window.Check(1), ReplayCheck::kTooOld);
}

TEST(ReplayWindow, SlidingForgetsTheSlotsItPassesOver) {
  ReplayWindow window;
  window.Advance(5);
  // 5 + kReplayWindowSize shares 5's slot of the bitmap; reaching it must not make it
  // look seen, nor keep 5 looking seen once it falls behind.
  EXPECT_EQ(window.Check(5 + kReplayWindowSize), ReplayCheck::kFresh);
  window.Advance(4 + kReplayWindowSize);
  EXPECT_EQ(window.Check(5 + kReplayWindowSize), ReplayCheck::kFresh);
  EXPECT_EQ(window.Check(5), ReplayCheck::kReplay);
  window.Advance(5 + kReplayWindowSize);
  EXPECT_EQ(window.Check(5), ReplayCheck::kTooOld);
  EXPECT_EQ(window.Check(6), ReplayCheck::kFresh);
}

TEST(ReplayWindow, JumpBeyondAWholeWindowForgetsEverything) {
  ReplayWindow window;
  for (uint64_t s = 1; s <= 100; ++s) window.Advance(s);
  window.Advance(100 + 5 * kReplayWindowSize);
  for (uint64_t s = 101 + 4 * kReplayWindowSize; s < 100 + 5 * kReplayWindowSize; ++s) {
    ASSERT_EQ(window.Check(s), ReplayCheck::kFresh) << s;
  }
  EXPECT_EQ(window.Check(100), ReplayCheck::kTooOld);
}

TEST(ReplayWindow, HandlesTheLargestSequences) {
  ReplayWindow window;
  const uint64_t top = ~uint64_t{0};
  window.Advance(top - 1);
  EXPECT_EQ(window.Check(top), ReplayCheck::kFresh);
  window.Advance(top);
  EXPECT_EQ(window.Check(top), ReplayCheck::kReplay);
  EXPECT_EQ(window.Check(top - 1), ReplayCheck::kReplay);
  EXPECT_EQ(window.Check(top - 2), ReplayCheck::kFresh);
  EXPECT_EQ(window.Check(top - kReplayWindowSize), ReplayCheck::kTooOld);
}

TEST(ReplayWindow, NamesItsResults) {
  EXPECT_EQ(ReplayCheckName(ReplayCheck::kFresh), "fresh");
  EXPECT_EQ(ReplayCheckName(ReplayCheck::kReplay), "replay");
  EXPECT_EQ(ReplayCheckName(ReplayCheck::kTooOld), "too old");
}

}  // namespace
}  // namespace glue::security
