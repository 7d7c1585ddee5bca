#include "glue/transport/rtt_estimator.h"

#include <string>

#include "glue/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::transport {
namespace {

using ::absl::Microseconds;
using ::absl::Milliseconds;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RttEstimator, DefaultOptionsAreValid) {
  EXPECT_OK(RttEstimator::Validate(RttOptions{}));
}

TEST(RttEstimator, UsesTheInitialTimeoutBeforeAnySample) {
  RttEstimator rtt({.initial_rto = Milliseconds(70)});
  EXPECT_FALSE(rtt.has_sample());
  EXPECT_EQ(rtt.rto(), Milliseconds(70));
  EXPECT_EQ(rtt.smoothed(), absl::ZeroDuration());
  EXPECT_EQ(rtt.variance(), absl::ZeroDuration());
  EXPECT_EQ(rtt.latest(), absl::ZeroDuration());
  EXPECT_EQ(rtt.backoff_exponent(), 0);
}

TEST(RttEstimator, FollowsTheFormulasOfRfc6298) {
  RttEstimator rtt;  // G = 100 us, max_ack_delay = 1 ms, floor 5 ms

  rtt.OnSample(Milliseconds(8));  // srtt = R, rttvar = R/2
  EXPECT_TRUE(rtt.has_sample());
  EXPECT_EQ(rtt.latest(), Milliseconds(8));
  EXPECT_EQ(rtt.smoothed(), Milliseconds(8));
  EXPECT_EQ(rtt.variance(), Milliseconds(4));
  EXPECT_EQ(rtt.rto(), Milliseconds(8 + 16 + 1));

  // rttvar = 3/4 * 4 + 1/4 * |8 - 16| = 5; srtt = 7/8 * 8 + 1/8 * 16 = 9.
  rtt.OnSample(Milliseconds(16));
  EXPECT_EQ(rtt.latest(), Milliseconds(16));
  EXPECT_EQ(rtt.variance(), Milliseconds(5));
  EXPECT_EQ(rtt.smoothed(), Milliseconds(9));
  EXPECT_EQ(rtt.rto(), Milliseconds(9 + 20 + 1));

  // rttvar = 3/4 * 5 + 1/4 * |9 - 1| = 5.75; srtt = 7/8 * 9 + 1/8 * 1 = 8.
  rtt.OnSample(Milliseconds(1));
  EXPECT_EQ(rtt.variance(), Microseconds(5750));
  EXPECT_EQ(rtt.smoothed(), Milliseconds(8));
  EXPECT_EQ(rtt.rto(), Milliseconds(8 + 23 + 1));
}

TEST(RttEstimator, AddsTheGranularityWhenTheVarianceIsSmaller) {
  RttEstimator rtt({.min_rto = Milliseconds(5)});
  for (int i = 0; i < 60; ++i) rtt.OnSample(Milliseconds(10));
  EXPECT_EQ(rtt.smoothed(), Milliseconds(10));
  EXPECT_LT(rtt.variance() * 4, Microseconds(100));
  EXPECT_EQ(rtt.rto(), Milliseconds(10) + Microseconds(100) + Milliseconds(1));
}

TEST(RttEstimator, CountsAZeroOrNegativeSampleAsOneMicrosecond) {
  for (absl::Duration sample : {absl::ZeroDuration(), -Milliseconds(3)}) {
    SCOPED_TRACE(absl::FormatDuration(sample));
    RttEstimator rtt;
    rtt.OnSample(sample);
    EXPECT_EQ(rtt.latest(), Microseconds(1));
    EXPECT_EQ(rtt.smoothed(), Microseconds(1));
    EXPECT_EQ(rtt.variance(), absl::Nanoseconds(500));
  }
}

TEST(RttEstimator, HoldsTheTimeoutAtTheFloor) {
  RttEstimator rtt({.min_rto = Milliseconds(5), .max_ack_delay = absl::ZeroDuration()});
  rtt.OnSample(Microseconds(20));  // 20 + max(100, 40) us
  EXPECT_EQ(rtt.rto(), Milliseconds(5));
}

TEST(RttEstimator, HoldsTheTimeoutAtTheCeiling) {
  RttEstimator rtt({.max_rto = absl::Seconds(2)});
  rtt.OnSample(absl::Seconds(1));  // 1 + 2 s + 1 ms
  EXPECT_EQ(rtt.rto(), absl::Seconds(2));
}

TEST(RttEstimator, BackoffDoublesUpToTheCeilingAndThenStops) {
  RttEstimator rtt({.initial_rto = Milliseconds(100), .max_rto = absl::Seconds(2)});
  const absl::Duration expected[] = {Milliseconds(200), Milliseconds(400),
                                     Milliseconds(800), Milliseconds(1600),
                                     absl::Seconds(2)};
  for (int i = 0; i < 5; ++i) {
    rtt.Backoff();
    EXPECT_EQ(rtt.rto(), expected[i]) << "after " << i + 1 << " backoffs";
    EXPECT_EQ(rtt.backoff_exponent(), i + 1);
  }
  for (int i = 0; i < 100; ++i) rtt.Backoff();
  EXPECT_EQ(rtt.rto(), absl::Seconds(2));
  EXPECT_EQ(rtt.backoff_exponent(), 5);
}

TEST(RttEstimator, BackoffDoublesTheTimeoutHeldAtTheFloor) {
  RttEstimator rtt({.min_rto = Milliseconds(5)});
  rtt.OnSample(Microseconds(100));  // 0.1 + 0.2 + 1 ms, below the floor
  ASSERT_EQ(rtt.rto(), Milliseconds(5));
  rtt.Backoff();
  EXPECT_EQ(rtt.rto(), Milliseconds(10));
  rtt.Backoff();
  EXPECT_EQ(rtt.rto(), Milliseconds(20));
}

TEST(RttEstimator, ASampleResetsTheBackoff) {
  RttEstimator rtt;
  rtt.Backoff();
  rtt.Backoff();
  EXPECT_EQ(rtt.rto(), Milliseconds(400));
  rtt.OnSample(Milliseconds(8));
  EXPECT_EQ(rtt.backoff_exponent(), 0);
  EXPECT_EQ(rtt.rto(), Milliseconds(25));
  rtt.Backoff();
  EXPECT_EQ(rtt.rto(), Milliseconds(50));
}

TEST(RttEstimator, ValidateNamesTheOffendingField) {
  struct Case {
    std::string field;
    RttOptions options;
  };
  const absl::Duration infinite = absl::InfiniteDuration();
  const Case cases[] = {
      {"initial_rto", {.initial_rto = absl::ZeroDuration()}},
      {"initial_rto", {.initial_rto = -Milliseconds(1)}},
      {"initial_rto", {.initial_rto = Milliseconds(1), .min_rto = Milliseconds(2)}},
      {"initial_rto", {.initial_rto = absl::Seconds(3), .max_rto = absl::Seconds(2)}},
      {"initial_rto", {.initial_rto = infinite, .max_rto = infinite}},
      {"min_rto", {.min_rto = absl::ZeroDuration()}},
      {"min_rto", {.min_rto = absl::Seconds(3), .max_rto = absl::Seconds(2)}},
      {"max_rto", {.max_rto = absl::ZeroDuration()}},
      {"max_rto", {.max_rto = infinite}},
      {"granularity", {.granularity = -Microseconds(1)}},
      {"granularity", {.granularity = infinite}},
      {"max_ack_delay", {.max_ack_delay = -Microseconds(1)}},
      {"max_ack_delay", {.max_ack_delay = -infinite}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    EXPECT_THAT(RttEstimator::Validate(c.options),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("RttOptions." + c.field + " = ")));
  }
}

TEST(RttEstimator, ValidateAcceptsZeroGranularityAndAckDelayAndEqualBounds) {
  EXPECT_OK(RttEstimator::Validate({.initial_rto = Milliseconds(5),
                                    .min_rto = Milliseconds(5),
                                    .max_rto = Milliseconds(5),
                                    .granularity = absl::ZeroDuration(),
                                    .max_ack_delay = absl::ZeroDuration()}));
}

}  // namespace
}  // namespace glue::transport
