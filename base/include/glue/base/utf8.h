// UTF-8 (RFC 3629): checking that bytes are well-formed and writing code points. In
// glue_base because several layers meet text from outside: the codec checks names on
// the wire, discovery reads JSON files.
//
//   if (!IsValidUtf8(name)) return absl::InvalidArgumentError("name is not UTF-8");
//   AppendUtf8(0x20ac, &text);  // appends "€", three bytes
#ifndef GLUE_BASE_UTF8_H_
#define GLUE_BASE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace glue {

// Utf8SequenceLength returns the length, 1 to 4, of the well-formed UTF-8 sequence
// that starts at text[pos], or 0 when none starts there: a continuation byte, an
// overlong form, a surrogate, a code point above U+10FFFF or a sequence cut short by
// the end of `text`. `pos` must be less than text.size(). Any thread.
size_t Utf8SequenceLength(std::string_view text, size_t pos);

// IsValidUtf8 reports whether the whole of `text` is well-formed UTF-8, as above. The
// empty string is. Any thread.
bool IsValidUtf8(std::string_view text);

// AppendUtf8 appends the UTF-8 encoding of `code_point`, which must be a Unicode
// scalar value (at most U+10FFFF, not a surrogate). Any thread.
void AppendUtf8(uint32_t code_point, std::string* out);

}  // namespace glue

#endif  // GLUE_BASE_UTF8_H_
