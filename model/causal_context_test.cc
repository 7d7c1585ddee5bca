#include "glue/model/causal_context.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <random>
#include <set>

namespace glue::model {
namespace {

using ::testing::ElementsAre;

const Writer kA{1, 100};
const Writer kB{2, 200};
const Writer kARestarted{1, 101};  // the same endpoint, another run

TEST(CausalContext, ADotSeenOutOfOrderWaitsForTheGapThenJoinsTheRun) {
  CausalContext seen;
  EXPECT_FALSE(seen.Contains({kA, 1}));
  EXPECT_EQ(seen.Next(kA), (Dot{kA, 1}));
  seen.Add({kA, 1});
  seen.Add({kA, 2});
  seen.Add({kA, 5});
  EXPECT_TRUE(seen.Contains({kA, 2}));
  EXPECT_FALSE(seen.Contains({kA, 3}));
  EXPECT_TRUE(seen.Contains({kA, 5}));
  EXPECT_EQ(seen.gaps(), 1u);
  EXPECT_EQ(seen.Next(kA), (Dot{kA, 6}));
  seen.Add({kA, 4});
  seen.Add({kA, 3});
  EXPECT_EQ(seen.gaps(), 0u);
  EXPECT_THAT(seen.Ranges(), ElementsAre(DotRange{kA, 1, 5}));
  // Another run of the same endpoint is another writer.
  EXPECT_FALSE(seen.Contains({kARestarted, 1}));
  EXPECT_EQ(seen.Next(kARestarted), (Dot{kARestarted, 1}));
  seen.Add({kA, 0});  // no dot
  EXPECT_FALSE(seen.Contains({kA, 0}));
}

TEST(CausalContext, MissingIsWhatTheOtherHasNotSeen) {
  CausalContext ours, theirs;
  ours.AddRange({kA, 1, 10});
  ours.AddRange({kB, 1, 3});
  theirs.AddRange({kA, 1, 4});
  theirs.Add({kA, 7});
  theirs.AddRange({kB, 1, 3});
  EXPECT_THAT(ours.Missing(theirs), ElementsAre(DotRange{kA, 5, 6}, DotRange{kA, 8, 10}));
  EXPECT_THAT(theirs.Missing(ours), ElementsAre());
  theirs.Merge(ours);
  EXPECT_EQ(theirs, ours);
  EXPECT_EQ(theirs.writers(), 2u);
}

TEST(CausalContext, AHugeRangeCostsOneRunNotOneEntryPerDot) {
  CausalContext seen;
  seen.AddRange({kA, 1'000'000, ~uint64_t{0}});
  seen.AddRange({kA, 10, 20});
  EXPECT_EQ(seen.gaps(), 2u);
  EXPECT_TRUE(seen.Contains({kA, ~uint64_t{0}}));
  EXPECT_FALSE(seen.Contains({kA, 999'999}));
  // The next dot of a writer at the largest counter stays there, not wrapping to 0.
  EXPECT_EQ(seen.Next(kA).counter, ~uint64_t{0});
  seen.AddRange({kA, 1, 999'999});
  EXPECT_EQ(seen.gaps(), 0u);
  EXPECT_THAT(seen.Ranges(), ElementsAre(DotRange{kA, 1, ~uint64_t{0}}));
}

// Random dots, ranges and merges against a reference of every dot as a set: contains,
// missing and ranges agree, and merging in any order gives equal contexts.
TEST(CausalContext, AgreesWithASetOfDotsUnderRandomAddsAndMerges) {
  const char* repeat = std::getenv("GLUE_TEST_SEED");
  const uint64_t seed =
      repeat != nullptr ? std::strtoull(repeat, nullptr, 10) : std::random_device()();
  std::printf("seed: %llu (GLUE_TEST_SEED repeats it)\n",
              static_cast<unsigned long long>(seed));
  std::mt19937_64 random(seed);
  const Writer writers[] = {kA, kB, kARestarted};
  for (int round = 0; round < 200; ++round) {
    CausalContext x, y;
    std::set<Dot> xs, ys;
    for (int i = 0; i < 40; ++i) {
      const Writer& w = writers[random() % 3];
      const uint64_t first = 1 + random() % 60;
      const uint64_t last = first + random() % 4;
      CausalContext& c = random() % 2 ? x : y;
      std::set<Dot>& s = &c == &x ? xs : ys;
      c.AddRange({w, first, last});
      for (uint64_t n = first; n <= last; ++n) s.insert({w, n});
    }
    for (const Writer& w : writers) {
      for (uint64_t n = 0; n <= 70; ++n) {
        ASSERT_EQ(x.Contains({w, n}), xs.contains({w, n})) << "seed " << seed;
      }
    }
    std::set<Dot> missing;
    for (const DotRange& r : x.Missing(y)) {
      for (uint64_t n = r.first; n <= r.last; ++n) missing.insert({r.writer, n});
    }
    std::set<Dot> expected;
    for (const Dot& d : xs) {
      if (!ys.contains(d)) expected.insert(d);
    }
    ASSERT_EQ(missing, expected) << "seed " << seed;
    CausalContext xy = x, yx = y;
    xy.Merge(y);
    yx.Merge(x);
    ASSERT_EQ(xy, yx) << "seed " << seed;
    ASSERT_TRUE(x.Missing(xy).empty()) << "seed " << seed;
    std::set<Dot> both;
    for (const DotRange& r : xy.Ranges()) {
      for (uint64_t n = r.first; n <= r.last; ++n) both.insert({r.writer, n});
    }
    std::set<Dot> expected_both = xs;
    expected_both.insert(ys.begin(), ys.end());
    ASSERT_EQ(both, expected_both) << "seed " << seed;
  }
}

}  // namespace
}  // namespace glue::model
