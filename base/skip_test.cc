#include "glue/base/skip.h"

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace glue::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::ScopedFakeTestPartResultReporter;
using ::testing::TestPartResult;
using ::testing::TestPartResultArray;

// ScopedCi sets CI to `value` (unsets it for std::nullopt) and puts back what it was.
class ScopedCi {
 public:
  explicit ScopedCi(std::optional<std::string> value) {
    if (const char* old = std::getenv("CI")) saved_ = old;
    Set(value);
  }
  ~ScopedCi() { Set(saved_); }
  ScopedCi(const ScopedCi&) = delete;
  ScopedCi& operator=(const ScopedCi&) = delete;

 private:
  static void Set(const std::optional<std::string>& value) {
    if (value.has_value()) {
      ::setenv("CI", value->c_str(), 1);
    } else {
      ::unsetenv("CI");
    }
  }
  std::optional<std::string> saved_;
};

TEST(MustFailForMissing, IsFalseWhenCiIsUnset) {
  ScopedCi ci(std::nullopt);
  EXPECT_FALSE(MustFailForMissing());
}

TEST(MustFailForMissing, IsFalseWhenCiIsEmpty) {
  ScopedCi ci("");
  EXPECT_FALSE(MustFailForMissing());
}

TEST(MustFailForMissing, IsTrueForAnyOtherValue) {
  for (const char* value : {"1", "true", "false", "0", "yes"}) {
    SCOPED_TRACE(value);
    ScopedCi ci(value);
    EXPECT_TRUE(MustFailForMissing());
  }
}

// What a test lacking multicast does, and what happens after.
void LackMulticast(bool* went_on) {
  GLUE_SKIP_UNLESS_CI("loopback has no MULTICAST flag " << 42);
  *went_on = true;
}

// Outcome runs LackMulticast with its results caught, so that they do not end this
// test, and returns them.
std::vector<TestPartResult> Outcome(bool* went_on) {
  TestPartResultArray results;
  {
    ScopedFakeTestPartResultReporter reporter(
        ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &results);
    LackMulticast(went_on);
  }
  std::vector<TestPartResult> outcome;
  for (int i = 0; i < results.size(); ++i) {
    outcome.push_back(results.GetTestPartResult(i));
  }
  return outcome;
}

TEST(GlueSkipUnlessCi, SkipsWithTheMessageWhenCiIsUnset) {
  ScopedCi ci(std::nullopt);
  bool went_on = false;
  const std::vector<TestPartResult> results = Outcome(&went_on);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].type(), TestPartResult::kSkip);
  EXPECT_THAT(results[0].message(), HasSubstr("loopback has no MULTICAST flag 42"));
  EXPECT_FALSE(went_on);
}

TEST(GlueSkipUnlessCi, FailsWithTheMessageWhenCiIsSet) {
  ScopedCi ci("true");
  bool went_on = false;
  const std::vector<TestPartResult> results = Outcome(&went_on);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].type(), TestPartResult::kFatalFailure);
  EXPECT_THAT(results[0].message(),
              HasSubstr("CI is set, and this machine lacks what the test needs: "
                        "loopback has no MULTICAST flag 42"));
  EXPECT_FALSE(went_on);
}

}  // namespace
}  // namespace glue::testing
