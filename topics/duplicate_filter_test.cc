#include "topics/duplicate_filter.h"

#include "gtest/gtest.h"

namespace glue::topics::internal {
namespace {

TEST(DuplicateFilter, PassesNewerSequencesAndDropsTheRest) {
  DuplicateFilter filter(10);
  uint64_t forgotten = 0;
  EXPECT_TRUE(filter.Fresh(1, "a", /*epoch=*/5, /*sequence=*/3, &forgotten));
  EXPECT_FALSE(filter.Fresh(1, "a", 5, 3, &forgotten));
  EXPECT_FALSE(filter.Fresh(1, "a", 5, 2, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "a", 5, 4, &forgotten));
  EXPECT_EQ(forgotten, 0u);
}

TEST(DuplicateFilter, AnotherEpochStartsOverWhetherLargerOrSmaller) {
  DuplicateFilter filter(10);
  uint64_t forgotten = 0;
  ASSERT_TRUE(filter.Fresh(1, "a", /*epoch=*/5, /*sequence=*/100, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "a", 6, 1, &forgotten));  // a restart
  EXPECT_FALSE(filter.Fresh(1, "a", 6, 1, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "a", 6, 2, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "a", 4, 1, &forgotten));  // one whose clock went back
  EXPECT_FALSE(filter.Fresh(1, "a", 4, 1, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "a", 4, 2, &forgotten));
  EXPECT_EQ(forgotten, 0u);
}

TEST(DuplicateFilter, KeepsPublishersAndTopicsApart) {
  DuplicateFilter filter(10);
  uint64_t forgotten = 0;
  ASSERT_TRUE(filter.Fresh(1, "a", 5, 3, &forgotten));
  EXPECT_TRUE(filter.Fresh(2, "a", 5, 3, &forgotten));
  EXPECT_TRUE(filter.Fresh(1, "b", 5, 3, &forgotten));
}

TEST(DuplicateFilter, ForgetsThePublisherHeardLeastRecentlyPastTheBound) {
  DuplicateFilter filter(2);
  uint64_t forgotten = 0;
  ASSERT_TRUE(filter.Fresh(1, "a", 5, 3, &forgotten));
  ASSERT_TRUE(filter.Fresh(2, "a", 5, 3, &forgotten));
  ASSERT_TRUE(filter.Fresh(1, "a", 5, 4, &forgotten));  // 2 is now the oldest
  ASSERT_TRUE(filter.Fresh(3, "a", 5, 3, &forgotten));  // forgets 2
  EXPECT_EQ(forgotten, 1u);
  EXPECT_FALSE(filter.Fresh(1, "a", 5, 4, &forgotten));  // 1 is remembered
  EXPECT_TRUE(filter.Fresh(2, "a", 5, 3, &forgotten));   // 2 was forgotten
  EXPECT_EQ(forgotten, 2u);
}

}  // namespace
}  // namespace glue::topics::internal
