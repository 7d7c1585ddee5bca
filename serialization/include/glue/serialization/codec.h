// The serialization layer's codec: the messages of messages.h into UDP datagrams, and
// validated datagrams back into messages. Above the network layer (for Address), below
// discovery and transport. Zero-copy, and allocation-free once warmed up. Every
// datagram ends with a 5-byte CRC-32C checksum (serialization/wire.proto,
// Envelope.checksum), which the encoder appends and the decoder checks first.
//
//   GLUE_ASSIGN_OR_RETURN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
//   GLUE_RETURN_IF_ERROR(encoder.BeginFrames(header));
//   for (const DataFrame& frame : pending) {
//     absl::Status added = encoder.AddData(frame);
//     if (absl::IsResourceExhausted(added)) { send(*encoder.Finish()); ... }
//   }
//
//   DatagramDecoder decoder;
//   DecodedDatagram decoded;  // reused for every datagram
//   if (absl::Status s = decoder.Decode(bytes, &decoded); !s.ok()) { count and drop }
//   // absl::IsDataLoss(s): corrupted on the way; otherwise malformed or another version.
#ifndef GLUE_SERIALIZATION_CODEC_H_
#define GLUE_SERIALIZATION_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/serialization/messages.h"

namespace glue::serialization {

// CodecLimits bounds what the codec writes and accepts. Both ends of a conversation
// should use the same limits; the defaults are the protocol's (docs/PROTOCOL.md).
struct CodecLimits {
  // max_datagram_bytes: the largest datagram encoded or decoded. The default is the
  // largest UDP payload over IPv4 (65535 - 20 - 8). Larger values are only useful
  // where datagrams do not travel over UDP (benchmarks, tests).
  size_t max_datagram_bytes = 65507;
  // max_name_bytes: the longest endpoint name, in bytes of UTF-8.
  size_t max_name_bytes = 255;
  // max_frames: the most frames one datagram may carry.
  size_t max_frames = 1024;
  // max_ack_ranges: the most ranges one ack frame may carry.
  size_t max_ack_ranges = 256;
  // max_known_peers: the most peer records one announcement may carry. A longer list
  // is split across announcements, as a list that does not fit in the budget is.
  size_t max_known_peers = 1024;
};

// DatagramEncoder writes datagrams into one buffer of `budget` bytes that it owns,
// allocated once at creation; encoding allocates nothing (the messages of error
// statuses aside). It writes the wire format of serialization/wire.proto itself,
// computing every length before writing, so nothing is patched, and ends every
// datagram with its checksum, which the budget includes. A datagram it returns is a
// view into that buffer, valid until the next non-const call on the encoder (or its
// destruction).
//
// Frames go into a datagram one at a time: BeginFrames, then AddData / AddAck until one
// returns kResourceExhausted (the datagram is full: Finish it, send it, BeginFrames
// again and add the frame there), then Finish. Nothing is written for a frame that
// fails, so the datagram built so far stays valid.
//
// Not thread-safe: use one encoder per thread or strand. Movable, not copyable; a
// moved-from encoder may only be destroyed or assigned to.
class DatagramEncoder {
 public:
  // Create returns an encoder whose datagrams are at most `budget` bytes (typically
  // the path MTU less IP and UDP headers). Error: kInvalidArgument when `budget` is 0
  // or larger than `limits.max_datagram_bytes`. Any thread.
  static absl::StatusOr<DatagramEncoder> Create(size_t budget, CodecLimits limits = {});

  DatagramEncoder(DatagramEncoder&&) = default;
  DatagramEncoder& operator=(DatagramEncoder&&) = default;
  DatagramEncoder(const DatagramEncoder&) = delete;
  DatagramEncoder& operator=(const DatagramEncoder&) = delete;

  // EncodeAnnouncement returns a whole datagram carrying `announcement`, abandoning
  // any datagram of frames in progress. The header's and the announcement's views need
  // only live during the call.
  // Errors (nothing encoded):
  //   kInvalidArgument: an invalid header (endpoint_id 0, protocol_major 0,
  //     endpoint_name empty, too long or not UTF-8); rate_milliseconds 0; port 0; more
  //     than CodecLimits::max_known_peers known peers; a known peer invalid as a header
  //     would be (endpoint_id 0, endpoint_name empty, too long or not UTF-8), or with
  //     rate_milliseconds 0 or port 0; an announcement larger than the budget even
  //     without its known peers.
  //   kResourceExhausted: the announcement with its known peers is larger than the
  //     budget; split them across announcements (see EncodedPeerRecordSize).
  absl::StatusOr<absl::Span<const uint8_t>> EncodeAnnouncement(
      const Header& header, const Announcement& announcement);

  // EncodeGoodbye returns a whole datagram carrying a goodbye, abandoning any datagram
  // of frames in progress. Errors as EncodeAnnouncement for the header and the budget.
  absl::StatusOr<absl::Span<const uint8_t>> EncodeGoodbye(const Header& header);

  // BeginFrames starts a datagram of frames with `header` (whose views need only live
  // during the call), abandoning any datagram in progress.
  // Errors (kInvalidArgument, no datagram open): an invalid header, as for
  // EncodeAnnouncement, or one that leaves no room in the budget.
  absl::Status BeginFrames(const Header& header);

  // BeginFramesAt is BeginFrames for a datagram written at `at`, budget() bytes that
  // the caller owns and keeps until Finish, instead of in the encoder's own buffer:
  // a caller that gathers datagrams back to back for one system call writes each in
  // its place, rather than copying it there. Finish's span then views `at`.
  absl::Status BeginFramesAt(const Header& header, uint8_t* at);

  // AddData appends a data frame to the open datagram; its payload and meta are
  // copied into the datagram, each straight from its own span.
  // Errors: kFailedPrecondition when no datagram is open (BeginFrames first);
  // kInvalidArgument when the frame could not fit even in an empty datagram with
  // this header; kResourceExhausted when it does not fit in what is left of the
  // budget, or the datagram already holds CodecLimits::max_frames frames. A caller
  // that plans with remaining() and EncodedDataFrameSize() never meets the latter, and
  // so never pays for the allocation of its message.
  absl::Status AddData(const DataFrame& frame);

  // AddAck appends an ack frame to the open datagram. Errors as AddData, plus
  // kInvalidArgument for more than CodecLimits::max_ack_ranges ranges or a range with
  // first > last.
  absl::Status AddAck(const AckFrame& frame);

  // Finish closes the open datagram, appends its checksum, and returns it; a new one
  // needs BeginFrames.
  // Error: kFailedPrecondition when no datagram is open or it holds no frame.
  absl::StatusOr<absl::Span<const uint8_t>> Finish();

  // budget is the largest datagram this encoder writes.
  size_t budget() const { return budget_; }
  // size is the length of the datagram being built (or last built), in bytes, its
  // 5-byte checksum included: a datagram of frames counts from BeginFrames on the
  // checksum that Finish appends.
  size_t size() const { return size_; }
  // remaining is what is left of the budget for more frames: a frame of
  // EncodedDataFrameSize() or EncodedAckFrameSize() bytes fits when that is at most
  // remaining().
  size_t remaining() const { return budget_ - size_; }
  // frame_count is the number of frames in the datagram being built (or last built).
  size_t frame_count() const { return frame_count_; }

  // EncodedDataFrameSize returns how many bytes a data frame with these values (a
  // payload of `payload_bytes` bytes and a meta of `meta_bytes`) adds to a datagram,
  // so that callers can plan batches (the checksum is counted once per datagram, in
  // size()). Any thread.
  static size_t EncodedDataFrameSize(size_t payload_bytes, size_t meta_bytes,
                                     uint64_t sequence, uint32_t flags);
  // EncodedAckFrameSize returns how many bytes `frame` adds to a datagram. Any thread.
  static size_t EncodedAckFrameSize(const AckFrame& frame);

  // EncodedAnnouncementSize returns the size of the datagram EncodeAnnouncement
  // writes for `header` and `announcement` (valid ones), its 5-byte checksum included.
  // Any thread.
  static size_t EncodedAnnouncementSize(const Header& header,
                                        const Announcement& announcement);
  // EncodedPeerRecordSize returns how many bytes `peer` adds to the known peers of an
  // announcement. An announcement's size is EncodedAnnouncementSize of it without
  // known peers, plus EncodedPeerRecordSize of each, plus 0 to 2 bytes: the
  // announcement's length prefix grows as its content passes 127 and 16383 bytes. So a
  // caller that splits a long list fills each announcement while that sum stays within
  // budget() - 2. Any thread.
  static size_t EncodedPeerRecordSize(const PeerRecord& peer);

 private:
  DatagramEncoder(size_t budget, CodecLimits limits);

  absl::Status ValidateHeader(const Header& header) const;
  absl::Status ValidateAnnouncement(const Announcement& announcement) const;
  // CheckRoom says whether a frame of `bytes` bytes fits in the open datagram.
  absl::Status CheckRoom(const char* what, size_t bytes) const;
  // WriteHeader writes `header` at the start of the buffer and returns the end.
  uint8_t* WriteHeader(const Header& header);
  // FramesEnd is where the open datagram's next frame goes, before its checksum.
  uint8_t* FramesEnd();
  // Seal appends the checksum to the datagram whose other bytes end at `end`, sets
  // size_, and returns the datagram.
  absl::Span<const uint8_t> Seal(uint8_t* end);

  size_t budget_;
  CodecLimits limits_;
  std::unique_ptr<uint8_t[]> buffer_;
  uint8_t* base_;  // where the datagram is written: buffer_, or BeginFramesAt's `at`
  size_t size_ = 0;
  // The size of the open datagram of frames before its first frame: header and
  // checksum.
  size_t empty_size_ = 0;
  size_t frame_count_ = 0;
  bool frames_open_ = false;
};

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

#endif  // GLUE_SERIALIZATION_CODEC_H_
