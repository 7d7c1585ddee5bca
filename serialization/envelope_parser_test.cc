// What the parser accepts and refuses. Most tests reach it as every caller does,
// through DatagramDecoder::Decode, with content sealed as a sender would; the
// decoder's own checks before it (size, checksum) are datagram_decoder_test.cc's.
#include "serialization/envelope_parser.h"

#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "glue/base/status_matchers.h"
#include "glue/serialization/codec_testing.h"
#include "glue/serialization/datagram_decoder.h"
#include "glue/serialization/reference_check.h"
#include "glue/serialization/wire_builders.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::serialization {
namespace {

using ::glue::testing::StatusIs;
using testing::AckEntry;
using testing::AnnouncementField;
using testing::AsSpan;
using testing::AsString;
using testing::BytesField;
using testing::DataEntry;
using testing::ExpectReferenceAgrees;
using testing::Fixed32Field;
using testing::Fixed64Field;
using testing::GoodbyeField;
using ::testing::HasSubstr;
using testing::kHeader;
using testing::kIpv4;
using testing::kPeerBody;
using testing::PeerField;
using testing::RangeField;
using testing::Sealed;
using testing::SocketAddressBody;
using testing::UnknownFields;
using testing::VarintField;

TEST(ParseEnvelope, ParsesContentWhoseChecksumTrailerWasCutOff) {
  const std::string content = kHeader + GoodbyeField();
  DecodedDatagram decoded;
  ASSERT_OK(ParseEnvelope(CodecLimits{}, AsSpan(content), &decoded));
  EXPECT_EQ(decoded.kind, DecodedDatagram::Kind::kGoodbye);
  EXPECT_EQ(decoded.header.endpoint_id, 42u);
  EXPECT_EQ(decoded.header.endpoint_name, "a");
  // A trailer left on is a checksum field where none may be.
  const std::string sealed = Sealed(content);
  DecodedDatagram decoded_sealed;
  EXPECT_THAT(
      ParseEnvelope(CodecLimits{}, AsSpan(sealed), &decoded_sealed),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("field 7 (checksum) at offset 16 is not in the last 5 bytes")));
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
          UnknownFields(6) +
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
  // protocol_major 3 as a three-byte varint, under a three-byte tag.
  const std::string bytes =
      Sealed(std::string("\x88\x80\x00\x83\x80\x00", 6) + Fixed64Field(4, 42) +
             BytesField(5, "a") + GoodbyeField());
  DecodedDatagram decoded;
  ASSERT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
  EXPECT_EQ(decoded.header.protocol_major, 3u);
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
  const std::string named = Sealed(VarintField(1, kProtocolMajor) + Fixed64Field(4, 1) +
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
       VarintField(1, kProtocolMajor) + VarintField(4, 42) + BytesField(5, "a") +
           GoodbyeField(),
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
      {"the previous major version",
       VarintField(1, 2) + Fixed64Field(4, 42) + BytesField(5, "a") + GoodbyeField(),
       absl::StatusCode::kUnimplemented, "major version 2 is not supported"},
      {"a later major version, then garbage", VarintField(1, 4) + "\xff\xff",
       absl::StatusCode::kUnimplemented, "this endpoint speaks 3.0"},
      {"endpoint_id missing",
       VarintField(1, kProtocolMajor) + BytesField(5, "a") + GoodbyeField(), kInvalid,
       "no endpoint_id"},
      {"endpoint_id 0",
       VarintField(1, kProtocolMajor) + Fixed64Field(4, 0) + BytesField(5, "a") +
           GoodbyeField(),
       kInvalid, "no endpoint_id"},
      {"endpoint_name missing",
       VarintField(1, kProtocolMajor) + Fixed64Field(4, 1) + GoodbyeField(), kInvalid,
       "no endpoint_name"},
      {"endpoint_name empty", kHeader + BytesField(5, "") + GoodbyeField(), kInvalid,
       "no endpoint_name"},
      {"endpoint_name too long",
       kHeader + BytesField(5, std::string(256, 'n')) + GoodbyeField(), kInvalid,
       "has 256 bytes, more than the limit of 255"},
      {"endpoint_name not UTF-8", kHeader + BytesField(5, "\xc0\x80") + GoodbyeField(),
       kInvalid, "not valid UTF-8"},
      {"an earlier endpoint_name not UTF-8",
       VarintField(1, kProtocolMajor) + Fixed64Field(4, 1) + BytesField(5, "\xff") +
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

}  // namespace
}  // namespace glue::serialization
