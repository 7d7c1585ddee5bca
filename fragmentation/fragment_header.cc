#include "glue/fragmentation/fragment_header.h"

#include <cstring>
#include <initializer_list>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "glue/base/status_macros.h"

namespace glue::fragmentation {
namespace {

// Problem is the first rule a header breaks; kept apart from its message so that
// IsValidFragmentHeader need not build one.
enum class Problem {
  kNone,
  kFragmentBytesZero,
  kNotFragmented,
  kTooLarge,
  kTooManyFragments,
  kIndexOutOfRange,
};

Problem FindProblem(const FragmentHeader& header, uint64_t max_message_bytes) {
  if (header.fragment_bytes == 0) return Problem::kFragmentBytesZero;
  if (header.total_bytes <= header.fragment_bytes) return Problem::kNotFragmented;
  if (header.total_bytes > max_message_bytes) return Problem::kTooLarge;
  const uint64_t count = FragmentCount(header.total_bytes, header.fragment_bytes);
  if (count > kMaxFragmentCount) return Problem::kTooManyFragments;
  if (header.index >= count) return Problem::kIndexOutOfRange;
  return Problem::kNone;
}

// A field of the encoding: its name, for errors, and its width in bits.
struct Field {
  absl::string_view name;
  int bits;
};
constexpr Field kFields[] = {
    {"message_id", 64}, {"total_bytes", 64}, {"fragment_bytes", 32},
    {"index", 32},      {"checksum", 32},    {"time_to_live_ms", 32},
};

uint8_t* PutVarint(uint64_t value, uint8_t* out) {
  for (; value >= 0x80; value >>= 7) *out++ = static_cast<uint8_t>(value | 0x80);
  *out++ = static_cast<uint8_t>(value);
  return out;
}

// ReadVarint reads the varint of `field` at `*position` in `meta` into `*value` and
// moves `*position` past it, or fails without reading beyond the field's width.
absl::Status ReadVarint(absl::Span<const uint8_t> meta, const Field& field,
                        size_t* position, uint64_t* value) {
  const size_t start = *position;
  uint64_t result = 0;
  for (int shift = 0;; shift += 7) {
    if (*position == meta.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("fragment header: ", field.name, " at byte ", start,
                       " is truncated: meta ends after ", meta.size(), " bytes"));
    }
    const uint8_t byte = meta[(*position)++];
    // The bits of the field this byte's 7 may still fill: its last byte when <= 7.
    const int bits_left = field.bits - shift;
    if (bits_left <= 7 && (byte & 0x80) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("fragment header: ", field.name, " at byte ", start,
                       " is a varint longer than ", *position - start, " bytes"));
    }
    if (bits_left < 7 && (byte >> bits_left) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("fragment header: ", field.name, " at byte ", start,
                       " is a varint beyond the field's ", field.bits, " bits"));
    }
    result |= uint64_t{byte & 0x7fu} << shift;
    if ((byte & 0x80) == 0) {
      if (byte == 0 && shift > 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("fragment header: ", field.name, " at byte ", start,
                         " is a varint longer than its shortest form (",
                         *position - start, " bytes ending in 0x00)"));
      }
      *value = result;
      return absl::OkStatus();
    }
  }
}

}  // namespace

bool IsValidFragmentHeader(const FragmentHeader& header, uint64_t max_message_bytes) {
  return FindProblem(header, max_message_bytes) == Problem::kNone;
}

absl::Status ValidateFragmentHeader(const FragmentHeader& header,
                                    uint64_t max_message_bytes) {
  const uint64_t total = header.total_bytes;
  const uint32_t fragment = header.fragment_bytes;
  switch (FindProblem(header, max_message_bytes)) {
    case Problem::kNone:
      return absl::OkStatus();
    case Problem::kFragmentBytesZero:
      return absl::InvalidArgumentError(
          "fragment header: fragment_bytes = 0, must be at least 1");
    case Problem::kNotFragmented:
      return absl::InvalidArgumentError(absl::StrCat(
          "fragment header: total_bytes = ", total, " is not above fragment_bytes = ",
          fragment, "; a message that fits one fragment is sent whole"));
    case Problem::kTooLarge:
      return absl::InvalidArgumentError(
          absl::StrCat("fragment header: total_bytes = ", total,
                       " exceeds max_message_bytes = ", max_message_bytes));
    case Problem::kTooManyFragments:
      return absl::InvalidArgumentError(absl::StrCat(
          "fragment header: total_bytes = ", total, " in fragments of fragment_bytes = ",
          fragment, " makes ", FragmentCount(total, fragment),
          " fragments, more than kMaxFragmentCount = ", kMaxFragmentCount));
    case Problem::kIndexOutOfRange:
      return absl::InvalidArgumentError(absl::StrCat(
          "fragment header: index = ", header.index, " is not below the ",
          FragmentCount(total, fragment), " fragments of total_bytes = ", total,
          " in fragment_bytes = ", fragment));
  }
  return absl::InternalError("fragment header: unknown problem");
}

size_t EncodeFragmentHeader(const FragmentHeader& header, absl::Span<uint8_t> out) {
  uint8_t bytes[kMaxFragmentHeaderBytes];
  uint8_t* end = bytes;
  *end++ = kFragmentHeaderKind;
  for (uint64_t value : {header.message_id, header.total_bytes,
                         uint64_t{header.fragment_bytes}, uint64_t{header.index},
                         uint64_t{header.checksum}, uint64_t{header.time_to_live_ms}}) {
    end = PutVarint(value, end);
  }
  const size_t size = end - bytes;
  if (out.size() < size) return 0;
  std::memcpy(out.data(), bytes, size);
  return size;
}

absl::StatusOr<FragmentHeader> DecodeFragmentHeader(absl::Span<const uint8_t> meta,
                                                    uint64_t max_message_bytes) {
  if (meta.empty()) {
    return absl::InvalidArgumentError(
        "fragment header: meta is empty; only fragments carry a header");
  }
  if (meta[0] != kFragmentHeaderKind) {
    return absl::InvalidArgumentError(
        absl::StrFormat("fragment header: kind byte 0x%02x is unknown (expected 0x%02x)",
                        meta[0], kFragmentHeaderKind));
  }
  size_t position = 1;
  uint64_t values[std::size(kFields)];
  for (size_t i = 0; i < std::size(kFields); ++i) {
    GLUE_RETURN_IF_ERROR(ReadVarint(meta, kFields[i], &position, &values[i]));
  }
  if (position != meta.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fragment header: ", meta.size() - position,
                     " bytes after the last field, from byte ", position));
  }
  // ReadVarint kept the 32-bit fields within 32 bits.
  const FragmentHeader header = {
      .message_id = values[0],
      .total_bytes = values[1],
      .fragment_bytes = static_cast<uint32_t>(values[2]),
      .index = static_cast<uint32_t>(values[3]),
      .checksum = static_cast<uint32_t>(values[4]),
      .time_to_live_ms = static_cast<uint32_t>(values[5]),
  };
  GLUE_RETURN_IF_ERROR(ValidateFragmentHeader(header, max_message_bytes));
  return header;
}

}  // namespace glue::fragmentation
