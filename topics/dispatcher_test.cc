#include "topics/dispatcher.h"

#include "gtest/gtest.h"

namespace glue::topics::internal {
namespace {

TEST(Subscription, StaysQuickAfterTwoStretchedCallsAndTurnsSlowAtThree) {
  Subscription sub("a", "t", [](const Message&) {});
  MutexLock lock(&sub.mu);
  EXPECT_TRUE(sub.quick());
  sub.Took(1'000'000'000);  // counted as 4 times the bound at most
  sub.Took(1'000'000'000);
  EXPECT_TRUE(sub.quick());
  sub.Took(1'000'000'000);
  EXPECT_FALSE(sub.quick());
}

TEST(Subscription, ABatchOfManyCallsReplacesTheAverage) {
  Subscription sub("a", "t", [](const Message&) {});
  MutexLock lock(&sub.mu);
  for (int i = 0; i < 10; ++i) sub.Took(4 * kQuickCallbackNanos);
  ASSERT_FALSE(sub.quick());
  sub.TookOnAverage(Subscription::kWholeAverageCalls * 1000,
                    Subscription::kWholeAverageCalls);
  EXPECT_TRUE(sub.quick());
  EXPECT_EQ(sub.average_nanos, 1000);
}

TEST(Subscription, AFewCallsCountAsOneSampleOfTheirAverage) {
  Subscription sub("a", "t", [](const Message&) {});
  MutexLock lock(&sub.mu);
  sub.TookOnAverage(8 * 800, 8);
  EXPECT_EQ(sub.average_nanos, 100);
}

}  // namespace
}  // namespace glue::topics::internal
