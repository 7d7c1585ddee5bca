#include "glue/serialization/datagram_encoder.h"

#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "glue/base/status_matchers.h"
#include "glue/serialization/allocation_counter.h"
#include "glue/serialization/codec_testing.h"
#include "glue/serialization/datagram_decoder.h"
#include "glue/serialization/reference_check.h"
#include "glue/serialization/wire_builders.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::serialization {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using testing::AllocationCount;
using ::testing::AllOf;
using testing::AsString;
using testing::ChecksumOf;
using testing::Encode;
using testing::ExpectReferenceAgrees;
using ::testing::HasSubstr;
using testing::OwnedDatagram;
using testing::Payload;
using testing::ProtoDifference;
using testing::RandomDatagram;
using testing::Sealed;
using testing::TestHeader;
using testing::TestSeed;
using testing::ToProto;

// The sender of the examples of docs/PROTOCOL.md, and the 20 bytes of its header.
Header ExampleHeader() {
  return Header{
      .network_id = 1, .endpoint_id = 0x0123456789abcdef, .endpoint_name = "alpha"};
}
const std::string kExampleHeader =
    "\x08\x03"                              // protocol_major 3
    "\x18\x01"                              // network_id 1
    "\x21\xef\xcd\xab\x89\x67\x45\x23\x01"  // endpoint_id
    "\x2a\x05"
    "alpha";  // endpoint_name

// TestPeers returns `count` valid peer records whose names are kept in `*names`.
std::vector<PeerRecord> TestPeers(size_t count, std::vector<std::string>* names) {
  names->clear();
  for (size_t i = 0; i < count; ++i) {
    names->push_back(absl::StrFormat("peer-%d", i));
  }
  std::vector<PeerRecord> peers;
  for (size_t i = 0; i < count; ++i) {
    const auto ip = i % 2 == 0 ? boost::asio::ip::make_address("192.0.2.7")
                               : boost::asio::ip::make_address("2001:db8::7");
    peers.push_back(PeerRecord{
        .endpoint_id = 1000 + i,
        .endpoint_name = (*names)[i],
        .data_address = network::Address(ip, static_cast<uint16_t>(30000 + i)),
        .rate_milliseconds = static_cast<uint32_t>(100 * (i + 1)),
        .age_milliseconds = static_cast<uint32_t>(i * 37),
    });
  }
  return peers;
}

TEST(DatagramEncoder, RejectsABudgetOfZero) {
  EXPECT_THAT(DatagramEncoder::Create(0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("budget of 0")));
}

TEST(DatagramEncoder, RejectsABudgetAboveTheDatagramLimit) {
  EXPECT_THAT(DatagramEncoder::Create(65508),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("65508"), HasSubstr("65507"))));
  EXPECT_THAT(DatagramEncoder::Create(65507), IsOk());
  EXPECT_THAT(DatagramEncoder::Create(200000, CodecLimits{.max_datagram_bytes = 200000}),
              IsOk());
}

TEST(DatagramEncoder, RoundTripsAnAnnouncement) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  DatagramDecoder decoder;
  for (const char* address : {"127.0.0.1:27320", "[2001:db8::1]:65535", "[::1]:1"}) {
    SCOPED_TRACE(address);
    ASSERT_OK_AND_ASSIGN(network::Address data_address, network::ParseAddress(address));
    const Announcement announcement{.data_address = data_address,
                                    .rate_milliseconds = 1000};
    ASSERT_OK_AND_ASSIGN(auto bytes,
                         encoder.EncodeAnnouncement(TestHeader(), announcement));
    EXPECT_EQ(bytes.size(), encoder.size());
    DecodedDatagram decoded;
    ASSERT_OK(decoder.Decode(bytes, &decoded));
    EXPECT_EQ(decoded.header, TestHeader());
    EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kAnnouncement);
    EXPECT_EQ(decoded.announcement, announcement);
    ExpectReferenceAgrees(bytes, decoded);
  }
}

TEST(DatagramEncoder, RoundTripsAnAnnouncementWithKnownPeers) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  ASSERT_OK_AND_ASSIGN(network::Address data_address,
                       network::ParseAddress("192.0.2.1:27320"));
  DatagramDecoder decoder;
  for (size_t count : {0, 1, 200}) {
    SCOPED_TRACE(absl::StrFormat("%d known peers", count));
    std::vector<std::string> names;
    const std::vector<PeerRecord> peers = TestPeers(count, &names);
    const Announcement announcement{
        .data_address = data_address, .rate_milliseconds = 1000, .known_peers = peers};
    ASSERT_OK_AND_ASSIGN(auto bytes,
                         encoder.EncodeAnnouncement(TestHeader(), announcement));
    EXPECT_EQ(bytes.size(),
              DatagramEncoder::EncodedAnnouncementSize(TestHeader(), announcement));
    DecodedDatagram decoded;
    ASSERT_OK(decoder.Decode(bytes, &decoded));
    EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kAnnouncement);
    EXPECT_EQ(decoded.announcement, announcement);
    ExpectReferenceAgrees(bytes, decoded);
    // Moving the result keeps the views valid.
    const DecodedDatagram moved = std::move(decoded);
    ASSERT_EQ(moved.announcement.known_peers.size(), count);
    EXPECT_EQ(moved.announcement, announcement);
  }
}

TEST(DatagramEncoder, RoundTripsAGoodbye) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(auto bytes, encoder.EncodeGoodbye(TestHeader()));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
  EXPECT_EQ(decoded.header, TestHeader());
  EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kGoodbye);
  ExpectReferenceAgrees(bytes, decoded);
}

TEST(DatagramEncoder, RoundTripsDataAndAckFrames) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  const AckRange ranges[] = {{.first = 12, .last = 15}, {.first = 20, .last = 20}};
  const std::string long_meta(200, 'm');
  const std::vector<Frame> frames = {
      DataFrame{.sequence = 1, .flags = 3, .payload = Payload("hello")},
      AckFrame{.cumulative = 10, .ranges = ranges},
      DataFrame{},  // every field at its default: an empty data frame
      AckFrame{},
      DataFrame{.sequence = std::numeric_limits<uint64_t>::max(),
                .flags = std::numeric_limits<uint32_t>::max(),
                .payload = Payload(std::string_view("\0\xff", 2))},
      DataFrame{
          .sequence = 2, .flags = 1, .payload = Payload("data"), .meta = Payload("meta")},
      DataFrame{.sequence = 3, .meta = Payload("meta, no payload")},
      DataFrame{.payload = Payload(std::string_view("\0", 1)),
                .meta = Payload(long_meta)},
  };
  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  for (const Frame& frame : frames) {
    if (const auto* data = std::get_if<DataFrame>(&frame)) {
      ASSERT_OK(encoder.AddData(*data));
    } else {
      ASSERT_OK(encoder.AddAck(std::get<AckFrame>(frame)));
    }
  }
  EXPECT_EQ(encoder.frame_count(), frames.size());
  ASSERT_OK_AND_ASSIGN(auto bytes, encoder.Finish());
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
  EXPECT_EQ(decoded.header, TestHeader());
  EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kFrames);
  EXPECT_EQ(decoded.frames, frames);
  ExpectReferenceAgrees(bytes, decoded);
}

TEST(DatagramEncoder, BeginFramesAtWritesTheSameDatagramInTheCallersBuffer) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  const AckRange ranges[] = {{.first = 12, .last = 15}};
  auto encode = [&](uint8_t* at) -> std::vector<uint8_t> {
    EXPECT_OK(at == nullptr ? encoder.BeginFrames(TestHeader())
                            : encoder.BeginFramesAt(TestHeader(), at));
    EXPECT_OK(encoder.AddAck(AckFrame{.cumulative = 10, .ranges = ranges}));
    EXPECT_OK(encoder.AddData(DataFrame{.sequence = 1, .payload = Payload("hello")}));
    absl::StatusOr<absl::Span<const uint8_t>> bytes = encoder.Finish();
    EXPECT_OK(bytes);
    if (!bytes.ok()) return {};
    if (at != nullptr) {
      EXPECT_EQ(bytes->data(), at);  // in place, not copied there
    }
    return {bytes->begin(), bytes->end()};
  };
  const std::vector<uint8_t> own = encode(nullptr);
  std::vector<uint8_t> buffer(1472 + 16, 0xee);
  const std::vector<uint8_t> placed = encode(buffer.data() + 16);
  EXPECT_EQ(placed, own);
  // The next datagram goes to the encoder's own buffer again, leaving the caller's.
  const std::vector<uint8_t> before(buffer.begin(), buffer.end());
  EXPECT_EQ(encode(nullptr), own);
  ASSERT_OK_AND_ASSIGN(auto goodbye, encoder.EncodeGoodbye(TestHeader()));
  EXPECT_NE(goodbye.data(), buffer.data() + 16);
  EXPECT_EQ(buffer, before);
}

// Meta follows the payload (field 4 after field 3), and a frame without meta is byte
// for byte what it was before the field existed.
TEST(DatagramEncoder, WritesMetaAfterThePayload) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  using std::string_view_literals::operator""sv;
  const struct {
    const char* name;
    DataFrame frame;
    std::string_view entry;
  } cases[] = {
      {"no meta", DataFrame{.sequence = 5, .flags = 1, .payload = Payload("hi")},
       "\x52\x0a\x0a\x08\x08\x05\x10\x01\x1a\x02hi"sv},
      {"payload and meta",
       DataFrame{
           .sequence = 5, .flags = 1, .payload = Payload("hi"), .meta = Payload("m")},
       "\x52\x0d\x0a\x0b\x08\x05\x10\x01\x1a\x02hi\x22\x01m"sv},
      {"meta alone", DataFrame{.sequence = 5, .meta = Payload("m")},
       "\x52\x07\x0a\x05\x08\x05\x22\x01m"sv},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_OK(encoder.BeginFrames(ExampleHeader()));
    ASSERT_OK(encoder.AddData(c.frame));
    ASSERT_OK_AND_ASSIGN(auto bytes, encoder.Finish());
    const std::string content = AsString(bytes.first(bytes.size() - 5));
    EXPECT_EQ(absl::BytesToHexString(content),
              absl::BytesToHexString(kExampleHeader + std::string(c.entry)));
  }
}

TEST(DatagramEncoder, RoundTripsTheSessionNumbersOfADatagramOfFrames) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  const DataFrame frame{.sequence = 1, .flags = 1, .payload = Payload("x")};
  const std::pair<uint64_t, uint64_t> cases[] = {
      {0, 0}, {7, 0}, {0, 9}, {0x1234567890abcdef, std::numeric_limits<uint64_t>::max()}};
  size_t without = 0;  // the size without a Session message, the first case
  for (const auto& [session, peer_session] : cases) {
    SCOPED_TRACE(::testing::Message() << session << " " << peer_session);
    Header header = TestHeader();
    header.session = session;
    header.peer_session = peer_session;
    ASSERT_OK(encoder.BeginFrames(header));
    ASSERT_OK(encoder.AddData(frame));
    ASSERT_OK_AND_ASSIGN(auto bytes, encoder.Finish());
    // The Session message is written only when a number is set: 2 bytes of field and
    // length, and 9 per number.
    if (without == 0) without = bytes.size();
    EXPECT_EQ(bytes.size(), without + (session || peer_session ? 2 : 0) +
                                (session ? 9 : 0) + (peer_session ? 9 : 0));
    DecodedDatagram decoded;
    ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
    EXPECT_EQ(decoded.header, header);
    ExpectReferenceAgrees(bytes, decoded);
  }
}

TEST(DatagramEncoder, WritesTheAnnouncementExampleOfTheProtocolDocument) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(network::Address address,
                       network::ParseAddress("192.0.2.20:40000"));
  ASSERT_OK_AND_ASSIGN(
      auto bytes, encoder.EncodeAnnouncement(
                      ExampleHeader(),
                      Announcement{.data_address = address, .rate_milliseconds = 1000}));
  // docs/PROTOCOL.md, "Example: an announcement".
  // A string_view literal, so that the zero byte of the address counts.
  using std::string_view_literals::operator""sv;
  constexpr std::string_view kBody =
      "\x42\x0f"                  // announcement, 15 bytes
      "\x0a\x0a"                  //   data_address, 10 bytes
      "\x0a\x04\xc0\x00\x02\x14"  //     ip 192.0.2.20
      "\x10\xc0\xb8\x02"          //     port 40000
      "\x10\xe8\x07"              //   rate_milliseconds 1000
      "\x3d\xdb\x5c\x86\x95"sv;   // checksum 0x95865cdb
  const std::string expected = kExampleHeader + std::string(kBody);
  ASSERT_EQ(expected.size(), 42u);
  EXPECT_EQ(absl::BytesToHexString(AsString(bytes)), absl::BytesToHexString(expected));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
  ExpectReferenceAgrees(bytes, decoded);
}

TEST(DatagramEncoder, WritesTheKnownPeersExampleOfTheProtocolDocument) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(network::Address address,
                       network::ParseAddress("192.0.2.20:40000"));
  ASSERT_OK_AND_ASSIGN(network::Address peer_address,
                       network::ParseAddress("192.0.2.30:40001"));
  const PeerRecord peers[] = {{.endpoint_id = 0x1122334455667788,
                               .endpoint_name = "beta",
                               .data_address = peer_address,
                               .rate_milliseconds = 1000,
                               .age_milliseconds = 250}};
  ASSERT_OK_AND_ASSIGN(
      auto bytes,
      encoder.EncodeAnnouncement(ExampleHeader(), Announcement{.data_address = address,
                                                               .rate_milliseconds = 1000,
                                                               .known_peers = peers}));
  // docs/PROTOCOL.md, "Example: an announcement that lists a known peer".
  using std::string_view_literals::operator""sv;
  constexpr std::string_view kBody =
      "\x42\x32"                              // announcement, 50 bytes
      "\x0a\x0a"                              //   data_address, 10 bytes
      "\x0a\x04\xc0\x00\x02\x14"              //     ip 192.0.2.20
      "\x10\xc0\xb8\x02"                      //     port 40000
      "\x10\xe8\x07"                          //   rate_milliseconds 1000
      "\x1a\x21"                              //   known_peers[0], 33 bytes
      "\x09\x88\x77\x66\x55\x44\x33\x22\x11"  //     endpoint_id
      "\x12\x04"
      "beta"                      //     endpoint_name
      "\x1a\x0a"                  //     data_address, 10 bytes
      "\x0a\x04\xc0\x00\x02\x1e"  //       ip 192.0.2.30
      "\x10\xc1\xb8\x02"          //       port 40001
      "\x20\xe8\x07"              //     rate_milliseconds 1000
      "\x28\xfa\x01"              //     age_milliseconds 250
      "\x3d\x79\x4e\x1c\x0b"sv;   // checksum 0x0b1c4e79
  const std::string expected = kExampleHeader + std::string(kBody);
  ASSERT_EQ(expected.size(), 77u);
  EXPECT_EQ(absl::BytesToHexString(AsString(bytes)), absl::BytesToHexString(expected));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
  ExpectReferenceAgrees(bytes, decoded);
}

TEST(DatagramEncoder, WritesTheFramesExampleOfTheProtocolDocument) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK(encoder.BeginFrames(ExampleHeader()));
  ASSERT_OK(
      encoder.AddData(DataFrame{.sequence = 5, .flags = 1, .payload = Payload("hi")}));
  const AckRange ranges[] = {{.first = 7, .last = 9}};
  ASSERT_OK(encoder.AddAck(AckFrame{.cumulative = 3, .ranges = ranges}));
  ASSERT_OK_AND_ASSIGN(auto bytes, encoder.Finish());
  // docs/PROTOCOL.md, "Example: a data frame and an ack frame".
  using std::string_view_literals::operator""sv;
  constexpr std::string_view kBody =
      "\x52\x0a"  // frames: a Frame of 10 bytes
      "\x0a\x08"  //   data, 8 bytes
      "\x08\x05"  //     sequence 5
      "\x10\x01"  //     flags 1
      "\x1a\x02"
      "hi"                       //     payload "hi"
      "\x52\x0a"                 // frames: a Frame of 10 bytes
      "\x12\x08"                 //   ack, 8 bytes
      "\x08\x03"                 //     cumulative 3
      "\x12\x04"                 //     ranges, 4 bytes
      "\x08\x07"                 //       first 7
      "\x10\x09"                 //       last 9
      "\x3d\xc6\x5e\x85\x63"sv;  // checksum 0x63855ec6
  const std::string expected = kExampleHeader + std::string(kBody);
  ASSERT_EQ(expected.size(), 49u);
  EXPECT_EQ(absl::BytesToHexString(AsString(bytes)), absl::BytesToHexString(expected));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(bytes, &decoded));
  ExpectReferenceAgrees(bytes, decoded);
}

TEST(DatagramEncoder, WritesTheGoodbyeExampleOfTheProtocolDocument) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(auto bytes, encoder.EncodeGoodbye(ExampleHeader()));
  // docs/PROTOCOL.md, the goodbye of section 3, "Checksum". A string_view literal, so
  // that the zero byte counts.
  using std::string_view_literals::operator""sv;
  constexpr std::string_view kBody =
      "\x4a\x00"                 // goodbye, 0 bytes
      "\x3d\x97\x98\xda\xe3"sv;  // checksum 0xe3da9897
  const std::string expected = kExampleHeader + std::string(kBody);
  ASSERT_EQ(expected.size(), 27u);
  EXPECT_EQ(absl::BytesToHexString(AsString(bytes)), absl::BytesToHexString(expected));
}

TEST(DatagramEncoder, StartsANewDatagramWhenTheBudgetIsSpent) {
  constexpr size_t kBudget = 200;
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(kBudget));
  const std::string payload(30, 'p');
  const DataFrame frame{.sequence = 1, .payload = Payload(payload)};
  const size_t frame_size =
      DatagramEncoder::EncodedDataFrameSize(payload.size(), 0, 1, 0);

  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  const size_t header_size = encoder.size();
  size_t added = 0;
  absl::Status status;
  while ((status = encoder.AddData(frame)).ok()) {
    ++added;
    EXPECT_EQ(encoder.size(), header_size + added * frame_size);
    EXPECT_EQ(encoder.remaining(), kBudget - encoder.size());
  }
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kResourceExhausted,
                               HasSubstr(absl::StrFormat("%d bytes", frame_size))));
  EXPECT_EQ(added, (kBudget - header_size) / frame_size);
  EXPECT_LT(encoder.remaining(), frame_size);
  ASSERT_OK_AND_ASSIGN(auto first, encoder.Finish());
  EXPECT_LE(first.size(), kBudget);
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(first, &decoded));
  EXPECT_EQ(decoded.frames.size(), added);

  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  ASSERT_OK(encoder.AddData(frame));
  ASSERT_OK_AND_ASSIGN(auto second, encoder.Finish());
  ASSERT_OK(DatagramDecoder().Decode(second, &decoded));
  ASSERT_EQ(decoded.frames.size(), 1u);
  EXPECT_EQ(decoded.frames[0], Frame(frame));
}

TEST(DatagramEncoder, RejectsAFrameThatCouldNeverFit) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(100));
  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  const std::string payload(100, 'p');
  EXPECT_THAT(encoder.AddData(DataFrame{.payload = Payload(payload)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("106 bytes"), HasSubstr("can never fit"),
                             HasSubstr("budget of 100 bytes"))));
  const std::vector<AckRange> ranges(40, AckRange{.first = 1, .last = 2});
  EXPECT_THAT(encoder.AddAck(AckFrame{.ranges = ranges}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("can never fit")));
  // Nothing was written: the datagram still takes a frame that fits.
  EXPECT_EQ(encoder.frame_count(), 0u);
  ASSERT_OK(encoder.AddData(DataFrame{.payload = Payload("small")}));
  EXPECT_THAT(encoder.Finish(), IsOk());
}

TEST(DatagramEncoder, PredictsFrameSizes) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  for (size_t payload_bytes : {0, 1, 100, 127, 128, 300, 20000}) {
    for (size_t meta_bytes : {0, 1, 127, 128, 20000}) {
      for (uint64_t sequence : {uint64_t{0}, uint64_t{1}, uint64_t{1} << 40}) {
        SCOPED_TRACE(absl::StrFormat("payload %d, meta %d, sequence %d", payload_bytes,
                                     meta_bytes, sequence));
        const std::string payload(payload_bytes, 'x');
        const std::string meta(meta_bytes, 'm');
        ASSERT_OK(encoder.BeginFrames(TestHeader()));
        const size_t header = encoder.size();
        ASSERT_OK(encoder.AddData(DataFrame{.sequence = sequence,
                                            .flags = 9,
                                            .payload = Payload(payload),
                                            .meta = Payload(meta)}));
        EXPECT_EQ(encoder.size() - header, DatagramEncoder::EncodedDataFrameSize(
                                               payload_bytes, meta_bytes, sequence, 9));
      }
    }
  }
  const std::vector<AckRange> ranges(100, AckRange{.first = 1000, .last = 2000});
  const AckFrame ack{.cumulative = 999, .ranges = ranges};
  const size_t before = encoder.size();
  ASSERT_OK(encoder.AddAck(ack));
  EXPECT_EQ(encoder.size() - before, DatagramEncoder::EncodedAckFrameSize(ack));
}

TEST(DatagramEncoder, StopsAtTheFrameLimit) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder,
                       DatagramEncoder::Create(1472, CodecLimits{.max_frames = 3}));
  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK(encoder.AddData(DataFrame{.sequence = 1}));
  }
  EXPECT_THAT(encoder.AddData(DataFrame{.sequence = 1}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("3 frames")));
  EXPECT_THAT(encoder.AddAck(AckFrame{}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("3 frames")));
}

TEST(DatagramEncoder, RejectsDatagramsLargerThanTheBudget) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(20));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("[::1]:5"));
  EXPECT_THAT(
      encoder.EncodeAnnouncement(
          TestHeader(), Announcement{.data_address = address, .rate_milliseconds = 1}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("exceeds the budget of 20 bytes")));
  // Known peers do not make it resource exhaustion: no split would fit.
  const PeerRecord peers[] = {{.endpoint_id = 9,
                               .endpoint_name = "beta",
                               .data_address = address,
                               .rate_milliseconds = 500}};
  EXPECT_THAT(
      encoder.EncodeAnnouncement(TestHeader(), Announcement{.data_address = address,
                                                            .rate_milliseconds = 1,
                                                            .known_peers = peers}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("even without known_peers")));
  EXPECT_THAT(encoder.EncodeGoodbye(TestHeader()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("exceeds the budget of 20 bytes")));
  EXPECT_THAT(encoder.BeginFrames(TestHeader()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no room")));
}

TEST(DatagramEncoder, SplitsKnownPeersThatExceedTheBudget) {
  constexpr size_t kBudget = 1472;
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(kBudget));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("192.0.2.1:5"));
  std::vector<std::string> names;
  const std::vector<PeerRecord> peers = TestPeers(300, &names);
  const Announcement all{
      .data_address = address, .rate_milliseconds = 1000, .known_peers = peers};
  const size_t all_size = DatagramEncoder::EncodedAnnouncementSize(TestHeader(), all);
  ASSERT_GT(all_size, kBudget);
  EXPECT_THAT(
      encoder.EncodeAnnouncement(TestHeader(), all),
      StatusIs(
          absl::StatusCode::kResourceExhausted,
          AllOf(HasSubstr(absl::StrFormat("%d bytes with 300 known_peers", all_size)),
                HasSubstr("budget of 1472 bytes"))));
  EXPECT_EQ(encoder.size(), 0u);

  // The split codec.h describes: fill each announcement while its size without known
  // peers plus theirs stays within the budget less 2 bytes.
  Announcement part = all;
  part.known_peers = {};
  const size_t base = DatagramEncoder::EncodedAnnouncementSize(TestHeader(), part);
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  int announcements = 0;
  size_t next = 0;
  while (next < peers.size()) {
    size_t size = base;
    size_t end = next;
    while (end < peers.size() &&
           size + DatagramEncoder::EncodedPeerRecordSize(peers[end]) <= kBudget - 2) {
      size += DatagramEncoder::EncodedPeerRecordSize(peers[end]);
      ++end;
    }
    ASSERT_GT(end, next);
    part.known_peers = absl::MakeConstSpan(peers).subspan(next, end - next);
    ASSERT_OK_AND_ASSIGN(auto bytes, encoder.EncodeAnnouncement(TestHeader(), part));
    EXPECT_LE(bytes.size(), kBudget);
    EXPECT_GE(bytes.size(), size);
    EXPECT_LE(bytes.size(), size + 2);
    ASSERT_OK(decoder.Decode(bytes, &decoded));
    EXPECT_EQ(decoded.announcement, part);
    next = end;
    ++announcements;
  }
  EXPECT_GT(announcements, 1);
}

TEST(DatagramEncoder, PredictsAnnouncementSizes) {
  const uint64_t seed = TestSeed(4);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  int announcements = 0;
  int with_peers = 0;
  while (announcements < 300) {
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    const DecodedDatagram& datagram = content.datagram;
    if (datagram.kind != DecodedDatagram::Kind::kAnnouncement) {
      continue;
    }
    SCOPED_TRACE(announcements);
    ++announcements;
    with_peers += datagram.announcement.known_peers.empty() ? 0 : 1;
    ASSERT_OK_AND_ASSIGN(
        auto bytes, encoder.EncodeAnnouncement(datagram.header, datagram.announcement));
    EXPECT_EQ(bytes.size(), DatagramEncoder::EncodedAnnouncementSize(
                                datagram.header, datagram.announcement));
    // The records' sizes add up, give or take the announcement's length prefix.
    Announcement alone = datagram.announcement;
    alone.known_peers = {};
    size_t sum = DatagramEncoder::EncodedAnnouncementSize(datagram.header, alone);
    for (const PeerRecord& peer : datagram.announcement.known_peers) {
      sum += DatagramEncoder::EncodedPeerRecordSize(peer);
    }
    EXPECT_GE(bytes.size(), sum);
    EXPECT_LE(bytes.size(), sum + 2);
  }
  EXPECT_GT(with_peers, 0);
}

TEST(DatagramEncoder, RefusesFramesOutsideAnOpenDatagram) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  EXPECT_THAT(encoder.AddData(DataFrame{}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("BeginFrames")));
  EXPECT_THAT(encoder.AddAck(AckFrame{}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("BeginFrames")));
  EXPECT_THAT(encoder.Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));

  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  EXPECT_THAT(encoder.Finish(),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("no frame")));
  ASSERT_OK(encoder.AddData(DataFrame{}));
  ASSERT_OK(encoder.Finish());
  EXPECT_THAT(encoder.Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(encoder.AddData(DataFrame{}),
              StatusIs(absl::StatusCode::kFailedPrecondition));

  // A whole-datagram encode abandons a datagram of frames in progress.
  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  ASSERT_OK(encoder.AddData(DataFrame{}));
  ASSERT_OK(encoder.EncodeGoodbye(TestHeader()));
  EXPECT_THAT(encoder.Finish(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

// The kResourceExhausted that ends a datagram carries a message, and so allocates;
// callers that plan with remaining() and EncodedDataFrameSize() never meet it.
TEST(DatagramEncoder, AllocatesNothingOnceCreated) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("192.0.2.1:5"));
  const std::string payload(64, 'p');
  const std::string meta(8, 'm');
  const size_t frame_size =
      DatagramEncoder::EncodedDataFrameSize(payload.size(), meta.size(), 1, 0);
  const AckRange ranges[] = {{.first = 3, .last = 4}};
  const AckFrame ack{.cumulative = 2, .ranges = ranges};
  std::vector<std::string> names;
  const std::vector<PeerRecord> peers = TestPeers(10, &names);
  const int64_t before = AllocationCount();
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(encoder.BeginFrames(TestHeader()).ok());
    EXPECT_TRUE(encoder.AddAck(ack).ok());
    while (encoder.remaining() >= frame_size) {
      EXPECT_TRUE(
          encoder
              .AddData(DataFrame{
                  .sequence = 1, .payload = Payload(payload), .meta = Payload(meta)})
              .ok());
    }
    EXPECT_TRUE(encoder.Finish().ok());
    EXPECT_TRUE(encoder.EncodeGoodbye(TestHeader()).ok());
    EXPECT_TRUE(encoder
                    .EncodeAnnouncement(
                        TestHeader(),
                        Announcement{.data_address = address, .rate_milliseconds = 1})
                    .ok());
    EXPECT_TRUE(
        encoder
            .EncodeAnnouncement(TestHeader(), Announcement{.data_address = address,
                                                           .rate_milliseconds = 1,
                                                           .known_peers = peers})
            .ok());
  }
  EXPECT_EQ(AllocationCount() - before, 0);
}

// ---- Conformance with the generated classes -------------------------------------

TEST(DatagramCodec, WritesWhatTheReferenceReadsAndWrites) {
  const uint64_t seed = TestSeed(2);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    ASSERT_OK_AND_ASSIGN(auto bytes, Encode(content.datagram, &encoder));
    const ::glue::wire::Envelope expected = ToProto(content.datagram);
    ::glue::wire::Envelope parsed;
    ASSERT_TRUE(parsed.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
    ASSERT_EQ(ProtoDifference(expected, parsed), "");
    ASSERT_EQ(parsed.checksum(), ChecksumOf(bytes));
    // The same content serialized by the reference, and sealed, is the same bytes.
    std::string reference;
    ASSERT_TRUE(expected.SerializeToString(&reference));
    ASSERT_EQ(absl::BytesToHexString(Sealed(reference)),
              absl::BytesToHexString(AsString(bytes)));
  }
}

}  // namespace
}  // namespace glue::serialization
