// GLUE_SKIP_UNLESS_CI: how a test that lacks something of the machine (multicast on
// loopback, root for a network namespace, IPv6 loopback, SSE4.2...) ends. On a
// developer's machine it is skipped, with a message naming what is missing; under
// continuous integration, where the machine is meant to have everything, a skip would
// be a test that tests nothing, so it fails. Test code only.
//
//   if (!lo->multicast) {
//     GLUE_SKIP_UNLESS_CI("loopback has no MULTICAST flag; run inside "
//                         "scripts/isolated.sh");
//   }
#ifndef GLUE_BASE_SKIP_H_
#define GLUE_BASE_SKIP_H_

#include <cstdlib>

#include "gtest/gtest.h"

namespace glue::testing {

// MustFailForMissing says whether a test lacking what it needs must fail rather than
// skip: whether the environment variable CI is set to a non-empty value, as CI
// systems set it. Any thread, unless another changes the environment.
inline bool MustFailForMissing() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && *ci != '\0';
}

}  // namespace glue::testing

// GLUE_SKIP_UNLESS_CI(message) returns from the current function (a test body, SetUp,
// or a void helper they call) after marking the test skipped with `message`, or
// failed with it when MustFailForMissing(). `message` says what is missing; like
// GTEST_SKIP's, it may be several operands joined by <<.
#define GLUE_SKIP_UNLESS_CI(...)                                                \
  do {                                                                          \
    if (::glue::testing::MustFailForMissing()) {                                \
      GTEST_FAIL() << "CI is set, and this machine lacks what the test needs: " \
                   << __VA_ARGS__;                                              \
    }                                                                           \
    GTEST_SKIP() << __VA_ARGS__;                                                \
  } while (false)

#endif  // GLUE_BASE_SKIP_H_
