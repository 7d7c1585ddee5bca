#include "glue/fragmentation/fragment_header.h"

#include <cstring>
#include <initializer_list>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"

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

// The ways the bytes of a header can be wrong, found without building a message so
// that ParseFragmentHeader need not allocate.
enum class Malformation {
  kNone,
  kEmpty,
  kUnknownKind,
  kTruncated,    // in kFields[field], from byte `start`
  kTooLong,      // likewise: more bytes than the field's width needs
  kTooWide,      // likewise: a value beyond the field's width
  kNotShortest,  // likewise: a varint longer than its shortest form
  kTrailing,     // bytes after the last field, from byte `position`
};

struct Scan {
  Malformation malformation = Malformation::kNone;
  size_t field = 0;     // the field at fault
  size_t start = 0;     // where that field begins
  size_t position = 0;  // how far the scan read
  FragmentHeader header;
};

// ReadVarint reads the varint of `field` at scan->position in `meta` into `*value` and
// moves the position past it, or records what is wrong.
bool ReadVarint(absl::Span<const uint8_t> meta, size_t field, Scan* scan,
                uint64_t* value) {
  scan->field = field;
  scan->start = scan->position;
  switch (ReadCanonicalVarint(meta, kFields[field].bits, &scan->position, value)) {
    case VarintProblem::kNone:
      return true;
    case VarintProblem::kTruncated:
      scan->malformation = Malformation::kTruncated;
      return false;
    case VarintProblem::kTooLong:
      scan->malformation = Malformation::kTooLong;
      return false;
    case VarintProblem::kTooWide:
      scan->malformation = Malformation::kTooWide;
      return false;
    case VarintProblem::kNotShortest:
      scan->malformation = Malformation::kNotShortest;
      return false;
  }
  return false;
}

// ScanHeader decodes the bytes of `meta` into scan.header, or says what is wrong with
// them. It does not validate the header's values.
Scan ScanHeader(absl::Span<const uint8_t> meta) {
  Scan scan;
  if (meta.empty()) {
    scan.malformation = Malformation::kEmpty;
    return scan;
  }
  if (meta[0] != kFragmentHeaderKind) {
    scan.malformation = Malformation::kUnknownKind;
    return scan;
  }
  scan.position = 1;
  uint64_t values[std::size(kFields)];
  for (size_t i = 0; i < std::size(kFields); ++i) {
    if (!ReadVarint(meta, i, &scan, &values[i])) return scan;
  }
  if (scan.position != meta.size()) {
    scan.malformation = Malformation::kTrailing;
    return scan;
  }
  // ReadVarint kept the 32-bit fields within 32 bits.
  scan.header = {
      .message_id = values[0],
      .total_bytes = values[1],
      .fragment_bytes = static_cast<uint32_t>(values[2]),
      .index = static_cast<uint32_t>(values[3]),
      .checksum = static_cast<uint32_t>(values[4]),
      .time_to_live_ms = static_cast<uint32_t>(values[5]),
  };
  return scan;
}

// MalformationError describes what ScanHeader found wrong with `meta`.
absl::Status MalformationError(const Scan& scan, absl::Span<const uint8_t> meta) {
  const auto at = [&scan] {
    return absl::StrCat("fragment header: ", kFields[scan.field].name, " at byte ",
                        scan.start);
  };
  switch (scan.malformation) {
    case Malformation::kNone:
      break;
    case Malformation::kEmpty:
      return absl::InvalidArgumentError(
          "fragment header: meta is empty; only fragments carry a header");
    case Malformation::kUnknownKind:
      return absl::InvalidArgumentError(absl::StrFormat(
          "fragment header: kind byte 0x%02x is unknown (expected 0x%02x)", meta[0],
          kFragmentHeaderKind));
    case Malformation::kTruncated:
      return absl::InvalidArgumentError(
          absl::StrCat(at(), " is truncated: meta ends after ", meta.size(), " bytes"));
    case Malformation::kTooLong:
      return absl::InvalidArgumentError(absl::StrCat(
          at(), " is a varint longer than ", scan.position - scan.start, " bytes"));
    case Malformation::kTooWide:
      return absl::InvalidArgumentError(absl::StrCat(
          at(), " is a varint beyond the field's ", kFields[scan.field].bits, " bits"));
    case Malformation::kNotShortest:
      return absl::InvalidArgumentError(
          absl::StrCat(at(), " is a varint longer than its shortest form (",
                       scan.position - scan.start, " bytes ending in 0x00)"));
    case Malformation::kTrailing:
      return absl::InvalidArgumentError(
          absl::StrCat("fragment header: ", meta.size() - scan.position,
                       " bytes after the last field, from byte ", scan.position));
  }
  return absl::OkStatus();
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
  const Scan scan = ScanHeader(meta);
  if (scan.malformation != Malformation::kNone) return MalformationError(scan, meta);
  GLUE_RETURN_IF_ERROR(ValidateFragmentHeader(scan.header, max_message_bytes));
  return scan.header;
}

std::optional<FragmentHeader> ParseFragmentHeader(absl::Span<const uint8_t> meta,
                                                  uint64_t max_message_bytes) {
  const Scan scan = ScanHeader(meta);
  if (scan.malformation != Malformation::kNone ||
      !IsValidFragmentHeader(scan.header, max_message_bytes)) {
    return std::nullopt;
  }
  return scan.header;
}

}  // namespace glue::fragmentation
