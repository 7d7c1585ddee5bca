#include "glue/fragmentation/fragment_header.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"
#include "glue/serialization/allocation_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::fragmentation {
namespace {

using ::glue::serialization::testing::AllocationCount;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr uint64_t kMax = kDefaultMaxMessageBytes;
constexpr uint32_t kMax32 = std::numeric_limits<uint32_t>::max();

std::vector<uint8_t> Encode(const FragmentHeader& header) {
  std::vector<uint8_t> bytes(kMaxFragmentHeaderBytes);
  bytes.resize(EncodeFragmentHeader(header, absl::MakeSpan(bytes)));
  return bytes;
}

// Every field below 128, so that field i is the one byte at 1 + i.
constexpr FragmentHeader kSmall = {.message_id = 5,
                                   .total_bytes = 100,
                                   .fragment_bytes = 30,
                                   .index = 3,
                                   .checksum = 7,
                                   .time_to_live_ms = 9};
// kFieldOrder lists the fields as they are encoded.
const char* const kFieldOrder[] = {"message_id", "total_bytes", "fragment_bytes",
                                   "index",      "checksum",    "time_to_live_ms"};
constexpr int kFieldBits[] = {64, 64, 32, 32, 32, 32};

// Replaced returns kSmall's encoding with field `field` (0-based, in encoding order)
// replaced by `bytes`.
std::vector<uint8_t> Replaced(int field, std::vector<uint8_t> bytes) {
  std::vector<uint8_t> encoded = Encode(kSmall);
  encoded.erase(encoded.begin() + 1 + field);
  encoded.insert(encoded.begin() + 1 + field, bytes.begin(), bytes.end());
  return encoded;
}

TEST(FragmentHeader, EncodesTheDocumentedBytes) {
  // The example of docs/PROTOCOL.md §8.
  const FragmentHeader header = {.message_id = 42,
                                 .total_bytes = 3000,
                                 .fragment_bytes = 1000,
                                 .index = 2,
                                 .checksum = 0xE3069283,
                                 .time_to_live_ms = 100};
  EXPECT_THAT(Encode(header), ElementsAre(0x01, 0x2a, 0xb8, 0x17, 0xe8, 0x07, 0x02, 0x83,
                                          0xa5, 0x9a, 0x98, 0x0e, 0x64));
  EXPECT_THAT(Encode(kSmall), ElementsAre(0x01, 5, 100, 30, 3, 7, 9));
}

TEST(FragmentHeader, RoundTrips) {
  const FragmentHeader headers[] = {
      kSmall,
      {.total_bytes = 2, .fragment_bytes = 1, .index = 1},
      {.message_id = std::numeric_limits<uint64_t>::max(),
       .total_bytes = kMax,
       .fragment_bytes = 1400,
       .index = 47934,
       .checksum = kMax32,
       .time_to_live_ms = kMax32},
      {.message_id = 1 << 7,
       .total_bytes = 1 << 14,
       .fragment_bytes = 1 << 7,
       .index = 127,
       .checksum = 1 << 21,
       .time_to_live_ms = 1 << 28},
      {.message_id = (1 << 7) - 1,
       .total_bytes = (1 << 14) - 1,
       .fragment_bytes = (1 << 14) - 2,
       .index = 1,
       .checksum = (1 << 21) - 1,
       .time_to_live_ms = (1 << 28) - 1},
      {.message_id = 99, .total_bytes = kMax, .fragment_bytes = kMax - 1, .index = 1},
  };
  for (const FragmentHeader& header : headers) {
    SCOPED_TRACE(::testing::Message() << "message_id " << header.message_id
                                      << " total_bytes " << header.total_bytes);
    const std::vector<uint8_t> bytes = Encode(header);
    EXPECT_GE(bytes.size(), 7u);
    EXPECT_LE(bytes.size(), kMaxFragmentHeaderBytes);
    ASSERT_OK_AND_ASSIGN(const FragmentHeader decoded, DecodeFragmentHeader(bytes, kMax));
    EXPECT_EQ(decoded, header);
  }
}

TEST(FragmentHeader, TheLargestValuesTakeExactlyTheMaximumSize) {
  const FragmentHeader largest = {.message_id = std::numeric_limits<uint64_t>::max(),
                                  .total_bytes = std::numeric_limits<uint64_t>::max(),
                                  .fragment_bytes = kMax32,
                                  .index = kMax32,
                                  .checksum = kMax32,
                                  .time_to_live_ms = kMax32};
  EXPECT_EQ(Encode(largest).size(), kMaxFragmentHeaderBytes);
}

TEST(FragmentHeader, EncodeWritesNothingIntoATooSmallBuffer) {
  std::vector<uint8_t> out(6, 0xee);
  EXPECT_EQ(EncodeFragmentHeader(kSmall, absl::MakeSpan(out)), 0u);
  EXPECT_EQ(out, std::vector<uint8_t>(6, 0xee));
  out.resize(7);
  EXPECT_EQ(EncodeFragmentHeader(kSmall, absl::MakeSpan(out)), 7u);
}

TEST(FragmentHeader, RejectsEmptyMeta) {
  EXPECT_THAT(DecodeFragmentHeader({}, kMax),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
}

TEST(FragmentHeader, RejectsAnUnknownKind) {
  for (uint8_t kind : {0x00, 0x02, 0x81, 0xff}) {
    std::vector<uint8_t> bytes = Encode(kSmall);
    bytes[0] = kind;
    char expected[32];
    std::snprintf(expected, sizeof(expected), "kind byte 0x%02x", kind);
    EXPECT_THAT(DecodeFragmentHeader(bytes, kMax),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(expected)));
  }
}

TEST(FragmentHeader, RejectsEveryTruncation) {
  const FragmentHeader header = {.message_id = 1ull << 40,
                                 .total_bytes = 1 << 20,
                                 .fragment_bytes = 1400,
                                 .index = 300,
                                 .checksum = 0xdeadbeef,
                                 .time_to_live_ms = 5000};
  const std::vector<uint8_t> bytes = Encode(header);
  for (size_t size = 1; size < bytes.size(); ++size) {
    SCOPED_TRACE(::testing::Message() << size << " bytes");
    EXPECT_THAT(DecodeFragmentHeader(absl::MakeConstSpan(bytes).first(size), kMax),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("truncated")));
  }
}

TEST(FragmentHeader, RejectsBytesAfterTheLastField) {
  std::vector<uint8_t> bytes = Encode(kSmall);
  bytes.push_back(0);
  EXPECT_THAT(DecodeFragmentHeader(bytes, kMax),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("1 bytes after the last field, from byte 7")));
}

TEST(FragmentHeader, RejectsAVarintLongerThanItsShortestForm) {
  for (int field = 0; field < 6; ++field) {
    SCOPED_TRACE(kFieldOrder[field]);
    const uint8_t value = Encode(kSmall)[1 + field];
    EXPECT_THAT(
        DecodeFragmentHeader(Replaced(field, {static_cast<uint8_t>(value | 0x80), 0x00}),
                             kMax),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(HasSubstr(kFieldOrder[field]), HasSubstr("shortest form"))));
  }
}

TEST(FragmentHeader, RejectsAVarintLongerThanItsFieldAllows) {
  for (int field = 0; field < 6; ++field) {
    SCOPED_TRACE(kFieldOrder[field]);
    const size_t max_bytes = kFieldBits[field] == 64 ? 10 : 5;
    std::vector<uint8_t> varint(max_bytes, 0x80);
    varint.push_back(0x01);
    EXPECT_THAT(DecodeFragmentHeader(Replaced(field, varint), kMax),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(kFieldOrder[field]),
                               HasSubstr(absl::StrCat("longer than ", max_bytes)))));
  }
}

TEST(FragmentHeader, RejectsAVarintBeyondItsFieldsWidth) {
  for (int field = 0; field < 6; ++field) {
    SCOPED_TRACE(kFieldOrder[field]);
    // The largest value the field holds, with one bit more in its last byte.
    std::vector<uint8_t> varint(kFieldBits[field] == 64 ? 9 : 4, 0xff);
    varint.push_back(kFieldBits[field] == 64 ? 0x02 : 0x10);
    EXPECT_THAT(DecodeFragmentHeader(Replaced(field, varint), kMax),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr(kFieldOrder[field]),
                               HasSubstr(absl::StrCat(kFieldBits[field], " bits")))));
  }
}

TEST(FragmentHeader, AcceptsTheLargest32BitValue) {
  ASSERT_OK_AND_ASSIGN(
      const FragmentHeader header,
      DecodeFragmentHeader(Replaced(4, {0xff, 0xff, 0xff, 0xff, 0x0f}), kMax));
  EXPECT_EQ(header.checksum, kMax32);
}

TEST(FragmentHeader, ValidateNamesTheFieldAndTheValues) {
  struct Case {
    FragmentHeader header;
    uint64_t max_message_bytes;
    std::vector<std::string> expected;
  };
  const Case cases[] = {
      {{.total_bytes = 10, .fragment_bytes = 0}, kMax, {"fragment_bytes = 0"}},
      {{.total_bytes = 30, .fragment_bytes = 30},
       kMax,
       {"total_bytes = 30", "fragment_bytes = 30"}},
      {{.total_bytes = 1, .fragment_bytes = 30},
       kMax,
       {"total_bytes = 1", "fragment_bytes = 30"}},
      {{.total_bytes = 101, .fragment_bytes = 10},
       100,
       {"total_bytes = 101", "max_message_bytes = 100"}},
      {{.total_bytes = kMax, .fragment_bytes = 1},
       kMax,
       {"fragment_bytes = 1", "67108864 fragments", "kMaxFragmentCount = 1048576"}},
      {{.total_bytes = 100, .fragment_bytes = 30, .index = 4},
       kMax,
       {"index = 4", "4 fragments", "total_bytes = 100", "fragment_bytes = 30"}},
      {{.total_bytes = 100, .fragment_bytes = 30, .index = kMax32},
       kMax,
       {"index = 4294967295"}},
  };
  for (const Case& c : cases) {
    const absl::Status status = ValidateFragmentHeader(c.header, c.max_message_bytes);
    SCOPED_TRACE(status.ToString());
    EXPECT_FALSE(IsValidFragmentHeader(c.header, c.max_message_bytes));
    EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
    for (const std::string& part : c.expected) {
      EXPECT_THAT(std::string(status.message()), HasSubstr(part));
    }
    // Decoding checks the same rules.
    EXPECT_THAT(
        DecodeFragmentHeader(Encode(c.header), c.max_message_bytes),
        StatusIs(absl::StatusCode::kInvalidArgument, std::string(status.message())));
  }
}

TEST(FragmentHeader, AcceptsTheBoundaries) {
  // The last index; the most fragments; a message of exactly the maximum.
  EXPECT_OK(ValidateFragmentHeader({.total_bytes = 100, .fragment_bytes = 30, .index = 3},
                                   kMax));
  EXPECT_OK(ValidateFragmentHeader({.total_bytes = kMaxFragmentCount,
                                    .fragment_bytes = 1,
                                    .index = kMaxFragmentCount - 1},
                                   kMax));
  EXPECT_OK(ValidateFragmentHeader({.total_bytes = 100, .fragment_bytes = 99}, 100));
  EXPECT_TRUE(IsValidFragmentHeader(kSmall, kMax));
}

// Decoding garbage and mutated headers must fail cleanly or yield a valid header;
// since every varint is in its shortest form, what decodes encodes to the same bytes.
// ParseFragmentHeader, on the receive path, must agree and never allocate.
TEST(FragmentHeader, DecodesMutatedHeadersToErrorsOrTheSameBytes) {
  const unsigned seed = std::random_device{}();
  std::printf("fragment header seed: %u\n", seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  const std::vector<uint8_t> valid = Encode({.message_id = 77,
                                             .total_bytes = 1 << 20,
                                             .fragment_bytes = 1400,
                                             .index = 300,
                                             .checksum = 0xdeadbeef,
                                             .time_to_live_ms = 5000});
  int decoded = 0;
  for (int trial = 0; trial < 20'000; ++trial) {
    std::vector<uint8_t> bytes = valid;
    switch (random() % 3) {
      case 0:  // flip bits of a few bytes
        for (int i = 0, n = 1 + random() % 3; i < n; ++i) {
          bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1 + random() % 255);
        }
        break;
      case 1:  // cut or extend
        bytes.resize(random() % (kMaxFragmentHeaderBytes + 4), 0x80);
        break;
      default:  // garbage after a valid kind byte
        bytes.resize(1 + random() % kMaxFragmentHeaderBytes);
        for (size_t i = 1; i < bytes.size(); ++i) bytes[i] = random() & 0xff;
        break;
    }
    const int64_t allocations = AllocationCount();
    const std::optional<FragmentHeader> parsed = ParseFragmentHeader(bytes, kMax);
    ASSERT_EQ(AllocationCount(), allocations) << "trial " << trial;
    absl::StatusOr<FragmentHeader> header = DecodeFragmentHeader(bytes, kMax);
    // Parse, which counts rather than reports, agrees with Decode.
    ASSERT_EQ(parsed.has_value(), header.ok()) << "trial " << trial;
    if (!header.ok()) {
      ASSERT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ASSERT_EQ(*parsed, *header);
    ++decoded;
    ASSERT_TRUE(IsValidFragmentHeader(*header, kMax));
    ASSERT_EQ(Encode(*header), bytes) << "trial " << trial;
  }
  std::printf("%d of 20000 mutated headers decoded\n", decoded);
}

}  // namespace
}  // namespace glue::fragmentation
