// The field numbers of serialization/wire.proto, for the codec that reads and writes
// its wire format by hand (datagram_encoder.cc, envelope_parser.cc, encoded_size.h).
// Internal to the serialization layer. wire_schema_test.cc checks every number
// against the classes protoc generates from the .proto.
#ifndef GLUE_SERIALIZATION_WIRE_SCHEMA_H_
#define GLUE_SERIALIZATION_WIRE_SCHEMA_H_

#include <cstdint>

#include "serialization/wire_format.h"

namespace glue::serialization {

// Envelope.
inline constexpr uint32_t kEnvelopeProtocolMajor = 1;
inline constexpr uint32_t kEnvelopeProtocolMinor = 2;
inline constexpr uint32_t kEnvelopeNetworkId = 3;
inline constexpr uint32_t kEnvelopeEndpointId = 4;
inline constexpr uint32_t kEnvelopeEndpointName = 5;
inline constexpr uint32_t kEnvelopeSession = 6;
inline constexpr uint32_t kEnvelopeChecksum = 7;
inline constexpr uint32_t kEnvelopeAnnouncement = 8;
inline constexpr uint32_t kEnvelopeGoodbye = 9;
inline constexpr uint32_t kEnvelopeFrames = 10;
// Session.
inline constexpr uint32_t kSessionSender = 1;
inline constexpr uint32_t kSessionReceiver = 2;
inline constexpr uint32_t kSessionChallenge = 3;
inline constexpr uint32_t kSessionEcho = 4;
// SocketAddress.
inline constexpr uint32_t kSocketAddressIp = 1;
inline constexpr uint32_t kSocketAddressPort = 2;
// Announcement.
inline constexpr uint32_t kAnnouncementDataAddress = 1;
inline constexpr uint32_t kAnnouncementRate = 2;
inline constexpr uint32_t kAnnouncementKnownPeers = 3;
inline constexpr uint32_t kAnnouncementChallenge = 4;
inline constexpr uint32_t kAnnouncementEcho = 5;
// PeerRecord.
inline constexpr uint32_t kPeerEndpointId = 1;
inline constexpr uint32_t kPeerEndpointName = 2;
inline constexpr uint32_t kPeerDataAddress = 3;
inline constexpr uint32_t kPeerRate = 4;
inline constexpr uint32_t kPeerAge = 5;
// Frame.
inline constexpr uint32_t kFrameData = 1;
inline constexpr uint32_t kFrameAck = 2;
// DataFrame.
inline constexpr uint32_t kDataSequence = 1;
inline constexpr uint32_t kDataFlags = 2;
inline constexpr uint32_t kDataPayload = 3;
inline constexpr uint32_t kDataMeta = 4;
// AckFrame.
inline constexpr uint32_t kAckCumulative = 1;
inline constexpr uint32_t kAckRanges = 2;
// AckRange.
inline constexpr uint32_t kRangeFirst = 1;
inline constexpr uint32_t kRangeLast = 2;

// kMaxPort is the largest valid SocketAddress.port; the schema's uint32 holds more.
inline constexpr uint32_t kMaxPort = 65535;

// The checksum trailer's one-byte tag is that of Envelope.checksum, a fixed32.
static_assert(wire_format::kChecksumTag ==
              ((kEnvelopeChecksum << 3) |
               static_cast<uint32_t>(wire_format::WireType::kFixed32)));

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_WIRE_SCHEMA_H_
