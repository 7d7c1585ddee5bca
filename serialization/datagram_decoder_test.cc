#include "glue/serialization/datagram_decoder.h"

#include <random>
#include <string>

#include "absl/strings/str_format.h"
#include "glue/base/status_matchers.h"
#include "glue/serialization/allocation_counter.h"
#include "glue/serialization/codec_testing.h"
#include "glue/serialization/datagram_encoder.h"
#include "glue/serialization/reference_check.h"
#include "glue/serialization/wire_builders.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::serialization {
namespace {

using ::glue::testing::StatusIs;
using testing::AckEntry;
using testing::AllocationCount;
using testing::AnnouncementField;
using testing::AsSpan;
using testing::AsString;
using testing::BytesField;
using testing::ChecksumOf;
using testing::DataEntry;
using testing::Encode;
using testing::ExpectReferenceAgrees;
using testing::GoodbyeField;
using ::testing::HasSubstr;
using testing::kHeader;
using testing::kIpv4;
using testing::kPeerBody;
using testing::OwnedDatagram;
using testing::PeerField;
using testing::RandomDatagram;
using testing::RangeField;
using testing::Sealed;
using testing::SocketAddressBody;
using testing::TestSeed;
using testing::ToProto;
using testing::VarintField;

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
