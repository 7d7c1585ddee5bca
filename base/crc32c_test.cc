#include "glue/base/crc32c.h"

#include <cstdio>
#include <numeric>
#include <random>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "glue/base/skip.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

std::vector<uint8_t> BytesOf(std::string_view text) {
  return std::vector<uint8_t>(text.begin(), text.end());
}

// The same seed every run, so that a failure replays; printed for the record.
constexpr uint64_t kSeed = 20261124;

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

TEST(Crc32c, MatchesTheKnownVectors) {
  std::vector<uint8_t> ascending(32);
  std::iota(ascending.begin(), ascending.end(), 0);
  const std::vector<uint8_t> descending(ascending.rbegin(), ascending.rend());
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    uint32_t crc;
  };
  // RFC 3720, appendix B.4, and the customary check value of "123456789".
  const Case cases[] = {
      {"no bytes", {}, 0},
      {"32 bytes of zeros", std::vector<uint8_t>(32, 0x00), 0x8A9136AA},
      {"32 bytes of 0xff", std::vector<uint8_t>(32, 0xff), 0x62A8AB43},
      {"0 to 31 ascending", ascending, 0x46DD794E},
      {"31 to 0 descending", descending, 0x113FDB5C},
      {"\"123456789\"", BytesOf("123456789"), 0xE3069283},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Crc32c(c.bytes), c.crc);
    EXPECT_EQ(internal::ExtendCrc32cPortable(0, c.bytes), c.crc);
  }
}

TEST(Crc32c, HardwareAndPortablePathsAgreeAtEveryLengthAndAlignment) {
  if (!internal::Crc32cUsesHardware()) {
    GLUE_SKIP_UNLESS_CI("this CPU has no SSE4.2: Crc32c uses the portable path only");
  }
  std::printf("random seed %llu\n", static_cast<unsigned long long>(kSeed));
  std::mt19937_64 rng(kSeed);
  const std::vector<uint8_t> buffer = RandomBytes(rng, 1000 + 8);
  for (size_t offset = 0; offset < 8; ++offset) {
    for (size_t size = 0; size <= 1000; ++size) {
      SCOPED_TRACE(absl::StrFormat("%d bytes at offset %d", size, offset));
      const auto bytes = absl::MakeConstSpan(buffer.data() + offset, size);
      const auto crc = static_cast<uint32_t>(rng());
      ASSERT_EQ(ExtendCrc32c(crc, bytes), internal::ExtendCrc32cPortable(crc, bytes));
    }
  }
}

TEST(Crc32c, HardwareAndPortablePathsAgreeOnLargeBuffers) {
  if (!internal::Crc32cUsesHardware()) {
    GLUE_SKIP_UNLESS_CI("this CPU has no SSE4.2: Crc32c uses the portable path only");
  }
  // Past three blocks of 2 KiB the hardware path runs three streams and folds them.
  std::mt19937_64 rng(7);
  for (size_t size : {6143, 6144, 6145, 6151, 12288, 12289, 20000, 65536, 1 << 20}) {
    SCOPED_TRACE(absl::StrFormat("%d bytes", size));
    const std::vector<uint8_t> bytes = RandomBytes(rng, size);
    EXPECT_EQ(Crc32c(bytes), internal::ExtendCrc32cPortable(0, bytes));
    EXPECT_EQ(ExtendCrc32c(0x12345678, bytes),
              internal::ExtendCrc32cPortable(0x12345678, bytes));
  }
}

TEST(Crc32c, ExtendingOverAnySplitGivesTheWholeCrc) {
  std::printf("random seed %llu\n", static_cast<unsigned long long>(kSeed));
  std::mt19937_64 rng(kSeed);
  for (int i = 0; i < 1000; ++i) {
    const std::vector<uint8_t> bytes =
        RandomBytes(rng, std::uniform_int_distribution<size_t>(0, 300)(rng));
    const size_t first = std::uniform_int_distribution<size_t>(0, bytes.size())(rng);
    const size_t second = std::uniform_int_distribution<size_t>(first, bytes.size())(rng);
    SCOPED_TRACE(
        absl::StrFormat("%d bytes split at %d and %d", bytes.size(), first, second));
    const auto all = absl::MakeConstSpan(bytes);
    const uint32_t whole = Crc32c(all);
    ASSERT_EQ(ExtendCrc32c(Crc32c(all.subspan(0, first)), all.subspan(first)), whole);
    ASSERT_EQ(ExtendCrc32c(ExtendCrc32c(Crc32c(all.subspan(0, first)),
                                        all.subspan(first, second - first)),
                           all.subspan(second)),
              whole);
    ASSERT_EQ(
        internal::ExtendCrc32cPortable(
            internal::ExtendCrc32cPortable(0, all.subspan(0, first)), all.subspan(first)),
        whole);
  }
}

}  // namespace
}  // namespace glue
