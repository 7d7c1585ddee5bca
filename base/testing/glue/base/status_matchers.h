// GoogleTest matchers for absl::Status and absl::StatusOr, which Abseil 20220623 does
// not ship. Test code only.
//
//   EXPECT_THAT(ParseAddress("x"), StatusIs(absl::StatusCode::kInvalidArgument));
//   EXPECT_THAT(ParseAddress("x"), StatusIs(absl::StatusCode::kInvalidArgument,
//                                           HasSubstr("'x'")));
//   ASSERT_OK_AND_ASSIGN(auto address, ParseAddress("127.0.0.1:5"));
//   EXPECT_THAT(ParseAddress("127.0.0.1:5"), IsOkAndHolds(Property(&Address::port, 5)));
#ifndef GLUE_BASE_STATUS_MATCHERS_H_
#define GLUE_BASE_STATUS_MATCHERS_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::testing {

inline const absl::Status& GetStatus(const absl::Status& status) { return status; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& status_or) {
  return status_or.status();
}

// StatusIs matches a Status or StatusOr whose code is `code` and, optionally, whose
// message matches `message_matcher`.
MATCHER_P2(StatusIsMatcher, code, message_matcher,
           "has code " + absl::StatusCodeToString(code)) {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.code() == code &&
         ::testing::Matches(message_matcher)(std::string(status.message()));
}

inline auto StatusIs(absl::StatusCode code) {
  return StatusIsMatcher(code, ::testing::A<std::string>());
}
template <typename MessageMatcher>
auto StatusIs(absl::StatusCode code, MessageMatcher message_matcher) {
  return StatusIsMatcher(code, ::testing::Matcher<std::string>(message_matcher));
}

// IsOk matches an OK Status or StatusOr.
MATCHER(IsOk, "is OK") {
  const absl::Status& status = GetStatus(arg);
  *result_listener << "whose status is " << status;
  return status.ok();
}

// IsOkAndHolds matches an OK StatusOr whose value matches `value_matcher`.
MATCHER_P(IsOkAndHolds, value_matcher, "is OK and holds a value that matches") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

}  // namespace glue::testing

#define GLUE_TESTING_CONCAT_INNER_(a, b) a##b
#define GLUE_TESTING_CONCAT_(a, b) GLUE_TESTING_CONCAT_INNER_(a, b)

// ASSERT_OK asserts that a Status or StatusOr is OK, printing it otherwise.
#define ASSERT_OK(expr) ASSERT_THAT(expr, ::glue::testing::IsOk())
#define EXPECT_OK(expr) EXPECT_THAT(expr, ::glue::testing::IsOk())

// ASSERT_OK_AND_ASSIGN asserts that `rexpr` (a StatusOr) is OK and moves its value
// into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr)                         \
  auto GLUE_TESTING_CONCAT_(glue_statusor_, __LINE__) = (rexpr); \
  ASSERT_OK(GLUE_TESTING_CONCAT_(glue_statusor_, __LINE__));     \
  lhs = *std::move(GLUE_TESTING_CONCAT_(glue_statusor_, __LINE__))

#endif  // GLUE_BASE_STATUS_MATCHERS_H_
