#include "glue/serialization/messages.h"

#include <string>

#include "glue/serialization/wire_builders.h"
#include "gtest/gtest.h"

namespace glue::serialization {
namespace {

using testing::Payload;

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

}  // namespace
}  // namespace glue::serialization
