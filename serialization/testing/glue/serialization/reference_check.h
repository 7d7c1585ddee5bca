// ExpectReferenceAgrees: the check, for the codec's tests, that the classes protoc
// generates from wire.proto read a datagram as DatagramDecoder did. Test code only
// (it reports through GoogleTest).
//
//   ASSERT_OK(decoder.Decode(bytes, &decoded));
//   ExpectReferenceAgrees(bytes, decoded);
#ifndef GLUE_SERIALIZATION_REFERENCE_CHECK_H_
#define GLUE_SERIALIZATION_REFERENCE_CHECK_H_

#include <cstdint>

#include "absl/types/span.h"
#include "glue/serialization/datagram_decoder.h"

namespace glue::serialization::testing {

// ExpectReferenceAgrees checks that the generated parser accepts `bytes`, sees the
// content `decoded` holds, and reads as the checksum the CRC of the bytes before it.
void ExpectReferenceAgrees(absl::Span<const uint8_t> bytes,
                           const DecodedDatagram& decoded);

}  // namespace glue::serialization::testing

#endif  // GLUE_SERIALIZATION_REFERENCE_CHECK_H_
