// DatagramEncoder: the half of the serialization layer's codec that writes the
// messages of messages.h into UDP datagrams (glue/serialization/codec.h describes the
// codec as a whole). Above the network layer, below discovery and transport.
//
//   GLUE_ASSIGN_OR_RETURN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
//   GLUE_RETURN_IF_ERROR(encoder.BeginFrames(header));
//   for (const DataFrame& frame : pending) {
//     absl::Status added = encoder.AddData(frame);
//     if (absl::IsResourceExhausted(added)) { send(*encoder.Finish()); ... }
//   }
#ifndef GLUE_SERIALIZATION_DATAGRAM_ENCODER_H_
#define GLUE_SERIALIZATION_DATAGRAM_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/serialization/codec_limits.h"
#include "glue/serialization/messages.h"

namespace glue::serialization {

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

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_DATAGRAM_ENCODER_H_
