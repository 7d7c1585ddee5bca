// Datagram content built byte by byte, for the codec's tests to feed the decoder what
// the encoder would never write (unknown fields, repeated fields, wrong wire types,
// values out of range). Each builder returns the bytes of one field or message body as
// a std::string, so that they concatenate; Sealed() (codec_testing.h) then appends the
// checksum a sender would. Test code only.
//
//   const std::string bytes =
//       Sealed(kHeader + DataEntry(VarintField(1, 9) + BytesField(3, "payload")));
//   EXPECT_OK(DatagramDecoder().Decode(AsSpan(bytes), &decoded));
#ifndef GLUE_SERIALIZATION_WIRE_BUILDERS_H_
#define GLUE_SERIALIZATION_WIRE_BUILDERS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/types/span.h"
#include "serialization/wire_format.h"

namespace glue::serialization::testing {

// The varint of `value`, alone.
std::string VarintBytes(uint64_t value);
// The tag of field `field` with wire type `type`.
std::string TagBytes(uint32_t field, wire_format::WireType type);

// Whole fields: tag and value.
std::string VarintField(uint32_t field, uint64_t value);
std::string Fixed64Field(uint32_t field, uint64_t value);
std::string Fixed32Field(uint32_t field, uint32_t value);
std::string BytesField(uint32_t field, std::string_view content);
// Unknown fields of every wire type the decoder skips, numbered from `first`.
std::string UnknownFields(uint32_t first);

// A valid header: protocol_major kProtocolMajor, endpoint_id 42, endpoint_name "a"
// (14 bytes).
extern const std::string kHeader;
// 127.0.0.1, as the 4 bytes of SocketAddress.ip.
extern const std::string kIpv4;

// Fields and bodies of the messages of serialization/wire.proto.
std::string SocketAddressBody(std::string_view ip, uint64_t port);
std::string AnnouncementField(std::string_view body);
std::string GoodbyeField();
// A `frames` entry of the envelope holding a data frame, or an ack frame, of this
// content.
std::string DataEntry(std::string_view data_body);
std::string AckEntry(std::string_view ack_body);
// An AckFrame.ranges field.
std::string RangeField(uint64_t first, uint64_t last);
// The content of a valid PeerRecord: id 7, name "beta", 127.0.0.1:81, every 500 ms,
// heard 20 ms ago.
extern const std::string kPeerBody;
// An Announcement.known_peers field.
std::string PeerField(std::string_view peer_body);

// AsSpan views the bytes of `bytes`, which must outlive the view.
absl::Span<const uint8_t> AsSpan(const std::string& bytes);
// AsString copies `bytes` into a string.
std::string AsString(absl::Span<const uint8_t> bytes);
// Payload views the bytes of `text` as a payload or meta; `text` must outlive it.
absl::Span<const uint8_t> Payload(std::string_view text);

}  // namespace glue::serialization::testing

#endif  // GLUE_SERIALIZATION_WIRE_BUILDERS_H_
