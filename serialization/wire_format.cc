#include "serialization/wire_format.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_format.h"
#include "glue/base/crc32c.h"
#include "glue/base/varint.h"

namespace glue::serialization::wire_format {

uint8_t* WriteChecksumTrailer(const uint8_t* begin, uint8_t* end) {
  const uint32_t crc =
      Crc32c(absl::MakeConstSpan(begin, static_cast<size_t>(end - begin)));
  *end = kChecksumTag;
  return WriteFixed32(crc, end + 1);
}

bool WireReader::Fail(WireError error, const uint8_t* at, uint64_t value) {
  error_ = error;
  error_offset_ = static_cast<size_t>(at - origin_);
  error_value_ = value;
  error_remaining_ = static_cast<size_t>(end_ - at);
  return false;
}

bool WireReader::ReadVarintSlow(size_t max_bytes, uint64_t* value) {
  // Each byte carries 7 bits; the value has 64 at most.
  const int bits = static_cast<int>(std::min<size_t>(7 * max_bytes, 64));
  const absl::Span<const uint8_t> rest(pos_, remaining());
  size_t length = 0;
  switch (glue::ReadVarint(rest, bits, &length, value)) {
    case VarintProblem::kNone:
      pos_ += length;
      return true;
    case VarintProblem::kTruncated:
      return Fail(WireError::kTruncated, pos_);
    case VarintProblem::kTooLong:
      return Fail(WireError::kVarintTooLong, pos_, max_bytes);
    case VarintProblem::kTooWide:
    case VarintProblem::kNotShortest:  // ReadVarint takes any form: never returned
      break;
  }
  return Fail(WireError::kVarintOverflow, pos_, max_bytes);
}

bool WireReader::ReadVarintUint32(uint32_t* value) {
  const uint8_t* start = pos_;
  uint64_t wide;
  if (!ReadVarint(&wide)) {
    return false;
  }
  if (wide > std::numeric_limits<uint32_t>::max()) {
    pos_ = start;
    return Fail(WireError::kValueTooLarge, start, wide);
  }
  *value = static_cast<uint32_t>(wide);
  return true;
}

bool WireReader::ReadFixed64(uint64_t* value) {
  if (remaining() < 8) {
    return Fail(WireError::kTruncated, pos_);
  }
  uint64_t result = 0;
  for (int i = 0; i < 8; ++i) {
    result |= static_cast<uint64_t>(pos_[i]) << (8 * i);
  }
  pos_ += 8;
  *value = result;
  return true;
}

bool WireReader::ReadFixed32(uint32_t* value) {
  if (remaining() < 4) {
    return Fail(WireError::kTruncated, pos_);
  }
  uint32_t result = 0;
  for (int i = 0; i < 4; ++i) {
    result |= static_cast<uint32_t>(pos_[i]) << (8 * i);
  }
  pos_ += 4;
  *value = result;
  return true;
}

bool WireReader::ReadTagSlow(Tag* tag) {
  const uint8_t* start = pos_;
  uint64_t value;
  if (!ReadVarintSlow(kMaxVarint32Bytes, &value)) {
    return false;
  }
  if (value > std::numeric_limits<uint32_t>::max()) {
    pos_ = start;
    return Fail(WireError::kValueTooLarge, start, value);
  }
  const auto field = static_cast<uint32_t>(value >> 3);
  const auto type = static_cast<uint8_t>(value & 7);
  WireError error = WireError::kNone;
  if (field == 0) {
    error = WireError::kFieldNumberZero;
  } else if (type == 3 || type == 4) {
    error = WireError::kGroupWireType;
  } else if (type > 5) {
    error = WireError::kInvalidWireType;
  }
  if (error != WireError::kNone) {
    pos_ = start;
    return Fail(error, start, value);
  }
  tag->field = field;
  tag->type = static_cast<WireType>(type);
  return true;
}

bool WireReader::ReadLengthDelimitedSlow(absl::Span<const uint8_t>* bytes) {
  const uint8_t* start = pos_;
  uint64_t length;
  if (!ReadVarintSlow(kMaxVarint32Bytes, &length)) {
    return false;
  }
  if (length > remaining()) {
    const size_t left = remaining();
    pos_ = start;
    Fail(WireError::kLengthPastEnd, start, length);
    error_remaining_ = left;
    return false;
  }
  *bytes = absl::Span<const uint8_t>(pos_, static_cast<size_t>(length));
  pos_ += length;
  return true;
}

bool WireReader::SkipField(WireType type) {
  switch (type) {
    case WireType::kVarint: {
      uint64_t ignored;
      return ReadVarint(&ignored);
    }
    case WireType::kFixed64: {
      uint64_t ignored;
      return ReadFixed64(&ignored);
    }
    case WireType::kLengthDelimited: {
      absl::Span<const uint8_t> ignored;
      return ReadLengthDelimited(&ignored);
    }
    case WireType::kFixed32: {
      uint32_t ignored;
      return ReadFixed32(&ignored);
    }
    case WireType::kStartGroup:
    case WireType::kEndGroup:
      break;
  }
  return Fail(WireError::kGroupWireType, pos_, static_cast<uint64_t>(type));
}

std::string WireReader::ErrorText() const {
  switch (error_) {
    case WireError::kNone:
      return "no error";
    case WireError::kTruncated:
      return absl::StrFormat("value at offset %d is truncated (%d bytes left)",
                             error_offset_, error_remaining_);
    case WireError::kVarintTooLong:
      return absl::StrFormat("varint at offset %d is longer than %d bytes", error_offset_,
                             error_value_);
    case WireError::kVarintOverflow:
      return absl::StrFormat("varint at offset %d overflows 64 bits", error_offset_);
    case WireError::kValueTooLarge:
      return absl::StrFormat("value %d at offset %d does not fit in 32 bits",
                             error_value_, error_offset_);
    case WireError::kFieldNumberZero:
      return absl::StrFormat("tag at offset %d has field number 0", error_offset_);
    case WireError::kGroupWireType:
      return absl::StrFormat(
          "tag %d at offset %d (field %d) has group wire type %d, which is not "
          "supported",
          error_value_, error_offset_, error_value_ >> 3, error_value_ & 7);
    case WireError::kInvalidWireType:
      return absl::StrFormat("tag %d at offset %d (field %d) has invalid wire type %d",
                             error_value_, error_offset_, error_value_ >> 3,
                             error_value_ & 7);
    case WireError::kLengthPastEnd:
      return absl::StrFormat("length %d at offset %d runs past the end (%d bytes left)",
                             error_value_, error_offset_, error_remaining_);
  }
  return "unknown error";
}

}  // namespace glue::serialization::wire_format
