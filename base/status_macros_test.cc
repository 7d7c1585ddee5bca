#include "glue/base/status_macros.h"

#include "glue/base/status_matchers.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

absl::Status FailIfNegative(int value) {
  if (value < 0) return absl::InvalidArgumentError("negative value");
  return absl::OkStatus();
}

absl::Status CheckBoth(int a, int b, int* calls) {
  ++*calls;
  GLUE_RETURN_IF_ERROR(FailIfNegative(a));
  ++*calls;
  GLUE_RETURN_IF_ERROR(FailIfNegative(b));
  ++*calls;
  return absl::OkStatus();
}

absl::StatusOr<int> Half(int value) {
  if (value % 2 != 0) return absl::OutOfRangeError("odd value");
  return value / 2;
}

absl::StatusOr<int> Quarter(int value) {
  GLUE_ASSIGN_OR_RETURN(int half, Half(value));
  GLUE_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(StatusMacros, ReturnIfErrorStopsAtTheFirstError) {
  int calls = 0;
  EXPECT_THAT(CheckBoth(-1, 1, &calls), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 1);
  calls = 0;
  EXPECT_THAT(CheckBoth(1, -1, &calls), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(calls, 2);
  calls = 0;
  EXPECT_OK(CheckBoth(1, 1, &calls));
  EXPECT_EQ(calls, 3);
}

TEST(StatusMacros, AssignOrReturnPropagatesErrorsAndValues) {
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kOutOfRange, HasSubstr("odd")));
  EXPECT_THAT(Quarter(3), StatusIs(absl::StatusCode::kOutOfRange));
  ASSERT_OK_AND_ASSIGN(int quarter, Quarter(12));
  EXPECT_EQ(quarter, 3);
}

TEST(StatusMatchers, StatusIsRejectsAnotherCodeOrMessage) {
  const absl::Status status = absl::NotFoundError("interface 'eth9' does not exist");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kNotFound, HasSubstr("eth9")));
  EXPECT_THAT(status, ::testing::Not(StatusIs(absl::StatusCode::kInvalidArgument)));
  EXPECT_THAT(status,
              ::testing::Not(StatusIs(absl::StatusCode::kNotFound, HasSubstr("eth0"))));
}

}  // namespace
}  // namespace glue
