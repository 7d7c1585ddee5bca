// Validation of the messages of messages.h that DatagramEncoder is given, before it
// writes anything: what the decoder would refuse is never sent. Internal to the
// serialization layer. (The decoder checks what it reads as it parses, in
// envelope_parser.cc, where it can name the offset of what is wrong.)
//
// Every error is kInvalidArgument; its message names the field at fault and its
// value, preceded by what holds it ("header endpoint_name is empty",
// "announcement known_peers[3] rate_milliseconds is 0").
#ifndef GLUE_SERIALIZATION_MESSAGE_VALIDATION_H_
#define GLUE_SERIALIZATION_MESSAGE_VALIDATION_H_

#include "absl/status/status.h"
#include "glue/serialization/codec_limits.h"
#include "glue/serialization/messages.h"

namespace glue::serialization {

// ValidateHeader accepts `header` when protocol_major and endpoint_id are not 0 and
// endpoint_name is 1 to `limits.max_name_bytes` bytes of UTF-8.
absl::Status ValidateHeader(const Header& header, const CodecLimits& limits);

// ValidateAnnouncement accepts `announcement` when its rate_milliseconds is not 0, its
// data_address has a port other than 0, and it has at most `limits.max_known_peers`
// known peers, each with an endpoint_id other than 0, an endpoint_name as a header's,
// a port other than 0 and a rate_milliseconds other than 0.
absl::Status ValidateAnnouncement(const Announcement& announcement,
                                  const CodecLimits& limits);

// ValidateAckFrame accepts `frame` when it has at most `limits.max_ack_ranges` ranges,
// each with first <= last.
absl::Status ValidateAckFrame(const AckFrame& frame, const CodecLimits& limits);

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_MESSAGE_VALIDATION_H_
