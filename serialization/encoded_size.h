// The size arithmetic of the encoding DatagramEncoder writes: how many bytes each
// message of serialization/wire.proto takes, so that the encoder computes every length
// before it writes anything and patches nothing afterwards, and callers can plan
// datagrams (DatagramEncoder::EncodedDataFrameSize and the like). Internal to the
// serialization layer; inline, as the encoder asks for every frame it adds.
//
// A "body" is a message's content, without the tag and length prefix of the field
// that holds it; an "entry" is that field whole. Scalars equal to zero and empty bytes
// are omitted, as proto3 encoders do, and so count 0.
//
//   const size_t body = DataBodySize(payload.size(), meta.size(), sequence, flags);
//   const size_t entry = FrameEntrySize(body);  // what the frame adds to a datagram
#ifndef GLUE_SERIALIZATION_ENCODED_SIZE_H_
#define GLUE_SERIALIZATION_ENCODED_SIZE_H_

#include <cstddef>
#include <cstdint>

#include "glue/base/varint.h"
#include "glue/network/address.h"
#include "glue/serialization/messages.h"
#include "serialization/wire_format.h"
#include "serialization/wire_schema.h"

namespace glue::serialization {

// VarintFieldSize is the size of varint field `field` holding `value`; 0 when the
// value is 0, and then the field is not written.
inline size_t VarintFieldSize(uint32_t field, uint64_t value) {
  return value == 0 ? 0 : wire_format::TagSize(field) + VarintSize(value);
}

// BytesFieldSize is the size of a bytes field of `bytes` bytes; 0 when it is empty,
// and then the field is not written.
inline size_t BytesFieldSize(uint32_t field, size_t bytes) {
  return bytes == 0 ? 0 : wire_format::LengthDelimitedSize(field, bytes);
}

// SessionBodySize is the size of the Session message of `header`; 0 when it has
// none (both numbers 0), and then the field is not written.
inline size_t SessionBodySize(const Header& header) {
  return (header.session != 0 ? wire_format::TagSize(kSessionSender) + 8 : 0) +
         (header.peer_session != 0 ? wire_format::TagSize(kSessionReceiver) + 8 : 0) +
         (header.session_challenge != 0 ? wire_format::TagSize(kSessionChallenge) + 8
                                        : 0) +
         (header.session_echo != 0 ? wire_format::TagSize(kSessionEcho) + 8 : 0);
}

// HeaderSize is the size of the Envelope fields that carry `header`: what every
// datagram starts with.
inline size_t HeaderSize(const Header& header) {
  const size_t session = SessionBodySize(header);
  return VarintFieldSize(kEnvelopeProtocolMajor, header.protocol_major) +
         VarintFieldSize(kEnvelopeProtocolMinor, header.protocol_minor) +
         VarintFieldSize(kEnvelopeNetworkId, header.network_id) +
         wire_format::TagSize(kEnvelopeEndpointId) + 8 +
         wire_format::LengthDelimitedSize(kEnvelopeEndpointName,
                                          header.endpoint_name.size()) +
         (session == 0 ? 0 : wire_format::LengthDelimitedSize(kEnvelopeSession, session));
}

inline size_t SocketAddressBodySize(const network::Address& address) {
  const size_t ip_bytes = address.address().is_v4() ? 4 : 16;
  return wire_format::LengthDelimitedSize(kSocketAddressIp, ip_bytes) +
         VarintFieldSize(kSocketAddressPort, address.port());
}

inline size_t PeerRecordBodySize(const PeerRecord& peer) {
  return wire_format::TagSize(kPeerEndpointId) + 8 +
         wire_format::LengthDelimitedSize(kPeerEndpointName, peer.endpoint_name.size()) +
         wire_format::LengthDelimitedSize(kPeerDataAddress,
                                          SocketAddressBodySize(peer.data_address)) +
         VarintFieldSize(kPeerRate, peer.rate_milliseconds) +
         VarintFieldSize(kPeerAge, peer.age_milliseconds);
}

// PeerRecordEntrySize is what `peer` adds to the known peers of an announcement.
inline size_t PeerRecordEntrySize(const PeerRecord& peer) {
  return wire_format::LengthDelimitedSize(kAnnouncementKnownPeers,
                                          PeerRecordBodySize(peer));
}

inline size_t AnnouncementBodySize(const Announcement& announcement) {
  size_t size =
      wire_format::LengthDelimitedSize(kAnnouncementDataAddress,
                                       SocketAddressBodySize(announcement.data_address)) +
      VarintFieldSize(kAnnouncementRate, announcement.rate_milliseconds);
  for (const PeerRecord& peer : announcement.known_peers) {
    size += PeerRecordEntrySize(peer);
  }
  if (announcement.challenge != 0)
    size += wire_format::TagSize(kAnnouncementChallenge) + 8;
  if (announcement.echo != 0) size += wire_format::TagSize(kAnnouncementEcho) + 8;
  return size;
}

// DataBodySize is the size of a DataFrame with a payload of `payload_bytes` bytes, a
// meta of `meta_bytes`, and these numbers.
inline size_t DataBodySize(size_t payload_bytes, size_t meta_bytes, uint64_t sequence,
                           uint32_t flags) {
  return VarintFieldSize(kDataSequence, sequence) + VarintFieldSize(kDataFlags, flags) +
         BytesFieldSize(kDataPayload, payload_bytes) +
         BytesFieldSize(kDataMeta, meta_bytes);
}

inline size_t RangeBodySize(const AckRange& range) {
  return VarintFieldSize(kRangeFirst, range.first) +
         VarintFieldSize(kRangeLast, range.last);
}

inline size_t AckBodySize(const AckFrame& frame) {
  size_t size = VarintFieldSize(kAckCumulative, frame.cumulative);
  for (const AckRange& range : frame.ranges) {
    size += wire_format::LengthDelimitedSize(kAckRanges, RangeBodySize(range));
  }
  return size;
}

// FrameEntrySize is the size of one `frames` entry of the envelope whose Frame holds
// a kind of `kind_body_bytes` bytes. Both kinds have one-byte tags.
inline size_t FrameEntrySize(size_t kind_body_bytes) {
  return wire_format::LengthDelimitedSize(
      kEnvelopeFrames, wire_format::LengthDelimitedSize(kFrameData, kind_body_bytes));
}

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_ENCODED_SIZE_H_
