// Primitives of the Protocol Buffers wire format (tags, fixed-width integers,
// length-delimited fields; the varints are glue/base/varint.h's, the UTF-8 checks
// glue/base/utf8.h's) and the checksum trailer that ends every glue datagram, written
// by hand so that the codec reads datagrams in place. Internal to the serialization
// layer; the codec (datagram_encoder.cc, datagram_decoder.cc, envelope_parser.cc)
// builds on it.
//
//   WireReader reader(bytes);
//   while (!reader.AtEnd()) {
//     Tag tag;
//     if (!reader.ReadTag(&tag)) return Malformed(reader.ErrorText());
//     switch (tag.field) { ... default: reader.SkipField(tag.type); }
//   }
#ifndef GLUE_SERIALIZATION_WIRE_FORMAT_H_
#define GLUE_SERIALIZATION_WIRE_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/types/span.h"
#include "glue/base/varint.h"

namespace glue::serialization::wire_format {

// WireType is the low three bits of a tag.
enum class WireType : uint8_t {
  kVarint = 0,
  kFixed64 = 1,
  kLengthDelimited = 2,
  kStartGroup = 3,  // rejected
  kEndGroup = 4,    // rejected
  kFixed32 = 5,
};

// kMaxVarint32Bytes is the longest tag or length prefix, as the reference parser
// reads them: 32 bits in 7-bit groups. Any other varint may take kMaxVarintBytes.
inline constexpr size_t kMaxVarint32Bytes = 5;

// TagSize returns the number of bytes of the tag of field `field`.
constexpr size_t TagSize(uint32_t field) {
  return VarintSize(static_cast<uint64_t>(field) << 3);
}

// LengthDelimitedSize returns the size of a length-delimited field of `field` whose
// content is `content_bytes` long: tag, length prefix and content.
constexpr size_t LengthDelimitedSize(uint32_t field, size_t content_bytes) {
  return TagSize(field) + VarintSize(content_bytes) + content_bytes;
}

// The writers below write at `out`, which must have room for what they write (the
// callers compute sizes first), and return the position after it.

inline uint8_t* WriteTag(uint32_t field, WireType type, uint8_t* out) {
  return PutVarint((static_cast<uint64_t>(field) << 3) | static_cast<uint64_t>(type),
                   out);
}

inline uint8_t* WriteFixed64(uint64_t value, uint8_t* out) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * i));
  }
  return out + 8;
}

inline uint8_t* WriteFixed32(uint32_t value, uint8_t* out) {
  for (int i = 0; i < 4; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * i));
  }
  return out + 4;
}

// WriteLengthPrefix writes the tag of length-delimited field `field` and `length`;
// the content follows.
inline uint8_t* WriteLengthPrefix(uint32_t field, size_t length, uint8_t* out) {
  return PutVarint(length, WriteTag(field, WireType::kLengthDelimited, out));
}

inline uint8_t* WriteBytes(uint32_t field, absl::Span<const uint8_t> bytes,
                           uint8_t* out) {
  out = WriteLengthPrefix(field, bytes.size(), out);
  if (!bytes.empty()) {
    std::memcpy(out, bytes.data(), bytes.size());
  }
  return out + bytes.size();
}

// The checksum trailer (serialization/wire.proto, Envelope.checksum): the last
// kChecksumTrailerBytes of every datagram are kChecksumTag, the one-byte tag of field 7
// with wire type fixed32, then the CRC-32C of every byte before that tag as a fixed32.
inline constexpr uint8_t kChecksumTag =
    (7 << 3) | static_cast<uint8_t>(WireType::kFixed32);
inline constexpr size_t kChecksumTrailerBytes = 5;

// WriteChecksumTrailer ends the datagram whose other bytes are [begin, end) with its
// checksum trailer, written at `end`, and returns the position after it.
uint8_t* WriteChecksumTrailer(const uint8_t* begin, uint8_t* end);

// Tag is a field number and the wire type of its value.
struct Tag {
  uint32_t field = 0;
  WireType type = WireType::kVarint;
};

// WireError says why a WireReader stopped.
enum class WireError : uint8_t {
  kNone,
  kTruncated,        // a value runs past the end
  kVarintTooLong,    // more than 10 bytes (5 for a tag or a length)
  kVarintOverflow,   // the 10th byte carries bits beyond the 64th
  kValueTooLarge,    // a tag, or the value of a uint32 field, beyond 32 bits
  kFieldNumberZero,  // field number 0 does not exist
  kGroupWireType,    // wire type 3 or 4
  kInvalidWireType,  // wire type 6 or 7
  kLengthPastEnd,    // a length prefix larger than what is left
};

// WireReader reads the fields of one message in place. It never reads outside the
// span it was given and never allocates. Every Read method returns true and advances
// on success; on failure it returns false, stays where the failing element begins, and
// records the error (error(), ErrorText()).
//
// Offsets are counted from `origin`, the first byte of the datagram, so that nested
// readers report positions in the datagram. Not thread-safe; cheap to copy.
class WireReader {
 public:
  explicit WireReader(absl::Span<const uint8_t> bytes)
      : WireReader(bytes, bytes.data()) {}
  // `bytes` must lie within the buffer that starts at `origin`.
  WireReader(absl::Span<const uint8_t> bytes, const uint8_t* origin)
      : pos_(bytes.data()), end_(bytes.data() + bytes.size()), origin_(origin) {}

  bool AtEnd() const { return pos_ == end_; }
  size_t offset() const { return static_cast<size_t>(pos_ - origin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - pos_); }

  // ReadVarint reads a varint of up to 10 bytes whose value fits in 64 bits, in any
  // form, as the reference parser does (glue::ReadVarint).
  bool ReadVarint(uint64_t* value) {
    if (ABSL_PREDICT_TRUE(pos_ != end_ && *pos_ < 0x80)) {
      *value = *pos_++;
      return true;
    }
    return ReadVarintSlow(kMaxVarintBytes, value);
  }

  // ReadVarintUint32 reads a varint whose value must fit in 32 bits (a uint32 field).
  bool ReadVarintUint32(uint32_t* value);

  bool ReadFixed64(uint64_t* value);
  bool ReadFixed32(uint32_t* value);

  // ReadTag reads a tag: a varint of up to 5 bytes below 2^32, with a field number of
  // at least 1 and a wire type of 0, 1, 2 or 5.
  bool ReadTag(Tag* tag) {
    if (ABSL_PREDICT_TRUE(pos_ != end_ && *pos_ < 0x80)) {
      const uint8_t byte = *pos_;
      const uint8_t type = byte & 7;
      // Field 0 and wire types 3, 4, 6 and 7 fall to the slow path, which names them.
      if (ABSL_PREDICT_TRUE(byte >= 8 && (type <= 2 || type == 5))) {
        ++pos_;
        tag->field = byte >> 3;
        tag->type = static_cast<WireType>(type);
        return true;
      }
    }
    return ReadTagSlow(tag);
  }

  // ReadLengthDelimited reads a length prefix (a varint of up to 5 bytes) and returns
  // in `bytes` that many bytes, which must all be there.
  bool ReadLengthDelimited(absl::Span<const uint8_t>* bytes) {
    if (ABSL_PREDICT_TRUE(pos_ != end_ && *pos_ < 0x80 &&
                          *pos_ < static_cast<size_t>(end_ - pos_))) {
      const size_t length = *pos_++;
      *bytes = absl::Span<const uint8_t>(pos_, length);
      pos_ += length;
      return true;
    }
    return ReadLengthDelimitedSlow(bytes);
  }

  // SkipField skips the value of a field of wire type `type` (0, 1, 2 or 5).
  bool SkipField(WireType type);

  WireError error() const { return error_; }
  size_t error_offset() const { return error_offset_; }
  // ErrorText describes the recorded error with its offset and values, as in
  // "length 300 at offset 12 runs past the end (20 bytes left)".
  std::string ErrorText() const;

 private:
  bool ReadVarintSlow(size_t max_bytes, uint64_t* value);
  bool ReadTagSlow(Tag* tag);
  bool ReadLengthDelimitedSlow(absl::Span<const uint8_t>* bytes);
  ABSL_ATTRIBUTE_COLD bool Fail(WireError error, const uint8_t* at, uint64_t value = 0);

  const uint8_t* pos_;
  const uint8_t* end_;
  const uint8_t* origin_;
  WireError error_ = WireError::kNone;
  size_t error_offset_ = 0;
  uint64_t error_value_ = 0;
  size_t error_remaining_ = 0;
};

}  // namespace glue::serialization::wire_format

#endif  // GLUE_SERIALIZATION_WIRE_FORMAT_H_
