// Messages made of varints (in their shortest form, varint.h), length-prefixed strings
// and little-endian 64-bit values: the Append functions write them, ByteReader reads
// them back, failing with the field at fault. Shared helpers, not a layer; no I/O.
//
//   std::vector<uint8_t> out;
//   AppendVarint(version, &out);
//   AppendString(name, &out);
//
//   ByteReader reader(out, "topic message");
//   GLUE_ASSIGN_OR_RETURN(uint64_t version, reader.Varint("version"));
//   GLUE_ASSIGN_OR_RETURN(absl::string_view name, reader.View("name"));
#ifndef GLUE_BASE_BYTE_READER_H_
#define GLUE_BASE_BYTE_READER_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace glue {

// AppendVarint appends `value` to `*out` as a varint in its shortest form.
void AppendVarint(uint64_t value, std::vector<uint8_t>* out);

// AppendString appends `s` to `*out`: its length as a varint, then its bytes.
void AppendString(absl::string_view s, std::vector<uint8_t>* out);

// AppendFixed64 appends `value` to `*out` as 8 bytes, least significant first.
void AppendFixed64(uint64_t value, std::vector<uint8_t>* out);

// PutFixed64 writes `value` to out[0..8) and LoadFixed64 reads it back, least
// significant byte first: for callers that fill or read a buffer in place.
void PutFixed64(uint64_t value, uint8_t* out);
uint64_t LoadFixed64(const uint8_t* in);

// ByteReader reads the fields of one message in order, from the start of `bytes`. Each
// read names its field; an error is kInvalidArgument with the message
// "<what>: <field> at byte <start> is <why>", where `start` is where the field began.
// After an error the position is unspecified: a message that fails is dropped whole.
// It reads `bytes` and `what` without copying them: both must outlive the reader. Not
// thread-safe; a reader belongs to one decoding.
class ByteReader {
 public:
  // `what` names the message in every error ("topic message").
  ByteReader(absl::Span<const uint8_t> bytes, absl::string_view what);

  // position is the offset of the next byte to read.
  size_t position() const { return position_; }
  // rest is the bytes not read yet.
  absl::Span<const uint8_t> rest() const { return bytes_.subspan(position_); }
  // done says whether every byte has been read.
  bool done() const { return position_ == bytes_.size(); }

  // Byte reads one byte. Error: truncated at the end.
  absl::StatusOr<uint8_t> Byte(absl::string_view field);

  // Varint reads a varint of a field of `bits` (1 to 64) whose value is at most `max`.
  // Errors: truncated; longer than its shortest form; beyond `bits`; above `max`.
  absl::StatusOr<uint64_t> Varint(absl::string_view field, int bits = 64,
                                  uint64_t max = std::numeric_limits<uint64_t>::max());

  // View reads a string (a varint length, then its bytes) as a view into the bytes
  // read, valid as long as they are. Errors: those of its length; a length beyond the
  // bytes that remain.
  absl::StatusOr<absl::string_view> View(absl::string_view field);

  // String is View, copied.
  absl::StatusOr<std::string> String(absl::string_view field);

  // Fixed64 reads 8 bytes, least significant first. Error: fewer than 8 remain.
  absl::StatusOr<uint64_t> Fixed64(absl::string_view field);

  // Invalid is the error of `field`, which began at `start`, for being `why`
  // ("<what>: <field> at byte <start> is <why>"): for the checks a decoder adds.
  absl::Status Invalid(absl::string_view field, size_t start,
                       absl::string_view why) const;
  // Truncated is the error of `field`, which began at `start`, for ending early.
  absl::Status Truncated(absl::string_view field, size_t start) const;

 private:
  const absl::Span<const uint8_t> bytes_;
  const absl::string_view what_;
  size_t position_ = 0;
};

}  // namespace glue

#endif  // GLUE_BASE_BYTE_READER_H_
