#include "glue/base/byte_reader.h"

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "glue/base/byte_vectors.h"
#include "glue/base/status_matchers.h"

namespace glue {
namespace {

using ::glue::testing::Bytes;
using ::glue::testing::StatusIs;

TEST(ByteReader, AppendWritesVarintsStringsAndLittleEndianFixed64) {
  std::vector<uint8_t> out;
  AppendVarint(300, &out);
  EXPECT_EQ(out, Bytes({0xac, 0x02}));
  out.clear();
  AppendVarint(std::numeric_limits<uint64_t>::max(), &out);
  EXPECT_EQ(out, Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}));
  out.clear();
  AppendString("ab", &out);
  AppendString("", &out);
  EXPECT_EQ(out, Bytes({0x02, 'a', 'b', 0x00}));
  out.clear();
  AppendFixed64(0x0102030405060708, &out);
  EXPECT_EQ(out, Bytes({0x08, 0x07, 0x06, 0x05, 0x04, 0x03, 0x02, 0x01}));
}

TEST(ByteReader, ReadsBackWhatAppendWroteAndTracksItsPosition) {
  std::vector<uint8_t> bytes = {0x7e};
  AppendVarint(uint64_t{1} << 63, &bytes);
  AppendString("topic", &bytes);
  AppendString("type", &bytes);
  AppendFixed64(0xfedcba9876543210, &bytes);
  bytes.push_back(0x55);

  ByteReader reader(bytes, "m");
  EXPECT_EQ(reader.position(), 0u);
  EXPECT_FALSE(reader.done());
  ASSERT_OK_AND_ASSIGN(const uint8_t byte, reader.Byte("byte"));
  EXPECT_EQ(byte, 0x7e);
  ASSERT_OK_AND_ASSIGN(const uint64_t varint, reader.Varint("varint"));
  EXPECT_EQ(varint, uint64_t{1} << 63);
  EXPECT_EQ(reader.position(), 11u);
  ASSERT_OK_AND_ASSIGN(const absl::string_view view, reader.View("view"));
  EXPECT_EQ(view, "topic");
  // A view into the bytes read, not a copy.
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(view.data()), bytes.data() + 12);
  ASSERT_OK_AND_ASSIGN(const std::string string, reader.String("string"));
  EXPECT_EQ(string, "type");
  ASSERT_OK_AND_ASSIGN(const uint64_t fixed, reader.Fixed64("fixed"));
  EXPECT_EQ(fixed, 0xfedcba9876543210u);
  EXPECT_EQ(reader.rest(), absl::MakeConstSpan(Bytes({0x55})));
  EXPECT_FALSE(reader.done());
  ASSERT_OK(reader.Byte("last").status());
  EXPECT_TRUE(reader.done());
  EXPECT_TRUE(reader.rest().empty());
  EXPECT_EQ(reader.position(), bytes.size());
}

TEST(ByteReader, VarintKeepsToItsWidthAndItsBound) {
  const std::vector<uint8_t> largest32 = Bytes({0xff, 0xff, 0xff, 0xff, 0x0f});
  ByteReader reader(largest32, "m");
  ASSERT_OK_AND_ASSIGN(const uint64_t value, reader.Varint("v", 32, 0xffffffff));
  EXPECT_EQ(value, 0xffffffffu);
  EXPECT_TRUE(reader.done());
}

// Every error names the message, the field and where the field began.
TEST(ByteReader, EachReadFailsWithTheFieldAndWhereItBegan) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;  // after a first byte that Byte reads
    std::function<absl::Status(ByteReader&)> read;
    const char* message;
  };
  const Case cases[] = {
      {"a byte beyond the end",
       {},
       [](ByteReader& r) { return r.Byte("flags").status(); },
       "topic message: flags at byte 1 is truncated"},
      {"a truncated varint", Bytes({0x80, 0x80}),
       [](ByteReader& r) { return r.Varint("epoch").status(); },
       "topic message: epoch at byte 1 is truncated"},
      {"no varint at all",
       {},
       [](ByteReader& r) { return r.Varint("epoch").status(); },
       "topic message: epoch at byte 1 is truncated"},
      {"a varint longer than its shortest form", Bytes({0x81, 0x00}),
       [](ByteReader& r) { return r.Varint("epoch").status(); },
       "topic message: epoch at byte 1 is longer than its shortest form"},
      {"a varint of 0 in two bytes", Bytes({0x80, 0x00}),
       [](ByteReader& r) { return r.Varint("epoch").status(); },
       "topic message: epoch at byte 1 is longer than its shortest form"},
      {"a 33rd bit", Bytes({0xff, 0xff, 0xff, 0xff, 0x1f}),
       [](ByteReader& r) { return r.Varint("ttl", 32).status(); },
       "topic message: ttl at byte 1 is beyond 32 bits"},
      {"a sixth byte for 32 bits", Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}),
       [](ByteReader& r) { return r.Varint("ttl", 32).status(); },
       "topic message: ttl at byte 1 is beyond 32 bits"},
      {"an eleventh byte for 64 bits",
       Bytes({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00}),
       [](ByteReader& r) { return r.Varint("epoch").status(); },
       "topic message: epoch at byte 1 is beyond 64 bits"},
      {"a varint above its bound", Bytes({0x05}),
       [](ByteReader& r) { return r.Varint("count", 64, 4).status(); },
       "topic message: count at byte 1 is 5 is above 4"},
      {"a string longer than what remains", Bytes({0x05, 'a', 'b'}),
       [](ByteReader& r) { return r.View("topic").status(); },
       "topic message: topic at byte 1 is a string of 5 bytes, but 2 remain"},
      {"a copied string longer than what remains", Bytes({0x03, 'a', 'b'}),
       [](ByteReader& r) { return r.String("filter").status(); },
       "topic message: filter at byte 1 is a string of 3 bytes, but 2 remain"},
      {"a string whose length is truncated", Bytes({0x80}),
       [](ByteReader& r) { return r.String("type").status(); },
       "topic message: type at byte 1 is truncated"},
      {"a string whose length is not in its shortest form", Bytes({0x82, 0x00, 'a', 'b'}),
       [](ByteReader& r) { return r.View("type").status(); },
       "topic message: type at byte 1 is longer than its shortest form"},
      {"a fixed64 of 7 bytes", Bytes({1, 2, 3, 4, 5, 6, 7}),
       [](ByteReader& r) { return r.Fixed64("id").status(); },
       "topic message: id at byte 1 is truncated"},
      {"no fixed64 at all",
       {},
       [](ByteReader& r) { return r.Fixed64("id").status(); },
       "topic message: id at byte 1 is truncated"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> bytes = {0xee};
    bytes.insert(bytes.end(), c.bytes.begin(), c.bytes.end());
    ByteReader reader(bytes, "topic message");
    ASSERT_OK(reader.Byte("kind").status());
    EXPECT_THAT(c.read(reader), StatusIs(absl::StatusCode::kInvalidArgument,
                                         ::testing::StrEq(c.message)));
  }
}

TEST(ByteReader, InvalidAndTruncatedAreTheErrorsOfTheReads) {
  const std::vector<uint8_t> bytes = Bytes({1, 2, 3});
  const ByteReader reader(bytes, "block header");
  EXPECT_THAT(reader.Invalid("count", 2, "odd"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::StrEq("block header: count at byte 2 is odd")));
  EXPECT_THAT(reader.Truncated("count", 7),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::StrEq("block header: count at byte 7 is truncated")));
}

}  // namespace
}  // namespace glue
