// FragmentHeader: what a fragment of a message larger than one datagram carries in its
// data frame's `meta`, and its encoding. The fragmentation layer, above the transport;
// no I/O. A message sent whole carries empty meta and no header at all.
//
//   uint8_t meta[kMaxFragmentHeaderBytes];
//   size_t meta_bytes = EncodeFragmentHeader(header, meta);
//   ...
//   absl::StatusOr<FragmentHeader> header =
//       DecodeFragmentHeader(frame_meta, kDefaultMaxMessageBytes);
#ifndef GLUE_FRAGMENTATION_FRAGMENT_HEADER_H_
#define GLUE_FRAGMENTATION_FRAGMENT_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace glue::fragmentation {

// The encoding (docs/PROTOCOL.md §8):
//
//   byte 0   kind: 0x01, a fragment in this format; other values are reserved
//   varint   message_id       64-bit
//   varint   total_bytes      64-bit
//   varint   fragment_bytes   32-bit
//   varint   index            32-bit
//   varint   checksum         32-bit
//   varint   time_to_live_ms  32-bit
//
// and nothing after. Every field is present, in this order, even when 0. A varint is
// unsigned LEB128: 7 bits a byte, least significant group first, the high bit set on
// every byte but the last. It takes the fewest bytes that hold its value (so a varint
// of more than one byte never ends in 0x00), at most 10 bytes for a 64-bit field and 5
// for a 32-bit one, and its value fits the field's width. So a header takes 7 to
// kMaxFragmentHeaderBytes bytes.
inline constexpr uint8_t kFragmentHeaderKind = 0x01;
inline constexpr size_t kMaxFragmentHeaderBytes = 1 + 10 + 10 + 5 + 5 + 5 + 5;

// kMaxFragmentCount is the most fragments a message may be split into: it bounds the
// pieces a receiver may keep of one message and, with kDefaultMaxMessageBytes, asks
// for fragments of at least 64 bytes.
inline constexpr uint32_t kMaxFragmentCount = 1 << 20;

// kDefaultMaxMessageBytes is the default of the largest message sent or reassembled
// (GLUE_MAX_MESSAGE_BYTES): 64 MiB.
inline constexpr uint64_t kDefaultMaxMessageBytes = uint64_t{64} << 20;

// FragmentHeader describes one fragment. Fragment `index` holds the bytes
// [index × fragment_bytes, min((index + 1) × fragment_bytes, total_bytes)) of the
// message: every fragment but the last carries exactly fragment_bytes.
struct FragmentHeader {
  // Chosen by the sender, unique among the messages it sends to one peer session.
  uint64_t message_id = 0;
  // Size of the whole message; more than fragment_bytes, or it would not be fragmented.
  uint64_t total_bytes = 0;
  // Payload bytes of every fragment but the last; at least 1.
  uint32_t fragment_bytes = 0;
  // Position of this fragment, 0 .. FragmentCount(total_bytes, fragment_bytes) - 1.
  uint32_t index = 0;
  // CRC-32C (glue/base/crc32c.h) of the whole message, checked after reassembly.
  uint32_t checksum = 0;
  // How long the receiver waits for the rest of the message after its first fragment
  // arrives, in milliseconds; 0 leaves it to the receiver's default.
  uint32_t time_to_live_ms = 0;

  friend bool operator==(const FragmentHeader&, const FragmentHeader&) = default;
};

// FragmentCount returns how many fragments of `fragment_bytes` (at least 1) a message
// of `total_bytes` takes: ceil(total_bytes / fragment_bytes). Any thread.
constexpr uint64_t FragmentCount(uint64_t total_bytes, uint32_t fragment_bytes) {
  return total_bytes / fragment_bytes + (total_bytes % fragment_bytes != 0 ? 1 : 0);
}

// FragmentPayloadBytes returns how many bytes fragment `index` of a message of
// `total_bytes` carries: fragment_bytes, or what remains for the last fragment. Needs
// index < FragmentCount(total_bytes, fragment_bytes). Any thread.
constexpr uint64_t FragmentPayloadBytes(uint64_t total_bytes, uint32_t fragment_bytes,
                                        uint32_t index) {
  const uint64_t offset = uint64_t{index} * fragment_bytes;
  return total_bytes - offset < fragment_bytes ? total_bytes - offset : fragment_bytes;
}

// IsValidFragmentHeader says whether ValidateFragmentHeader accepts `header`, without
// allocating: for receivers that count, rather than report, what they refuse.
bool IsValidFragmentHeader(const FragmentHeader& header, uint64_t max_message_bytes);

// ValidateFragmentHeader returns OK when `header` describes a fragment a receiver can
// place: fragment_bytes >= 1, total_bytes > fragment_bytes, total_bytes <=
// max_message_bytes, at most kMaxFragmentCount fragments, and index below their count.
// Otherwise kInvalidArgument naming the field and the values. Any thread.
absl::Status ValidateFragmentHeader(const FragmentHeader& header,
                                    uint64_t max_message_bytes);

// EncodeFragmentHeader writes `header` into the front of `out` and returns how many
// bytes it wrote: at most kMaxFragmentHeaderBytes, so an `out` of that size always
// suffices. Writes nothing and returns 0 when `out` is too small. It does not validate
// `header`. Any thread.
size_t EncodeFragmentHeader(const FragmentHeader& header, absl::Span<uint8_t> out);

// DecodeFragmentHeader reads the header a fragment carries in `meta` (all of it) and
// validates it as ValidateFragmentHeader does. Errors, all kInvalidArgument naming the
// field and the values: empty meta, an unknown kind byte, a varint truncated, longer
// than its shortest form or beyond its field's width, bytes after the last field, and
// whatever ValidateFragmentHeader refuses. Allocates nothing unless it fails. Any
// thread.
absl::StatusOr<FragmentHeader> DecodeFragmentHeader(absl::Span<const uint8_t> meta,
                                                    uint64_t max_message_bytes);

// ParseFragmentHeader is DecodeFragmentHeader for receivers that count, rather than
// report, what they refuse: nullopt for any meta DecodeFragmentHeader refuses, and it
// never allocates. Any thread.
std::optional<FragmentHeader> ParseFragmentHeader(absl::Span<const uint8_t> meta,
                                                  uint64_t max_message_bytes);

}  // namespace glue::fragmentation

#endif  // GLUE_FRAGMENTATION_FRAGMENT_HEADER_H_
