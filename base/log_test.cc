#include "glue/base/log.h"

#include <string>
#include <utility>
#include <vector>

#include "glue/base/status_matchers.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

TEST(Log, MinSeverityFiltersLowerLevels) {
  SetMinLogSeverity(LogSeverity::kWarning);
  EXPECT_FALSE(LogEnabled(LogSeverity::kInfo));
  EXPECT_TRUE(LogEnabled(LogSeverity::kWarning));
  EXPECT_TRUE(LogEnabled(LogSeverity::kError));
  SetMinLogSeverity(LogSeverity::kInfo);
  EXPECT_TRUE(LogEnabled(LogSeverity::kInfo));
  EXPECT_FALSE(LogEnabled(LogSeverity::kDebug));
}

TEST(Log, ArgumentsAreNotEvaluatedWhenDisabled) {
  SetMinLogSeverity(LogSeverity::kError);
  int evaluations = 0;
  GLUE_LOG(kInfo, "%d", ++evaluations);
  EXPECT_EQ(evaluations, 0);
  ::testing::internal::CaptureStderr();
  GLUE_LOG(kError, "value=%d", ++evaluations);
  const std::string written = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(evaluations, 1);
  EXPECT_EQ(written.front(), 'E');
  EXPECT_NE(written.find("value=1\n"), std::string::npos) << written;
  SetMinLogSeverity(LogSeverity::kInfo);
}

TEST(LogSeverityFromEnvironment, UnsetIsInfo) {
  ASSERT_OK_AND_ASSIGN(LogSeverity severity,
                       LogSeverityFromEnvironment(MapEnvironment({})));
  EXPECT_EQ(severity, LogSeverity::kInfo);
}

TEST(LogSeverityFromEnvironment, ReadsEveryLevelInAnyCase) {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, LogSeverity>>{
           {"debug", LogSeverity::kDebug},
           {"info", LogSeverity::kInfo},
           {"warning", LogSeverity::kWarning},
           {"error", LogSeverity::kError},
           {"WARNING", LogSeverity::kWarning},
           {"Debug", LogSeverity::kDebug}}) {
    SCOPED_TRACE(text);
    ASSERT_OK_AND_ASSIGN(
        LogSeverity severity,
        LogSeverityFromEnvironment(MapEnvironment({{"GLUE_LOG_LEVEL", text}})));
    EXPECT_EQ(severity, expected);
  }
}

TEST(LogSeverityFromEnvironment, AMalformedLevelIsAnErrorNamingTheVariableAndValue) {
  for (const std::string text : {"loud", "warn", "2", " info"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(LogSeverityFromEnvironment(MapEnvironment({{"GLUE_LOG_LEVEL", text}})),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("GLUE_LOG_LEVEL='" + text + "'"),
                               HasSubstr("expected"))));
  }
  EXPECT_THAT(
      LogSeverityFromEnvironment(MapEnvironment({{"GLUE_LOG_LEVEL", ""}})),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("GLUE_LOG_LEVEL=''")));
}

}  // namespace
}  // namespace glue
