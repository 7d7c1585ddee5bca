#include "glue/serialization/codec.h"

#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"
#include "glue/base/status_matchers.h"
#include "glue/base/varint.h"
#include "glue/serialization/allocation_counter.h"
#include "glue/serialization/codec_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "serialization/wire_format.h"

namespace glue::serialization {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using testing::AllocationCount;
using ::testing::AllOf;
using testing::ChecksumOf;
using testing::Encode;
using ::testing::HasSubstr;
using testing::OwnedDatagram;
using testing::ProtoDifference;
using testing::RandomDatagram;
using testing::Sealed;
using testing::TestSeed;
using testing::ToProto;

// ---- Raw wire builders, for datagrams the encoder would never write. -----------
//
// They build content; Sealed() appends the checksum a sender would.

std::string VarintBytes(uint64_t value) {
  std::string bytes(kMaxVarintBytes, '\0');
  auto* begin = reinterpret_cast<uint8_t*>(bytes.data());
  bytes.resize(static_cast<size_t>(PutVarint(value, begin) - begin));
  return bytes;
}
std::string TagBytes(uint32_t field, wire_format::WireType type) {
  return VarintBytes((uint64_t{field} << 3) | static_cast<uint64_t>(type));
}
std::string VarintField(uint32_t field, uint64_t value) {
  return TagBytes(field, wire_format::WireType::kVarint) + VarintBytes(value);
}
std::string Fixed64Field(uint32_t field, uint64_t value) {
  std::string bytes(8, '\0');
  wire_format::WriteFixed64(value, reinterpret_cast<uint8_t*>(bytes.data()));
  return TagBytes(field, wire_format::WireType::kFixed64) + bytes;
}
std::string Fixed32Field(uint32_t field, uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  return TagBytes(field, wire_format::WireType::kFixed32) + bytes;
}
std::string BytesField(uint32_t field, std::string_view content) {
  return TagBytes(field, wire_format::WireType::kLengthDelimited) +
         VarintBytes(content.size()) + std::string(content);
}
// Unknown fields of every wire type the decoder skips, numbered from `first`.
std::string UnknownFields(uint32_t first) {
  return VarintField(first, 12345) + Fixed64Field(first + 1, 7) +
         BytesField(first + 2, "future") + Fixed32Field(first + 3, 9);
}

const std::string kHeader = VarintField(1, 1) + Fixed64Field(4, 42) + BytesField(5, "a");
const std::string kIpv4("\x7f\x00\x00\x01", 4);

std::string SocketAddressBody(std::string_view ip, uint64_t port) {
  return BytesField(1, ip) + VarintField(2, port);
}
std::string AnnouncementField(std::string_view body) { return BytesField(8, body); }
std::string GoodbyeField() { return BytesField(9, ""); }
std::string DataEntry(std::string_view data_body) {
  return BytesField(10, BytesField(1, data_body));
}
std::string AckEntry(std::string_view ack_body) {
  return BytesField(10, BytesField(2, ack_body));
}
std::string RangeField(uint64_t first, uint64_t last) {
  return BytesField(2, VarintField(1, first) + VarintField(2, last));
}
// The content of a valid PeerRecord: id 7, name "beta", 127.0.0.1:81, every 500 ms,
// heard 20 ms ago.
const std::string kPeerBody = Fixed64Field(1, 7) + BytesField(2, "beta") +
                              BytesField(3, SocketAddressBody(kIpv4, 81)) +
                              VarintField(4, 500) + VarintField(5, 20);
std::string PeerField(std::string_view peer_body) { return BytesField(3, peer_body); }

absl::Span<const uint8_t> AsSpan(const std::string& bytes) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                   bytes.size());
}
std::string AsString(absl::Span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}
absl::Span<const uint8_t> Payload(std::string_view text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                   text.size());
}

Header TestHeader() {
  return Header{
      .network_id = 7, .endpoint_id = 0x0123456789abcdef, .endpoint_name = "alpha"};
}

// The sender of the examples of docs/PROTOCOL.md, and the 20 bytes of its header.
Header ExampleHeader() {
  return Header{
      .network_id = 1, .endpoint_id = 0x0123456789abcdef, .endpoint_name = "alpha"};
}
const std::string kExampleHeader =
    "\x08\x01"                              // protocol_major 1
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

// ExpectReferenceAgrees checks that the generated parser accepts `bytes`, sees the
// content `decoded` holds, and reads as the checksum the CRC of the bytes before it.
void ExpectReferenceAgrees(absl::Span<const uint8_t> bytes,
                           const DecodedDatagram& decoded) {
  ::glue::wire::Envelope reference;
  ASSERT_TRUE(reference.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  EXPECT_EQ(reference.checksum(), ChecksumOf(bytes));
  EXPECT_EQ(ProtoDifference(reference, ToProto(decoded)), "");
}

// ---- Messages --------------------------------------------------------------------

TEST(DataFrame, ComparesTheBytesOfPayloadAndMetaNotTheirAddresses) {
  const std::string payload = "data";
  const std::string payload_copy = payload;
  const std::string meta = "meta";
  const std::string meta_copy = meta;
  const DataFrame frame{.payload = Payload(payload), .meta = Payload(meta)};
  EXPECT_EQ(frame,
            (DataFrame{.payload = Payload(payload_copy), .meta = Payload(meta_copy)}));
  EXPECT_NE(frame, (DataFrame{.payload = Payload(payload)}));
  EXPECT_NE(frame, (DataFrame{.payload = Payload(payload), .meta = Payload("metb")}));
  // The same bytes in the other field are another frame.
  EXPECT_NE(frame, (DataFrame{.payload = Payload(meta), .meta = Payload(payload)}));
  EXPECT_NE((DataFrame{.payload = Payload("ab")}),
            (DataFrame{.payload = Payload("a"), .meta = Payload("b")}));
}

// ---- DatagramEncoder -----------------------------------------------------------

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
      "\x3d\xa3\x2b\x1f\xf2"sv;   // checksum 0xf21f2ba3
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
      "\x3d\xeb\x82\xf5\x3f"sv;   // checksum 0x3ff582eb
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
      "\x3d\x15\x7f\xdf\x42"sv;  // checksum 0x42df7f15
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
      "\x3d\x4d\x63\xce\xf9"sv;  // checksum 0xf9ce634d
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

TEST(DatagramEncoder, RejectsAckFramesThatBreakTheLimits) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  ASSERT_OK(encoder.BeginFrames(TestHeader()));
  const std::vector<AckRange> too_many(257, AckRange{.first = 1, .last = 1});
  EXPECT_THAT(encoder.AddAck(AckFrame{.ranges = too_many}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("257 ranges"), HasSubstr("256"))));
  const AckRange backwards[] = {{.first = 1, .last = 2}, {.first = 9, .last = 8}};
  EXPECT_THAT(encoder.AddAck(AckFrame{.ranges = backwards}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("ack range 1 has first 9 > last 8")));
}

TEST(DatagramEncoder, RejectsInvalidHeaders) {
  const std::string long_name(256, 'n');
  struct Case {
    const char* name;
    Header header;
    const char* message;
  };
  const Case cases[] = {
      {"endpoint id 0", Header{.endpoint_id = 0, .endpoint_name = "a"}, "endpoint_id"},
      {"protocol major 0",
       Header{.protocol_major = 0, .endpoint_id = 1, .endpoint_name = "a"},
       "protocol_major"},
      {"empty name", Header{.endpoint_id = 1, .endpoint_name = ""}, "empty"},
      {"name too long", Header{.endpoint_id = 1, .endpoint_name = long_name},
       "256 bytes"},
      {"name not UTF-8", Header{.endpoint_id = 1, .endpoint_name = "a\xff"}, "UTF-8"},
  };
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("192.0.2.1:5"));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const auto invalid =
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message));
    EXPECT_THAT(encoder.BeginFrames(c.header), invalid);
    EXPECT_THAT(encoder.EncodeGoodbye(c.header), invalid);
    EXPECT_THAT(
        encoder.EncodeAnnouncement(
            c.header, Announcement{.data_address = address, .rate_milliseconds = 1}),
        invalid);
  }
}

TEST(DatagramEncoder, RejectsAnAnnouncementWithoutRateOrPort) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(1472));
  ASSERT_OK_AND_ASSIGN(network::Address no_port, network::ParseAddress("192.0.2.1:0"));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("192.0.2.1:5"));
  EXPECT_THAT(
      encoder.EncodeAnnouncement(
          TestHeader(), Announcement{.data_address = no_port, .rate_milliseconds = 1}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("192.0.2.1:0")));
  EXPECT_THAT(
      encoder.EncodeAnnouncement(
          TestHeader(), Announcement{.data_address = address, .rate_milliseconds = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rate_milliseconds")));
}

TEST(DatagramEncoder, RejectsInvalidKnownPeers) {
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  ASSERT_OK_AND_ASSIGN(network::Address address, network::ParseAddress("192.0.2.1:5"));
  ASSERT_OK_AND_ASSIGN(network::Address no_port, network::ParseAddress("192.0.2.2:0"));
  const std::string long_name(256, 'n');
  const PeerRecord valid{.endpoint_id = 9,
                         .endpoint_name = "beta",
                         .data_address = address,
                         .rate_milliseconds = 500};
  const auto with = [&valid](auto change) {
    PeerRecord peer = valid;
    change(peer);
    return peer;
  };
  struct Case {
    const char* name;
    PeerRecord peer;
    const char* message;
  };
  const Case cases[] = {
      {"endpoint id 0", with([](PeerRecord& p) { p.endpoint_id = 0; }),
       "known_peers[1] endpoint_id is 0"},
      {"empty name", with([](PeerRecord& p) { p.endpoint_name = ""; }),
       "known_peers[1] endpoint_name is empty"},
      {"name too long", with([&](PeerRecord& p) { p.endpoint_name = long_name; }),
       "known_peers[1] endpoint_name has 256 bytes"},
      {"name not UTF-8", with([](PeerRecord& p) { p.endpoint_name = "b\xff"; }),
       "known_peers[1] endpoint_name is not valid UTF-8"},
      {"port 0", with([&](PeerRecord& p) { p.data_address = no_port; }),
       "known_peers[1] data_address 192.0.2.2:0 has port 0"},
      {"rate 0", with([](PeerRecord& p) { p.rate_milliseconds = 0; }),
       "known_peers[1] rate_milliseconds is 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const PeerRecord peers[] = {valid, c.peer, valid};
    EXPECT_THAT(
        encoder.EncodeAnnouncement(TestHeader(), Announcement{.data_address = address,
                                                              .rate_milliseconds = 1000,
                                                              .known_peers = peers}),
        StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
    EXPECT_EQ(encoder.size(), 0u);
  }

  const std::vector<PeerRecord> too_many(1025, valid);
  EXPECT_THAT(
      encoder.EncodeAnnouncement(TestHeader(), Announcement{.data_address = address,
                                                            .rate_milliseconds = 1000,
                                                            .known_peers = too_many}),
      StatusIs(absl::StatusCode::kInvalidArgument,
               AllOf(HasSubstr("1025 known_peers"), HasSubstr("limit of 1024"))));
  EXPECT_THAT(encoder.EncodeAnnouncement(
                  TestHeader(),
                  Announcement{.data_address = address,
                               .rate_milliseconds = 1000,
                               .known_peers = absl::MakeConstSpan(too_many).subspan(1)}),
              IsOk());
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

// ---- DatagramDecoder: accepted input -------------------------------------------

TEST(DatagramDecoder, ReadsNamesPayloadsAndMetasInPlace) {
  const std::string bytes =
      Sealed(kHeader + DataEntry(BytesField(3, "payload") + BytesField(4, "meta")));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  ASSERT_EQ(decoded.frames.size(), 1u);
  const auto& data = std::get<DataFrame>(decoded.frames[0]);
  EXPECT_EQ(AsString(data.payload), "payload");
  EXPECT_EQ(reinterpret_cast<const char*>(data.payload.data()),
            bytes.data() + bytes.find("payload"));
  EXPECT_EQ(AsString(data.meta), "meta");
  EXPECT_EQ(reinterpret_cast<const char*>(data.meta.data()),
            bytes.data() + bytes.find("meta"));
  EXPECT_EQ(decoded.header.endpoint_name.data(), bytes.data() + kHeader.size() - 1);

  const std::string announcement =
      Sealed(kHeader + AnnouncementField(BytesField(1, SocketAddressBody(kIpv4, 80)) +
                                         VarintField(2, 1000) + PeerField(kPeerBody)));
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(announcement), &decoded));
  ASSERT_EQ(decoded.announcement.known_peers.size(), 1u);
  const std::string_view peer_name = decoded.announcement.known_peers[0].endpoint_name;
  EXPECT_EQ(peer_name, "beta");
  EXPECT_EQ(peer_name.data(), announcement.data() + announcement.find("beta"));
}

TEST(DatagramDecoder, SkipsUnknownFieldsAtEveryLevel) {
  const std::string bytes = Sealed(
      UnknownFields(100) + kHeader + UnknownFields(11) +
      AnnouncementField(
          UnknownFields(4) +
          BytesField(1,
                     UnknownFields(3) + SocketAddressBody(kIpv4, 80) + UnknownFields(7)) +
          VarintField(2, 1000) +
          PeerField(UnknownFields(6) + Fixed64Field(1, 7) + BytesField(2, "beta") +
                    BytesField(3, UnknownFields(3) + SocketAddressBody(kIpv4, 81)) +
                    VarintField(4, 500) + UnknownFields(10)) +
          UnknownFields(20)));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kAnnouncement);
  EXPECT_EQ(decoded.announcement.data_address.port(), 80);
  EXPECT_EQ(decoded.announcement.rate_milliseconds, 1000u);
  ASSERT_EQ(decoded.announcement.known_peers.size(), 1u);
  EXPECT_EQ(decoded.announcement.known_peers[0].endpoint_name, "beta");
  EXPECT_EQ(decoded.announcement.known_peers[0].data_address.port(), 81);
  ExpectReferenceAgrees(AsSpan(bytes), decoded);

  const std::string frames = Sealed(
      kHeader +
      BytesField(
          10, UnknownFields(3) +
                  BytesField(1, UnknownFields(5) + VarintField(1, 9) + UnknownFields(9)) +
                  UnknownFields(5)) +
      BytesField(10,
                 BytesField(2, VarintField(1, 4) + UnknownFields(3) +
                                   BytesField(2, UnknownFields(3) + VarintField(1, 6) +
                                                     VarintField(2, 8)))) +
      UnknownFields(16));
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(frames), &decoded));
  ASSERT_EQ(decoded.frames.size(), 2u);
  EXPECT_EQ(std::get<DataFrame>(decoded.frames[0]).sequence, 9u);
  const auto& ack = std::get<AckFrame>(decoded.frames[1]);
  EXPECT_EQ(ack.cumulative, 4u);
  ASSERT_EQ(ack.ranges.size(), 1u);
  EXPECT_EQ(ack.ranges[0], (AckRange{.first = 6, .last = 8}));
  ExpectReferenceAgrees(AsSpan(frames), decoded);

  const std::string goodbye = Sealed(kHeader + BytesField(9, UnknownFields(1)));
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(goodbye), &decoded));
  EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kGoodbye);
}

TEST(DatagramDecoder, AcceptsANewerMinorVersion) {
  const std::string bytes = Sealed(kHeader + VarintField(2, 7) + UnknownFields(11) +
                                   VarintField(15, 1) + GoodbyeField());
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.header.protocol_major, kProtocolMajor);
  EXPECT_EQ(decoded.header.protocol_minor, 7u);
}

TEST(DatagramDecoder, TakesTheLastValueOfARepeatedScalar) {
  const std::string bytes =
      Sealed(kHeader + VarintField(3, 5) + BytesField(5, "second") + VarintField(3, 6) +
             DataEntry(VarintField(1, 1) + BytesField(3, "old") + BytesField(4, "m1") +
                       VarintField(1, 2) + BytesField(3, "new") + BytesField(4, "m2")));
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.header.network_id, 6u);
  EXPECT_EQ(decoded.header.endpoint_name, "second");
  const auto& data = std::get<DataFrame>(decoded.frames.at(0));
  EXPECT_EQ(data.sequence, 2u);
  EXPECT_EQ(AsString(data.payload), "new");
  EXPECT_EQ(AsString(data.meta), "m2");
  ExpectReferenceAgrees(AsSpan(bytes), decoded);
}

TEST(DatagramDecoder, AcceptsNonMinimalVarints) {
  // protocol_major 1 as a three-byte varint, under a three-byte tag.
  const std::string bytes =
      Sealed(std::string("\x88\x80\x00\x81\x80\x00", 6) + Fixed64Field(4, 42) +
             BytesField(5, "a") + GoodbyeField());
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.header.protocol_major, 1u);
  ExpectReferenceAgrees(AsSpan(bytes), decoded);
}

TEST(DatagramDecoder, KeepsAckRangesOfManyFramesApart) {
  // Enough ack frames that the range storage reallocates while they are parsed.
  std::string bytes = kHeader;
  for (uint64_t frame = 0; frame < 50; ++frame) {
    std::string body = VarintField(1, frame);
    for (uint64_t range = 0; range < frame % 7; ++range) {
      body += RangeField(frame * 100 + range, frame * 100 + range + 1);
    }
    bytes += AckEntry(body);
  }
  bytes = Sealed(bytes);
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  ASSERT_EQ(decoded.frames.size(), 50u);
  for (uint64_t frame = 0; frame < 50; ++frame) {
    const auto& ack = std::get<AckFrame>(decoded.frames[frame]);
    EXPECT_EQ(ack.cumulative, frame);
    ASSERT_EQ(ack.ranges.size(), frame % 7);
    for (uint64_t range = 0; range < frame % 7; ++range) {
      EXPECT_EQ(ack.ranges[range], (AckRange{.first = frame * 100 + range,
                                             .last = frame * 100 + range + 1}));
    }
  }
  // Moving the result keeps the views valid.
  DecodedDatagram moved = std::move(decoded);
  EXPECT_EQ(std::get<AckFrame>(moved.frames[48]).ranges[5].first, 4805u);
}

TEST(DatagramDecoder, ReusesItsOutputWithoutAllocating) {
  std::string frames = kHeader;
  for (int i = 0; i < 20; ++i) {
    frames += DataEntry(VarintField(1, i) + BytesField(3, std::string(64, 'x')) +
                        BytesField(4, "meta"));
    frames +=
        AckEntry(VarintField(1, i) + RangeField(i + 2, i + 5) + RangeField(i + 7, i + 9));
  }
  frames = Sealed(frames);
  std::string peers;
  for (int i = 0; i < 20; ++i) peers += PeerField(kPeerBody);
  const std::string announcement =
      Sealed(kHeader + AnnouncementField(BytesField(1, SocketAddressBody(kIpv4, 80)) +
                                         VarintField(2, 1000) + peers));
  const std::string goodbye = Sealed(kHeader + GoodbyeField());
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  ASSERT_OK(decoder.Decode(AsSpan(frames), &decoded));
  ASSERT_OK(decoder.Decode(AsSpan(announcement), &decoded));

  const int64_t before = AllocationCount();
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(decoder.Decode(AsSpan(goodbye), &decoded).ok());
    EXPECT_TRUE(decoded.frames.empty());
    EXPECT_TRUE(decoder.Decode(AsSpan(announcement), &decoded).ok());
    EXPECT_EQ(decoded.announcement.known_peers.size(), 20u);
    EXPECT_TRUE(decoder.Decode(AsSpan(frames), &decoded).ok());
    EXPECT_EQ(decoded.frames.size(), 40u);
  }
  EXPECT_EQ(AllocationCount() - before, 0);
}

TEST(DatagramDecoder, AcceptsTheLimitsExactly) {
  std::string bytes = kHeader;
  for (int i = 0; i < 1024; ++i) bytes += DataEntry("");
  bytes = Sealed(bytes);
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.frames.size(), 1024u);

  std::string ranges;
  for (int i = 0; i < 256; ++i) ranges += RangeField(i, i);
  const std::string acks = Sealed(kHeader + AckEntry(ranges));
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(acks), &decoded));
  EXPECT_EQ(std::get<AckFrame>(decoded.frames.at(0)).ranges.size(), 256u);

  std::string peers;
  for (int i = 0; i < 1024; ++i) peers += PeerField(kPeerBody);
  const std::string announcement =
      Sealed(kHeader + AnnouncementField(BytesField(1, SocketAddressBody(kIpv4, 80)) +
                                         VarintField(2, 1000) + peers));
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(announcement), &decoded));
  EXPECT_EQ(decoded.announcement.known_peers.size(), 1024u);

  const std::string name(255, 'n');
  const std::string named = Sealed(VarintField(1, 1) + Fixed64Field(4, 1) +
                                   BytesField(5, name) + GoodbyeField());
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(named), &decoded));
  EXPECT_EQ(decoded.header.endpoint_name, name);

  // Field 99's tag and length take 5 bytes, and the checksum 5 more.
  std::string largest = kHeader + GoodbyeField();
  largest =
      Sealed(largest + BytesField(99, std::string(65507 - largest.size() - 10, 'u')));
  ASSERT_EQ(largest.size(), 65507u);
  EXPECT_OK(DatagramDecoder().Decode(AsSpan(largest), &decoded));
}

// ---- DatagramDecoder: rejected input --------------------------------------------

TEST(DatagramDecoder, RejectsDatagramsOfNoBytesOrTooMany) {
  std::string too_large = kHeader + GoodbyeField();
  too_large =
      Sealed(too_large + BytesField(99, std::string(65508 - too_large.size() - 10, 'u')));
  ASSERT_EQ(too_large.size(), 65508u);
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  EXPECT_THAT(decoder.Decode({}, &decoded),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty datagram")));
  EXPECT_THAT(decoder.Decode(AsSpan(too_large), &decoded),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("65508 bytes exceeds the limit")));
}

TEST(DatagramDecoder, RejectsADatagramWhoseChecksumIsMissingOrWrong) {
  const std::string content = kHeader + GoodbyeField();
  const std::string sealed = Sealed(content);
  const uint32_t crc = ChecksumOf(AsSpan(sealed));
  std::string other_tag = sealed;
  other_tag[content.size()] = 0x35;  // field 6, fixed32
  std::string wrong_crc = sealed;
  wrong_crc.back() ^= 0x80;
  std::string changed_content = sealed;
  changed_content[3] ^= 0x01;  // endpoint_id 42 becomes 43
  struct Case {
    const char* name;
    std::string bytes;
    std::string message;
  };
  const Case cases[] = {
      {"no checksum", content,
       "missing checksum: the byte at offset 11, 5 from the end, is 0x2a, not the "
       "checksum's tag 0x3d"},
      {"one byte", "\x3d", "missing checksum: a datagram of 1 bytes is shorter than"},
      {"four bytes", sealed.substr(sealed.size() - 4),
       "missing checksum: a datagram of 4 bytes is shorter than the 5-byte checksum"},
      {"the tag of another field", other_tag,
       "missing checksum: the byte at offset 16, 5 from the end, is 0x35"},
      {"a wrong checksum", wrong_crc,
       absl::StrFormat("checksum mismatch: the datagram carries 0x%08x, its first 16 "
                       "bytes give 0x%08x",
                       crc ^ 0x80000000, crc)},
      {"changed content", changed_content,
       absl::StrFormat("checksum mismatch: the datagram carries 0x%08x", crc)},
  };
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(decoder.Decode(AsSpan(c.bytes), &decoded),
                StatusIs(absl::StatusCode::kDataLoss, HasSubstr(c.message)));
  }
}

TEST(DatagramDecoder, RejectsEveryDocumentedError) {
  std::string too_many_frames = kHeader;
  for (int i = 0; i < 1025; ++i) too_many_frames += DataEntry("");
  std::string too_many_ranges;
  for (int i = 0; i < 257; ++i) too_many_ranges += RangeField(i, i);
  const std::string address = BytesField(1, SocketAddressBody(kIpv4, 80));
  const std::string rate = VarintField(2, 1000);
  const std::string ten_ff(10, '\xff');
  std::string too_many_peers;
  for (int i = 0; i < 1025; ++i) too_many_peers += PeerField(kPeerBody);
  // An announcement whose one known peer has `peer_body`; the PeerRecord's content
  // starts at offset 31.
  const auto with_peer = [&](std::string_view peer_body) {
    return kHeader + AnnouncementField(address + rate + PeerField(peer_body));
  };
  const std::string peer_id = Fixed64Field(1, 7);
  const std::string peer_name = BytesField(2, "beta");
  const std::string peer_address = BytesField(3, SocketAddressBody(kIpv4, 81));
  const std::string peer_rate = VarintField(4, 500);

  struct Case {
    const char* name;
    std::string bytes;
    absl::StatusCode code;
    std::string message;
  };
  constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
  // The content of each case is sealed below, as its sender would: the checksum holds,
  // and the content is what the decoder must refuse.
  const Case cases[] = {
      {"checksum before the end", kHeader + Fixed32Field(7, 0) + GoodbyeField(), kInvalid,
       "field 7 (checksum) at offset 14 is not in the last 5 bytes"},
      {"checksum as a varint", kHeader + VarintField(7, 0) + GoodbyeField(), kInvalid,
       "field 7 (checksum) at offset 14"},
      {"checksum twice at the end", Sealed(kHeader + GoodbyeField()), kInvalid,
       "field 7 (checksum) at offset 16"},
      {"truncated varint", kHeader + "\x18\x80", kInvalid,
       "malformed Envelope: value at offset 15 is truncated"},
      {"varint of 11 bytes", kHeader + "\x18" + ten_ff + "\x01", kInvalid,
       "longer than 10 bytes"},
      {"varint overflowing 64 bits", kHeader + "\x18" + ten_ff.substr(0, 9) + "\x02",
       kInvalid, "overflows 64 bits"},
      {"length past the end", kHeader + "\x52\x05" + "ab", kInvalid,
       "length 5 at offset 15 runs past the end (2 bytes left)"},
      {"field number 0", kHeader + std::string(1, '\0') + GoodbyeField(), kInvalid,
       "field number 0"},
      {"start group", kHeader + "\x5b" + GoodbyeField(), kInvalid, "group wire type 3"},
      {"end group", kHeader + "\x5c", kInvalid, "group wire type 4"},
      {"invalid wire type", kHeader + "\x5e", kInvalid, "invalid wire type 6"},
      {"tag beyond 32 bits", kHeader + "\x80\x80\x80\x80\x10", kInvalid,
       "does not fit in 32 bits"},
      {"uint32 field beyond 32 bits",
       kHeader + VarintField(2, uint64_t{1} << 32) + GoodbyeField(), kInvalid,
       "4294967296 at offset 15 does not fit in 32 bits"},
      {"wrong wire type for endpoint_id",
       VarintField(1, 1) + VarintField(4, 42) + BytesField(5, "a") + GoodbyeField(),
       kInvalid, "field 4 (endpoint_id) at offset 2 has wire type 0, expected 1"},
      {"wrong wire type for frames", kHeader + VarintField(10, 1), kInvalid,
       "field 10 (frames)"},
      {"session twice",
       kHeader + BytesField(6, Fixed64Field(1, 5)) + BytesField(6, Fixed64Field(1, 6)) +
           DataEntry(""),
       kInvalid, "session (field 6) twice"},
      {"wrong wire type for session", kHeader + VarintField(6, 1) + DataEntry(""),
       kInvalid, "field 6 (session)"},
      {"wrong wire type for a session number",
       kHeader + BytesField(6, VarintField(1, 5)) + DataEntry(""), kInvalid,
       "field 1 (sender)"},
      {"wrong wire type for payload", kHeader + DataEntry(VarintField(3, 1)), kInvalid,
       "field 3 (payload)"},
      {"wrong wire type for meta", kHeader + DataEntry(Fixed32Field(4, 1)), kInvalid,
       "field 4 (meta) at offset 18 has wire type 5, expected 2"},
      {"protocol_major missing",
       Fixed64Field(4, 42) + BytesField(5, "a") + GoodbyeField(), kInvalid,
       "no protocol_major"},
      {"protocol_major 0",
       VarintField(1, 0) + Fixed64Field(4, 42) + BytesField(5, "a") + GoodbyeField(),
       kInvalid, "no protocol_major"},
      {"another major version",
       VarintField(1, 2) + Fixed64Field(4, 42) + BytesField(5, "a") + GoodbyeField(),
       absl::StatusCode::kUnimplemented, "major version 2 is not supported"},
      {"another major version, then garbage", VarintField(1, 3) + "\xff\xff",
       absl::StatusCode::kUnimplemented, "this endpoint speaks 1.0"},
      {"endpoint_id missing", VarintField(1, 1) + BytesField(5, "a") + GoodbyeField(),
       kInvalid, "no endpoint_id"},
      {"endpoint_id 0",
       VarintField(1, 1) + Fixed64Field(4, 0) + BytesField(5, "a") + GoodbyeField(),
       kInvalid, "no endpoint_id"},
      {"endpoint_name missing", VarintField(1, 1) + Fixed64Field(4, 1) + GoodbyeField(),
       kInvalid, "no endpoint_name"},
      {"endpoint_name empty", kHeader + BytesField(5, "") + GoodbyeField(), kInvalid,
       "no endpoint_name"},
      {"endpoint_name too long",
       kHeader + BytesField(5, std::string(256, 'n')) + GoodbyeField(), kInvalid,
       "has 256 bytes, more than the limit of 255"},
      {"endpoint_name not UTF-8", kHeader + BytesField(5, "\xc0\x80") + GoodbyeField(),
       kInvalid, "not valid UTF-8"},
      {"an earlier endpoint_name not UTF-8",
       VarintField(1, 1) + Fixed64Field(4, 1) + BytesField(5, "\xff") +
           BytesField(5, "fine") + GoodbyeField(),
       kInvalid, "not valid UTF-8"},
      {"no body", kHeader, kInvalid, "no body"},
      {"announcement and goodbye",
       kHeader + AnnouncementField(address + rate) + GoodbyeField(), kInvalid,
       "more than one kind of body: goodbye (field 9 at offset 29) after announcement"},
      {"goodbye and frames", kHeader + GoodbyeField() + DataEntry(""), kInvalid,
       "more than one kind of body: frames"},
      {"frames and announcement",
       kHeader + DataEntry("") + AnnouncementField(address + rate), kInvalid,
       "more than one kind of body: announcement"},
      {"announcement twice",
       kHeader + AnnouncementField(address + rate) + AnnouncementField(address + rate),
       kInvalid, "field 8 (announcement) at offset 29 appears twice"},
      {"goodbye twice", kHeader + GoodbyeField() + GoodbyeField(), kInvalid,
       "field 9 (goodbye) at offset 16 appears twice"},
      {"malformed goodbye", kHeader + BytesField(9, "\x08"), kInvalid,
       "malformed Goodbye"},
      {"frame with no kind", kHeader + BytesField(10, ""), kInvalid,
       "Frame at offset 16 has no kind"},
      {"frame of an unknown kind", kHeader + BytesField(10, BytesField(3, "")), kInvalid,
       "has no kind"},
      {"frame with two kinds",
       kHeader + BytesField(10, BytesField(1, "") + BytesField(2, "")), kInvalid,
       "Frame at offset 16 holds more than one kind: field 2 at offset 18 after "
       "field 1"},
      {"frame with data twice",
       kHeader + BytesField(10, BytesField(1, "") + BytesField(1, "")), kInvalid,
       "more than one kind"},
      {"malformed data frame", kHeader + DataEntry("\x08\x80"), kInvalid,
       "malformed DataFrame: value at offset 19 is truncated"},
      {"announcement without address", kHeader + AnnouncementField(rate), kInvalid,
       "Announcement at offset 16 has no data_address"},
      {"announcement without rate", kHeader + AnnouncementField(address), kInvalid,
       "has no rate_milliseconds"},
      {"announcement with rate 0",
       kHeader + AnnouncementField(address + VarintField(2, 0)), kInvalid,
       "has no rate_milliseconds"},
      {"data_address twice", kHeader + AnnouncementField(address + address + rate),
       kInvalid, "field 1 (data_address) at offset 26 appears twice"},
      {"ip of 5 bytes",
       kHeader + AnnouncementField(BytesField(1, SocketAddressBody("12345", 80)) + rate),
       kInvalid, "ip (field 1) of 5 bytes, expected 4 or 16"},
      {"ip missing",
       kHeader + AnnouncementField(BytesField(1, VarintField(2, 80)) + rate), kInvalid,
       "of 0 bytes"},
      {"port 0", kHeader + AnnouncementField(BytesField(1, BytesField(1, kIpv4)) + rate),
       kInvalid, "port (field 2) 0, outside 1..65535"},
      {"port 65536",
       kHeader + AnnouncementField(BytesField(1, SocketAddressBody(kIpv4, 65536)) + rate),
       kInvalid, "port (field 2) 65536"},
      {"wrong wire type for known_peers",
       kHeader + AnnouncementField(address + rate + VarintField(3, 1)), kInvalid,
       "field 3 (known_peers) at offset 29 has wire type 0, expected 2"},
      {"malformed known peer", with_peer("\x20\x80"), kInvalid,
       "malformed PeerRecord: value at offset 32 is truncated"},
      {"known peer without endpoint_id", with_peer(peer_name + peer_address + peer_rate),
       kInvalid, "PeerRecord at offset 31 has no endpoint_id (field 1)"},
      {"known peer with endpoint_id 0",
       with_peer(Fixed64Field(1, 0) + peer_name + peer_address + peer_rate), kInvalid,
       "PeerRecord at offset 31 has no endpoint_id"},
      {"known peer without endpoint_name", with_peer(peer_id + peer_address + peer_rate),
       kInvalid, "PeerRecord at offset 31 has no endpoint_name (field 2)"},
      {"known peer with an empty endpoint_name",
       with_peer(peer_id + BytesField(2, "") + peer_address + peer_rate), kInvalid,
       "has no endpoint_name"},
      {"known peer endpoint_name too long",
       with_peer(peer_id + BytesField(2, std::string(256, 'n')) + peer_address +
                 peer_rate),
       kInvalid,
       "PeerRecord endpoint_name (field 2) at offset 42 has 256 bytes, more than the "
       "limit of 255"},
      {"known peer endpoint_name not UTF-8",
       with_peer(peer_id + BytesField(2, "\xed\xa0\x80") + peer_address + peer_rate),
       kInvalid, "PeerRecord endpoint_name (field 2) at offset 40 is not valid UTF-8"},
      {"known peer without data_address", with_peer(peer_id + peer_name + peer_rate),
       kInvalid, "PeerRecord at offset 31 has no data_address (field 3)"},
      {"known peer data_address twice",
       with_peer(peer_id + peer_name + peer_address + peer_address + peer_rate), kInvalid,
       "malformed PeerRecord: field 3 (data_address) at offset 56 appears twice"},
      {"known peer with a bad port",
       with_peer(peer_id + peer_name + BytesField(3, SocketAddressBody(kIpv4, 0)) +
                 peer_rate),
       kInvalid, "port (field 2) 0, outside 1..65535"},
      {"known peer without rate", with_peer(peer_id + peer_name + peer_address), kInvalid,
       "PeerRecord at offset 31 has no rate_milliseconds (field 4)"},
      {"known peer with rate 0",
       with_peer(peer_id + peer_name + peer_address + VarintField(4, 0)), kInvalid,
       "has no rate_milliseconds (field 4), or 0"},
      {"known peer with age beyond 32 bits",
       with_peer(kPeerBody + VarintField(5, uint64_t{1} << 32)), kInvalid,
       "does not fit in 32 bits"},
      {"too many known peers",
       kHeader + AnnouncementField(address + rate + too_many_peers), kInvalid,
       "Announcement at offset 18 holds more than 1024 known_peers"},
      {"ack range backwards", kHeader + AckEntry(RangeField(5, 4)), kInvalid,
       "first 5 > last 4"},
      {"too many frames", too_many_frames, kInvalid, "more than 1024 frames"},
      {"too many ack ranges", kHeader + AckEntry(too_many_ranges), kInvalid,
       "more than 256 ranges"},
  };
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(decoder.Decode(AsSpan(Sealed(c.bytes)), &decoded),
                StatusIs(c.code, HasSubstr(c.message)));
  }
}

TEST(DatagramDecoder, AppliesConfiguredLimits) {
  const DatagramDecoder decoder(CodecLimits{.max_datagram_bytes = 100,
                                            .max_name_bytes = 2,
                                            .max_frames = 1,
                                            .max_ack_ranges = 1,
                                            .max_known_peers = 1});
  const auto decode = [&decoder](const std::string& content) {
    DecodedDatagram decoded;
    return decoder.Decode(AsSpan(Sealed(content)), &decoded);
  };
  EXPECT_THAT(
      decode(kHeader + GoodbyeField() + std::string(90, '\0')),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit of 100 bytes")));
  EXPECT_THAT(decode(kHeader + BytesField(5, "abc") + GoodbyeField()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit of 2")));
  EXPECT_THAT(
      decode(kHeader + DataEntry("") + DataEntry("")),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 1 frames")));
  EXPECT_THAT(
      decode(kHeader + AckEntry(RangeField(1, 1) + RangeField(2, 2))),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 1 ranges")));
  const std::string peer =
      PeerField(Fixed64Field(1, 7) + BytesField(2, "b") +
                BytesField(3, SocketAddressBody(kIpv4, 81)) + VarintField(4, 500));
  const std::string announcement =
      BytesField(1, SocketAddressBody(kIpv4, 80)) + VarintField(2, 1000) + peer;
  EXPECT_OK(decode(kHeader + AnnouncementField(announcement)));
  EXPECT_THAT(
      decode(kHeader + AnnouncementField(announcement + peer)),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than 1 known_peers")));
}

// Every prefix of a valid datagram lacks the datagram's checksum. Sealed again, as
// though a sender had written it, the content cut anywhere is either rejected or a
// datagram in its own right (cut at a field boundary), which then must decode as the
// reference sees it and survive a round trip.
TEST(DatagramDecoder, RejectsOrConsistentlyDecodesEveryTruncation) {
  const uint64_t seed = TestSeed(1);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  ASSERT_OK_AND_ASSIGN(DatagramEncoder encoder, DatagramEncoder::Create(65507));
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  DecodedDatagram again;
  int datagrams = 0;
  int accepted_prefixes = 0;
  while (datagrams < 40) {
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    ASSERT_OK_AND_ASSIGN(auto encoded, Encode(content.datagram, &encoder));
    if (encoded.size() > 3000) {
      continue;
    }
    ++datagrams;
    const std::string bytes = AsString(encoded);
    for (size_t length = 1; length < bytes.size(); ++length) {
      SCOPED_TRACE(absl::StrFormat("datagram %d cut to %d of %d bytes", datagrams, length,
                                   bytes.size()));
      ASSERT_THAT(decoder.Decode(AsSpan(bytes.substr(0, length)), &decoded),
                  StatusIs(absl::StatusCode::kDataLoss));
      if (length > bytes.size() - 5) {
        continue;  // a cut into the checksum leaves the whole content
      }
      const std::string resealed = Sealed(bytes.substr(0, length));
      const absl::Status status = decoder.Decode(AsSpan(resealed), &decoded);
      if (!status.ok()) {
        ASSERT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
        continue;
      }
      ++accepted_prefixes;
      ExpectReferenceAgrees(AsSpan(resealed), decoded);
      ASSERT_OK_AND_ASSIGN(auto reencoded, Encode(decoded, &encoder));
      ASSERT_OK(decoder.Decode(reencoded, &again));
      ASSERT_EQ(again, decoded);
    }
  }
  // Datagrams of frames cut between frames are valid.
  EXPECT_GT(accepted_prefixes, 0);
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

TEST(DatagramCodec, ReadsWhatTheReferenceWrites) {
  const uint64_t seed = TestSeed(3);
  SCOPED_TRACE(absl::StrFormat("seed %d", seed));
  std::mt19937_64 rng(seed);
  DatagramDecoder decoder;
  DecodedDatagram decoded;
  for (int i = 0; i < 2000; ++i) {
    SCOPED_TRACE(i);
    OwnedDatagram content;
    RandomDatagram(rng, &content);
    std::string bytes;
    ASSERT_TRUE(ToProto(content.datagram).SerializeToString(&bytes));
    bytes = Sealed(bytes);
    ASSERT_OK(decoder.Decode(AsSpan(bytes), &decoded));
    ASSERT_EQ(decoded, content.datagram);
  }
}

}  // namespace
}  // namespace glue::serialization
