#include "serialization/wire_format.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "glue/base/byte_vectors.h"
#include "glue/base/varint.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::serialization::wire_format {
namespace {

using ::glue::testing::Bytes;
using ::glue::testing::EncodeVarint;
using ::testing::HasSubstr;

const uint64_t kEdgeValues[] = {0,
                                1,
                                127,
                                128,
                                300,
                                16383,
                                16384,
                                std::numeric_limits<uint32_t>::max(),
                                uint64_t{1} << 32,
                                (uint64_t{1} << 56) - 1,
                                uint64_t{1} << 63,
                                std::numeric_limits<uint64_t>::max()};

TEST(Varint, RoundTripsEdgeValues) {
  for (uint64_t value : kEdgeValues) {
    SCOPED_TRACE(value);
    const std::vector<uint8_t> bytes = EncodeVarint(value);
    WireReader reader(bytes);
    uint64_t read = 0;
    ASSERT_TRUE(reader.ReadVarint(&read)) << reader.ErrorText();
    EXPECT_EQ(read, value);
    EXPECT_TRUE(reader.AtEnd());
  }
}

TEST(Varint, AcceptsNonMinimalEncodings) {
  const std::vector<uint8_t> bytes = Bytes({0x81, 0x80, 0x80, 0x00});
  WireReader reader(bytes);
  uint64_t value = 0;
  ASSERT_TRUE(reader.ReadVarint(&value));
  EXPECT_EQ(value, 1u);
}

TEST(Varint, RejectsElevenBytes) {
  const std::vector<uint8_t> bytes =
      Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00});
  WireReader reader(bytes);
  uint64_t value;
  EXPECT_FALSE(reader.ReadVarint(&value));
  EXPECT_EQ(reader.error(), WireError::kVarintTooLong);
  EXPECT_EQ(reader.offset(), 0u);
  EXPECT_THAT(reader.ErrorText(), HasSubstr("longer than 10 bytes"));
}

TEST(Varint, RejectsOverflowInTheTenthByte) {
  for (int tenth : {0x02, 0x7e, 0x7f}) {
    SCOPED_TRACE(tenth);
    const std::vector<uint8_t> bytes =
        Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, tenth});
    WireReader reader(bytes);
    uint64_t value;
    EXPECT_FALSE(reader.ReadVarint(&value));
    EXPECT_EQ(reader.error(), WireError::kVarintOverflow);
    EXPECT_THAT(reader.ErrorText(), HasSubstr("overflows 64 bits"));
  }
}

TEST(Varint, RejectsEveryTruncation) {
  for (uint64_t value : kEdgeValues) {
    const std::vector<uint8_t> bytes = EncodeVarint(value);
    for (size_t length = 0; length < bytes.size(); ++length) {
      SCOPED_TRACE(absl::StrFormat("value %d cut to %d bytes", value, length));
      WireReader reader(absl::MakeConstSpan(bytes.data(), length));
      uint64_t read;
      EXPECT_FALSE(reader.ReadVarint(&read));
      EXPECT_EQ(reader.error(), WireError::kTruncated);
      EXPECT_EQ(reader.offset(), 0u);
    }
  }
}

TEST(Varint, ReadsUint32OnlyWhenTheValueFits) {
  const std::vector<uint8_t> fits = EncodeVarint(std::numeric_limits<uint32_t>::max());
  WireReader fits_reader(fits);
  uint32_t value = 0;
  ASSERT_TRUE(fits_reader.ReadVarintUint32(&value));
  EXPECT_EQ(value, std::numeric_limits<uint32_t>::max());

  const std::vector<uint8_t> too_large = EncodeVarint(uint64_t{1} << 32);
  WireReader reader(too_large);
  EXPECT_FALSE(reader.ReadVarintUint32(&value));
  EXPECT_EQ(reader.error(), WireError::kValueTooLarge);
  EXPECT_EQ(reader.offset(), 0u);
  EXPECT_THAT(reader.ErrorText(), HasSubstr("4294967296"));
}

TEST(Fixed, RoundTripsLittleEndian) {
  std::vector<uint8_t> bytes(8);
  WriteFixed64(0x0102030405060708, bytes.data());
  EXPECT_EQ(bytes, Bytes({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
  WireReader reader(bytes);
  uint64_t value = 0;
  ASSERT_TRUE(reader.ReadFixed64(&value));
  EXPECT_EQ(value, 0x0102030405060708u);

  WireReader reader32(absl::MakeConstSpan(bytes.data(), 4));
  uint32_t value32 = 0;
  ASSERT_TRUE(reader32.ReadFixed32(&value32));
  EXPECT_EQ(value32, 0x05060708u);
}

TEST(Fixed, RejectsEveryTruncation) {
  const std::vector<uint8_t> bytes(8, 0xab);
  for (size_t length = 0; length < 8; ++length) {
    SCOPED_TRACE(length);
    WireReader reader(absl::MakeConstSpan(bytes.data(), length));
    uint64_t value;
    EXPECT_FALSE(reader.ReadFixed64(&value));
    EXPECT_EQ(reader.error(), WireError::kTruncated);
    if (length < 4) {
      WireReader reader32(absl::MakeConstSpan(bytes.data(), length));
      uint32_t value32;
      EXPECT_FALSE(reader32.ReadFixed32(&value32));
      EXPECT_EQ(reader32.error(), WireError::kTruncated);
    }
  }
}

TEST(Tag, ReadsFieldNumberAndWireType) {
  struct Case {
    uint32_t field;
    WireType type;
  };
  for (const Case& c :
       {Case{1, WireType::kVarint}, Case{15, WireType::kFixed64},
        Case{16, WireType::kLengthDelimited}, Case{2047, WireType::kFixed32},
        Case{(1u << 29) - 1, WireType::kVarint}}) {
    SCOPED_TRACE(c.field);
    std::vector<uint8_t> bytes(kMaxVarint32Bytes);
    bytes.resize(
        static_cast<size_t>(WriteTag(c.field, c.type, bytes.data()) - bytes.data()));
    EXPECT_EQ(bytes.size(), TagSize(c.field));
    WireReader reader(bytes);
    Tag tag;
    ASSERT_TRUE(reader.ReadTag(&tag)) << reader.ErrorText();
    EXPECT_EQ(tag.field, c.field);
    EXPECT_EQ(tag.type, c.type);
    EXPECT_TRUE(reader.AtEnd());
  }
}

TEST(Tag, RejectsBadTags) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    WireError error;
    const char* text;
  };
  const Case cases[] = {
      {"field number 0", Bytes({0x00}), WireError::kFieldNumberZero, "field number 0"},
      {"field number 0, two bytes", Bytes({0x80, 0x00}), WireError::kFieldNumberZero,
       "field number 0"},
      {"start group", Bytes({0x0b}), WireError::kGroupWireType, "group wire type 3"},
      {"end group", Bytes({0x0c}), WireError::kGroupWireType, "group wire type 4"},
      {"wire type 6", Bytes({0x0e}), WireError::kInvalidWireType, "invalid wire type 6"},
      {"wire type 7", Bytes({0xff, 0x01}), WireError::kInvalidWireType,
       "invalid wire type 7"},
      {"above 32 bits", Bytes({0x80, 0x80, 0x80, 0x80, 0x10}), WireError::kValueTooLarge,
       "does not fit in 32 bits"},
      {"six bytes", Bytes({0x88, 0x80, 0x80, 0x80, 0x80, 0x00}),
       WireError::kVarintTooLong, "longer than 5 bytes"},
      {"truncated", Bytes({0x88}), WireError::kTruncated, "truncated"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    WireReader reader(c.bytes);
    Tag tag;
    EXPECT_FALSE(reader.ReadTag(&tag));
    EXPECT_EQ(reader.error(), c.error);
    EXPECT_EQ(reader.offset(), 0u);
    EXPECT_THAT(reader.ErrorText(), HasSubstr(c.text));
  }
}

TEST(Tag, AcceptsNonMinimalFiveByteTags) {
  const std::vector<uint8_t> bytes = Bytes({0x88, 0x80, 0x80, 0x80, 0x00});
  WireReader reader(bytes);
  Tag tag;
  ASSERT_TRUE(reader.ReadTag(&tag)) << reader.ErrorText();
  EXPECT_EQ(tag.field, 1u);
  EXPECT_EQ(tag.type, WireType::kVarint);
}

TEST(LengthDelimited, ReadsTheContentInPlace) {
  std::vector<uint8_t> bytes(16);
  const std::vector<uint8_t> content = Bytes({'a', 'b', 'c'});
  bytes.resize(static_cast<size_t>(WriteBytes(2, content, bytes.data()) - bytes.data()));
  EXPECT_EQ(bytes, Bytes({0x12, 0x03, 'a', 'b', 'c'}));
  EXPECT_EQ(bytes.size(), LengthDelimitedSize(2, 3));
  WireReader reader(bytes);
  Tag tag;
  ASSERT_TRUE(reader.ReadTag(&tag));
  absl::Span<const uint8_t> read;
  ASSERT_TRUE(reader.ReadLengthDelimited(&read));
  EXPECT_EQ(read.data(), bytes.data() + 2);
  EXPECT_EQ(read.size(), 3u);
  EXPECT_TRUE(reader.AtEnd());
}

TEST(LengthDelimited, ReadsLengthsOfSeveralBytes) {
  std::vector<uint8_t> bytes(3 + 300);
  PutVarint(300, bytes.data());
  bytes.resize(2 + 300);
  WireReader reader(bytes);
  absl::Span<const uint8_t> read;
  ASSERT_TRUE(reader.ReadLengthDelimited(&read)) << reader.ErrorText();
  EXPECT_EQ(read.size(), 300u);
  EXPECT_TRUE(reader.AtEnd());
}

TEST(LengthDelimited, RejectsALengthPastTheEnd) {
  const std::vector<uint8_t> bytes = Bytes({0x05, 'a', 'b', 'c'});
  WireReader reader(bytes);
  absl::Span<const uint8_t> read;
  EXPECT_FALSE(reader.ReadLengthDelimited(&read));
  EXPECT_EQ(reader.error(), WireError::kLengthPastEnd);
  EXPECT_EQ(reader.offset(), 0u);
  EXPECT_EQ(reader.ErrorText(), "length 5 at offset 0 runs past the end (3 bytes left)");
}

TEST(LengthDelimited, RejectsEveryTruncation) {
  std::vector<uint8_t> bytes(2 + 200, 'x');
  PutVarint(200, bytes.data());
  for (size_t length = 0; length < bytes.size(); ++length) {
    SCOPED_TRACE(length);
    WireReader reader(absl::MakeConstSpan(bytes.data(), length));
    absl::Span<const uint8_t> read;
    EXPECT_FALSE(reader.ReadLengthDelimited(&read));
    EXPECT_EQ(reader.error(),
              length < 2 ? WireError::kTruncated : WireError::kLengthPastEnd);
  }
}

TEST(LengthDelimited, RejectsALengthPrefixLongerThanFiveBytes) {
  const std::vector<uint8_t> bytes = Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x00});
  WireReader reader(bytes);
  absl::Span<const uint8_t> read;
  EXPECT_FALSE(reader.ReadLengthDelimited(&read));
  EXPECT_EQ(reader.error(), WireError::kVarintTooLong);
}

TEST(SkipField, SkipsEachSupportedWireType) {
  // field 1 varint, field 2 fixed64, field 3 bytes, field 4 fixed32, then field 5.
  const std::vector<uint8_t> bytes =
      Bytes({0x08, 0x96, 0x01, 0x11, 1,    2, 3, 4, 5, 6,    7,   8,
             0x1a, 0x02, 'h',  'i',  0x25, 1, 2, 3, 4, 0x28, 0x07});
  WireReader reader(bytes);
  for (int i = 0; i < 4; ++i) {
    Tag tag;
    ASSERT_TRUE(reader.ReadTag(&tag));
    ASSERT_TRUE(reader.SkipField(tag.type)) << reader.ErrorText();
  }
  Tag tag;
  ASSERT_TRUE(reader.ReadTag(&tag));
  EXPECT_EQ(tag.field, 5u);
}

TEST(SkipField, RejectsEveryTruncation) {
  struct Case {
    WireType type;
    std::vector<uint8_t> value;
  };
  const Case cases[] = {{WireType::kVarint, Bytes({0x96, 0x01})},
                        {WireType::kFixed64, Bytes({1, 2, 3, 4, 5, 6, 7, 8})},
                        {WireType::kLengthDelimited, Bytes({0x02, 'h', 'i'})},
                        {WireType::kFixed32, Bytes({1, 2, 3, 4})}};
  for (const Case& c : cases) {
    for (size_t length = 0; length < c.value.size(); ++length) {
      SCOPED_TRACE(absl::StrFormat("wire type %d cut to %d bytes",
                                   static_cast<int>(c.type), length));
      WireReader reader(absl::MakeConstSpan(c.value.data(), length));
      EXPECT_FALSE(reader.SkipField(c.type));
      EXPECT_NE(reader.error(), WireError::kNone);
    }
  }
}

TEST(WireReader, ReportsOffsetsFromTheOrigin) {
  const std::vector<uint8_t> bytes = Bytes({0x0a, 0x02, 0x08, 0x80});
  WireReader nested(absl::MakeConstSpan(bytes.data() + 2, 2), bytes.data());
  Tag tag;
  ASSERT_TRUE(nested.ReadTag(&tag));
  EXPECT_EQ(nested.offset(), 3u);
  uint64_t value;
  EXPECT_FALSE(nested.ReadVarint(&value));
  EXPECT_EQ(nested.error_offset(), 3u);
  EXPECT_EQ(nested.ErrorText(), "value at offset 3 is truncated (1 bytes left)");
}

}  // namespace
}  // namespace glue::serialization::wire_format
