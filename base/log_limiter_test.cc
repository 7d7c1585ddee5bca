#include "glue/base/log_limiter.h"

#include "gtest/gtest.h"

namespace glue {
namespace {

TEST(LogLimiter, FirstOccurrenceIsLoggedAtOnce) {
  LogLimiter limiter(absl::Seconds(10));
  EXPECT_EQ(limiter.Admit(absl::FromUnixSeconds(100)), 1u);
}

TEST(LogLimiter, OccurrencesWithinThePeriodAreCountedIntoTheNextLine) {
  LogLimiter limiter(absl::Seconds(10));
  const absl::Time start = absl::FromUnixSeconds(100);
  ASSERT_EQ(limiter.Admit(start), 1u);
  for (int i = 1; i <= 4096; ++i) {
    EXPECT_EQ(limiter.Admit(start + absl::Milliseconds(i)), 0u) << i;
  }
  // The next line, a period later, stands for everything kept and itself.
  EXPECT_EQ(limiter.Admit(start + absl::Seconds(10)), 4097u);
  EXPECT_EQ(limiter.Admit(start + absl::Seconds(11)), 0u);
  EXPECT_EQ(limiter.Admit(start + absl::Seconds(20)), 2u);
}

}  // namespace
}  // namespace glue
