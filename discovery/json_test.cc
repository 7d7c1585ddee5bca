#include "discovery/json.h"

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_macros.h"
#include "glue/base/status_matchers.h"

namespace glue::discovery::internal {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kDepth = 64;

// ReadStringValue reads `text`, a JSON string alone.
absl::StatusOr<std::string> ReadStringValue(absl::string_view text) {
  JsonReader reader(text, "t", kDepth);
  GLUE_ASSIGN_OR_RETURN(std::string value, reader.ReadString());
  GLUE_RETURN_IF_ERROR(reader.ReadEnd());
  return value;
}

// SkipAll reads `text` as one JSON value and nothing after it.
absl::Status SkipAll(absl::string_view text, int max_depth = kDepth) {
  JsonReader reader(text, "t", max_depth);
  GLUE_RETURN_IF_ERROR(reader.Skip());
  return reader.ReadEnd();
}

TEST(JsonReader, ReadsMembersAndElementsInOrderAndSkipsTheRest) {
  const std::string text = R"({
    "a": [1, -2.5e+3, "x", true, false, null, {}, []],
    "b": {"c": {"d": [[]]}},
    "port" : 27400
  })";
  JsonReader reader(text, "t", kDepth);
  std::vector<std::string> names;
  std::string port;
  ASSERT_OK(reader.ReadObject([&](const std::string& name, TextLocation) -> absl::Status {
    names.push_back(name);
    if (name != "port") return reader.Skip();
    GLUE_ASSIGN_OR_RETURN(absl::string_view digits, reader.ReadNumber());
    port = std::string(digits);
    return absl::OkStatus();
  }));
  EXPECT_OK(reader.ReadEnd());
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "port"}));
  EXPECT_EQ(port, "27400");
}

TEST(JsonReader, NextSaysTheTypeWithoutReading) {
  JsonReader reader(R"( [{}, [], "s", 0, -1, true, false, null] )", "t", kDepth);
  std::vector<JsonReader::Type> types;
  ASSERT_OK(reader.ReadArray([&](size_t) -> absl::Status {
    GLUE_ASSIGN_OR_RETURN(JsonReader::Type type, reader.Next());
    types.push_back(type);
    return reader.Skip();
  }));
  using Type = JsonReader::Type;
  EXPECT_EQ(types,
            (std::vector<Type>{Type::kObject, Type::kArray, Type::kString, Type::kNumber,
                               Type::kNumber, Type::kTrue, Type::kFalse, Type::kNull}));
}

TEST(JsonReader, DecodesEveryEscapeAndJoinsSurrogatePairs) {
  ASSERT_OK_AND_ASSIGN(
      std::string value,
      ReadStringValue(R"("\"\\\/\b\f\n\r\t\u0041\u00e9\u20AC\ud83d\ude00")"));
  EXPECT_EQ(value, "\"\\/\b\f\n\r\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
  ASSERT_OK_AND_ASSIGN(value, ReadStringValue(R"("\u0000")"));
  EXPECT_EQ(value, std::string(1, '\0'));
  // UTF-8 written as such passes through.
  ASSERT_OK_AND_ASSIGN(value, ReadStringValue("\"caf\xc3\xa9 \xf0\x9f\x98\x80\""));
  EXPECT_EQ(value, "caf\xc3\xa9 \xf0\x9f\x98\x80");
}

TEST(JsonReader, RefusesBadEscapesUnpairedSurrogatesAndRawControlCharacters) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {R"("\x")", "t:1:2: invalid escape: a backslash and 'x'"},
      {R"("\u12")", "t:1:6: expected four hexadecimal digits after \\u, found '\"'"},
      {R"("\u12g4")", "t:1:6: expected four hexadecimal digits after \\u, found 'g'"},
      {R"("\ud800")", "t:1:2: unpaired surrogate \\uD800: a high surrogate must be"},
      {R"("\ud800\u0041")", "t:1:2: unpaired surrogate \\uD800"},
      {R"("\ud800x")", "t:1:2: unpaired surrogate \\uD800"},
      {R"("\udc00")", "t:1:2: unpaired surrogate \\uDC00: a low surrogate must follow"},
      {"\"a\nb\"", "t:1:3: control character U+000A in a string"},
      {"\"a\tb\"", "t:1:3: control character U+0009"},
      {"\"abc", "t:1:1: unterminated string"},
      {"\"abc\\", "t:1:5: unterminated string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ReadStringValue(c.text),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(JsonReader, RefusesStringsThatAreNotUtf8) {
  const std::vector<std::string> cases = {
      "\"\x80\"",              // a continuation byte alone
      "\"\xc3\"",              // a sequence cut short by the quote
      "\"\xc0\xaf\"",          // an overlong '/'
      "\"\xe0\x80\xaf\"",      // overlong in three bytes
      "\"\xed\xa0\x80\"",      // a surrogate, encoded
      "\"\xf4\x90\x80\x80\"",  // above U+10FFFF
      "\"\xff\"",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(absl::CHexEscape(text));
    EXPECT_THAT(ReadStringValue(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                                HasSubstr("t:1:2: byte 0x")));
  }
}

TEST(JsonReader, NumbersFollowTheGrammar) {
  for (const char* good :
       {"0", "-0", "7", "27400", "1.5", "-0.25", "1e10", "1E+2", "2e-3", "-12.5e-07"}) {
    SCOPED_TRACE(good);
    JsonReader reader(good, "t", kDepth);
    ASSERT_OK_AND_ASSIGN(absl::string_view number, reader.ReadNumber());
    EXPECT_EQ(number, good);
    EXPECT_OK(reader.ReadEnd());
  }
  struct Case {
    const char* text;
    const char* message;
  };
  for (const Case& c : std::vector<Case>{
           {"01", "t:1:2: a number must not have leading zeros"},
           {"-", "t:1:2: expected a digit after '-', found the end of the text"},
           {"-a", "t:1:2: expected a digit after '-', found 'a'"},
           {"1.", "t:1:3: expected a digit after '.', found the end of the text"},
           {"1.e5", "t:1:3: expected a digit after '.', found 'e'"},
           {"1e", "t:1:3: expected a digit in the exponent, found the end of the text"},
           {"1e+", "t:1:4: expected a digit in the exponent, found the end of the text"},
           {"+1", "t:1:1: expected a value, found '+'"},
           {".5", "t:1:1: expected a value, found '.'"},
           {"0x10", "t:1:2: expected the end of the text after the value, found 'x'"},
           {"NaN", "t:1:1: expected a value, found 'N'"},
           {"Infinity", "t:1:1: expected a value, found 'I'"},
       }) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(SkipAll(c.text), StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST(JsonReader, RefusesWhatIsNotJson) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"", "t:1:1: unexpected end of the text; expected a value"},
      {"  \n ", "t:2:2: unexpected end of the text; expected a value"},
      {"{", "t:1:2: expected a member name in double quotes, found the end of the text"},
      {"{\"a\"", "t:1:5: expected ':' after the member name, found the end of the text"},
      {"{\"a\":", "t:1:6: unexpected end of the text; expected a value"},
      {"{\"a\":1", "t:1:7: expected ',' or '}', found the end of the text"},
      {"{\"a\":1,}", "t:1:8: expected a member name in double quotes, found '}'"},
      {"[1,]", "t:1:4: expected a value, found ']'"},
      {"[1 2]", "t:1:4: expected ',' or ']', found '2'"},
      {"{a:1}", "t:1:2: expected a member name in double quotes, found 'a'"},
      {"{'a':1}", "t:1:2: expected a member name in double quotes, found '''"},
      {"{\"a\" 1}", "t:1:6: expected ':' after the member name, found '1'"},
      {"[tru]", "t:1:2: expected a value, found 't'"},
      {"[nul", "t:1:2: expected a value, found 'n'"},
      {"[truex]", "t:1:6: expected ',' or ']', found 'x'"},
      {"{} {}", "t:1:4: expected the end of the text after the value, found '{'"},
      {"[] // note", "t:1:4: expected the end of the text after the value, found '/'"},
      {"\xc3\xa9", "t:1:1: expected a value, found byte 0xC3"},
      {"[\v1]", "t:1:2: expected a value, found byte 0x0B"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::CHexEscape(c.text));
    EXPECT_THAT(SkipAll(c.text), StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST(JsonReader, ColumnsCountCharactersAndLinesCountNewlines) {
  // "é" and "😀" are one character each, of two and four bytes.
  const std::string text = "{\"\xc3\xa9\": 1,\r\n \"\xf0\x9f\x98\x80\": [1, 2 3]}";
  JsonReader reader(text, "t", kDepth);
  std::vector<std::pair<int, int>> names;
  EXPECT_THAT(reader.ReadObject([&](const std::string&, TextLocation at) {
    names.emplace_back(at.line, at.column);
    return reader.Skip();
  }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t:2:13: expected ',' or ']', found '3'"));
  EXPECT_EQ(names, (std::vector<std::pair<int, int>>{{1, 2}, {2, 2}}));
}

TEST(JsonReader, NestingIsBoundedWhereverItIs) {
  auto nested = [](int depth) {
    return absl::StrCat(std::string(depth, '['), std::string(depth, ']'));
  };
  EXPECT_OK(SkipAll(nested(kDepth)));
  EXPECT_THAT(SkipAll(nested(kDepth + 1)),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "t:1:65: objects and arrays nest deeper than 64 levels"));
  // Objects count as arrays do, and the bound is the reader's.
  EXPECT_OK(SkipAll(R"({"a": {"b": [1]}})", 3));
  EXPECT_THAT(SkipAll(R"({"a": {"b": [{}]}})", 3),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("t:1:14:")));
  // Far more than the stack could take, refused without recursing that deep.
  EXPECT_THAT(SkipAll(std::string(1'000'000, '[')),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(JsonReader, AskingForAnotherTypeIsAnError) {
  JsonReader reader(R"(["s"])", "t", kDepth);
  EXPECT_THAT(reader.ReadObject(
                  [](const std::string&, TextLocation) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "t:1:1: expected an object, found an array"));
}

TEST(JsonReader, ACallerThatReadsNoValueIsCaught) {
  JsonReader reader(R"({"a": 1, "b": 2})", "t", kDepth);
  EXPECT_THAT(reader.ReadObject(
                  [](const std::string&, TextLocation) { return absl::OkStatus(); }),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("t:1:7: ")));
}

TEST(JsonReader, ACallersErrorStopsTheReading) {
  JsonReader reader("[1, 2, 3]", "t", kDepth);
  size_t calls = 0;
  EXPECT_THAT(reader.ReadArray([&](size_t index) -> absl::Status {
    ++calls;
    if (index == 1) return absl::CancelledError("stop");
    return reader.Skip();
  }),
              StatusIs(absl::StatusCode::kCancelled, "stop"));
  EXPECT_EQ(calls, 2u);
}

TEST(AppendJsonString, EscapesWhatMustBeEscapedAndReadsBack) {
  const std::string value =
      std::string("q\"b\\s/\b\f\n\r\t\x01\x1f\x7f caf\xc3\xa9") + std::string(1, '\0');
  std::string json;
  AppendJsonString(value, &json);
  EXPECT_EQ(json,
            std::string("\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\x7f caf\xc3\xa9"
                        "\\u0000\""));
  EXPECT_THAT(ReadStringValue(json), IsOk());
  EXPECT_EQ(*ReadStringValue(json), value);
}

}  // namespace
}  // namespace glue::discovery::internal
