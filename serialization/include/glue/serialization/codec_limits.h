// CodecLimits: the bounds of what the serialization layer's codec writes and accepts,
// shared by DatagramEncoder and DatagramDecoder (glue/serialization/codec.h).
#ifndef GLUE_SERIALIZATION_CODEC_LIMITS_H_
#define GLUE_SERIALIZATION_CODEC_LIMITS_H_

#include <cstddef>

namespace glue::serialization {

// CodecLimits bounds what the codec writes and accepts. Both ends of a conversation
// should use the same limits; the defaults are the protocol's (docs/PROTOCOL.md).
struct CodecLimits {
  // max_datagram_bytes: the largest datagram encoded or decoded. The default is the
  // largest UDP payload over IPv4 (65535 - 20 - 8). Larger values are only useful
  // where datagrams do not travel over UDP (benchmarks, tests).
  size_t max_datagram_bytes = 65507;
  // max_name_bytes: the longest endpoint name, in bytes of UTF-8.
  size_t max_name_bytes = 255;
  // max_frames: the most frames one datagram may carry.
  size_t max_frames = 1024;
  // max_ack_ranges: the most ranges one ack frame may carry.
  size_t max_ack_ranges = 256;
  // max_known_peers: the most peer records one announcement may carry. A longer list
  // is split across announcements, as a list that does not fit in the budget is.
  size_t max_known_peers = 1024;
};

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_CODEC_LIMITS_H_
