#include "glue/serialization/codec.h"

#include <boost/asio/ip/address.hpp>
#include <cassert>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_format.h"
#include "glue/base/crc32c.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"
#include "serialization/wire_format.h"

namespace glue::serialization {
namespace {

using wire_format::kChecksumTrailerBytes;
using wire_format::LengthDelimitedSize;
using wire_format::Tag;
using wire_format::TagSize;
using wire_format::WireReader;
using wire_format::WireType;

// Field numbers of serialization/wire.proto.
constexpr uint32_t kEnvelopeProtocolMajor = 1;
constexpr uint32_t kEnvelopeProtocolMinor = 2;
constexpr uint32_t kEnvelopeNetworkId = 3;
constexpr uint32_t kEnvelopeEndpointId = 4;
constexpr uint32_t kEnvelopeEndpointName = 5;
constexpr uint32_t kEnvelopeSession = 6;
constexpr uint32_t kEnvelopeChecksum = 7;
constexpr uint32_t kEnvelopeAnnouncement = 8;
constexpr uint32_t kEnvelopeGoodbye = 9;
constexpr uint32_t kEnvelopeFrames = 10;
constexpr uint32_t kSessionSender = 1;
constexpr uint32_t kSessionReceiver = 2;
constexpr uint32_t kSocketAddressIp = 1;
constexpr uint32_t kSocketAddressPort = 2;
constexpr uint32_t kAnnouncementDataAddress = 1;
constexpr uint32_t kAnnouncementRate = 2;
constexpr uint32_t kAnnouncementKnownPeers = 3;
constexpr uint32_t kPeerEndpointId = 1;
constexpr uint32_t kPeerEndpointName = 2;
constexpr uint32_t kPeerDataAddress = 3;
constexpr uint32_t kPeerRate = 4;
constexpr uint32_t kPeerAge = 5;
constexpr uint32_t kFrameData = 1;
constexpr uint32_t kFrameAck = 2;
constexpr uint32_t kDataSequence = 1;
constexpr uint32_t kDataFlags = 2;
constexpr uint32_t kDataPayload = 3;
constexpr uint32_t kDataMeta = 4;
constexpr uint32_t kAckCumulative = 1;
constexpr uint32_t kAckRanges = 2;
constexpr uint32_t kRangeFirst = 1;
constexpr uint32_t kRangeLast = 2;

constexpr uint32_t kMaxPort = 65535;

static_assert(wire_format::kChecksumTag ==
              ((kEnvelopeChecksum << 3) | static_cast<uint32_t>(WireType::kFixed32)));

// ---- Encoding -------------------------------------------------------------------
//
// Every length is computed before anything is written, so nothing is patched
// afterwards. Scalars equal to zero are omitted, as proto3 encoders do.

size_t VarintFieldSize(uint32_t field, uint64_t value) {
  return value == 0 ? 0 : TagSize(field) + VarintSize(value);
}

uint8_t* WriteVarintField(uint32_t field, uint64_t value, uint8_t* out) {
  if (value == 0) {
    return out;
  }
  return PutVarint(value, wire_format::WriteTag(field, WireType::kVarint, out));
}

// SessionBodySize is the size of the Session message of `header`; 0 when it has
// none (both numbers 0), and then the field is not written.
size_t SessionBodySize(const Header& header) {
  return (header.session != 0 ? TagSize(kSessionSender) + 8 : 0) +
         (header.peer_session != 0 ? TagSize(kSessionReceiver) + 8 : 0);
}

size_t HeaderSize(const Header& header) {
  const size_t session = SessionBodySize(header);
  return VarintFieldSize(kEnvelopeProtocolMajor, header.protocol_major) +
         VarintFieldSize(kEnvelopeProtocolMinor, header.protocol_minor) +
         VarintFieldSize(kEnvelopeNetworkId, header.network_id) +
         TagSize(kEnvelopeEndpointId) + 8 +
         LengthDelimitedSize(kEnvelopeEndpointName, header.endpoint_name.size()) +
         (session == 0 ? 0 : LengthDelimitedSize(kEnvelopeSession, session));
}

size_t SocketAddressBodySize(const network::Address& address) {
  const size_t ip_bytes = address.address().is_v4() ? 4 : 16;
  return LengthDelimitedSize(kSocketAddressIp, ip_bytes) +
         VarintFieldSize(kSocketAddressPort, address.port());
}

size_t PeerRecordBodySize(const PeerRecord& peer) {
  return TagSize(kPeerEndpointId) + 8 +
         LengthDelimitedSize(kPeerEndpointName, peer.endpoint_name.size()) +
         LengthDelimitedSize(kPeerDataAddress, SocketAddressBodySize(peer.data_address)) +
         VarintFieldSize(kPeerRate, peer.rate_milliseconds) +
         VarintFieldSize(kPeerAge, peer.age_milliseconds);
}

size_t PeerRecordEntrySize(const PeerRecord& peer) {
  return LengthDelimitedSize(kAnnouncementKnownPeers, PeerRecordBodySize(peer));
}

size_t AnnouncementBodySize(const Announcement& announcement) {
  size_t size = LengthDelimitedSize(kAnnouncementDataAddress,
                                    SocketAddressBodySize(announcement.data_address)) +
                VarintFieldSize(kAnnouncementRate, announcement.rate_milliseconds);
  for (const PeerRecord& peer : announcement.known_peers) {
    size += PeerRecordEntrySize(peer);
  }
  return size;
}

// BytesFieldSize is the size of a bytes field of `bytes` bytes; 0 when it is empty,
// and then the field is not written.
size_t BytesFieldSize(uint32_t field, size_t bytes) {
  return bytes == 0 ? 0 : LengthDelimitedSize(field, bytes);
}

uint8_t* WriteBytesField(uint32_t field, absl::Span<const uint8_t> bytes, uint8_t* out) {
  return bytes.empty() ? out : wire_format::WriteBytes(field, bytes, out);
}

size_t DataBodySize(size_t payload_bytes, size_t meta_bytes, uint64_t sequence,
                    uint32_t flags) {
  return VarintFieldSize(kDataSequence, sequence) + VarintFieldSize(kDataFlags, flags) +
         BytesFieldSize(kDataPayload, payload_bytes) +
         BytesFieldSize(kDataMeta, meta_bytes);
}

size_t RangeBodySize(const AckRange& range) {
  return VarintFieldSize(kRangeFirst, range.first) +
         VarintFieldSize(kRangeLast, range.last);
}

size_t AckBodySize(const AckFrame& frame) {
  size_t size = VarintFieldSize(kAckCumulative, frame.cumulative);
  for (const AckRange& range : frame.ranges) {
    size += LengthDelimitedSize(kAckRanges, RangeBodySize(range));
  }
  return size;
}

// FrameEntrySize is the size of one `frames` entry of the envelope whose Frame holds
// a kind of `kind_body_bytes` bytes. Both kinds have one-byte tags.
size_t FrameEntrySize(size_t kind_body_bytes) {
  return LengthDelimitedSize(kEnvelopeFrames,
                             LengthDelimitedSize(kFrameData, kind_body_bytes));
}

// WriteFramePrefix writes the `frames` entry and the Frame's kind field up to the
// kind's content, which is `kind_body_bytes` long.
uint8_t* WriteFramePrefix(uint32_t kind, size_t kind_body_bytes, uint8_t* out) {
  out = wire_format::WriteLengthPrefix(kEnvelopeFrames,
                                       LengthDelimitedSize(kind, kind_body_bytes), out);
  return wire_format::WriteLengthPrefix(kind, kind_body_bytes, out);
}

absl::Span<const uint8_t> AsBytes(std::string_view text) {
  return absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()),
                                   text.size());
}

// WriteSocketAddress writes `address` as the SocketAddress field `field`.
uint8_t* WriteSocketAddress(uint32_t field, const network::Address& address,
                            uint8_t* out) {
  out = wire_format::WriteLengthPrefix(field, SocketAddressBodySize(address), out);
  const boost::asio::ip::address ip = address.address();
  if (ip.is_v4()) {
    out = wire_format::WriteBytes(kSocketAddressIp, ip.to_v4().to_bytes(), out);
  } else {
    out = wire_format::WriteBytes(kSocketAddressIp, ip.to_v6().to_bytes(), out);
  }
  return WriteVarintField(kSocketAddressPort, address.port(), out);
}

// Validation of what the encoder is given. Messages start with the field, so that
// Within can say whose field it is.

// Within returns `status` with `context` (what holds the offending field) before its
// message.
ABSL_ATTRIBUTE_COLD absl::Status Within(std::string_view context,
                                        const absl::Status& status) {
  return absl::Status(status.code(), absl::StrFormat("%s %s", context, status.message()));
}

absl::Status ValidateName(std::string_view name, size_t max_bytes) {
  if (name.empty()) {
    return absl::InvalidArgumentError("endpoint_name is empty");
  }
  if (name.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("endpoint_name has %d bytes, more than the limit of %d "
                        "(CodecLimits::max_name_bytes)",
                        name.size(), max_bytes));
  }
  if (!wire_format::IsValidUtf8(name)) {
    return absl::InvalidArgumentError("endpoint_name is not valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status ValidateAddress(const network::Address& address) {
  // An Address holds an IPv4 or IPv6 address and a 16-bit port: only 0 is invalid.
  if (address.port() == 0) {
    return absl::InvalidArgumentError(
        absl::StrFormat("data_address %s has port 0", network::FormatAddress(address)));
  }
  return absl::OkStatus();
}

absl::Status ValidateRate(uint32_t rate_milliseconds) {
  if (rate_milliseconds == 0) {
    return absl::InvalidArgumentError("rate_milliseconds is 0");
  }
  return absl::OkStatus();
}

absl::Status ValidatePeer(const PeerRecord& peer, size_t max_name_bytes) {
  if (peer.endpoint_id == 0) {
    return absl::InvalidArgumentError("endpoint_id is 0, which means missing");
  }
  GLUE_RETURN_IF_ERROR(ValidateName(peer.endpoint_name, max_name_bytes));
  GLUE_RETURN_IF_ERROR(ValidateAddress(peer.data_address));
  return ValidateRate(peer.rate_milliseconds);
}

// ---- Decoding -------------------------------------------------------------------

// VerifyChecksum checks the trailer that ends `datagram` (wire.proto,
// Envelope.checksum). It runs before anything is parsed, so that damage on the way is
// reported as such, never as whatever a flipped bit makes of the content.
absl::Status VerifyChecksum(absl::Span<const uint8_t> datagram) {
  if (ABSL_PREDICT_FALSE(datagram.size() < kChecksumTrailerBytes)) {
    return absl::DataLossError(absl::StrFormat(
        "missing checksum: a datagram of %d bytes is shorter than the %d-byte checksum "
        "it must end with",
        datagram.size(), kChecksumTrailerBytes));
  }
  const size_t at = datagram.size() - kChecksumTrailerBytes;
  if (ABSL_PREDICT_FALSE(datagram[at] != wire_format::kChecksumTag)) {
    return absl::DataLossError(absl::StrFormat(
        "missing checksum: the byte at offset %d, %d from the end, is 0x%02x, not the "
        "checksum's tag 0x%02x",
        at, kChecksumTrailerBytes, datagram[at], wire_format::kChecksumTag));
  }
  uint32_t carried = 0;
  WireReader(datagram.subspan(at + 1)).ReadFixed32(&carried);
  const uint32_t computed = Crc32c(datagram.first(at));
  if (ABSL_PREDICT_FALSE(carried != computed)) {
    return absl::DataLossError(absl::StrFormat(
        "checksum mismatch: the datagram carries 0x%08x, its first %d bytes give 0x%08x",
        carried, at, computed));
  }
  return absl::OkStatus();
}

enum class Body { kNone, kAnnouncement, kGoodbye, kFrames };

const char* BodyName(Body body) {
  switch (body) {
    case Body::kNone:
      return "none";
    case Body::kAnnouncement:
      return "announcement";
    case Body::kGoodbye:
      return "goodbye";
    case Body::kFrames:
      return "frames";
  }
  return "?";
}

// Parser decodes one datagram into a DecodedDatagram. Its methods return false on
// the first error, which status() then describes; error paths are out of line so
// that the accepting path stays small.
class Parser {
 public:
  Parser(const CodecLimits& limits, absl::Span<const uint8_t> datagram,
         DecodedDatagram* out)
      : limits_(limits), datagram_(datagram), out_(out) {}

  bool ParseEnvelope();
  absl::Status status() && { return std::move(status_); }

 private:
  WireReader Reader(absl::Span<const uint8_t> bytes) const {
    return WireReader(bytes, datagram_.data());
  }
  size_t OffsetOf(absl::Span<const uint8_t> bytes) const {
    return static_cast<size_t>(bytes.data() - datagram_.data());
  }

  // ForEachField reads the fields of one message in `bytes` and calls
  // on_field(reader, tag, at) for each, `at` being the offset of its tag; stops and
  // returns false at the first malformed tag or when on_field returns false.
  template <typename OnField>
  bool ForEachField(absl::Span<const uint8_t> bytes, const char* message,
                    OnField on_field) {
    WireReader reader = Reader(bytes);
    while (!reader.AtEnd()) {
      const size_t at = reader.offset();
      Tag tag;
      if (!ReadTag(reader, message, &tag) || !on_field(reader, tag, at)) {
        return false;
      }
    }
    return true;
  }

  bool ParseAnnouncement(absl::Span<const uint8_t> bytes);
  bool ParsePeerRecord(absl::Span<const uint8_t> bytes, PeerRecord* peer);
  bool ParseSocketAddress(absl::Span<const uint8_t> bytes, network::Address* address);
  bool ParseGoodbye(absl::Span<const uint8_t> bytes);
  bool ParseSession(absl::Span<const uint8_t> bytes, Header* header);
  bool ParseFrame(absl::Span<const uint8_t> bytes);
  bool ParseDataFrame(absl::Span<const uint8_t> bytes, DataFrame* frame);
  bool ParseAckFrame(absl::Span<const uint8_t> bytes, AckFrame* frame);
  bool ParseAckRange(absl::Span<const uint8_t> bytes, AckRange* range);
  bool SetBody(Body* body, Body seen, uint32_t field, size_t at);
  void FixAckRanges();

  // Readers of a known field whose tag, read at offset `at`, is `tag`. `message` and
  // `field` name it in errors.
  bool ReadVarint(WireReader& reader, const Tag& tag, size_t at, const char* message,
                  const char* field, uint64_t* value) {
    if (ABSL_PREDICT_FALSE(tag.type != WireType::kVarint)) {
      return WrongWireType(message, field, tag, WireType::kVarint, at);
    }
    return reader.ReadVarint(value) || Malformed(message, reader);
  }
  bool ReadUint32(WireReader& reader, const Tag& tag, size_t at, const char* message,
                  const char* field, uint32_t* value) {
    if (ABSL_PREDICT_FALSE(tag.type != WireType::kVarint)) {
      return WrongWireType(message, field, tag, WireType::kVarint, at);
    }
    return reader.ReadVarintUint32(value) || Malformed(message, reader);
  }
  bool ReadFixed64(WireReader& reader, const Tag& tag, size_t at, const char* message,
                   const char* field, uint64_t* value) {
    if (ABSL_PREDICT_FALSE(tag.type != WireType::kFixed64)) {
      return WrongWireType(message, field, tag, WireType::kFixed64, at);
    }
    return reader.ReadFixed64(value) || Malformed(message, reader);
  }
  bool ReadBytes(WireReader& reader, const Tag& tag, size_t at, const char* message,
                 const char* field, absl::Span<const uint8_t>* bytes) {
    if (ABSL_PREDICT_FALSE(tag.type != WireType::kLengthDelimited)) {
      return WrongWireType(message, field, tag, WireType::kLengthDelimited, at);
    }
    return reader.ReadLengthDelimited(bytes) || Malformed(message, reader);
  }
  // ReadName reads an endpoint_name field and checks every occurrence, not only the
  // last, as the reference parser does.
  bool ReadName(WireReader& reader, const Tag& tag, size_t at, const char* message,
                std::string_view* name) {
    absl::Span<const uint8_t> bytes;
    if (!ReadBytes(reader, tag, at, message, "endpoint_name", &bytes)) {
      return false;
    }
    if (ABSL_PREDICT_FALSE(bytes.size() > limits_.max_name_bytes)) {
      return Fail(absl::InvalidArgumentError(absl::StrFormat(
          "%s endpoint_name (field %d) at offset %d has %d bytes, more than the limit "
          "of %d (CodecLimits::max_name_bytes)",
          message, tag.field, at, bytes.size(), limits_.max_name_bytes)));
    }
    *name = std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (ABSL_PREDICT_FALSE(!wire_format::IsValidUtf8(*name))) {
      return Fail(absl::InvalidArgumentError(
          absl::StrFormat("%s endpoint_name (field %d) at offset %d is not valid UTF-8",
                          message, tag.field, at)));
    }
    return true;
  }
  bool ReadTag(WireReader& reader, const char* message, Tag* tag) {
    return reader.ReadTag(tag) || Malformed(message, reader);
  }
  bool Skip(WireReader& reader, const Tag& tag, const char* message) {
    return reader.SkipField(tag.type) || Malformed(message, reader);
  }

  ABSL_ATTRIBUTE_COLD bool Fail(absl::Status status) {
    status_ = std::move(status);
    return false;
  }
  ABSL_ATTRIBUTE_COLD bool Malformed(const char* message, const WireReader& reader) {
    return Fail(absl::InvalidArgumentError(
        absl::StrFormat("malformed %s: %s", message, reader.ErrorText())));
  }
  ABSL_ATTRIBUTE_COLD bool WrongWireType(const char* message, const char* field,
                                         const Tag& tag, WireType expected, size_t at) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "malformed %s: field %d (%s) at offset %d has wire type %d, expected %d", message,
        tag.field, field, at, static_cast<int>(tag.type), static_cast<int>(expected))));
  }
  ABSL_ATTRIBUTE_COLD bool Repeated(const char* message, const char* field,
                                    uint32_t number, size_t at) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "malformed %s: field %d (%s) at offset %d appears twice; a singular message "
        "field is not merged",
        message, number, field, at)));
  }

  const CodecLimits& limits_;
  const absl::Span<const uint8_t> datagram_;
  DecodedDatagram* const out_;
  absl::Status status_;
};

bool Parser::ParseEnvelope() {
  static constexpr char kMessage[] = "Envelope";
  Header& header = out_->header;
  Body body = Body::kNone;
  bool session_seen = false;
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kEnvelopeProtocolMajor:
        if (!ReadUint32(reader, tag, at, kMessage, "protocol_major",
                        &header.protocol_major)) {
          return false;
        }
        // Nothing after a major version we do not speak is worth reading.
        if (header.protocol_major != 0 && header.protocol_major != kProtocolMajor) {
          return Fail(absl::UnimplementedError(absl::StrFormat(
              "protocol major version %d is not supported: this endpoint speaks %d.%d",
              header.protocol_major, kProtocolMajor, kProtocolMinor)));
        }
        break;
      case kEnvelopeProtocolMinor:
        if (!ReadUint32(reader, tag, at, kMessage, "protocol_minor",
                        &header.protocol_minor)) {
          return false;
        }
        break;
      case kEnvelopeNetworkId:
        if (!ReadVarint(reader, tag, at, kMessage, "network_id", &header.network_id)) {
          return false;
        }
        break;
      case kEnvelopeEndpointId:
        if (!ReadFixed64(reader, tag, at, kMessage, "endpoint_id", &header.endpoint_id)) {
          return false;
        }
        break;
      case kEnvelopeEndpointName:
        if (!ReadName(reader, tag, at, kMessage, &header.endpoint_name)) {
          return false;
        }
        break;
      case kEnvelopeSession: {
        absl::Span<const uint8_t> bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "session", &bytes)) return false;
        if (ABSL_PREDICT_FALSE(session_seen)) {
          return Fail(absl::InvalidArgumentError(absl::StrFormat(
              "Envelope has session (field 6) twice, again at offset %d", at)));
        }
        session_seen = true;
        if (!ParseSession(bytes, &header)) return false;
        break;
      }
      case kEnvelopeAnnouncement: {
        absl::Span<const uint8_t> bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "announcement", &bytes) ||
            !SetBody(&body, Body::kAnnouncement, tag.field, at) ||
            !ParseAnnouncement(bytes)) {
          return false;
        }
        break;
      }
      case kEnvelopeGoodbye: {
        absl::Span<const uint8_t> bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "goodbye", &bytes) ||
            !SetBody(&body, Body::kGoodbye, tag.field, at) || !ParseGoodbye(bytes)) {
          return false;
        }
        break;
      }
      case kEnvelopeChecksum:
        // Decode took the trailer off: another checksum is one too many.
        return Fail(absl::InvalidArgumentError(absl::StrFormat(
            "malformed Envelope: field 7 (checksum) at offset %d is not in the last %d "
            "bytes of the datagram, where alone it belongs",
            at, kChecksumTrailerBytes)));
      case kEnvelopeFrames: {
        absl::Span<const uint8_t> bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "frames", &bytes) ||
            !SetBody(&body, Body::kFrames, tag.field, at)) {
          return false;
        }
        if (ABSL_PREDICT_FALSE(out_->frames.size() == limits_.max_frames)) {
          return Fail(absl::InvalidArgumentError(absl::StrFormat(
              "Envelope holds more than %d frames (CodecLimits::max_frames): another "
              "at offset %d",
              limits_.max_frames, at)));
        }
        if (!ParseFrame(bytes)) {
          return false;
        }
        break;
      }
      default:
        return Skip(reader, tag, kMessage);
    }
    return true;
  };
  if (!ForEachField(datagram_, kMessage, on_field)) {
    return false;
  }

  if (header.protocol_major == 0) {
    return Fail(
        absl::InvalidArgumentError("Envelope has no protocol_major (field 1), or 0"));
  }
  if (header.endpoint_id == 0) {
    return Fail(
        absl::InvalidArgumentError("Envelope has no endpoint_id (field 4), or 0"));
  }
  if (header.endpoint_name.empty()) {
    return Fail(absl::InvalidArgumentError(
        "Envelope has no endpoint_name (field 5), or an empty one"));
  }
  switch (body) {
    case Body::kNone:
      return Fail(absl::InvalidArgumentError(
          "Envelope has no body: no announcement (field 8), goodbye (field 9) or "
          "frames (field 10)"));
    case Body::kAnnouncement:
      out_->kind = DecodedDatagram::Kind::kAnnouncement;
      break;
    case Body::kGoodbye:
      out_->kind = DecodedDatagram::Kind::kGoodbye;
      break;
    case Body::kFrames:
      out_->kind = DecodedDatagram::Kind::kFrames;
      FixAckRanges();
      break;
  }
  return true;
}

bool Parser::SetBody(Body* body, Body seen, uint32_t field, size_t at) {
  if (ABSL_PREDICT_TRUE(*body == Body::kNone ||
                        (*body == Body::kFrames && seen == Body::kFrames))) {
    *body = seen;
    return true;
  }
  if (*body == seen) {
    return Repeated("Envelope", BodyName(seen), field, at);
  }
  return Fail(absl::InvalidArgumentError(absl::StrFormat(
      "Envelope holds more than one kind of body: %s (field %d at offset %d) after %s",
      BodyName(seen), field, at, BodyName(*body))));
}

// While frames are parsed, ack_ranges may reallocate; the AckFrame views are pointed
// at their final storage once all frames are in. Each AckFrame's ranges were appended
// in frame order, so consecutive slices belong to consecutive ack frames.
void Parser::FixAckRanges() {
  if (out_->ack_ranges.empty()) {
    return;
  }
  const AckRange* next = out_->ack_ranges.data();
  for (Frame& frame : out_->frames) {
    if (auto* ack = std::get_if<AckFrame>(&frame)) {
      ack->ranges = absl::Span<const AckRange>(next, ack->ranges.size());
      next += ack->ranges.size();
    }
  }
}

bool Parser::ParseAnnouncement(absl::Span<const uint8_t> bytes) {
  static constexpr char kMessage[] = "Announcement";
  Announcement& announcement = out_->announcement;
  std::vector<PeerRecord>& peers = out_->peer_records;
  bool has_address = false;
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kAnnouncementDataAddress: {
        absl::Span<const uint8_t> address;
        if (!ReadBytes(reader, tag, at, kMessage, "data_address", &address)) {
          return false;
        }
        if (has_address) {
          return Repeated(kMessage, "data_address", tag.field, at);
        }
        has_address = true;
        if (!ParseSocketAddress(address, &announcement.data_address)) {
          return false;
        }
        break;
      }
      case kAnnouncementRate:
        if (!ReadUint32(reader, tag, at, kMessage, "rate_milliseconds",
                        &announcement.rate_milliseconds)) {
          return false;
        }
        break;
      case kAnnouncementKnownPeers: {
        absl::Span<const uint8_t> peer_bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "known_peers", &peer_bytes)) {
          return false;
        }
        if (ABSL_PREDICT_FALSE(peers.size() == limits_.max_known_peers)) {
          return Fail(absl::InvalidArgumentError(
              absl::StrFormat("Announcement at offset %d holds more than %d known_peers "
                              "(CodecLimits::max_known_peers): another at offset %d",
                              OffsetOf(bytes), limits_.max_known_peers, at)));
        }
        PeerRecord peer;
        if (!ParsePeerRecord(peer_bytes, &peer)) {
          return false;
        }
        peers.push_back(peer);
        break;
      }
      default:
        return Skip(reader, tag, kMessage);
    }
    return true;
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  // A datagram holds one announcement, so its records are all in: the view can be
  // made now, unlike ack ranges (FixAckRanges).
  announcement.known_peers = absl::MakeConstSpan(peers);
  if (!has_address) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "Announcement at offset %d has no data_address (field 1)", OffsetOf(bytes))));
  }
  if (announcement.rate_milliseconds == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "Announcement at offset %d has no rate_milliseconds (field 2), or 0",
        OffsetOf(bytes))));
  }
  return true;
}

bool Parser::ParsePeerRecord(absl::Span<const uint8_t> bytes, PeerRecord* peer) {
  static constexpr char kMessage[] = "PeerRecord";
  bool has_address = false;
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kPeerEndpointId:
        return ReadFixed64(reader, tag, at, kMessage, "endpoint_id", &peer->endpoint_id);
      case kPeerEndpointName:
        return ReadName(reader, tag, at, kMessage, &peer->endpoint_name);
      case kPeerDataAddress: {
        absl::Span<const uint8_t> address;
        if (!ReadBytes(reader, tag, at, kMessage, "data_address", &address)) {
          return false;
        }
        if (has_address) {
          return Repeated(kMessage, "data_address", tag.field, at);
        }
        has_address = true;
        return ParseSocketAddress(address, &peer->data_address);
      }
      case kPeerRate:
        return ReadUint32(reader, tag, at, kMessage, "rate_milliseconds",
                          &peer->rate_milliseconds);
      case kPeerAge:
        return ReadUint32(reader, tag, at, kMessage, "age_milliseconds",
                          &peer->age_milliseconds);
      default:
        return Skip(reader, tag, kMessage);
    }
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  if (peer->endpoint_id == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "PeerRecord at offset %d has no endpoint_id (field 1), or 0", OffsetOf(bytes))));
  }
  if (peer->endpoint_name.empty()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrFormat("PeerRecord at offset %d has no endpoint_name (field 2), or an "
                        "empty one",
                        OffsetOf(bytes))));
  }
  if (!has_address) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "PeerRecord at offset %d has no data_address (field 3)", OffsetOf(bytes))));
  }
  if (peer->rate_milliseconds == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "PeerRecord at offset %d has no rate_milliseconds (field 4), or 0",
        OffsetOf(bytes))));
  }
  return true;
}

bool Parser::ParseSocketAddress(absl::Span<const uint8_t> bytes,
                                network::Address* address) {
  static constexpr char kMessage[] = "SocketAddress";
  absl::Span<const uint8_t> ip;
  uint32_t port = 0;
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kSocketAddressIp:
        if (!ReadBytes(reader, tag, at, kMessage, "ip", &ip)) {
          return false;
        }
        break;
      case kSocketAddressPort:
        if (!ReadUint32(reader, tag, at, kMessage, "port", &port)) {
          return false;
        }
        break;
      default:
        return Skip(reader, tag, kMessage);
    }
    return true;
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  boost::asio::ip::address ip_address;
  if (ip.size() == 4) {
    boost::asio::ip::address_v4::bytes_type v4;
    std::memcpy(v4.data(), ip.data(), v4.size());
    ip_address = boost::asio::ip::address_v4(v4);
  } else if (ip.size() == 16) {
    boost::asio::ip::address_v6::bytes_type v6;
    std::memcpy(v6.data(), ip.data(), v6.size());
    ip_address = boost::asio::ip::address_v6(v6);
  } else {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "SocketAddress at offset %d has an ip (field 1) of %d bytes, expected 4 or 16",
        OffsetOf(bytes), ip.size())));
  }
  if (port == 0 || port > kMaxPort) {
    return Fail(absl::InvalidArgumentError(
        absl::StrFormat("SocketAddress at offset %d has port (field 2) %d, outside 1..%d",
                        OffsetOf(bytes), port, kMaxPort)));
  }
  *address = network::Address(ip_address, static_cast<uint16_t>(port));
  return true;
}

bool Parser::ParseGoodbye(absl::Span<const uint8_t> bytes) {
  static constexpr char kMessage[] = "Goodbye";
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t /*at*/) {
    return Skip(reader, tag, kMessage);
  };
  return ForEachField(bytes, kMessage, on_field);
}

bool Parser::ParseSession(absl::Span<const uint8_t> bytes, Header* header) {
  static constexpr char kMessage[] = "Session";
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kSessionSender:
        return ReadFixed64(reader, tag, at, kMessage, "sender", &header->session);
      case kSessionReceiver:
        return ReadFixed64(reader, tag, at, kMessage, "receiver", &header->peer_session);
      default:
        return Skip(reader, tag, kMessage);
    }
  };
  return ForEachField(bytes, kMessage, on_field);
}

bool Parser::ParseFrame(absl::Span<const uint8_t> bytes) {
  static constexpr char kMessage[] = "Frame";
  uint32_t kind = 0;
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    if (tag.field != kFrameData && tag.field != kFrameAck) {
      return Skip(reader, tag, kMessage);
    }
    absl::Span<const uint8_t> content;
    if (!ReadBytes(reader, tag, at, kMessage, tag.field == kFrameData ? "data" : "ack",
                   &content)) {
      return false;
    }
    if (ABSL_PREDICT_FALSE(kind != 0)) {
      return Fail(absl::InvalidArgumentError(absl::StrFormat(
          "Frame at offset %d holds more than one kind: field %d at offset %d after "
          "field %d",
          OffsetOf(bytes), tag.field, at, kind)));
    }
    kind = tag.field;
    if (kind == kFrameData) {
      // Parsed in place rather than copied in, being the larger kind. A failure leaves
      // it half parsed, but then the whole datagram is refused.
      Frame& frame = out_->frames.emplace_back(std::in_place_type<DataFrame>);
      if (!ParseDataFrame(content, std::get_if<DataFrame>(&frame))) {
        return false;
      }
    } else {
      AckFrame ack;
      if (!ParseAckFrame(content, &ack)) {
        return false;
      }
      out_->frames.emplace_back(std::in_place_type<AckFrame>, ack);
    }
    return true;
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  if (kind == 0) {
    return Fail(absl::InvalidArgumentError(absl::StrFormat(
        "Frame at offset %d has no kind: neither data (field 1) nor ack (field 2)",
        OffsetOf(bytes))));
  }
  return true;
}

bool Parser::ParseDataFrame(absl::Span<const uint8_t> bytes, DataFrame* frame) {
  static constexpr char kMessage[] = "DataFrame";
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kDataSequence:
        return ReadVarint(reader, tag, at, kMessage, "sequence", &frame->sequence);
      case kDataFlags:
        return ReadUint32(reader, tag, at, kMessage, "flags", &frame->flags);
      case kDataPayload:
        return ReadBytes(reader, tag, at, kMessage, "payload", &frame->payload);
      case kDataMeta:
        return ReadBytes(reader, tag, at, kMessage, "meta", &frame->meta);
      default:
        return Skip(reader, tag, kMessage);
    }
  };
  return ForEachField(bytes, kMessage, on_field);
}

bool Parser::ParseAckFrame(absl::Span<const uint8_t> bytes, AckFrame* frame) {
  static constexpr char kMessage[] = "AckFrame";
  std::vector<AckRange>& storage = out_->ack_ranges;
  const size_t first_range = storage.size();
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kAckCumulative:
        if (!ReadVarint(reader, tag, at, kMessage, "cumulative", &frame->cumulative)) {
          return false;
        }
        break;
      case kAckRanges: {
        absl::Span<const uint8_t> range_bytes;
        if (!ReadBytes(reader, tag, at, kMessage, "ranges", &range_bytes)) {
          return false;
        }
        if (ABSL_PREDICT_FALSE(storage.size() - first_range == limits_.max_ack_ranges)) {
          return Fail(absl::InvalidArgumentError(
              absl::StrFormat("AckFrame at offset %d holds more than %d ranges "
                              "(CodecLimits::max_ack_ranges): another at offset %d",
                              OffsetOf(bytes), limits_.max_ack_ranges, at)));
        }
        AckRange range;
        if (!ParseAckRange(range_bytes, &range)) {
          return false;
        }
        storage.push_back(range);
        break;
      }
      default:
        return Skip(reader, tag, kMessage);
    }
    return true;
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  // The view is aimed at its final storage by FixAckRanges; only its size counts now.
  frame->ranges = absl::Span<const AckRange>(storage.data() + first_range,
                                             storage.size() - first_range);
  return true;
}

bool Parser::ParseAckRange(absl::Span<const uint8_t> bytes, AckRange* range) {
  static constexpr char kMessage[] = "AckRange";
  auto on_field = [&](WireReader& reader, const Tag& tag, size_t at) {
    switch (tag.field) {
      case kRangeFirst:
        return ReadVarint(reader, tag, at, kMessage, "first", &range->first);
      case kRangeLast:
        return ReadVarint(reader, tag, at, kMessage, "last", &range->last);
      default:
        return Skip(reader, tag, kMessage);
    }
  };
  if (!ForEachField(bytes, kMessage, on_field)) {
    return false;
  }
  if (range->first > range->last) {
    return Fail(absl::InvalidArgumentError(
        absl::StrFormat("AckRange at offset %d has first %d > last %d", OffsetOf(bytes),
                        range->first, range->last)));
  }
  return true;
}

}  // namespace

// ---- DatagramEncoder ------------------------------------------------------------

absl::StatusOr<DatagramEncoder> DatagramEncoder::Create(size_t budget,
                                                        CodecLimits limits) {
  if (budget == 0 || budget > limits.max_datagram_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "datagram budget of %d bytes is outside 1..%d (CodecLimits::max_datagram_bytes)",
        budget, limits.max_datagram_bytes));
  }
  return DatagramEncoder(budget, limits);
}

DatagramEncoder::DatagramEncoder(size_t budget, CodecLimits limits)
    : budget_(budget),
      limits_(limits),
      buffer_(std::make_unique_for_overwrite<uint8_t[]>(budget)),
      base_(buffer_.get()) {}

absl::Status DatagramEncoder::ValidateHeader(const Header& header) const {
  if (header.protocol_major == 0) {
    return absl::InvalidArgumentError("header protocol_major is 0, which means missing");
  }
  if (header.endpoint_id == 0) {
    return absl::InvalidArgumentError("header endpoint_id is 0, which means missing");
  }
  if (absl::Status name = ValidateName(header.endpoint_name, limits_.max_name_bytes);
      !name.ok()) {
    return Within("header", name);
  }
  return absl::OkStatus();
}

absl::Status DatagramEncoder::ValidateAnnouncement(
    const Announcement& announcement) const {
  if (absl::Status rate = ValidateRate(announcement.rate_milliseconds); !rate.ok()) {
    return Within("announcement", rate);
  }
  if (absl::Status address = ValidateAddress(announcement.data_address); !address.ok()) {
    return Within("announcement", address);
  }
  if (announcement.known_peers.size() > limits_.max_known_peers) {
    return absl::InvalidArgumentError(
        absl::StrFormat("announcement has %d known_peers, more than the limit of %d "
                        "(CodecLimits::max_known_peers)",
                        announcement.known_peers.size(), limits_.max_known_peers));
  }
  for (size_t i = 0; i < announcement.known_peers.size(); ++i) {
    if (absl::Status peer =
            ValidatePeer(announcement.known_peers[i], limits_.max_name_bytes);
        !peer.ok()) {
      return Within(absl::StrFormat("announcement known_peers[%d]", i), peer);
    }
  }
  return absl::OkStatus();
}

uint8_t* DatagramEncoder::WriteHeader(const Header& header) {
  uint8_t* out = base_;
  out = WriteVarintField(kEnvelopeProtocolMajor, header.protocol_major, out);
  out = WriteVarintField(kEnvelopeProtocolMinor, header.protocol_minor, out);
  out = WriteVarintField(kEnvelopeNetworkId, header.network_id, out);
  out = wire_format::WriteFixed64(
      header.endpoint_id,
      wire_format::WriteTag(kEnvelopeEndpointId, WireType::kFixed64, out));
  out =
      wire_format::WriteBytes(kEnvelopeEndpointName, AsBytes(header.endpoint_name), out);
  if (const size_t session = SessionBodySize(header); session != 0) {
    out = wire_format::WriteLengthPrefix(kEnvelopeSession, session, out);
    if (header.session != 0) {
      out = wire_format::WriteFixed64(
          header.session, wire_format::WriteTag(kSessionSender, WireType::kFixed64, out));
    }
    if (header.peer_session != 0) {
      out = wire_format::WriteFixed64(
          header.peer_session,
          wire_format::WriteTag(kSessionReceiver, WireType::kFixed64, out));
    }
  }
  return out;
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::EncodeAnnouncement(
    const Header& header, const Announcement& announcement) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header));
  GLUE_RETURN_IF_ERROR(ValidateAnnouncement(announcement));
  const size_t body = AnnouncementBodySize(announcement);
  const size_t total = HeaderSize(header) +
                       LengthDelimitedSize(kEnvelopeAnnouncement, body) +
                       kChecksumTrailerBytes;
  if (total > budget_) {
    Announcement alone = announcement;
    alone.known_peers = {};
    const size_t alone_total = EncodedAnnouncementSize(header, alone);
    if (alone_total > budget_) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "announcement datagram of %d bytes exceeds the budget of %d bytes even "
          "without known_peers (%d bytes)",
          total, budget_, alone_total));
    }
    return absl::ResourceExhaustedError(absl::StrFormat(
        "announcement datagram of %d bytes with %d known_peers exceeds the budget of %d "
        "bytes (%d bytes without them): split them across announcements",
        total, announcement.known_peers.size(), budget_, alone_total));
  }
  uint8_t* out = WriteHeader(header);
  out = wire_format::WriteLengthPrefix(kEnvelopeAnnouncement, body, out);
  out = WriteSocketAddress(kAnnouncementDataAddress, announcement.data_address, out);
  out = WriteVarintField(kAnnouncementRate, announcement.rate_milliseconds, out);
  for (const PeerRecord& peer : announcement.known_peers) {
    out = wire_format::WriteLengthPrefix(kAnnouncementKnownPeers,
                                         PeerRecordBodySize(peer), out);
    out = wire_format::WriteFixed64(
        peer.endpoint_id,
        wire_format::WriteTag(kPeerEndpointId, WireType::kFixed64, out));
    out = wire_format::WriteBytes(kPeerEndpointName, AsBytes(peer.endpoint_name), out);
    out = WriteSocketAddress(kPeerDataAddress, peer.data_address, out);
    out = WriteVarintField(kPeerRate, peer.rate_milliseconds, out);
    out = WriteVarintField(kPeerAge, peer.age_milliseconds, out);
  }
  const absl::Span<const uint8_t> datagram = Seal(out);
  assert(size_ == total);
  return datagram;
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::EncodeGoodbye(
    const Header& header) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header));
  const size_t total = HeaderSize(header) + LengthDelimitedSize(kEnvelopeGoodbye, 0) +
                       kChecksumTrailerBytes;
  if (total > budget_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "goodbye datagram of %d bytes exceeds the budget of %d bytes", total, budget_));
  }
  uint8_t* out = WriteHeader(header);
  out = wire_format::WriteLengthPrefix(kEnvelopeGoodbye, 0, out);
  const absl::Span<const uint8_t> datagram = Seal(out);
  assert(size_ == total);
  return datagram;
}

absl::Status DatagramEncoder::BeginFrames(const Header& header) {
  frames_open_ = false;
  base_ = buffer_.get();
  size_ = 0;
  frame_count_ = 0;
  GLUE_RETURN_IF_ERROR(ValidateHeader(header));
  const size_t header_size = HeaderSize(header);
  // A header that fills the budget leaves no room for the smallest frame.
  if (header_size + kChecksumTrailerBytes + FrameEntrySize(0) > budget_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "header of %d bytes and the %d-byte checksum leave no room for a frame in the "
        "budget of %d bytes",
        header_size, kChecksumTrailerBytes, budget_));
  }
  [[maybe_unused]] const uint8_t* end = WriteHeader(header);
  assert(static_cast<size_t>(end - base_) == header_size);
  // The checksum Finish will append is counted from the start, so that remaining()
  // is what frames may still take.
  empty_size_ = header_size + kChecksumTrailerBytes;
  size_ = empty_size_;
  frames_open_ = true;
  return absl::OkStatus();
}

absl::Status DatagramEncoder::BeginFramesAt(const Header& header, uint8_t* at) {
  GLUE_RETURN_IF_ERROR(BeginFrames(header));
  // The header is written; it moves with the datagram.
  std::memcpy(at, base_, size_ - kChecksumTrailerBytes);
  base_ = at;
  return absl::OkStatus();
}

uint8_t* DatagramEncoder::FramesEnd() { return base_ + size_ - kChecksumTrailerBytes; }

absl::Span<const uint8_t> DatagramEncoder::Seal(uint8_t* end) {
  end = wire_format::WriteChecksumTrailer(base_, end);
  size_ = static_cast<size_t>(end - base_);
  return absl::Span<const uint8_t>(base_, size_);
}

absl::Status DatagramEncoder::CheckRoom(const char* what, size_t bytes) const {
  if (!frames_open_) {
    return absl::FailedPreconditionError(
        absl::StrFormat("cannot add a %s: no datagram open (call BeginFrames)", what));
  }
  if (bytes > budget_ - empty_size_) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "%s of %d bytes can never fit: the budget of %d bytes less the %d-byte header "
        "and the %d-byte checksum leaves %d",
        what, bytes, budget_, empty_size_ - kChecksumTrailerBytes, kChecksumTrailerBytes,
        budget_ - empty_size_));
  }
  if (frame_count_ == limits_.max_frames) {
    return absl::ResourceExhaustedError(absl::StrFormat(
        "datagram already holds %d frames (CodecLimits::max_frames)", frame_count_));
  }
  if (bytes > budget_ - size_) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("%s of %d bytes does not fit in the %d bytes left of the budget",
                        what, bytes, budget_ - size_));
  }
  return absl::OkStatus();
}

absl::Status DatagramEncoder::AddData(const DataFrame& frame) {
  const size_t body =
      DataBodySize(frame.payload.size(), frame.meta.size(), frame.sequence, frame.flags);
  const size_t entry = FrameEntrySize(body);
  GLUE_RETURN_IF_ERROR(CheckRoom("data frame", entry));
  uint8_t* out = WriteFramePrefix(kFrameData, body, FramesEnd());
  out = WriteVarintField(kDataSequence, frame.sequence, out);
  out = WriteVarintField(kDataFlags, frame.flags, out);
  out = WriteBytesField(kDataPayload, frame.payload, out);
  out = WriteBytesField(kDataMeta, frame.meta, out);
  assert(out == FramesEnd() + entry);
  size_ += entry;
  ++frame_count_;
  return absl::OkStatus();
}

absl::Status DatagramEncoder::AddAck(const AckFrame& frame) {
  if (frame.ranges.size() > limits_.max_ack_ranges) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ack frame has %d ranges, more than the limit of %d "
                        "(CodecLimits::max_ack_ranges)",
                        frame.ranges.size(), limits_.max_ack_ranges));
  }
  for (size_t i = 0; i < frame.ranges.size(); ++i) {
    if (frame.ranges[i].first > frame.ranges[i].last) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ack range %d has first %d > last %d", i, frame.ranges[i].first,
                          frame.ranges[i].last));
    }
  }
  const size_t body = AckBodySize(frame);
  const size_t entry = FrameEntrySize(body);
  GLUE_RETURN_IF_ERROR(CheckRoom("ack frame", entry));
  uint8_t* out = WriteFramePrefix(kFrameAck, body, FramesEnd());
  out = WriteVarintField(kAckCumulative, frame.cumulative, out);
  for (const AckRange& range : frame.ranges) {
    out = wire_format::WriteLengthPrefix(kAckRanges, RangeBodySize(range), out);
    out = WriteVarintField(kRangeFirst, range.first, out);
    out = WriteVarintField(kRangeLast, range.last, out);
  }
  assert(out == FramesEnd() + entry);
  size_ += entry;
  ++frame_count_;
  return absl::OkStatus();
}

absl::StatusOr<absl::Span<const uint8_t>> DatagramEncoder::Finish() {
  if (!frames_open_) {
    return absl::FailedPreconditionError(
        "cannot finish: no datagram open (call BeginFrames)");
  }
  if (frame_count_ == 0) {
    return absl::FailedPreconditionError(
        "cannot finish a datagram of frames that holds no frame");
  }
  frames_open_ = false;
  return Seal(FramesEnd());
}

size_t DatagramEncoder::EncodedDataFrameSize(size_t payload_bytes, size_t meta_bytes,
                                             uint64_t sequence, uint32_t flags) {
  return FrameEntrySize(DataBodySize(payload_bytes, meta_bytes, sequence, flags));
}

size_t DatagramEncoder::EncodedAckFrameSize(const AckFrame& frame) {
  return FrameEntrySize(AckBodySize(frame));
}

size_t DatagramEncoder::EncodedAnnouncementSize(const Header& header,
                                                const Announcement& announcement) {
  return HeaderSize(header) +
         LengthDelimitedSize(kEnvelopeAnnouncement, AnnouncementBodySize(announcement)) +
         kChecksumTrailerBytes;
}

size_t DatagramEncoder::EncodedPeerRecordSize(const PeerRecord& peer) {
  return PeerRecordEntrySize(peer);
}

// ---- DatagramDecoder ------------------------------------------------------------

absl::Status DatagramDecoder::Decode(absl::Span<const uint8_t> datagram,
                                     DecodedDatagram* out) const {
  // Absent fields decode as 0, not as our own version.
  out->header = Header{};
  out->header.protocol_major = 0;
  out->header.protocol_minor = 0;
  out->kind = DecodedDatagram::Kind::kFrames;
  out->announcement = Announcement{};
  out->frames.clear();
  out->ack_ranges.clear();
  out->peer_records.clear();
  if (datagram.empty()) {
    return absl::InvalidArgumentError("empty datagram");
  }
  if (datagram.size() > limits_.max_datagram_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("datagram of %d bytes exceeds the limit of %d bytes "
                        "(CodecLimits::max_datagram_bytes)",
                        datagram.size(), limits_.max_datagram_bytes));
  }
  GLUE_RETURN_IF_ERROR(VerifyChecksum(datagram));
  Parser parser(limits_, datagram.first(datagram.size() - kChecksumTrailerBytes), out);
  if (!parser.ParseEnvelope()) {
    return std::move(parser).status();
  }
  return absl::OkStatus();
}

bool operator==(const DecodedDatagram& a, const DecodedDatagram& b) {
  if (a.header != b.header || a.kind != b.kind) {
    return false;
  }
  switch (a.kind) {
    case DecodedDatagram::Kind::kAnnouncement:
      return a.announcement == b.announcement;
    case DecodedDatagram::Kind::kGoodbye:
      return true;
    case DecodedDatagram::Kind::kFrames:
      return a.frames == b.frames;
  }
  return false;
}

}  // namespace glue::serialization
