#include "glue/model/value.h"

#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace glue::model {
namespace {

TEST(ValueTest, HoldsItsBytesIncludingZeros) {
  const std::string bytes("a\0b\xff", 4);
  const Value v(bytes);
  EXPECT_EQ(v.size(), 4u);
  EXPECT_EQ(v.view(), bytes);
  EXPECT_EQ(*v, bytes);
  EXPECT_FALSE(v.empty());
}

TEST(ValueTest, EmptyBytesAndTheDefaultAreTheSameEmptyValue) {
  const Value none;
  const Value empty{absl::string_view()};
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.size(), 0u);
  EXPECT_EQ(none.view(), "");
  EXPECT_EQ(none, empty);
  EXPECT_NE(none, Value("x"));
}

TEST(ValueTest, ACopySharesTheBytesAndOutlivesTheOriginal) {
  Value copy;
  const char* data = nullptr;
  {
    const Value original(std::string(1000, 'x'));
    data = original.data();
    copy = original;
    EXPECT_EQ(copy.data(), data);  // shared, not copied
  }
  EXPECT_EQ(copy.data(), data);
  EXPECT_EQ(copy.view(), std::string(1000, 'x'));
}

TEST(ValueTest, AMoveLeavesTheSourceEmpty) {
  Value a("bytes");
  const char* data = a.data();
  Value b(std::move(a));
  EXPECT_EQ(b.data(), data);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): moved-from is empty
  Value c("other");
  c = std::move(b);
  EXPECT_EQ(c.view(), "bytes");
}

TEST(ValueTest, CopyAssignmentToItselfKeepsTheBytes) {
  Value a("self");
  const Value& alias = a;
  a = alias;
  EXPECT_EQ(a.view(), "self");
}

// Copies made and dropped on several threads at once release the bytes once, after
// the last (ASan and TSan see a double free or a race otherwise).
TEST(ValueTest, CopiesOnSeveralThreadsReleaseTheBytesOnce) {
  std::vector<std::thread> threads;
  {
    const Value shared(std::string(64, 'v'));
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([shared] {
        for (int i = 0; i < 10000; ++i) {
          Value copy = shared;
          ASSERT_EQ(copy.size(), 64u);
        }
      });
    }
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace
}  // namespace glue::model
