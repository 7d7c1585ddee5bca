#include "glue/base/log.h"

#include "gtest/gtest.h"

namespace glue {
namespace {

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

}  // namespace
}  // namespace glue
