#include "glue/base/environment.h"

#include <cstdlib>
#include <limits>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Optional;
using ::testing::StartsWith;

constexpr uint64_t kMaxUint64 = std::numeric_limits<uint64_t>::max();

TEST(MapEnvironment, ReturnsSetValuesAndNulloptForOthers) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_A", "1"}, {"GLUE_EMPTY", ""}});
  EXPECT_THAT(env("GLUE_A"), Optional(std::string("1")));
  EXPECT_THAT(env("GLUE_EMPTY"), Optional(std::string()));
  EXPECT_EQ(env("GLUE_B"), std::nullopt);
}

TEST(MapEnvironment, CopiesOfTheLookupShareTheValues) {
  EnvironmentLookup copy;
  {
    const EnvironmentLookup env = MapEnvironment({{"GLUE_A", "1"}});
    copy = env;
  }
  EXPECT_THAT(copy("GLUE_A"), Optional(std::string("1")));
}

TEST(ProcessEnvironment, ReadsGetenv) {
  // PATH is set in any environment that can run the test; a name nobody sets is not.
  const char* path = std::getenv("PATH");
  ASSERT_NE(path, nullptr);
  const EnvironmentLookup env = ProcessEnvironment();
  EXPECT_THAT(env("PATH"), Optional(std::string(path)));
  EXPECT_EQ(env("GLUE_TEST_VARIABLE_THAT_IS_NEVER_SET"), std::nullopt);
}

TEST(GetUint64, UnsetGivesTheFallbackEvenOutsideTheRange) {
  const EnvironmentLookup env = MapEnvironment({});
  ASSERT_OK_AND_ASSIGN(uint64_t seven, GetUint64(env, "GLUE_N", 7, 1, 10));
  EXPECT_EQ(seven, 7u);
  ASSERT_OK_AND_ASSIGN(uint64_t zero, GetUint64(env, "GLUE_N", 0, 1, 10));
  EXPECT_EQ(zero, 0u);
}

TEST(GetUint64, AcceptsDecimalIntegersInTheRange) {
  struct Case {
    const char* text;
    uint64_t min;
    uint64_t max;
    uint64_t want;
  };
  const Case cases[] = {
      {"1", 1, 3600000, 1},
      {"3600000", 1, 3600000, 3600000},
      {"0", 0, kMaxUint64, 0},
      {"007", 0, 10, 7},
      {"18446744073709551615", 0, kMaxUint64, kMaxUint64},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const EnvironmentLookup env = MapEnvironment({{"GLUE_N", c.text}});
    ASSERT_OK_AND_ASSIGN(uint64_t value, GetUint64(env, "GLUE_N", 42, c.min, c.max));
    EXPECT_EQ(value, c.want);
  }
}

TEST(GetUint64, RejectsMalformedAndOutOfRangeValues) {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"fast", "expected an integer in 1..3600000"},
      {"", "empty; expected an integer in 1..3600000"},
      {" 5", "leading or trailing whitespace"},
      {"5 ", "leading or trailing whitespace"},
      {"5\n", "leading or trailing whitespace"},
      {"0", "expected an integer in 1..3600000"},
      {"3600001", "expected an integer in 1..3600000"},
      {"-1", "expected an integer"},
      {"+1", "expected an integer"},
      {"0x10", "expected an integer"},
      {"1e3", "expected an integer"},
      {"1.5", "expected an integer"},
      {"5ms", "expected an integer"},
      {"1 000", "expected an integer"},
      {"18446744073709551616", "expected an integer"},
      {"99999999999999999999999", "expected an integer"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const EnvironmentLookup env =
        MapEnvironment({{"GLUE_DISCOVERY_RATE_MILLISECONDS", c.text}});
    EXPECT_THAT(
        GetUint64(env, "GLUE_DISCOVERY_RATE_MILLISECONDS", 1000, 1, 3600000),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(StartsWith(absl::StrCat("GLUE_DISCOVERY_RATE_MILLISECONDS='",
                                               absl::CHexEscape(c.text), "': ")),
                       HasSubstr(c.why))));
  }
}

TEST(GetUint64, OverflowIsAnErrorAtTheFullRange) {
  const EnvironmentLookup env =
      MapEnvironment({{"GLUE_NETWORK_ID", "18446744073709551616"}});
  EXPECT_THAT(GetUint64(env, "GLUE_NETWORK_ID", 1, 0, kMaxUint64),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "GLUE_NETWORK_ID='18446744073709551616': expected an integer in "
                       "0..18446744073709551615"));
}

TEST(GetUint64, EscapesUnprintableCharactersOfTheValue) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_N", std::string("1\x01'2", 4)}});
  EXPECT_THAT(
      GetUint64(env, "GLUE_N", 1, 0, 10),
      StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("GLUE_N='1\\x01\\'2': ")));
}

TEST(GetDouble, UnsetGivesTheFallback) {
  ASSERT_OK_AND_ASSIGN(double value, GetDouble(MapEnvironment({}), "GLUE_X", 0.25, 0, 1));
  EXPECT_EQ(value, 0.25);
}

TEST(GetDouble, AcceptsFiniteNumbersInTheRange) {
  struct Case {
    const char* text;
    double want;
  };
  const Case cases[] = {
      {"0", 0},   {"2", 2},     {"-0.5", -0.5}, {"1e-3", 0.001},
      {"10", 10}, {"-10", -10}, {"2.50", 2.5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const EnvironmentLookup env = MapEnvironment({{"GLUE_X", c.text}});
    ASSERT_OK_AND_ASSIGN(double value, GetDouble(env, "GLUE_X", 99, -10, 10));
    EXPECT_EQ(value, c.want);
  }
}

TEST(GetDouble, RejectsMalformedNonFiniteAndOutOfRangeValues) {
  struct Case {
    const char* text;
    const char* why;
  };
  const Case cases[] = {
      {"fast", "expected a finite number in -10..10"},
      {"", "empty"},
      {" 1", "leading or trailing whitespace"},
      {"1\t", "leading or trailing whitespace"},
      {"nan", "expected a finite number"},
      {"NaN", "expected a finite number"},
      {"inf", "expected a finite number"},
      {"-infinity", "expected a finite number"},
      {"1e400", "expected a finite number"},
      {"10.5", "expected a finite number in -10..10"},
      {"-11", "expected a finite number in -10..10"},
      {"+1", "expected a finite number"},
      {"0x1p3", "expected a finite number"},
      {"1,5", "expected a finite number"},
      {"1.5s", "expected a finite number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    const EnvironmentLookup env = MapEnvironment({{"GLUE_LOSS", c.text}});
    EXPECT_THAT(GetDouble(env, "GLUE_LOSS", 0, -10, 10),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith(absl::StrCat("GLUE_LOSS='",
                                                       absl::CHexEscape(c.text), "': ")),
                               HasSubstr(c.why))));
  }
}

TEST(GetString, ReturnsTheValueOrTheFallback) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_NAME", "a b"}});
  ASSERT_OK_AND_ASSIGN(std::string set, GetString(env, "GLUE_NAME", "x"));
  EXPECT_EQ(set, "a b");
  ASSERT_OK_AND_ASSIGN(std::string unset, GetString(env, "GLUE_OTHER", "x"));
  EXPECT_EQ(unset, "x");
}

TEST(GetString, RejectsEmptyAndSurroundingWhitespace) {
  const char* const cases[] = {"", " ", " a", "a ", "\ta"};
  for (const char* text : cases) {
    SCOPED_TRACE(absl::StrCat("'", text, "'"));
    const EnvironmentLookup env = MapEnvironment({{"GLUE_NAME", text}});
    EXPECT_THAT(
        GetString(env, "GLUE_NAME", "x"),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 StartsWith(absl::StrCat("GLUE_NAME='", absl::CHexEscape(text), "': "))));
    EXPECT_THAT(GetOptionalString(env, "GLUE_NAME"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GLUE_NAME")));
  }
}

TEST(GetOptionalString, TellsUnsetFromSet) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_NAME", "a"}});
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> set,
                       GetOptionalString(env, "GLUE_NAME"));
  EXPECT_THAT(set, Optional(std::string("a")));
  ASSERT_OK_AND_ASSIGN(std::optional<std::string> unset,
                       GetOptionalString(env, "GLUE_OTHER"));
  EXPECT_EQ(unset, std::nullopt);
}

TEST(VariableError, KeepsTheCodeAndQuotesTheValue) {
  EXPECT_THAT(VariableError("GLUE_LISTEN_INTERFACE", "eth9", absl::StatusCode::kNotFound,
                            "interface 'eth9' does not exist"),
              StatusIs(absl::StatusCode::kNotFound,
                       "GLUE_LISTEN_INTERFACE='eth9': interface 'eth9' does not exist"));
}

}  // namespace
}  // namespace glue
