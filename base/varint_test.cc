#include "glue/base/varint.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/str_format.h"
#include "glue/base/byte_vectors.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

using ::glue::testing::Bytes;
using ::glue::testing::EncodeVarint;

// EdgeValues returns, for every width of 0 to 64 bits, its largest value and the
// next power of two (where that fits), and 300, the example of the Protocol Buffers
// documentation: every value where a varint grows by a byte, and the values around.
std::vector<uint64_t> EdgeValues() {
  std::vector<uint64_t> values = {0, 300};
  for (int bits = 1; bits <= 64; ++bits) {
    values.push_back(std::numeric_limits<uint64_t>::max() >> (64 - bits));
    if (bits < 64) values.push_back(uint64_t{1} << bits);
  }
  return values;
}

// Read is a reader's signature, so that one test runs both.
using Read = VarintProblem (*)(absl::Span<const uint8_t>, int, size_t*, uint64_t*);
struct Reader {
  const char* name;
  Read read;
};
const Reader kReaders[] = {{"ReadVarint", &ReadVarint},
                           {"ReadCanonicalVarint", &ReadCanonicalVarint}};

TEST(Varint, SizeMatchesWhatIsWritten) {
  for (uint64_t value : EdgeValues()) {
    SCOPED_TRACE(value);
    EXPECT_EQ(VarintSize(value), EncodeVarint(value).size());
  }
  EXPECT_EQ(VarintSize(0), 1u);
  EXPECT_EQ(VarintSize(127), 1u);
  EXPECT_EQ(VarintSize(128), 2u);
  EXPECT_EQ(VarintSize(uint64_t{1} << 63), 10u);
  EXPECT_EQ(VarintSize(std::numeric_limits<uint64_t>::max()), 10u);
}

TEST(Varint, WritesTheStandardEncoding) {
  EXPECT_EQ(EncodeVarint(0), Bytes({0x00}));
  EXPECT_EQ(EncodeVarint(127), Bytes({0x7f}));
  EXPECT_EQ(EncodeVarint(128), Bytes({0x80, 0x01}));
  EXPECT_EQ(EncodeVarint(300), Bytes({0xac, 0x02}));
  EXPECT_EQ(EncodeVarint(uint64_t{1} << 63),
            Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}));
  EXPECT_EQ(EncodeVarint(std::numeric_limits<uint64_t>::max()),
            Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
}

TEST(Varint, BothReadersRoundTripEdgeValuesAtAnyPosition) {
  for (const Reader& reader : kReaders) {
    for (uint64_t value : EdgeValues()) {
      SCOPED_TRACE(absl::StrFormat("%s of %d", reader.name, value));
      // After a byte that is not the varint's, and before one.
      std::vector<uint8_t> bytes = {0xee};
      const std::vector<uint8_t> encoded = EncodeVarint(value);
      bytes.insert(bytes.end(), encoded.begin(), encoded.end());
      bytes.push_back(0xee);
      size_t position = 1;
      uint64_t read = 0;
      ASSERT_EQ(reader.read(bytes, 64, &position, &read), VarintProblem::kNone);
      EXPECT_EQ(read, value);
      EXPECT_EQ(position, 1 + encoded.size());
    }
  }
}

TEST(Varint, BothReadersRejectEveryTruncation) {
  for (const Reader& reader : kReaders) {
    for (uint64_t value : EdgeValues()) {
      const std::vector<uint8_t> bytes = EncodeVarint(value);
      for (size_t length = 0; length < bytes.size(); ++length) {
        SCOPED_TRACE(
            absl::StrFormat("%s of %d cut to %d bytes", reader.name, value, length));
        size_t position = 0;
        uint64_t read;
        EXPECT_EQ(
            reader.read(absl::MakeConstSpan(bytes.data(), length), 64, &position, &read),
            VarintProblem::kTruncated);
        EXPECT_EQ(position, length);
      }
    }
  }
}

TEST(Varint, ReadVarintAcceptsLongerFormsThatReadCanonicalVarintRefuses) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    int bits;
    uint64_t value;
  };
  const Case cases[] = {
      {"1 in four bytes", Bytes({0x81, 0x80, 0x80, 0x00}), 64, 1},
      {"0 in two bytes", Bytes({0x80, 0x00}), 64, 0},
      {"0 in the five bytes of a 32-bit field", Bytes({0x80, 0x80, 0x80, 0x80, 0x00}), 32,
       0},
      {"0 in ten bytes",
       Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}), 64, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    size_t position = 0;
    uint64_t value = 99;
    ASSERT_EQ(ReadVarint(c.bytes, c.bits, &position, &value), VarintProblem::kNone);
    EXPECT_EQ(value, c.value);
    EXPECT_EQ(position, c.bytes.size());
    position = 0;
    EXPECT_EQ(ReadCanonicalVarint(c.bytes, c.bits, &position, &value),
              VarintProblem::kNotShortest);
    EXPECT_EQ(position, c.bytes.size());
  }
  // One byte of 0 is the shortest form of 0.
  const std::vector<uint8_t> zero = Bytes({0x00});
  size_t position = 0;
  uint64_t value = 99;
  EXPECT_EQ(ReadCanonicalVarint(zero, 64, &position, &value), VarintProblem::kNone);
  EXPECT_EQ(value, 0u);
}

TEST(Varint, BothReadersKeepToTheFieldsWidth) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    int bits;
    VarintProblem problem;
    size_t position;  // after the read: past the varint, or past the byte at fault
  };
  const Case cases[] = {
      {"the largest 32-bit value", Bytes({0xff, 0xff, 0xff, 0xff, 0x0f}), 32,
       VarintProblem::kNone, 5},
      {"a 33rd bit", Bytes({0xff, 0xff, 0xff, 0xff, 0x1f}), 32, VarintProblem::kTooWide,
       5},
      {"a sixth byte for 32 bits", Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}), 32,
       VarintProblem::kTooLong, 5},
      {"35 bits in five bytes", Bytes({0xff, 0xff, 0xff, 0xff, 0x7f}), 35,
       VarintProblem::kNone, 5},
      {"a 36th bit", Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), 35,
       VarintProblem::kTooLong, 5},
      {"7 bits in one byte", Bytes({0x7f}), 7, VarintProblem::kNone, 1},
      {"a second byte for 7 bits", Bytes({0x80, 0x01}), 7, VarintProblem::kTooLong, 1},
      {"a 2nd bit of a 1-bit field", Bytes({0x02}), 1, VarintProblem::kTooWide, 1},
      {"6 bits in one byte", Bytes({0x3f}), 6, VarintProblem::kNone, 1},
      {"a 7th bit of a 6-bit field", Bytes({0x40}), 6, VarintProblem::kTooWide, 1},
      {"bit 63 in the tenth byte",
       Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}), 64,
       VarintProblem::kNone, 10},
      {"a 65th bit in the tenth byte",
       Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}), 64,
       VarintProblem::kTooWide, 10},
      {"an eleventh byte",
       Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}), 64,
       VarintProblem::kTooLong, 10},
  };
  for (const Reader& reader : kReaders) {
    for (const Case& c : cases) {
      SCOPED_TRACE(absl::StrFormat("%s: %s", reader.name, c.name));
      size_t position = 0;
      uint64_t value;
      EXPECT_EQ(reader.read(c.bytes, c.bits, &position, &value), c.problem);
      EXPECT_EQ(position, c.position);
    }
  }
}

}  // namespace
}  // namespace glue
