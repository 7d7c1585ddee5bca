#include "glue/serialization/reference_check.h"

#include "glue/serialization/codec_testing.h"
#include "gtest/gtest.h"
#include "serialization/wire.pb.h"

namespace glue::serialization::testing {

void ExpectReferenceAgrees(absl::Span<const uint8_t> bytes,
                           const DecodedDatagram& decoded) {
  ::glue::wire::Envelope reference;
  ASSERT_TRUE(reference.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())));
  EXPECT_EQ(reference.checksum(), ChecksumOf(bytes));
  EXPECT_EQ(ProtoDifference(reference, ToProto(decoded)), "");
}

}  // namespace glue::serialization::testing
