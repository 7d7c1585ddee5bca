#include "glue/transport/receive_tracker.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <limits>
#include <random>
#include <set>
#include <utility>
#include <vector>

#include "glue/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::transport {
namespace {

using ::glue::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using Result = ReceiveTracker::Result;
using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;

constexpr size_t kAll = std::numeric_limits<size_t>::max();

std::pair<uint64_t, uint64_t> Range(uint64_t first, uint64_t last) {
  return {first, last};
}

// RangesOf returns what FillAck reports, as pairs that GoogleTest prints.
Ranges RangesOf(const ReceiveTracker& tracker, size_t max_ranges = kAll) {
  std::vector<serialization::AckRange> ranges;
  tracker.FillAck(max_ranges, &ranges);
  Ranges pairs;
  for (const serialization::AckRange& range : ranges) {
    pairs.emplace_back(range.first, range.last);
  }
  return pairs;
}

void ReceiveAll(ReceiveTracker& tracker, std::initializer_list<uint64_t> sequences) {
  for (uint64_t sequence : sequences) {
    ASSERT_EQ(tracker.OnReceived(sequence), Result::kNew) << sequence;
  }
}

TEST(ReceiveTracker, StartsWithNothingReceived) {
  ReceiveTracker tracker;
  EXPECT_EQ(tracker.cumulative(), 0u);
  EXPECT_EQ(tracker.highest(), 0u);
  EXPECT_EQ(tracker.missing(), 0u);
  EXPECT_EQ(tracker.range_count(), 0u);
  EXPECT_THAT(RangesOf(tracker), IsEmpty());
}

TEST(ReceiveTracker, InOrderArrivalsAdvanceTheCumulativePoint) {
  ReceiveTracker tracker;
  for (uint64_t sequence = 1; sequence <= 5; ++sequence) {
    EXPECT_EQ(tracker.OnReceived(sequence), Result::kNew);
    EXPECT_EQ(tracker.cumulative(), sequence);
    EXPECT_EQ(tracker.highest(), sequence);
  }
  EXPECT_EQ(tracker.range_count(), 0u);
  EXPECT_EQ(tracker.missing(), 0u);
}

TEST(ReceiveTracker, AnArrivalAboveAGapOpensARange) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 2, 5});
  EXPECT_EQ(tracker.cumulative(), 2u);
  EXPECT_EQ(tracker.highest(), 5u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(5, 5)));
}

TEST(ReceiveTracker, ArrivalsNextToARangeExtendItEitherWay) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {10, 9, 11});
  EXPECT_EQ(tracker.cumulative(), 0u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(9, 11)));
}

TEST(ReceiveTracker, FillingTheGapBetweenTwoRangesMergesThem) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 3, 5});
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(5, 5), Range(3, 3)));
  ReceiveAll(tracker, {4});
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(3, 5)));
  EXPECT_EQ(tracker.range_count(), 1u);
  EXPECT_EQ(tracker.cumulative(), 1u);
}

TEST(ReceiveTracker, FillingTheGapAtTheCumulativePointJumpsThroughTheRange) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 3, 4, 5, 8});
  ReceiveAll(tracker, {2});
  EXPECT_EQ(tracker.cumulative(), 5u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(8, 8)));
}

TEST(ReceiveTracker, ReportsDuplicatesBelowTheCumulativePointAndInsideRanges) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 2, 5, 6, 7});
  for (uint64_t sequence : {1, 2, 5, 6, 7}) {
    EXPECT_EQ(tracker.OnReceived(sequence), Result::kDuplicate) << sequence;
  }
  EXPECT_EQ(tracker.cumulative(), 2u);
  EXPECT_EQ(tracker.highest(), 7u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(5, 7)));
}

TEST(ReceiveTracker, RefusesZero) {
  ReceiveTracker tracker;
  EXPECT_EQ(tracker.OnReceived(0), Result::kInvalid);
  ReceiveAll(tracker, {1});
  EXPECT_EQ(tracker.OnReceived(0), Result::kInvalid);
  EXPECT_EQ(tracker.cumulative(), 1u);
}

TEST(ReceiveTracker, RefusesASequenceBeyondTheWindowWithoutStoringIt) {
  ReceiveTracker tracker({.window = 10});
  EXPECT_EQ(tracker.OnReceived(11), Result::kBeyondWindow);
  EXPECT_EQ(tracker.OnReceived(std::numeric_limits<uint64_t>::max()),
            Result::kBeyondWindow);
  EXPECT_EQ(tracker.highest(), 0u);
  EXPECT_EQ(tracker.range_count(), 0u);
  ReceiveAll(tracker, {10});
  ReceiveAll(tracker, {1});  // the window moves with the cumulative point
  ReceiveAll(tracker, {11});
  EXPECT_EQ(tracker.OnReceived(12), Result::kBeyondWindow);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(10, 11)));
}

TEST(ReceiveTracker, RefusesANewRangeBeyondMaxRangesYetTakesInOrderTraffic) {
  ReceiveTracker tracker({.max_ranges = 2});
  ReceiveAll(tracker, {1, 3, 5});
  EXPECT_EQ(tracker.OnReceived(7), Result::kOverflow);
  EXPECT_EQ(tracker.highest(), 5u);
  EXPECT_EQ(tracker.range_count(), 2u);
  // Arrivals that extend or join ranges need no new one.
  ReceiveAll(tracker, {6, 4});
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(3, 6)));
  ReceiveAll(tracker, {8});
  EXPECT_EQ(tracker.OnReceived(10), Result::kOverflow);
  ReceiveAll(tracker, {2});
  EXPECT_EQ(tracker.cumulative(), 6u);
  ReceiveAll(tracker, {7});
  EXPECT_EQ(tracker.cumulative(), 8u);
  ReceiveAll(tracker, {9, 10, 11});
  EXPECT_EQ(tracker.cumulative(), 11u);
  EXPECT_EQ(tracker.range_count(), 0u);
}

TEST(ReceiveTracker, WithNoRangesAllowedTakesOnlyInOrderTraffic) {
  ReceiveTracker tracker({.max_ranges = 0});
  EXPECT_EQ(tracker.OnReceived(2), Result::kOverflow);
  ReceiveAll(tracker, {1, 2});
  EXPECT_EQ(tracker.cumulative(), 2u);
}

TEST(ReceiveTracker, FillAckListsTheHighestRangesFirstAndTruncates) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 2, 4, 5, 7, 9, 10, 11});
  std::vector<serialization::AckRange> ranges = {{.first = 100, .last = 100}};
  EXPECT_EQ(tracker.FillAck(kAll, &ranges), 2u);
  EXPECT_THAT(ranges,
              ElementsAre(serialization::AckRange{9, 11}, serialization::AckRange{7, 7},
                          serialization::AckRange{4, 5}));
  EXPECT_THAT(RangesOf(tracker, 2), ElementsAre(Range(9, 11), Range(7, 7)));
  EXPECT_EQ(tracker.FillAck(0, &ranges), 2u);
  EXPECT_THAT(ranges, IsEmpty());
}

TEST(ReceiveTracker, MissingCountsTheGapsBelowTheHighest) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 4, 8});  // 2, 3, 5, 6, 7 missing
  EXPECT_EQ(tracker.missing(), 5u);
  ReceiveAll(tracker, {6});
  EXPECT_EQ(tracker.missing(), 4u);
  ReceiveAll(tracker, {2, 3, 5, 7});
  EXPECT_EQ(tracker.missing(), 0u);
  EXPECT_EQ(tracker.cumulative(), 8u);
}

TEST(ReceiveTracker, SkipToGivesUpGapsAndAbsorbsRanges) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 4, 5, 8, 10, 11});
  EXPECT_EQ(tracker.SkipTo(6), 3u);  // 2, 3, 6
  EXPECT_EQ(tracker.cumulative(), 6u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(10, 11), Range(8, 8)));
  EXPECT_EQ(tracker.missing(), 2u);  // 7, 9

  // 7 and 9 given up; 8 absorbed, and 10..11 right after the new point too.
  EXPECT_EQ(tracker.SkipTo(9), 2u);
  EXPECT_EQ(tracker.cumulative(), 11u);
  EXPECT_EQ(tracker.range_count(), 0u);
  EXPECT_EQ(tracker.missing(), 0u);
  EXPECT_EQ(tracker.OnReceived(9), Result::kDuplicate);
}

TEST(ReceiveTracker, SkipToInsideARangeMovesToItsEnd) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 5, 6, 7, 8, 9, 12});
  EXPECT_EQ(tracker.SkipTo(6), 3u);  // 2, 3, 4
  EXPECT_EQ(tracker.cumulative(), 9u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(12, 12)));
}

TEST(ReceiveTracker, SkipToAtOrBelowTheCumulativePointChangesNothing) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 2, 3, 6});
  EXPECT_EQ(tracker.SkipTo(3), 0u);
  EXPECT_EQ(tracker.SkipTo(1), 0u);
  EXPECT_EQ(tracker.cumulative(), 3u);
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(6, 6)));
}

TEST(ReceiveTracker, SkipToBeyondTheHighestRaisesIt) {
  ReceiveTracker tracker;
  ReceiveAll(tracker, {1, 3});
  EXPECT_EQ(tracker.SkipTo(20), 18u);  // all of 2..20 but 3
  EXPECT_EQ(tracker.cumulative(), 20u);
  EXPECT_EQ(tracker.highest(), 20u);
  EXPECT_EQ(tracker.missing(), 0u);
  ReceiveAll(tracker, {21});
}

TEST(ReceiveTracker, HandlesTheTopOfTheSequenceSpace) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  ReceiveTracker tracker;
  EXPECT_EQ(tracker.SkipTo(kMax - 3), kMax - 3);
  ReceiveAll(tracker, {kMax, kMax - 1});
  EXPECT_THAT(RangesOf(tracker), ElementsAre(Range(kMax - 1, kMax)));
  ReceiveAll(tracker, {kMax - 2});
  EXPECT_EQ(tracker.cumulative(), kMax);
  EXPECT_EQ(tracker.OnReceived(kMax), Result::kDuplicate);
  EXPECT_EQ(tracker.SkipTo(kMax), 0u);
}

TEST(ReceiveTracker, ResultNamesAreReadable) {
  EXPECT_EQ(ReceiveTracker::ResultName(Result::kNew), "new");
  EXPECT_EQ(ReceiveTracker::ResultName(Result::kDuplicate), "duplicate");
  EXPECT_EQ(ReceiveTracker::ResultName(Result::kBeyondWindow), "beyond window");
  EXPECT_EQ(ReceiveTracker::ResultName(Result::kOverflow), "overflow");
  EXPECT_EQ(ReceiveTracker::ResultName(Result::kInvalid), "invalid");
}

TEST(ReceiveTracker, ValidateRefusesAZeroWindow) {
  EXPECT_OK(ReceiveTracker::Validate({}));
  EXPECT_OK(ReceiveTracker::Validate({.window = 1, .max_ranges = 0}));
  EXPECT_THAT(ReceiveTracker::Validate({.window = 0}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("window")));
}

// Model is the obvious tracker: a set of everything received above the cumulative
// point, bounded by the window.
class Model {
 public:
  explicit Model(ReceiveTrackerOptions options) : options_(options) {}

  Result OnReceived(uint64_t sequence) {
    if (sequence == 0) return Result::kInvalid;
    if (sequence <= cumulative_ || above_.contains(sequence)) return Result::kDuplicate;
    if (sequence > cumulative_ + options_.window) return Result::kBeyondWindow;
    const bool joins = sequence == cumulative_ + 1 || above_.contains(sequence - 1) ||
                       above_.contains(sequence + 1);
    if (!joins && AckRanges().size() >= options_.max_ranges) return Result::kOverflow;
    above_.insert(sequence);
    highest_ = std::max(highest_, sequence);
    Advance();
    return Result::kNew;
  }

  uint64_t SkipTo(uint64_t sequence) {
    uint64_t given_up = 0;
    for (; cumulative_ < sequence; ++cumulative_) {
      if (above_.erase(cumulative_ + 1) == 0) ++given_up;
    }
    highest_ = std::max(highest_, cumulative_);
    Advance();
    return given_up;
  }

  // AckRanges returns the ranges above the cumulative point, highest first.
  Ranges AckRanges() const {
    Ranges ranges;
    for (auto it = above_.rbegin(); it != above_.rend(); ++it) {
      if (!ranges.empty() && ranges.back().first == *it + 1) {
        ranges.back().first = *it;
      } else {
        ranges.emplace_back(*it, *it);
      }
    }
    return ranges;
  }

  uint64_t missing() const { return highest_ - cumulative_ - above_.size(); }
  uint64_t cumulative() const { return cumulative_; }
  uint64_t highest() const { return highest_; }

 private:
  void Advance() {
    while (above_.erase(cumulative_ + 1) == 1) ++cumulative_;
  }

  const ReceiveTrackerOptions options_;
  uint64_t cumulative_ = 0;
  uint64_t highest_ = 0;
  std::set<uint64_t> above_;
};

// A sender over a lossy network: mostly fresh sequences, some lost and resent later,
// duplicates, stray and hostile values, and now and then a skip past what is lost.
TEST(ReceiveTracker, AgreesWithASetOnRandomTraffic) {
  const unsigned seed = std::random_device{}();
  std::printf("receive tracker seed: %u\n", seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  auto chance = [&](int percent) { return random() % 100 < unsigned(percent); };

  const ReceiveTrackerOptions options = {.window = 512, .max_ranges = 16};
  ReceiveTracker tracker(options);
  Model model(options);
  uint64_t next = 1;           // the sender's next fresh sequence
  std::vector<uint64_t> lost;  // sent, not arrived, to be resent
  int counts[5] = {};          // of each Result

  for (int step = 0; step < 100'000; ++step) {
    const unsigned action = random() % 100;
    if (action < 3) {
      const uint64_t to = model.cumulative() + random() % 64;
      ASSERT_EQ(tracker.SkipTo(to), model.SkipTo(to))
          << "step " << step << " skip " << to;
      std::erase_if(lost, [&](uint64_t s) { return s <= model.cumulative(); });
      next = std::max(next, model.cumulative() + 1);
    } else {
      uint64_t sequence;
      if (action < 60) {
        sequence = next++;
        if (chance(25)) {
          lost.push_back(sequence);
          continue;
        }
      } else if (action < 80 && !lost.empty()) {
        const size_t i = random() % lost.size();
        sequence = lost[i];
        lost[i] = lost.back();
        lost.pop_back();
      } else if (action < 92 && next > 1) {
        sequence = next - 1 - random() % std::min<uint64_t>(next - 1, 64);
      } else if (action < 98) {
        sequence = model.cumulative() + 1 + random() % (options.window + 16);
      } else if (action < 99) {
        sequence = random() % 2 == 0 ? 0 : std::numeric_limits<uint64_t>::max();
      } else {
        sequence = random();
      }
      const Result expected = model.OnReceived(sequence);
      ASSERT_EQ(tracker.OnReceived(sequence), expected)
          << "step " << step << " sequence " << sequence;
      ++counts[static_cast<int>(expected)];
      if ((expected == Result::kBeyondWindow || expected == Result::kOverflow) &&
          sequence < next) {
        lost.push_back(sequence);  // the sender resends what it sent and was refused
      }
    }
    ASSERT_EQ(tracker.cumulative(), model.cumulative()) << "step " << step;
    ASSERT_EQ(tracker.highest(), model.highest()) << "step " << step;
    ASSERT_EQ(tracker.missing(), model.missing()) << "step " << step;
    ASSERT_EQ(RangesOf(tracker), model.AckRanges()) << "step " << step;
  }
  // Every outcome occurred, so the comparison covered each path.
  for (int result = 0; result < 5; ++result) {
    EXPECT_GT(counts[result], 0)
        << ReceiveTracker::ResultName(static_cast<Result>(result));
  }
}

}  // namespace
}  // namespace glue::transport
