#include "serialization/wire_schema.h"

#include <cstdint>

#include "gtest/gtest.h"
#include "serialization/wire.pb.h"

namespace glue::serialization {
namespace {

TEST(WireSchema, NumbersEveryFieldAsWireProtoDoes) {
  const struct {
    const char* field;
    uint32_t ours;
    int generated;
  } fields[] = {
      {"Envelope.protocol_major", kEnvelopeProtocolMajor,
       wire::Envelope::kProtocolMajorFieldNumber},
      {"Envelope.protocol_minor", kEnvelopeProtocolMinor,
       wire::Envelope::kProtocolMinorFieldNumber},
      {"Envelope.network_id", kEnvelopeNetworkId, wire::Envelope::kNetworkIdFieldNumber},
      {"Envelope.endpoint_id", kEnvelopeEndpointId,
       wire::Envelope::kEndpointIdFieldNumber},
      {"Envelope.endpoint_name", kEnvelopeEndpointName,
       wire::Envelope::kEndpointNameFieldNumber},
      {"Envelope.session", kEnvelopeSession, wire::Envelope::kSessionFieldNumber},
      {"Envelope.checksum", kEnvelopeChecksum, wire::Envelope::kChecksumFieldNumber},
      {"Envelope.announcement", kEnvelopeAnnouncement,
       wire::Envelope::kAnnouncementFieldNumber},
      {"Envelope.goodbye", kEnvelopeGoodbye, wire::Envelope::kGoodbyeFieldNumber},
      {"Envelope.frames", kEnvelopeFrames, wire::Envelope::kFramesFieldNumber},
      {"Session.sender", kSessionSender, wire::Session::kSenderFieldNumber},
      {"Session.receiver", kSessionReceiver, wire::Session::kReceiverFieldNumber},
      {"Session.challenge", kSessionChallenge, wire::Session::kChallengeFieldNumber},
      {"Session.echo", kSessionEcho, wire::Session::kEchoFieldNumber},
      {"SocketAddress.ip", kSocketAddressIp, wire::SocketAddress::kIpFieldNumber},
      {"SocketAddress.port", kSocketAddressPort, wire::SocketAddress::kPortFieldNumber},
      {"Announcement.data_address", kAnnouncementDataAddress,
       wire::Announcement::kDataAddressFieldNumber},
      {"Announcement.rate_milliseconds", kAnnouncementRate,
       wire::Announcement::kRateMillisecondsFieldNumber},
      {"Announcement.known_peers", kAnnouncementKnownPeers,
       wire::Announcement::kKnownPeersFieldNumber},
      {"Announcement.challenge", kAnnouncementChallenge,
       wire::Announcement::kChallengeFieldNumber},
      {"Announcement.echo", kAnnouncementEcho, wire::Announcement::kEchoFieldNumber},
      {"PeerRecord.endpoint_id", kPeerEndpointId,
       wire::PeerRecord::kEndpointIdFieldNumber},
      {"PeerRecord.endpoint_name", kPeerEndpointName,
       wire::PeerRecord::kEndpointNameFieldNumber},
      {"PeerRecord.data_address", kPeerDataAddress,
       wire::PeerRecord::kDataAddressFieldNumber},
      {"PeerRecord.rate_milliseconds", kPeerRate,
       wire::PeerRecord::kRateMillisecondsFieldNumber},
      {"PeerRecord.age_milliseconds", kPeerAge,
       wire::PeerRecord::kAgeMillisecondsFieldNumber},
      {"Frame.data", kFrameData, wire::Frame::kDataFieldNumber},
      {"Frame.ack", kFrameAck, wire::Frame::kAckFieldNumber},
      {"DataFrame.sequence", kDataSequence, wire::DataFrame::kSequenceFieldNumber},
      {"DataFrame.flags", kDataFlags, wire::DataFrame::kFlagsFieldNumber},
      {"DataFrame.payload", kDataPayload, wire::DataFrame::kPayloadFieldNumber},
      {"DataFrame.meta", kDataMeta, wire::DataFrame::kMetaFieldNumber},
      {"AckFrame.cumulative", kAckCumulative, wire::AckFrame::kCumulativeFieldNumber},
      {"AckFrame.ranges", kAckRanges, wire::AckFrame::kRangesFieldNumber},
      {"AckRange.first", kRangeFirst, wire::AckRange::kFirstFieldNumber},
      {"AckRange.last", kRangeLast, wire::AckRange::kLastFieldNumber},
  };
  for (const auto& f : fields) {
    SCOPED_TRACE(f.field);
    EXPECT_EQ(static_cast<int>(f.ours), f.generated);
  }
}

}  // namespace
}  // namespace glue::serialization
