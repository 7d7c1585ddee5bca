// The sizes are checked against the classes protoc generates from wire.proto, which
// count the same content with protobuf's own arithmetic, and against the byte counts
// of the examples of docs/PROTOCOL.md.
#include "serialization/encoded_size.h"

#include <limits>
#include <random>
#include <string>
#include <variant>

#include "absl/strings/str_format.h"
#include "glue/base/status_matchers.h"
#include "glue/serialization/codec_testing.h"
#include "gtest/gtest.h"
#include "serialization/wire.pb.h"

namespace glue::serialization {
namespace {

using testing::OwnedDatagram;
using testing::RandomDatagram;
using testing::TestSeed;
using testing::ToProto;

TEST(EncodedSize, CountsTheExamplesOfTheProtocolDocument) {
  // "Example: an announcement": a 20-byte header, an announcement of 15 bytes whose
  // data_address takes 10.
  const Header header{
      .network_id = 1, .endpoint_id = 0x0123456789abcdef, .endpoint_name = "alpha"};
  EXPECT_EQ(HeaderSize(header), 20u);
  ASSERT_OK_AND_ASSIGN(network::Address address,
                       network::ParseAddress("192.0.2.20:40000"));
  const Announcement announcement{.data_address = address, .rate_milliseconds = 1000};
  EXPECT_EQ(SocketAddressBodySize(announcement.data_address), 10u);
  EXPECT_EQ(AnnouncementBodySize(announcement), 15u);
  // "Example: a data frame and an ack frame": two frames entries of 12 bytes, each
  // around a kind of 8.
  EXPECT_EQ(DataBodySize(2, 0, 5, 1), 8u);
  EXPECT_EQ(FrameEntrySize(8), 12u);
  const AckRange ranges[] = {{.first = 7, .last = 9}};
  const AckFrame ack{.cumulative = 3, .ranges = ranges};
  EXPECT_EQ(RangeBodySize(ranges[0]), 4u);
  EXPECT_EQ(AckBodySize(ack), 8u);
}

TEST(EncodedSize, CountsLengthPrefixesAndOmittedZerosAsTheReferenceDoes) {
  const uint64_t max = std::numeric_limits<uint64_t>::max();
  for (size_t payload_bytes : {0, 1, 127, 128, 16383, 16384}) {
    const std::string payload(payload_bytes, 'p');
    for (size_t meta_bytes : {0, 1, 127, 128}) {
      const std::string meta(meta_bytes, 'm');
      for (uint64_t sequence :
           {uint64_t{0}, uint64_t{1}, uint64_t{127}, uint64_t{128}, max}) {
        for (uint32_t flags : {0u, 1u, std::numeric_limits<uint32_t>::max()}) {
          SCOPED_TRACE(absl::StrFormat("payload %d, meta %d, sequence %d, flags %d",
                                       payload_bytes, meta_bytes, sequence, flags));
          wire::Envelope envelope;
          wire::DataFrame* data = envelope.add_frames()->mutable_data();
          data->set_sequence(sequence);
          data->set_flags(flags);
          data->set_payload(payload);
          data->set_meta(meta);
          const size_t body = DataBodySize(payload_bytes, meta_bytes, sequence, flags);
          EXPECT_EQ(body, data->ByteSizeLong());
          EXPECT_EQ(FrameEntrySize(body), envelope.ByteSizeLong());
        }
      }
    }
  }
}

TEST(EncodedSize, MatchesTheReferenceOnRandomDatagrams) {
  const uint64_t seed = TestSeed(5);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  int peers = 0;
  int acks = 0;
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    const DecodedDatagram& datagram = content.datagram;
    const wire::Envelope envelope = ToProto(datagram);

    wire::Envelope header_alone = envelope;
    header_alone.clear_announcement();
    header_alone.clear_goodbye();
    header_alone.clear_frames();
    ASSERT_EQ(HeaderSize(datagram.header), header_alone.ByteSizeLong());
    ASSERT_EQ(SessionBodySize(datagram.header),
              envelope.has_session() ? envelope.session().ByteSizeLong() : 0);

    if (datagram.kind == DecodedDatagram::Kind::kAnnouncement) {
      const Announcement& announcement = datagram.announcement;
      const wire::Announcement& reference = envelope.announcement();
      ASSERT_EQ(AnnouncementBodySize(announcement), reference.ByteSizeLong());
      ASSERT_EQ(SocketAddressBodySize(announcement.data_address),
                reference.data_address().ByteSizeLong());
      for (size_t p = 0; p < announcement.known_peers.size(); ++p) {
        ++peers;
        const PeerRecord& peer = announcement.known_peers[p];
        const int index = static_cast<int>(p);
        ASSERT_EQ(PeerRecordBodySize(peer), reference.known_peers(index).ByteSizeLong());
        wire::Announcement peer_alone;
        *peer_alone.add_known_peers() = reference.known_peers(index);
        ASSERT_EQ(PeerRecordEntrySize(peer), peer_alone.ByteSizeLong());
      }
    }

    for (size_t f = 0; f < datagram.frames.size(); ++f) {
      const wire::Frame& reference = envelope.frames(static_cast<int>(f));
      size_t body;
      if (const auto* data = std::get_if<DataFrame>(&datagram.frames[f])) {
        body = DataBodySize(data->payload.size(), data->meta.size(), data->sequence,
                            data->flags);
        ASSERT_EQ(body, reference.data().ByteSizeLong());
      } else {
        ++acks;
        const auto& ack = std::get<AckFrame>(datagram.frames[f]);
        body = AckBodySize(ack);
        ASSERT_EQ(body, reference.ack().ByteSizeLong());
        for (size_t r = 0; r < ack.ranges.size(); ++r) {
          ASSERT_EQ(RangeBodySize(ack.ranges[r]),
                    reference.ack().ranges(static_cast<int>(r)).ByteSizeLong());
        }
      }
      wire::Envelope frame_alone;
      *frame_alone.add_frames() = reference;
      ASSERT_EQ(FrameEntrySize(body), frame_alone.ByteSizeLong());
    }
  }
  EXPECT_GT(peers, 0);
  EXPECT_GT(acks, 0);
}

}  // namespace
}  // namespace glue::serialization
