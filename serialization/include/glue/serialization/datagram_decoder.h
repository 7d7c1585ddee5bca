// DatagramDecoder: the half of the serialization layer's codec that validates UDP
// datagrams and decodes them into the messages of messages.h, held by a
// DecodedDatagram (glue/serialization/codec.h describes the codec as a whole). Above
// the network layer, below discovery and transport.
//
//   DatagramDecoder decoder;
//   DecodedDatagram decoded;  // reused for every datagram
//   if (absl::Status s = decoder.Decode(bytes, &decoded); !s.ok()) { count and drop }
//   // absl::IsDataLoss(s): corrupted on the way; otherwise malformed or another version.
#ifndef GLUE_SERIALIZATION_DATAGRAM_DECODER_H_
#define GLUE_SERIALIZATION_DATAGRAM_DECODER_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "glue/serialization/codec_limits.h"
#include "glue/serialization/messages.h"

namespace glue::serialization {

// DecodedDatagram is the content of one datagram that DatagramDecoder accepted.
//
// Lifetime: header.endpoint_name, every PeerRecord::endpoint_name, and every
// DataFrame::payload and DataFrame::meta are views into the datagram's bytes, valid
// while those bytes live unchanged. Every AckFrame::ranges is a view into `ack_ranges`,
// and announcement.known_peers a view into `peer_records`, valid until the next Decode
// into this object or its destruction. Decoding into the same object again reuses its
// vectors' capacity, so once they have grown to the largest datagram seen, decoding
// allocates nothing. Not copyable (a copy's views would point into the original's
// storage); movable, which keeps the views valid.
struct DecodedDatagram {
  enum class Kind { kAnnouncement, kGoodbye, kFrames };

  DecodedDatagram() = default;
  DecodedDatagram(DecodedDatagram&&) = default;
  DecodedDatagram& operator=(DecodedDatagram&&) = default;
  DecodedDatagram(const DecodedDatagram&) = delete;
  DecodedDatagram& operator=(const DecodedDatagram&) = delete;

  Header header;
  Kind kind = Kind::kFrames;
  // Set when kind == kAnnouncement.
  Announcement announcement;
  // Set when kind == kFrames: at least one frame, in the order of the datagram.
  std::vector<Frame> frames;
  // Storage that the AckFrame::ranges of `frames` point into, in frame order. Not
  // content: equality ignores it.
  std::vector<AckRange> ack_ranges;
  // Storage that announcement.known_peers points into. Not content: equality ignores
  // it.
  std::vector<PeerRecord> peer_records;

  // Equality compares the content: header, kind and the body of that kind.
  friend bool operator==(const DecodedDatagram& a, const DecodedDatagram& b);
};

// DatagramDecoder validates datagrams and decodes them. It never reads outside the
// datagram, never crashes on any input, and never sizes an allocation from a value
// read off the wire (vectors grow only by elements parsed, which the limits bound).
// Unknown fields are skipped; see serialization/wire.proto for the rules.
//
// Thread safety: Decode is const and keeps no state, so any thread may call it, also
// concurrently, each call with its own `out`.
class DatagramDecoder {
 public:
  explicit DatagramDecoder(CodecLimits limits = {}) : limits_(limits) {}

  // Decode validates `datagram` and fills `*out` (cleared first; capacity kept). On
  // error, `*out` holds no meaningful content. The checksum is checked before
  // anything else is read, so a datagram damaged on the way fails with kDataLoss,
  // whatever the damage.
  // Errors:
  //   kDataLoss: a datagram of 1 to max_datagram_bytes bytes whose checksum fails:
  //     "missing checksum" when it is shorter than 5 bytes or its 5th byte from the
  //     end is not the checksum's tag (0x3d), "checksum mismatch" (with the value
  //     carried and the value computed, in hex) when the CRC-32C differs.
  //   kUnimplemented: a protocol_major other than kProtocolMajor (both named).
  //   kInvalidArgument, for everything else: an empty datagram or one larger than
  //     max_datagram_bytes; malformed wire format (truncated or over-long varint,
  //     length past the end, group or invalid wire type, wrong wire type for a known
  //     field, a uint32 value beyond 32 bits, a singular message field repeated, the
  //     checksum field before the last 5 bytes);
  //     protocol_major missing; endpoint_id missing; endpoint_name missing, too long or
  //     not UTF-8; no body or more than one kind of body; a frame with no kind or two
  //     kinds; an announcement without address or rate; a known peer without
  //     endpoint_id, address or rate, or with an endpoint_name missing, too long or not
  //     UTF-8; an ip not 4 or 16 bytes; a port 0 or above 65535; an ack range with
  //     first > last; more frames, ack ranges or known peers than the limits. The
  //     message names the field, the offset and the values.
  absl::Status Decode(absl::Span<const uint8_t> datagram, DecodedDatagram* out) const;

  const CodecLimits& limits() const { return limits_; }

 private:
  CodecLimits limits_;
};

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_DATAGRAM_DECODER_H_
