// Test support for the serialization layer: the classes protoc generates from
// wire.proto, used as the reference the codec is checked against; random valid
// datagrams; encoding a DecodedDatagram back into bytes; and sealing bytes built by
// other means with the checksum every datagram ends with. For tests and fuzzers only;
// nothing here is part of the library.
#ifndef GLUE_SERIALIZATION_CODEC_TESTING_H_
#define GLUE_SERIALIZATION_CODEC_TESTING_H_

#include <cstdint>
#include <deque>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/serialization/codec.h"
#include "serialization/wire.pb.h"

namespace glue::serialization {

// PrintTo lets GoogleTest print a DecodedDatagram (as Describe does).
void PrintTo(const DecodedDatagram& datagram, std::ostream* os);

namespace testing {

// Encode writes the content of `datagram`, of any kind, as one datagram with
// `encoder`; the result is valid until the encoder's next call.
// Errors: those of the encoder, including kResourceExhausted when the frames do not
// all fit in one datagram.
absl::StatusOr<absl::Span<const uint8_t>> Encode(const DecodedDatagram& datagram,
                                                 DatagramEncoder* encoder);

// ToProto returns the content of `datagram` as the generated message.
wire::Envelope ToProto(const DecodedDatagram& datagram);

// ProtoDifference returns "" when `expected` and `actual` hold the same known fields
// (unknown fields and the checksum, which is not content, are ignored, and an empty
// session is taken for none), and otherwise a description of the differences.
std::string ProtoDifference(const wire::Envelope& expected, const wire::Envelope& actual);

// Sealed returns `content` followed by the checksum trailer, as a sender appends it
// (wire.proto, Envelope.checksum): for datagrams built by hand or serialized by the
// generated classes, which know nothing of the rule.
std::string Sealed(std::string content);

// Reseal gives `bytes`, typically a mutated datagram, a valid checksum again, so that
// the decoder gets past the check and parses it: when the last 5 bytes begin with the
// checksum's tag they are taken for the trailer and rewritten, otherwise a trailer is
// appended.
void Reseal(std::vector<uint8_t>* bytes);

// ChecksumOf returns the checksum `datagram` should carry: the CRC-32C of all but its
// last 5 bytes. `datagram` must have at least 5.
uint32_t ChecksumOf(absl::Span<const uint8_t> datagram);

// Describe returns the content of `datagram` on one line, for failure messages.
std::string Describe(const DecodedDatagram& datagram);

// TestHeader returns a valid header: network 7, endpoint 0x0123456789abcdef, named
// "alpha", of the protocol's version.
Header TestHeader();

// TestSeed returns the seed of a randomized test: the value of GLUE_TEST_SEED when
// set, else `default_seed`. It prints the seed, so that a failure can be replayed.
uint64_t TestSeed(uint64_t default_seed);

// OwnedDatagram is a DecodedDatagram together with the bytes its views point at.
// Neither copyable nor movable, so that the views stay valid.
struct OwnedDatagram {
  OwnedDatagram() = default;
  OwnedDatagram(const OwnedDatagram&) = delete;
  OwnedDatagram& operator=(const OwnedDatagram&) = delete;

  DecodedDatagram datagram;
  std::string endpoint_name;
  std::deque<std::string> peer_names;
  std::deque<std::vector<uint8_t>> payloads;
  // The meta of each data frame, in the order of `payloads`.
  std::deque<std::vector<uint8_t>> metas;
};

// RandomDatagram fills `*out` (which must be fresh) with random valid content drawn
// from `rng`: every body kind, values of every varint length, names of 1 to 255 bytes
// of UTF-8 with multi-byte characters, IPv4 and IPv6 addresses, announcements with
// up to 100 known peers (usually a few), up to 8 frames of data (a third of them with
// a meta) and acks. The encoding fits in a datagram of CodecLimits' default size.
void RandomDatagram(std::mt19937_64& rng, OwnedDatagram* out);

}  // namespace testing
}  // namespace glue::serialization

#endif  // GLUE_SERIALIZATION_CODEC_TESTING_H_
