#include "glue/base/utf8.h"

#include <cstdint>
#include <string>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

TEST(IsValidUtf8, AcceptsWellFormedText) {
  for (const char* text :
       {"", "glue", "caf\xc3\xa9", "\xe2\x82\xac", "\xef\xbf\xbf", "\xf0\x9f\x98\x80",
        "\xf4\x8f\xbf\xbf", "eight by\xc3\xa9tes and more ascii after it"}) {
    SCOPED_TRACE(text);
    EXPECT_TRUE(IsValidUtf8(text));
  }
}

TEST(IsValidUtf8, RejectsMalformedText) {
  for (const char* text : {
           "\x80",              // continuation byte first
           "\xc0\x80",          // overlong NUL
           "\xc1\xbf",          // overlong
           "\xe0\x80\x80",      // overlong
           "\xe0\x9f\xbf",      // overlong
           "\xed\xa0\x80",      // surrogate
           "\xed\xbf\xbf",      // surrogate
           "\xf0\x80\x80\x80",  // overlong
           "\xf4\x90\x80\x80",  // above U+10FFFF
           "\xf5\x80\x80\x80",  // above U+10FFFF
           "\xff",              // never valid
           "\xe2\x82",          // truncated
           "abcdefg\xe2\x82",   // truncated after the ASCII fast path
           "\xc3\x28",          // bad continuation
           "\xe2\x28\xa1",      // bad continuation
       }) {
    SCOPED_TRACE(absl::CHexEscape(text));
    EXPECT_FALSE(IsValidUtf8(text));
  }
}

TEST(Utf8SequenceLength, MeasuresTheSequenceAtAPositionOrGivesZero) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x80\xe2\x82";
  EXPECT_EQ(Utf8SequenceLength(text, 0), 1u);
  EXPECT_EQ(Utf8SequenceLength(text, 1), 2u);
  EXPECT_EQ(Utf8SequenceLength(text, 3), 3u);
  EXPECT_EQ(Utf8SequenceLength(text, 6), 4u);
  EXPECT_EQ(Utf8SequenceLength(text, 10), 0u);  // a continuation byte alone
  EXPECT_EQ(Utf8SequenceLength(text, 11), 0u);  // cut short by the end
}

TEST(AppendUtf8, EncodesEveryLengthAndReadsBackAsValid) {
  struct Case {
    uint32_t code_point;
    std::string bytes;
  };
  for (const Case& c :
       {Case{0x41, "A"}, Case{0x7f, "\x7f"}, Case{0x80, "\xc2\x80"},
        Case{0xe9, "\xc3\xa9"}, Case{0x7ff, "\xdf\xbf"}, Case{0x800, "\xe0\xa0\x80"},
        Case{0x20ac, "\xe2\x82\xac"}, Case{0xffff, "\xef\xbf\xbf"},
        Case{0x10000, "\xf0\x90\x80\x80"}, Case{0x1f600, "\xf0\x9f\x98\x80"},
        Case{0x10ffff, "\xf4\x8f\xbf\xbf"}}) {
    SCOPED_TRACE(c.code_point);
    std::string out = "x";
    AppendUtf8(c.code_point, &out);
    EXPECT_EQ(out, "x" + c.bytes);
    EXPECT_TRUE(IsValidUtf8(out));
  }
}

}  // namespace
}  // namespace glue
