#include "glue/serialization/wire_builders.h"

#include "glue/base/varint.h"
#include "glue/serialization/messages.h"

namespace glue::serialization::testing {

std::string VarintBytes(uint64_t value) {
  std::string bytes(kMaxVarintBytes, '\0');
  auto* begin = reinterpret_cast<uint8_t*>(bytes.data());
  bytes.resize(static_cast<size_t>(PutVarint(value, begin) - begin));
  return bytes;
}
std::string TagBytes(uint32_t field, wire_format::WireType type) {
  return VarintBytes((uint64_t{field} << 3) | static_cast<uint64_t>(type));
}
std::string VarintField(uint32_t field, uint64_t value) {
  return TagBytes(field, wire_format::WireType::kVarint) + VarintBytes(value);
}
std::string Fixed64Field(uint32_t field, uint64_t value) {
  std::string bytes(8, '\0');
  wire_format::WriteFixed64(value, reinterpret_cast<uint8_t*>(bytes.data()));
  return TagBytes(field, wire_format::WireType::kFixed64) + bytes;
}
std::string Fixed32Field(uint32_t field, uint32_t value) {
  std::string bytes(4, '\0');
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<char>(value >> (8 * i));
  return TagBytes(field, wire_format::WireType::kFixed32) + bytes;
}
std::string BytesField(uint32_t field, std::string_view content) {
  return TagBytes(field, wire_format::WireType::kLengthDelimited) +
         VarintBytes(content.size()) + std::string(content);
}
std::string UnknownFields(uint32_t first) {
  return VarintField(first, 12345) + Fixed64Field(first + 1, 7) +
         BytesField(first + 2, "future") + Fixed32Field(first + 3, 9);
}

const std::string kHeader =
    VarintField(1, kProtocolMajor) + Fixed64Field(4, 42) + BytesField(5, "a");
const std::string kIpv4("\x7f\x00\x00\x01", 4);

std::string SocketAddressBody(std::string_view ip, uint64_t port) {
  return BytesField(1, ip) + VarintField(2, port);
}
std::string AnnouncementField(std::string_view body) { return BytesField(8, body); }
std::string GoodbyeField() { return BytesField(9, ""); }
std::string DataEntry(std::string_view data_body) {
  return BytesField(10, BytesField(1, data_body));
}
std::string AckEntry(std::string_view ack_body) {
  return BytesField(10, BytesField(2, ack_body));
}
std::string RangeField(uint64_t first, uint64_t last) {
  return BytesField(2, VarintField(1, first) + VarintField(2, last));
}
const std::string kPeerBody = Fixed64Field(1, 7) + BytesField(2, "beta") +
                              BytesField(3, SocketAddressBody(kIpv4, 81)) +
                              VarintField(4, 500) + VarintField(5, 20);
std::string PeerField(std::string_view peer_body) { return BytesField(3, peer_body); }

absl::Span<const uint8_t> AsSpan(const std::string& bytes) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(bytes.data()),
                                   bytes.size());
}
std::string AsString(absl::Span<const uint8_t> bytes) {
  return std::string(bytes.begin(), bytes.end());
}
absl::Span<const uint8_t> Payload(std::string_view text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                   text.size());
}

}  // namespace glue::serialization::testing
