// The messages of the glue wire as plain C++ types: what the serialization layer
// hands to the layers above (discovery, transport), which never see Protocol Buffers.
// Their meaning is specified in serialization/wire.proto and docs/PROTOCOL.md.
//
// The types hold views (std::string_view, absl::Span), not copies: what they point
// at is owned by the caller when encoding, and by the datagram and the
// DecodedDatagram when decoding (see codec.h).
#ifndef GLUE_SERIALIZATION_MESSAGES_H_
#define GLUE_SERIALIZATION_MESSAGES_H_

#include <cstdint>
#include <string_view>
#include <variant>

#include "absl/types/span.h"
#include "glue/network/address.h"

namespace glue::serialization {

// kProtocolMajor is the major version this code speaks; datagrams of another major
// version are rejected. kProtocolMinor is the minor version it writes; newer minor
// versions only add fields, which this code skips.
inline constexpr uint32_t kProtocolMajor = 3;
inline constexpr uint32_t kProtocolMinor = 0;

// Header is what every datagram says about its sender.
struct Header {
  uint32_t protocol_major = kProtocolMajor;
  uint32_t protocol_minor = kProtocolMinor;
  uint64_t network_id = 0;
  // Required, non-zero.
  uint64_t endpoint_id = 0;
  // Required: 1 to CodecLimits::max_name_bytes bytes of valid UTF-8.
  std::string_view endpoint_name;
  // The transport session of the sender with the receiver, and the receiver's that
  // the sender last heard (0 = none): datagrams of frames carry them, so that each
  // side learns when the other started a new session. Not in announcements and
  // goodbyes (0).
  uint64_t session = 0;
  uint64_t peer_session = 0;
  // A random number the receiver must echo with its session number before the sender
  // believes a number of its it has not verified, and the receiver's challenge this
  // datagram answers (0 = none); in datagrams of frames only.
  uint64_t session_challenge = 0;
  uint64_t session_echo = 0;

  friend bool operator==(const Header&, const Header&) = default;
};

// PeerRecord is what the sender of an announcement knows of another endpoint: that
// endpoint's identity (required, as in Header), where it takes data (port in
// 1..65535), its announcement period (required, > 0), and how long ago the sender
// last heard it (0 = just now).
struct PeerRecord {
  // Required, non-zero.
  uint64_t endpoint_id = 0;
  // Required: 1 to CodecLimits::max_name_bytes bytes of valid UTF-8.
  std::string_view endpoint_name;
  network::Address data_address;
  uint32_t rate_milliseconds = 0;
  uint32_t age_milliseconds = 0;

  friend bool operator==(const PeerRecord&, const PeerRecord&) = default;
};

// Announcement: the sender takes data at `data_address` and announces itself every
// `rate_milliseconds` (required, > 0). The address has a port in 1..65535; an IPv6
// scope id does not travel on the wire. `known_peers` lists other endpoints the sender
// knows of (a rendezvous answers with them), at most CodecLimits::max_known_peers; it
// is usually empty. Equality compares the records' values, not addresses.
struct Announcement {
  network::Address data_address;
  uint32_t rate_milliseconds = 0;
  absl::Span<const PeerRecord> known_peers;
  // A random number the receiver must echo, in an announcement sent to our data
  // address, to prove it receives at the address it announced; and the receiver's
  // challenge this announcement answers. 0 = none.
  uint64_t challenge = 0;
  uint64_t echo = 0;

  friend bool operator==(const Announcement&, const Announcement&) = default;
};

// Goodbye: the sender leaves.
struct Goodbye {
  friend bool operator==(const Goodbye&, const Goodbye&) = default;
};

// DataFrame carries one transport payload; the transport layer gives `sequence` and
// `flags` their meaning. Equality compares the bytes of payload and meta, not
// addresses.
struct DataFrame {
  uint64_t sequence = 0;
  uint32_t flags = 0;
  absl::Span<const uint8_t> payload;
  // What the layers above the transport put with the payload (for instance a
  // fragment's position), in a span of its own so that neither is copied to join the
  // other; opaque to the transport, which carries it untouched. May be empty.
  absl::Span<const uint8_t> meta;

  friend bool operator==(const DataFrame&, const DataFrame&) = default;
};

// AckRange is an inclusive range of sequence numbers; first <= last.
struct AckRange {
  uint64_t first = 0;
  uint64_t last = 0;

  friend bool operator==(const AckRange&, const AckRange&) = default;
};

// AckFrame acknowledges data frames as the transport layer defines. Equality compares
// the ranges' values, not addresses.
struct AckFrame {
  uint64_t cumulative = 0;
  absl::Span<const AckRange> ranges;

  friend bool operator==(const AckFrame&, const AckFrame&) = default;
};

// Frame is one frame of a datagram of frames.
using Frame = std::variant<DataFrame, AckFrame>;

}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_MESSAGES_H_
