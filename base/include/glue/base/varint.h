// Canonical varints: unsigned LEB128 in its shortest form, within a field's width, as
// the fragment header and the topic messages encode them (docs/PROTOCOL.md §8, §9).
// Shared helpers, not a layer; no allocation.
//
//   uint8_t* end = PutVarint(value, out);  // out needs VarintSize(value) bytes
//   size_t position = 0;
//   uint64_t value;
//   if (ReadCanonicalVarint(bytes, 32, &position, &value) != VarintProblem::kNone) ...
#ifndef GLUE_BASE_VARINT_H_
#define GLUE_BASE_VARINT_H_

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"

namespace glue {

// VarintSize returns the bytes PutVarint writes for `value`: 1 to 10.
constexpr size_t VarintSize(uint64_t value) {
  size_t size = 1;
  for (; value >= 0x80; value >>= 7) ++size;
  return size;
}

// PutVarint writes `value` at `out` (VarintSize(value) bytes) and returns the end.
inline uint8_t* PutVarint(uint64_t value, uint8_t* out) {
  for (; value >= 0x80; value >>= 7) *out++ = static_cast<uint8_t>(value | 0x80);
  *out++ = static_cast<uint8_t>(value);
  return out;
}

// VarintProblem says what ReadCanonicalVarint found wrong.
enum class VarintProblem {
  kNone,
  kTruncated,    // the bytes end before the varint does
  kTooLong,      // more bytes than the field's width needs
  kTooWide,      // a value beyond the field's width
  kNotShortest,  // longer than its shortest form (a last byte of 0x00)
};

// ReadCanonicalVarint reads the varint of a field of `bits` (1 to 64) at `*position`
// in `bytes` into `*value` and moves `*position` past it; or returns what is wrong,
// never reading beyond the field's width (`*position` is then past the byte at fault).
inline VarintProblem ReadCanonicalVarint(absl::Span<const uint8_t> bytes, int bits,
                                         size_t* position, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0;; shift += 7) {
    if (*position == bytes.size()) return VarintProblem::kTruncated;
    const uint8_t byte = bytes[(*position)++];
    // The bits of the field this byte's 7 may still fill: its last byte when <= 7.
    const int bits_left = bits - shift;
    if (bits_left <= 7 && (byte & 0x80) != 0) return VarintProblem::kTooLong;
    if (bits_left < 7 && (byte >> bits_left) != 0) return VarintProblem::kTooWide;
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) return VarintProblem::kNotShortest;
      *value = result;
      return VarintProblem::kNone;
    }
  }
}

}  // namespace glue

#endif  // GLUE_BASE_VARINT_H_
