#include "serialization/message_validation.h"

#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
#include "glue/network/address.h"
#include "glue/serialization/codec_testing.h"
#include "glue/serialization/datagram_encoder.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::serialization {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::TestHeader;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// Limits small enough that a test reaches each of them in a few elements.
constexpr CodecLimits kSmallLimits{
    .max_name_bytes = 3, .max_ack_ranges = 2, .max_known_peers = 2};

network::Address AddressOf(const char* text) {
  absl::StatusOr<network::Address> address = network::ParseAddress(text);
  EXPECT_OK(address);
  return address.value_or(network::Address());
}

PeerRecord ValidPeer() {
  return PeerRecord{.endpoint_id = 9,
                    .endpoint_name = "bet",
                    .data_address = AddressOf("192.0.2.9:7"),
                    .rate_milliseconds = 500};
}

// ---- The checks themselves -------------------------------------------------------

TEST(ValidateHeader, AcceptsAHeaderAtTheLimits) {
  EXPECT_OK(
      ValidateHeader(Header{.endpoint_id = 1, .endpoint_name = "abc"}, kSmallLimits));
  // Three bytes of UTF-8 that make one character.
  EXPECT_OK(ValidateHeader(Header{.endpoint_id = 1, .endpoint_name = "\xe2\x82\xac"},
                           kSmallLimits));
  EXPECT_OK(ValidateHeader(TestHeader(), CodecLimits{}));
}

TEST(ValidateHeader, NamesTheFirstFieldAtFault) {
  const struct {
    const char* name;
    Header header;
    const char* message;
  } cases[] = {
      {"protocol_major and endpoint_id 0",
       Header{.protocol_major = 0, .endpoint_id = 0, .endpoint_name = ""},
       "header protocol_major is 0, which means missing"},
      {"endpoint_id 0 and no name", Header{.endpoint_id = 0, .endpoint_name = ""},
       "header endpoint_id is 0, which means missing"},
      {"no name", Header{.endpoint_id = 1, .endpoint_name = ""},
       "header endpoint_name is empty"},
      {"a name one byte too long", Header{.endpoint_id = 1, .endpoint_name = "abcd"},
       "header endpoint_name has 4 bytes, more than the limit of 3 "
       "(CodecLimits::max_name_bytes)"},
      {"a name cut inside a character",
       Header{.endpoint_id = 1, .endpoint_name = "a\xe2\x82"},
       "header endpoint_name is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(ValidateHeader(c.header, kSmallLimits), StatusIs(kInvalid, c.message));
  }
}

TEST(ValidateAnnouncement, AcceptsAnAnnouncementAtTheLimits) {
  const PeerRecord peers[] = {ValidPeer(), ValidPeer()};
  EXPECT_OK(ValidateAnnouncement(Announcement{.data_address = AddressOf("[::1]:1"),
                                              .rate_milliseconds = 1,
                                              .known_peers = peers},
                                 kSmallLimits));
  EXPECT_OK(ValidateAnnouncement(
      Announcement{.data_address = AddressOf("192.0.2.1:65535"), .rate_milliseconds = 1},
      kSmallLimits));
}

TEST(ValidateAnnouncement, NamesTheFirstFieldAtFault) {
  const auto with_peer = [](auto change) {
    std::vector<PeerRecord> peers = {ValidPeer(), ValidPeer()};
    change(peers[1]);
    return peers;
  };
  const std::vector<PeerRecord> three(3, ValidPeer());
  const std::vector<PeerRecord> both_invalid = {
      with_peer([](PeerRecord& p) { p.rate_milliseconds = 0; })[1],
      with_peer([](PeerRecord& p) { p.endpoint_id = 0; })[1]};
  const struct {
    const char* name;
    std::vector<PeerRecord> peers;
    uint32_t rate_milliseconds;
    const char* address;
    std::string message;
  } cases[] = {
      {"rate 0 and port 0", {}, 0, "192.0.2.1:0", "announcement rate_milliseconds is 0"},
      {"port 0",
       {},
       1000,
       "192.0.2.1:0",
       "announcement data_address 192.0.2.1:0 has port 0"},
      {"one known peer too many", three, 1000, "192.0.2.1:5",
       "announcement has 3 known_peers, more than the limit of 2 "
       "(CodecLimits::max_known_peers)"},
      {"a known peer with endpoint_id 0",
       with_peer([](PeerRecord& p) { p.endpoint_id = 0; }), 1000, "192.0.2.1:5",
       "announcement known_peers[1] endpoint_id is 0, which means missing"},
      {"a known peer's name too long",
       with_peer([](PeerRecord& p) { p.endpoint_name = "beta"; }), 1000, "192.0.2.1:5",
       "announcement known_peers[1] endpoint_name has 4 bytes, more than the limit of 3 "
       "(CodecLimits::max_name_bytes)"},
      {"a known peer with port 0",
       with_peer([](PeerRecord& p) { p.data_address = AddressOf("192.0.2.2:0"); }), 1000,
       "192.0.2.1:5", "announcement known_peers[1] data_address 192.0.2.2:0 has port 0"},
      {"a known peer with rate 0",
       with_peer([](PeerRecord& p) { p.rate_milliseconds = 0; }), 1000, "192.0.2.1:5",
       "announcement known_peers[1] rate_milliseconds is 0"},
      {"two invalid known peers", both_invalid, 1000, "192.0.2.1:5",
       "announcement known_peers[0] rate_milliseconds is 0"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(
        ValidateAnnouncement(Announcement{.data_address = AddressOf(c.address),
                                          .rate_milliseconds = c.rate_milliseconds,
                                          .known_peers = c.peers},
                             kSmallLimits),
        StatusIs(kInvalid, c.message));
  }
}

TEST(ValidateAckFrame, AcceptsAnAckFrameAtTheLimits) {
  EXPECT_OK(ValidateAckFrame(AckFrame{}, kSmallLimits));
  const AckRange ranges[] = {{.first = 0, .last = 0}, {.first = 7, .last = 7}};
  EXPECT_OK(ValidateAckFrame(AckFrame{.cumulative = 3, .ranges = ranges}, kSmallLimits));
}

TEST(ValidateAckFrame, RefusesTooManyRangesOrABackwardRange) {
  const AckRange three[] = {
      {.first = 1, .last = 1}, {.first = 2, .last = 2}, {.first = 3, .last = 3}};
  EXPECT_THAT(ValidateAckFrame(AckFrame{.ranges = three}, kSmallLimits),
              StatusIs(kInvalid,
                       "ack frame has 3 ranges, more than the limit of 2 "
                       "(CodecLimits::max_ack_ranges)"));
  const AckRange backwards[] = {{.first = 5, .last = 4}};
  EXPECT_THAT(ValidateAckFrame(AckFrame{.ranges = backwards}, kSmallLimits),
              StatusIs(kInvalid, "ack range 0 has first 5 > last 4"));
}

// ---- Through the encoder, which validates before it writes ------------------------

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

}  // namespace
}  // namespace glue::serialization
