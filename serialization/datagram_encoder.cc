#include "glue/serialization/datagram_encoder.h"

#include <boost/asio/ip/address.hpp>
#include <cassert>
#include <cstring>
#include <string_view>

#include "absl/strings/str_format.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"
#include "serialization/encoded_size.h"
#include "serialization/message_validation.h"
#include "serialization/wire_format.h"
#include "serialization/wire_schema.h"

namespace glue::serialization {
namespace {

using wire_format::kChecksumTrailerBytes;
using wire_format::LengthDelimitedSize;
using wire_format::WireType;

// The writers below write what encoded_size.h counts, in the same order, at `out`,
// which has room (the sizes were computed first), and return the position after it.
// Scalars equal to zero and empty bytes are omitted, as proto3 encoders do.

uint8_t* WriteVarintField(uint32_t field, uint64_t value, uint8_t* out) {
  if (value == 0) {
    return out;
  }
  return PutVarint(value, wire_format::WriteTag(field, WireType::kVarint, out));
}

uint8_t* WriteBytesField(uint32_t field, absl::Span<const uint8_t> bytes, uint8_t* out) {
  return bytes.empty() ? out : wire_format::WriteBytes(field, bytes, out);
}

// WriteFramePrefix writes the `frames` entry and the Frame's kind field up to the
// kind's content, which is `kind_body_bytes` long.
uint8_t* WriteFramePrefix(uint32_t kind, size_t kind_body_bytes, uint8_t* out) {
  out = wire_format::WriteLengthPrefix(kEnvelopeFrames,
                                       LengthDelimitedSize(kind, kind_body_bytes), out);
  return wire_format::WriteLengthPrefix(kind, kind_body_bytes, out);
}

absl::Span<const uint8_t> AsBytes(std::string_view text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                   text.size());
}

// WriteSocketAddress writes `address` as the SocketAddress field `field`.
uint8_t* WriteSocketAddress(uint32_t field, const network::Address& address,
                            uint8_t* out) {
  out = wire_format::WriteLengthPrefix(field, SocketAddressBodySize(address), out);
  const boost::asio::ip::address ip = address.address();
  if (ip.is_v4()) {
    out = wire_format::WriteBytes(kSocketAddressIp, ip.to_v4().to_bytes(), out);
  } else {
    out = wire_format::WriteBytes(kSocketAddressIp, ip.to_v6().to_bytes(), out);
  }
  return WriteVarintField(kSocketAddressPort, address.port(), out);
}

}  // namespace

absl::StatusOr<DatagramEncoder> DatagramEncoder::Create(size_t budget,
                                                        CodecLimits limits) {
  if (budget == 0 || budget > limits.max_datagram_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "datagram budget of %d bytes is outside 1..%d (CodecLimits::max_datagram_bytes)",
        budget, limits.max_datagram_bytes));
  }
  return DatagramEncoder(budget, limits);
}

DatagramEncoder::DatagramEncoder(size_t budget, CodecLimits limits)
    : budget_(budget),
      limits_(limits),
      buffer_(std::make_unique_for_overwrite<uint8_t[]>(budget)),
      base_(buffer_.get()) {}

uint8_t* DatagramEncoder::WriteHeader(const Header& header) {
  uint8_t* out = base_;
  out = WriteVarintField(kEnvelopeProtocolMajor, header.protocol_major, out);
  out = WriteVarintField(kEnvelopeProtocolMinor, header.protocol_minor, out);
  out = WriteVarintField(kEnvelopeNetworkId, header.network_id, out);
  out = wire_format::WriteFixed64(
      header.endpoint_id,
      wire_format::WriteTag(kEnvelopeEndpointId, WireType::kFixed64, out));
  out =
      wire_format::WriteBytes(kEnvelopeEndpointName, AsBytes(header.endpoint_name), out);
  if (const size_t session = SessionBodySize(header); session != 0) {
    out = wire_format::WriteLengthPrefix(kEnvelopeSession, session, out);
    if (header.session != 0) {
      out = wire_format::WriteFixed64(
          header.session, wire_format::WriteTag(kSessionSender, WireType::kFixed64, out));
    }
    if (header.peer_session != 0) {
      out = wire_format::WriteFixed64(
          header.peer_session,
          wire_format::WriteTag(kSessionReceiver, WireType::kFixed64, out));
    }
    if (header.session_challenge != 0) {
      out = wire_format::WriteFixed64(
          header.session_challenge,
          wire_format::WriteTag(kSessionChallenge, WireType::kFixed64, out));
    }
    if (header.session_echo != 0) {
      out = wire_format::WriteFixed64(
          header.session_echo,
          wire_format::WriteTag(kSessionEcho, WireType::kFixed64, out));
    }
  }
  return out;
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::EncodeAnnouncement(
    const Header& header, const Announcement& announcement) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header, limits_));
  GLUE_RETURN_IF_ERROR(ValidateAnnouncement(announcement, limits_));
  const size_t body = AnnouncementBodySize(announcement);
  const size_t total = HeaderSize(header) +
                       LengthDelimitedSize(kEnvelopeAnnouncement, body) +
                       kChecksumTrailerBytes;
  if (total > budget_) {
    Announcement alone = announcement;
    alone.known_peers = {};
    const size_t alone_total = EncodedAnnouncementSize(header, alone);
    if (alone_total > budget_) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "announcement datagram of %d bytes exceeds the budget of %d bytes even "
          "without known_peers (%d bytes)",
          total, budget_, alone_total));
    }
    return absl::ResourceExhaustedError(absl::StrFormat(
        "announcement datagram of %d bytes with %d known_peers exceeds the budget of %d "
        "bytes (%d bytes without them): split them across announcements",
        total, announcement.known_peers.size(), budget_, alone_total));
  }
  uint8_t* out = WriteHeader(header);
  out = wire_format::WriteLengthPrefix(kEnvelopeAnnouncement, body, out);
  out = WriteSocketAddress(kAnnouncementDataAddress, announcement.data_address, out);
  out = WriteVarintField(kAnnouncementRate, announcement.rate_milliseconds, out);
  for (const PeerRecord& peer : announcement.known_peers) {
    out = wire_format::WriteLengthPrefix(kAnnouncementKnownPeers,
                                         PeerRecordBodySize(peer), out);
    out = wire_format::WriteFixed64(
        peer.endpoint_id,
        wire_format::WriteTag(kPeerEndpointId, WireType::kFixed64, out));
    out = wire_format::WriteBytes(kPeerEndpointName, AsBytes(peer.endpoint_name), out);
    out = WriteSocketAddress(kPeerDataAddress, peer.data_address, out);
    out = WriteVarintField(kPeerRate, peer.rate_milliseconds, out);
    out = WriteVarintField(kPeerAge, peer.age_milliseconds, out);
  }
  if (announcement.challenge != 0) {
    out = wire_format::WriteFixed64(
        announcement.challenge,
        wire_format::WriteTag(kAnnouncementChallenge, WireType::kFixed64, out));
  }
  if (announcement.echo != 0) {
    out = wire_format::WriteFixed64(
        announcement.echo,
        wire_format::WriteTag(kAnnouncementEcho, WireType::kFixed64, out));
  }
  const absl::Span<const uint8_t> datagram = Seal(out);
  assert(size_ == total);
  return datagram;
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::EncodeGoodbye(
    const Header& header) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header, limits_));
  const size_t total = HeaderSize(header) + LengthDelimitedSize(kEnvelopeGoodbye, 0) +
                       kChecksumTrailerBytes;
  if (total > budget_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "goodbye datagram of %d bytes exceeds the budget of %d bytes", total, budget_));
  }
  uint8_t* out = WriteHeader(header);
  out = wire_format::WriteLengthPrefix(kEnvelopeGoodbye, 0, out);
  const absl::Span<const uint8_t> datagram = Seal(out);
  assert(size_ == total);
  return datagram;
}

absl::Status DatagramEncoder::BeginFrames(const Header& header) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header, limits_));
  const size_t header_size = HeaderSize(header);
  // A header that fills the budget leaves no room for the smallest frame.
  if (header_size + kChecksumTrailerBytes + FrameEntrySize(0) > budget_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "header of %d bytes and the %d-byte checksum leave no room for a frame in the "
        "budget of %d bytes",
        header_size, kChecksumTrailerBytes, budget_));
  }
  [[maybe_unused]] const uint8_t* end = WriteHeader(header);
  assert(static_cast<size_t>(end - base_) == header_size);
  // The checksum Finish will append is counted from the start, so that remaining()
  // is what frames may still take.
  empty_size_ = header_size + kChecksumTrailerBytes;
  size_ = empty_size_;
  frames_open_ = true;
  return absl::OkStatus();
}

absl::Status DatagramEncoder::BeginFramesAt(const Header& header, uint8_t* at) {
  GLUE_RETURN_IF_ERROR(BeginFrames(header));
  // The header is written; it moves with the datagram.
  std::memcpy(at, base_, size_ - kChecksumTrailerBytes);
  base_ = at;
  return absl::OkStatus();
}

uint8_t* DatagramEncoder::FramesEnd() { return base_ + size_ - kChecksumTrailerBytes; }

absl::Span<const uint8_t> DatagramEncoder::Seal(uint8_t* end) {
  end = wire_format::WriteChecksumTrailer(base_, end);
  size_ = static_cast<size_t>(end - base_);
  return absl::Span<const uint8_t>(base_, size_);
}

absl::Status DatagramEncoder::CheckRoom(const char* what, size_t bytes) const {
  if (!frames_open_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot add a %s: no datagram open (call BeginFrames)", what));
  }
  if (bytes > budget_ - empty_size_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s of %d bytes can never fit: the budget of %d bytes less the %d-byte header "
        "and the %d-byte checksum leaves %d",
        what, bytes, budget_, empty_size_ - kChecksumTrailerBytes, kChecksumTrailerBytes,
        budget_ - empty_size_));
  }
  if (frame_count_ == limits_.max_frames) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "datagram already holds %d frames (CodecLimits::max_frames)", frame_count_));
  }
  if (bytes > budget_ - size_) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s of %d bytes does not fit in the %d bytes left of the budget",
                        what, bytes, budget_ - size_));
  }
  return absl::OkStatus();
}

absl::Status DatagramEncoder::AddData(const DataFrame& frame) {
  const size_t body =
      DataBodySize(frame.payload.size(), frame.meta.size(), frame.sequence, frame.flags);
  const size_t entry = FrameEntrySize(body);
  GLUE_RETURN_IF_ERROR(CheckRoom("data frame", entry));
  uint8_t* out = WriteFramePrefix(kFrameData, body, FramesEnd());
  out = WriteVarintField(kDataSequence, frame.sequence, out);
  out = WriteVarintField(kDataFlags, frame.flags, out);
  out = WriteBytesField(kDataPayload, frame.payload, out);
  out = WriteBytesField(kDataMeta, frame.meta, out);
  assert(out == FramesEnd() + entry);
  size_ += entry;
  ++frame_count_;
  return absl::OkStatus();
}

absl::Status DatagramEncoder::AddAck(const AckFrame& frame) {
  GLUE_RETURN_IF_ERROR(ValidateAckFrame(frame, limits_));
  const size_t body = AckBodySize(frame);
  const size_t entry = FrameEntrySize(body);
  GLUE_RETURN_IF_ERROR(CheckRoom("ack frame", entry));
  uint8_t* out = WriteFramePrefix(kFrameAck, body, FramesEnd());
  out = WriteVarintField(kAckCumulative, frame.cumulative, out);
  for (const AckRange& range : frame.ranges) {
    out = wire_format::WriteLengthPrefix(kAckRanges, RangeBodySize(range), out);
    out = WriteVarintField(kRangeFirst, range.first, out);
    out = WriteVarintField(kRangeLast, range.last, out);
  }
  assert(out == FramesEnd() + entry);
  size_ += entry;
  ++frame_count_;
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::Finish() {
  if (!frames_open_) {
    return absl::FailedPreconditionError(
        "cannot finish: no datagram open (call BeginFrames)");
  }
  if (frame_count_ == 0) {
    return absl::FailedPreconditionError(
        "cannot finish a datagram of frames that holds no frame");
  }
  frames_open_ = false;
  return Seal(FramesEnd());
}

size_t DatagramEncoder::EncodedDataFrameSize(size_t payload_bytes, size_t meta_bytes,
                                             uint64_t sequence, uint32_t flags) {
  return FrameEntrySize(DataBodySize(payload_bytes, meta_bytes, sequence, flags));
}

size_t DatagramEncoder::EncodedAckFrameSize(const AckFrame& frame) {
  return FrameEntrySize(AckBodySize(frame));
}

size_t DatagramEncoder::EncodedAnnouncementSize(const Header& header,
                                                const Announcement& announcement) {
  return HeaderSize(header) +
         LengthDelimitedSize(kEnvelopeAnnouncement, AnnouncementBodySize(announcement)) +
         kChecksumTrailerBytes;
}

size_t DatagramEncoder::EncodedPeerRecordSize(const PeerRecord& peer) {
  return PeerRecordEntrySize(peer);
}

}  // namespace glue::serialization
