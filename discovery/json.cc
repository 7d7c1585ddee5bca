#include "discovery/json.h"

#include <cstdint>
#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glue/base/status_macros.h"
#include "glue/base/utf8.h"

namespace glue::discovery::internal {
namespace {

bool IsDigit(absl::string_view text, size_t pos) {
  return pos < text.size() && absl::ascii_isdigit(static_cast<unsigned char>(text[pos]));
}

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// DescribeByte names a byte for a message: 'x' when it is printable ASCII, which a
// reader can find in the file; its value otherwise.
std::string DescribeByte(unsigned char c) {
  if (c > 0x20 && c < 0x7f) return absl::StrCat("'", std::string(1, c), "'");
  return absl::StrFormat("byte 0x%02X", c);
}

bool IsHighSurrogate(unsigned unit) { return unit >= 0xd800 && unit <= 0xdbff; }
bool IsLowSurrogate(unsigned unit) { return unit >= 0xdc00 && unit <= 0xdfff; }

}  // namespace

absl::Status LocatedError(absl::StatusCode code, absl::string_view source,
                          TextLocation at, absl::string_view why) {
  return absl::Status(code,
                      absl::StrCat(source, ":", at.line, ":", at.column, ": ", why));
}

void AppendJsonString(absl::string_view utf8, std::string* out) {
  out->push_back('"');
  for (const char c : utf8) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(out, "\\u%04x", c);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

absl::string_view JsonReader::TypeName(Type type) {
  switch (type) {
    case Type::kObject:
      return "an object";
    case Type::kArray:
      return "an array";
    case Type::kString:
      return "a string";
    case Type::kNumber:
      return "a number";
    case Type::kTrue:
      return "true";
    case Type::kFalse:
      return "false";
    case Type::kNull:
      return "null";
  }
  return "a value";
}

JsonReader::JsonReader(absl::string_view text, std::string source, int max_depth)
    : text_(text), source_(std::move(source)), max_depth_(max_depth) {}

absl::StatusOr<JsonReader::Type> JsonReader::Next() {
  SkipWhitespace();
  if (pos_ == text_.size()) {
    return ErrorHere("unexpected end of the text; expected a value");
  }
  switch (text_[pos_]) {
    case '{':
      return Type::kObject;
    case '[':
      return Type::kArray;
    case '"':
      return Type::kString;
    case 't':
      return Type::kTrue;
    case 'f':
      return Type::kFalse;
    case 'n':
      return Type::kNull;
    case '-':
      return Type::kNumber;
    default:
      if (IsDigit(text_, pos_)) return Type::kNumber;
      return ErrorHere(absl::StrCat("expected a value, found ", DescribeNextByte()));
  }
}

TextLocation JsonReader::Where() {
  size_t pos = pos_;
  while (pos < text_.size() && IsWhitespace(text_[pos])) ++pos;
  return LocationOf(pos);
}

absl::StatusOr<std::string> JsonReader::ReadString() {
  GLUE_RETURN_IF_ERROR(ExpectType(Type::kString));
  const size_t start = pos_++;
  std::string out;
  for (;;) {
    if (pos_ == text_.size()) {
      return Error(LocationOf(start), absl::StatusCode::kInvalidArgument,
                   "unterminated string");
    }
    const unsigned char c = static_cast<unsigned char>(text_[pos_]);
    if (c == '"') {
      ++pos_;
      return out;
    }
    if (c == '\\') {
      GLUE_RETURN_IF_ERROR(ReadEscape(&out));
    } else if (c < 0x20) {
      return ErrorHere(absl::StrFormat(
          "control character U+%04X in a string; it must be written escaped", c));
    } else {
      const size_t length =
          Utf8SequenceLength(std::string_view(text_.data(), text_.size()), pos_);
      if (length == 0) {
        return ErrorHere(absl::StrFormat("byte 0x%02X is not valid UTF-8", c));
      }
      out.append(text_.data() + pos_, length);
      pos_ += length;
    }
  }
}

absl::Status JsonReader::ReadEscape(std::string* out) {
  const size_t at = pos_;  // the backslash
  if (pos_ + 1 == text_.size()) {
    return Error(LocationOf(at), absl::StatusCode::kInvalidArgument,
                 "unterminated string");
  }
  const char letter = text_[pos_ + 1];
  pos_ += 2;
  switch (letter) {
    case '"':
    case '\\':
    case '/':
      out->push_back(letter);
      return absl::OkStatus();
    case 'b':
      out->push_back('\b');
      return absl::OkStatus();
    case 'f':
      out->push_back('\f');
      return absl::OkStatus();
    case 'n':
      out->push_back('\n');
      return absl::OkStatus();
    case 'r':
      out->push_back('\r');
      return absl::OkStatus();
    case 't':
      out->push_back('\t');
      return absl::OkStatus();
    case 'u':
      break;
    default:
      return Error(LocationOf(at), absl::StatusCode::kInvalidArgument,
                   absl::StrCat("invalid escape: a backslash and ",
                                DescribeByte(static_cast<unsigned char>(letter)),
                                "; expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                                "\\uXXXX"));
  }
  GLUE_ASSIGN_OR_RETURN(const unsigned unit, ReadHex4());
  uint32_t code = unit;
  if (IsLowSurrogate(unit)) {
    return Error(LocationOf(at), absl::StatusCode::kInvalidArgument,
                 absl::StrFormat("unpaired surrogate \\u%04X: a low surrogate must "
                                 "follow a high one (\\uD800 to \\uDBFF)",
                                 unit));
  }
  if (IsHighSurrogate(unit)) {
    // A character beyond the Basic Multilingual Plane is written as two escapes, a
    // high surrogate and a low one; either alone stands for no character.
    const std::string unpaired = absl::StrFormat(
        "unpaired surrogate \\u%04X: a high surrogate must be followed by a low one "
        "(\\uDC00 to \\uDFFF)",
        unit);
    if (text_.substr(pos_, 2) != "\\u") {
      return Error(LocationOf(at), absl::StatusCode::kInvalidArgument, unpaired);
    }
    pos_ += 2;
    GLUE_ASSIGN_OR_RETURN(const unsigned low, ReadHex4());
    if (!IsLowSurrogate(low)) {
      return Error(LocationOf(at), absl::StatusCode::kInvalidArgument, unpaired);
    }
    code = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
  }
  AppendUtf8(code, out);
  return absl::OkStatus();
}

absl::StatusOr<unsigned> JsonReader::ReadHex4() {
  unsigned value = 0;
  for (int i = 0; i < 4; ++i) {
    if (pos_ == text_.size() ||
        !absl::ascii_isxdigit(static_cast<unsigned char>(text_[pos_]))) {
      return ErrorHere(absl::StrCat("expected four hexadecimal digits after \\u, found ",
                                    DescribeNextByte()));
    }
    const char c = absl::ascii_tolower(static_cast<unsigned char>(text_[pos_++]));
    value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return value;
}

absl::StatusOr<absl::string_view> JsonReader::ReadNumber() {
  GLUE_RETURN_IF_ERROR(ExpectType(Type::kNumber));
  const size_t start = pos_;
  if (text_[pos_] == '-') ++pos_;
  if (!IsDigit(text_, pos_)) {
    return ErrorHere(
        absl::StrCat("expected a digit after '-', found ", DescribeNextByte()));
  }
  if (text_[pos_] == '0') {
    ++pos_;
    if (IsDigit(text_, pos_)) {
      return ErrorHere("a number must not have leading zeros");
    }
  } else {
    while (IsDigit(text_, pos_)) ++pos_;
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (!IsDigit(text_, pos_)) {
      return ErrorHere(
          absl::StrCat("expected a digit after '.', found ", DescribeNextByte()));
    }
    while (IsDigit(text_, pos_)) ++pos_;
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (!IsDigit(text_, pos_)) {
      return ErrorHere(
          absl::StrCat("expected a digit in the exponent, found ", DescribeNextByte()));
    }
    while (IsDigit(text_, pos_)) ++pos_;
  }
  return text_.substr(start, pos_ - start);
}

absl::Status JsonReader::ReadObject(
    absl::FunctionRef<absl::Status(const std::string& name, TextLocation name_at)>
        member) {
  GLUE_RETURN_IF_ERROR(ExpectType(Type::kObject));
  return ReadContainer('}', [&]() -> absl::Status {
    SkipWhitespace();
    if (pos_ == text_.size() || text_[pos_] != '"') {
      return ErrorHere(absl::StrCat("expected a member name in double quotes, found ",
                                    DescribeNextByte()));
    }
    const TextLocation name_at = LocationOf(pos_);
    GLUE_ASSIGN_OR_RETURN(const std::string name, ReadString());
    SkipWhitespace();
    if (pos_ == text_.size() || text_[pos_] != ':') {
      return ErrorHere(
          absl::StrCat("expected ':' after the member name, found ", DescribeNextByte()));
    }
    ++pos_;
    return ReadValueWith([&] { return member(name, name_at); });
  });
}

absl::Status JsonReader::ReadArray(
    absl::FunctionRef<absl::Status(size_t index)> element) {
  GLUE_RETURN_IF_ERROR(ExpectType(Type::kArray));
  size_t index = 0;
  return ReadContainer(']',
                       [&] { return ReadValueWith([&] { return element(index++); }); });
}

absl::Status JsonReader::ReadContainer(char close,
                                       absl::FunctionRef<absl::Status()> item) {
  if (depth_ == max_depth_) {
    return Error(
        LocationOf(pos_), absl::StatusCode::kResourceExhausted,
        absl::StrCat("objects and arrays nest deeper than ", max_depth_, " levels"));
  }
  ++depth_;
  ++pos_;  // '{' or '[', which the caller has seen
  SkipWhitespace();
  if (pos_ < text_.size() && text_[pos_] == close) {
    ++pos_;
    --depth_;
    return absl::OkStatus();
  }
  for (;;) {
    GLUE_RETURN_IF_ERROR(item());
    SkipWhitespace();
    if (pos_ < text_.size() && text_[pos_] == ',') {
      ++pos_;
      continue;
    }
    if (pos_ < text_.size() && text_[pos_] == close) {
      ++pos_;
      --depth_;
      return absl::OkStatus();
    }
    return ErrorHere(absl::StrCat("expected ',' or '", std::string(1, close), "', found ",
                                  DescribeNextByte()));
  }
}

absl::Status JsonReader::ReadValueWith(absl::FunctionRef<absl::Status()> read) {
  SkipWhitespace();
  const size_t start = pos_;
  GLUE_RETURN_IF_ERROR(read());
  if (pos_ == start) {
    // The caller's function read nothing (every value takes a byte at least): what
    // follows would be misread as punctuation.
    return Error(LocationOf(pos_), absl::StatusCode::kInternal,
                 "the reader's caller left a value unread");
  }
  return absl::OkStatus();
}

absl::Status JsonReader::Skip() {
  GLUE_ASSIGN_OR_RETURN(const Type type, Next());
  switch (type) {
    case Type::kObject:
      return ReadObject([this](const std::string&, TextLocation) { return Skip(); });
    case Type::kArray:
      return ReadArray([this](size_t) { return Skip(); });
    case Type::kString:
      return ReadString().status();
    case Type::kNumber:
      return ReadNumber().status();
    case Type::kTrue:
      return ReadLiteral("true");
    case Type::kFalse:
      return ReadLiteral("false");
    case Type::kNull:
      return ReadLiteral("null");
  }
  return absl::OkStatus();
}

absl::Status JsonReader::ReadEnd() {
  SkipWhitespace();
  if (pos_ == text_.size()) return absl::OkStatus();
  return ErrorHere(absl::StrCat("expected the end of the text after the value, found ",
                                DescribeNextByte()));
}

absl::Status JsonReader::Error(TextLocation at, absl::StatusCode code,
                               absl::string_view why) const {
  return LocatedError(code, source_, at, why);
}

absl::Status JsonReader::ErrorHere(absl::string_view why) {
  return Error(LocationOf(pos_), absl::StatusCode::kInvalidArgument, why);
}

absl::Status JsonReader::ExpectType(Type wanted) {
  GLUE_ASSIGN_OR_RETURN(const Type type, Next());
  if (type == wanted) return absl::OkStatus();
  return ErrorHere(
      absl::StrCat("expected ", TypeName(wanted), ", found ", TypeName(type)));
}

absl::Status JsonReader::ReadLiteral(absl::string_view word) {
  if (text_.substr(pos_, word.size()) != word) {
    return ErrorHere(absl::StrCat("expected a value, found ", DescribeNextByte()));
  }
  pos_ += word.size();
  return absl::OkStatus();
}

void JsonReader::SkipWhitespace() {
  while (pos_ < text_.size() && IsWhitespace(text_[pos_])) ++pos_;
}

TextLocation JsonReader::LocationOf(size_t offset) {
  if (offset < counted_to_) {
    counted_to_ = 0;
    counted_at_ = TextLocation();
  }
  for (; counted_to_ < offset; ++counted_to_) {
    const unsigned char c = static_cast<unsigned char>(text_[counted_to_]);
    if (c == '\n') {
      ++counted_at_.line;
      counted_at_.column = 1;
    } else if ((c & 0xc0) != 0x80) {
      ++counted_at_.column;
    }
  }
  return counted_at_;
}

std::string JsonReader::DescribeNextByte() const {
  if (pos_ == text_.size()) return "the end of the text";
  return DescribeByte(static_cast<unsigned char>(text_[pos_]));
}

}  // namespace glue::discovery::internal
