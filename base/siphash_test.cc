#include "glue/base/siphash.h"

#include <vector>

#include "gtest/gtest.h"

namespace glue {
namespace {

// The key 00 01 .. 0f of the SipHash paper's test vectors (appendix A).
constexpr SipHashKey kPaperKey = {0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};

std::vector<uint8_t> Counting(size_t n) {
  std::vector<uint8_t> bytes(n);
  for (size_t i = 0; i < n; ++i) bytes[i] = static_cast<uint8_t>(i);
  return bytes;
}

TEST(SipHash24, MatchesThePapersVectors) {
  EXPECT_EQ(SipHash24(kPaperKey, Counting(0)), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(SipHash24(kPaperKey, Counting(15)), 0xa129ca6149be45e5ULL);
}

TEST(SipHash24, DependsOnEveryByteAndOnTheKey) {
  const std::vector<uint8_t> bytes = Counting(26);
  const uint64_t tag = SipHash24(kPaperKey, bytes);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<uint8_t> changed = bytes;
    changed[i] ^= 1;
    EXPECT_NE(SipHash24(kPaperKey, changed), tag) << "byte " << i;
  }
  EXPECT_NE(SipHash24({kPaperKey[0] ^ 1, kPaperKey[1]}, bytes), tag);
  EXPECT_NE(RandomSipHashKey(), RandomSipHashKey());
}

}  // namespace
}  // namespace glue
