// JsonReader: a strict reader of one JSON text (RFC 8259) for small configuration
// files such as the peers file. It builds no document: the caller asks for the values
// it expects, in order, and skips the rest, so that a file is read in one pass with
// its nesting bounded. Every error gives the line and column. Internal to the
// discovery layer, included as "discovery/json.h".
//
//   JsonReader reader(text, "peers file /etc/glue/peers.json", /*max_depth=*/64);
//   GLUE_RETURN_IF_ERROR(reader.ReadObject(
//       [&](const std::string& key, TextLocation key_at) -> absl::Status {
//         if (key != "port") return reader.Skip();
//         GLUE_ASSIGN_OR_RETURN(absl::string_view digits, reader.ReadNumber());
//         ...
//       }));
//   GLUE_RETURN_IF_ERROR(reader.ReadEnd());
#ifndef GLUE_DISCOVERY_JSON_H_
#define GLUE_DISCOVERY_JSON_H_

#include <cstddef>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glue::discovery::internal {

// TextLocation is a place in a text, both numbers from 1. The column counts
// characters (UTF-8 code points), as editors show it, not bytes.
struct TextLocation {
  int line = 1;
  int column = 1;
};

// LocatedError returns a status of `code` whose message is `SOURCE:LINE:COLUMN: why`,
// the form compilers use, which editors and terminals turn into a link.
absl::Status LocatedError(absl::StatusCode code, absl::string_view source,
                          TextLocation at, absl::string_view why);

// AppendJsonString appends `utf8` to `out` as a JSON string, in double quotes, with
// '"', '\' and the control characters escaped. `utf8` must be valid UTF-8 (see
// glue/base/utf8.h): JSON has no way to carry other bytes.
void AppendJsonString(absl::string_view utf8, std::string* out);

// JsonReader reads values from the front of a text; each Read* consumes one value and
// the whitespace before it. After an error the reader is left where the error was and
// must not be used further. One thread at a time; it holds a view of the text, which
// must outlive it.
//
// Errors: kInvalidArgument for text that is not JSON or a value of another type than
// asked for, kResourceExhausted for nesting deeper than `max_depth`. Messages have
// the form of LocatedError, with `source` as given to the constructor.
class JsonReader {
 public:
  enum class Type { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull };

  // TypeName returns "an object", "a string", "true", ...: for messages.
  static absl::string_view TypeName(Type type);

  // `source` names the text in messages (a file's name, say). Objects and arrays may
  // nest `max_depth` deep: the value at the top is at depth 1.
  JsonReader(absl::string_view text, std::string source, int max_depth);
  JsonReader(const JsonReader&) = delete;
  JsonReader& operator=(const JsonReader&) = delete;

  // Next returns the type of the next value without reading it, or an error when
  // the text ends or what comes next starts no value.
  absl::StatusOr<Type> Next();

  // Where returns the location of the next byte that is not whitespace: after Next,
  // where the next value starts.
  TextLocation Where();

  // ReadString reads a string and returns it decoded: escapes resolved, \uXXXX
  // surrogate pairs joined, as UTF-8.
  absl::StatusOr<std::string> ReadString();

  // ReadNumber reads a number and returns its text as written (`-0.5e3`), checked
  // against the grammar; what range it may have is the caller's to say.
  absl::StatusOr<absl::string_view> ReadNumber();

  // ReadObject reads an object, calling `member` with each member's name and the
  // location of the name. `member` must read the member's value, exactly one (a
  // Read* or Skip), and returns an error to stop the reading with it. Names are not
  // checked for uniqueness: a caller that reads a member refuses it twice itself.
  absl::Status ReadObject(
      absl::FunctionRef<absl::Status(const std::string& name, TextLocation name_at)>
          member);

  // ReadArray reads an array, calling `element` with each element's index (from 0);
  // `element` must read that element, as ReadObject's `member` its value.
  absl::Status ReadArray(absl::FunctionRef<absl::Status(size_t index)> element);

  // Skip reads any one value, checking it as strictly, and drops it.
  absl::Status Skip();

  // ReadEnd checks that nothing but whitespace follows the values read.
  absl::Status ReadEnd();

  // Error returns a status of `code` that points at `at` in this text.
  absl::Status Error(TextLocation at, absl::StatusCode code, absl::string_view why) const;

 private:
  absl::Status ErrorHere(absl::string_view why);
  absl::Status ExpectType(Type wanted);
  absl::Status ReadContainer(char close, absl::FunctionRef<absl::Status()> item);
  absl::Status ReadValueWith(absl::FunctionRef<absl::Status()> read);
  absl::Status ReadEscape(std::string* out);
  absl::StatusOr<unsigned> ReadHex4();
  absl::Status ReadLiteral(absl::string_view word);
  void SkipWhitespace();
  TextLocation LocationOf(size_t offset);
  std::string DescribeNextByte() const;

  absl::string_view text_;
  std::string source_;
  int max_depth_;
  int depth_ = 0;
  size_t pos_ = 0;
  // The location of an offset is counted from the last one asked for, so that asking
  // for locations in order costs one pass over the text in all.
  size_t counted_to_ = 0;
  TextLocation counted_at_;
};

}  // namespace glue::discovery::internal

#endif  // GLUE_DISCOVERY_JSON_H_
