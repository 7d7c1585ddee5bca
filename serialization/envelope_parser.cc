#include "serialization/envelope_parser.h"

#include <boost/asio/ip/address.hpp>
#include <cstring>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/base/optimization.h"
#include "absl/strings/str_format.h"
#include "glue/base/utf8.h"
#include "serialization/wire_format.h"
#include "serialization/wire_schema.h"

namespace glue::serialization {
namespace {

using wire_format::kChecksumTrailerBytes;
using wire_format::Tag;
using wire_format::WireReader;
using wire_format::WireType;

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
    if (ABSL_PREDICT_FALSE(!IsValidUtf8(*name))) {
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
      case kAnnouncementChallenge:
        return ReadFixed64(reader, tag, at, kMessage, "challenge",
                           &announcement.challenge);
      case kAnnouncementEcho:
        return ReadFixed64(reader, tag, at, kMessage, "echo", &announcement.echo);
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
      case kSessionChallenge:
        return ReadFixed64(reader, tag, at, kMessage, "challenge",
                           &header->session_challenge);
      case kSessionEcho:
        return ReadFixed64(reader, tag, at, kMessage, "echo", &header->session_echo);
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

absl::Status ParseEnvelope(const CodecLimits& limits, absl::Span<const uint8_t> envelope,
                           DecodedDatagram* out) {
  Parser parser(limits, envelope, out);
  if (!parser.ParseEnvelope()) {
    return std::move(parser).status();
  }
  return absl::OkStatus();
}

}  // namespace glue::serialization
