#include "serialization/message_validation.h"

#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
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
