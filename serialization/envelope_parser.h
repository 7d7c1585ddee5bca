// The parser behind DatagramDecoder: it reads the Envelope of serialization/wire.proto
// into a DecodedDatagram, validating every field as it goes, from a datagram whose
// checksum trailer has been checked and cut off. Internal to the serialization layer.
//
//   GLUE_RETURN_IF_ERROR(VerifyChecksum(datagram));
//   return ParseEnvelope(limits, datagram.first(datagram.size() - 5), out);
#ifndef GLUE_SERIALIZATION_ENVELOPE_PARSER_H_
#define GLUE_SERIALIZATION_ENVELOPE_PARSER_H_

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "glue/serialization/codec_limits.h"
#include "glue/serialization/datagram_decoder.h"

namespace glue::serialization {

// ParseEnvelope parses `envelope`, the bytes of a datagram before its checksum
// trailer, into `*out`, which must hold what DatagramDecoder::Decode leaves there
// before parsing: a zero header, no body, empty vectors. Its views point into
// `envelope`; offsets in error messages count from its first byte, the datagram's.
// On error `*out` holds no meaningful content.
// Errors: kUnimplemented for a protocol_major other than kProtocolMajor, and
// kInvalidArgument for every other flaw of the content that DatagramDecoder::Decode
// lists. Any thread; it keeps no state.
absl::Status ParseEnvelope(const CodecLimits& limits, absl::Span<const uint8_t> envelope,
                           DecodedDatagram* out);

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_ENVELOPE_PARSER_H_
