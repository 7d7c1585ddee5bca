// Varints: unsigned LEB128, as Protocol Buffers (docs/PROTOCOL.md §2, §4), the fragment
// header and the topic messages (§8, §9) encode them. Shared helpers, not a layer; no
// allocation. A writer always writes the shortest form; a reader either accepts any
// form within the field's width, as Protocol Buffers parsers do (ReadVarint), or only
// the shortest (ReadCanonicalVarint).
//
//   uint8_t* end = PutVarint(value, out);  // out needs VarintSize(value) bytes
//   size_t position = 0;
//   uint64_t value;
//   if (ReadCanonicalVarint(bytes, 32, &position, &value) != VarintProblem::kNone) ...
#ifndef GLUE_BASE_VARINT_H_
#define GLUE_BASE_VARINT_H_

#include <bit>
#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace glue {

// kMaxVarintBytes is the longest varint of a 64-bit value: 64 bits in 7-bit groups.
inline constexpr size_t kMaxVarintBytes = 10;

// VarintSize returns the bytes PutVarint writes for `value`: 1 to 10.
constexpr size_t VarintSize(uint64_t value) {
  return static_cast<size_t>((std::bit_width(value | 1) + 6) / 7);
}

// PutVarint writes `value` at `out` (VarintSize(value) bytes) and returns the end.
inline uint8_t* PutVarint(uint64_t value, uint8_t* out) {
  for (; value >= 0x80; value >>= 7) *out++ = static_cast<uint8_t>(value | 0x80);
  *out++ = static_cast<uint8_t>(value);
  return out;
}

// VarintProblem says what ReadVarint or ReadCanonicalVarint found wrong.
enum class VarintProblem {
  kNone,
  kTruncated,    // the bytes end before the varint does
  kTooLong,      // more bytes than the field's width needs
  kTooWide,      // a value beyond the field's width
  kNotShortest,  // longer than its shortest form (a last byte of 0x00); only
                 // ReadCanonicalVarint finds this
};

// ReadVarint reads the varint of a field of `bits` (1 to 64) at `*position` in
// `bytes` into `*value` and moves `*position` past it; or returns what is wrong, never
// reading beyond the field's width (`*position` is then past the byte at fault, and
// `*value` unspecified). Like a Protocol Buffers parser, it accepts a form longer than
// the shortest (0x81 0x00 is 1) as long as it takes no more bytes than the width does:
// 10 bytes for 64 bits, where the last may only carry bit 63.
inline VarintProblem ReadVarint(absl::Span<const uint8_t> bytes, int bits,
                                size_t* position, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0;; shift += 7) {
    if (*position == bytes.size()) return VarintProblem::kTruncated;
    const uint8_t byte = bytes[(*position)++];
    // The bits of the field this byte's 7 may still fill: its last byte when <= 7,
    // the only byte that can be too long or too wide.
    const int bits_left = bits - shift;
    if (bits_left <= 7) {
      if ((byte & 0x80) != 0) return VarintProblem::kTooLong;
      if ((byte >> bits_left) != 0) return VarintProblem::kTooWide;
    }
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      *value = result;
      return VarintProblem::kNone;
    }
  }
}

// ReadCanonicalVarint is ReadVarint that also refuses a form longer than the shortest
// (kNotShortest), so that every value has one encoding.
inline VarintProblem ReadCanonicalVarint(absl::Span<const uint8_t> bytes, int bits,
                                         size_t* position, uint64_t* value) {
  const size_t start = *position;
  const VarintProblem problem = ReadVarint(bytes, bits, position, value);
  // Only a last byte may be 0x00, and only the last of one byte is its shortest form.
  if (problem == VarintProblem::kNone && *position - start > 1 &&
      bytes[*position - 1] == 0) {
    return VarintProblem::kNotShortest;
  }
  return problem;
}

}  // namespace glue

#endif  // GLUE_BASE_VARINT_H_
