#include "glue/base/fnv1a.h"

#include "gtest/gtest.h"

namespace glue {
namespace {

// The published test vectors of 64-bit FNV-1a.
TEST(Fnv1a64, GivesThePublishedValues) {
  EXPECT_EQ(Fnv1a64(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(Fnv1a64("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(Fnv1a64("foobar"), 0x85944171f73967e8ull);
}

}  // namespace
}  // namespace glue
