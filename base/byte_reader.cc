#include "glue/base/byte_reader.h"

#include "absl/strings/str_cat.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"

namespace glue {

void AppendVarint(uint64_t value, std::vector<uint8_t>* out) {
  uint8_t bytes[kMaxVarintBytes];
  out->insert(out->end(), bytes, PutVarint(value, bytes));
}

void AppendString(absl::string_view s, std::vector<uint8_t>* out) {
  AppendVarint(s.size(), out);
  out->insert(out->end(), s.begin(), s.end());
}

void AppendFixed64(uint64_t value, std::vector<uint8_t>* out) {
  out->resize(out->size() + 8);
  PutFixed64(value, out->data() + out->size() - 8);
}

void PutFixed64(uint64_t value, uint8_t* out) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
}

uint64_t LoadFixed64(const uint8_t* in) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i) value |= uint64_t{in[i]} << (8 * i);
  return value;
}

ByteReader::ByteReader(absl::Span<const uint8_t> bytes, absl::string_view what)
    : bytes_(bytes), what_(what) {}

absl::StatusOr<uint8_t> ByteReader::Byte(absl::string_view field) {
  if (done()) return Truncated(field, position_);
  return bytes_[position_++];
}

absl::StatusOr<uint64_t> ByteReader::Varint(absl::string_view field, int bits,
                                            uint64_t max) {
  const size_t start = position_;
  uint64_t value = 0;
  switch (ReadCanonicalVarint(bytes_, bits, &position_, &value)) {
    case VarintProblem::kNone:
      if (value > max) {
        return Invalid(field, start, absl::StrCat(value, " is above ", max));
      }
      return value;
    case VarintProblem::kTruncated:
      return Truncated(field, start);
    case VarintProblem::kTooLong:
    case VarintProblem::kTooWide:
      return Invalid(field, start, absl::StrCat("beyond ", bits, " bits"));
    case VarintProblem::kNotShortest:
      return Invalid(field, start, "longer than its shortest form");
  }
  return Invalid(field, start, "unreadable");
}

absl::StatusOr<absl::string_view> ByteReader::View(absl::string_view field) {
  const size_t start = position_;
  GLUE_ASSIGN_OR_RETURN(uint64_t size, Varint(field));
  if (size > rest().size()) {
    return Invalid(
        field, start,
        absl::StrCat("a string of ", size, " bytes, but ", rest().size(), " remain"));
  }
  absl::string_view s(reinterpret_cast<const char*>(bytes_.data() + position_), size);
  position_ += size;
  return s;
}

absl::StatusOr<std::string> ByteReader::String(absl::string_view field) {
  GLUE_ASSIGN_OR_RETURN(absl::string_view s, View(field));
  return std::string(s);
}

absl::StatusOr<uint64_t> ByteReader::Fixed64(absl::string_view field) {
  if (rest().size() < 8) return Truncated(field, position_);
  const uint64_t value = LoadFixed64(bytes_.data() + position_);
  position_ += 8;
  return value;
}

absl::Status ByteReader::Invalid(absl::string_view field, size_t start,
                                 absl::string_view why) const {
  return absl::InvalidArgumentError(
      absl::StrCat(what_, ": ", field, " at byte ", start, " is ", why));
}

absl::Status ByteReader::Truncated(absl::string_view field, size_t start) const {
  return Invalid(field, start, "truncated");
}

}  // namespace glue
