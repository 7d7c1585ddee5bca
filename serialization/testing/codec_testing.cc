#include "glue/serialization/codec_testing.h"

#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "absl/strings/numbers.h"
#include "glue/base/crc32c.h"
#include "glue/base/status_macros.h"
#include "glue/base/utf8.h"
#include "serialization/wire_format.h"

namespace glue::serialization {

void PrintTo(const DecodedDatagram& datagram, std::ostream* os) {
  *os << testing::Describe(datagram);
}

namespace testing {
namespace {

std::string IpBytes(const network::Address& address) {
  const boost::asio::ip::address ip = address.address();
  if (ip.is_v4()) {
    const auto bytes = ip.to_v4().to_bytes();
    return std::string(bytes.begin(), bytes.end());
  }
  const auto bytes = ip.to_v6().to_bytes();
  return std::string(bytes.begin(), bytes.end());
}

void SetAddress(const network::Address& address, wire::SocketAddress* out) {
  out->set_ip(IpBytes(address));
  out->set_port(address.port());
}

// RandomValue returns a value of a random bit width, so that varints of every length
// (and zero, which proto3 omits) are equally likely.
uint64_t RandomValue(std::mt19937_64& rng) {
  const int width = std::uniform_int_distribution<int>(0, 64)(rng);
  return width == 0 ? 0 : rng() >> (64 - width);
}

size_t RandomSize(std::mt19937_64& rng, size_t usual_max, size_t rare_max) {
  const bool rare = std::uniform_int_distribution<int>(0, 15)(rng) == 0;
  return std::uniform_int_distribution<size_t>(0, rare ? rare_max : usual_max)(rng);
}

std::vector<uint8_t> RandomBytes(std::mt19937_64& rng, size_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint8_t& byte : bytes) byte = static_cast<uint8_t>(rng());
  return bytes;
}

std::string RandomName(std::mt19937_64& rng) {
  const size_t target = std::max<size_t>(1, RandomSize(rng, 32, 255));
  std::string name;
  while (true) {
    uint32_t code_point;
    switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
      case 0:
        code_point = std::uniform_int_distribution<uint32_t>(0x80, 0x7ff)(rng);
        break;
      case 1:
        code_point = std::uniform_int_distribution<uint32_t>(0x800, 0xffff)(rng);
        if (code_point >= 0xd800 && code_point <= 0xdfff) {
          code_point = 0xfffd;
        }
        break;
      case 2:
        code_point = std::uniform_int_distribution<uint32_t>(0x10000, 0x10ffff)(rng);
        break;
      default:
        code_point = std::uniform_int_distribution<uint32_t>(0x21, 0x7e)(rng);
    }
    std::string next = name;
    AppendUtf8(code_point, &next);
    if (next.size() > target) {
      break;
    }
    name = std::move(next);
  }
  return name.empty() ? "n" : name;
}

network::Address RandomAddress(std::mt19937_64& rng) {
  const auto port =
      static_cast<uint16_t>(std::uniform_int_distribution<int>(1, 65535)(rng));
  if (std::uniform_int_distribution<int>(0, 1)(rng) == 0) {
    boost::asio::ip::address_v4::bytes_type bytes;
    for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
    return network::Address(boost::asio::ip::address_v4(bytes), port);
  }
  boost::asio::ip::address_v6::bytes_type bytes;
  for (auto& byte : bytes) byte = static_cast<uint8_t>(rng());
  return network::Address(boost::asio::ip::address_v6(bytes), port);
}

}  // namespace

absl::StatusOr<absl::Span<const uint8_t>> Encode(const DecodedDatagram& datagram,
                                                 DatagramEncoder* encoder) {
  switch (datagram.kind) {
    case DecodedDatagram::Kind::kAnnouncement:
      return encoder->EncodeAnnouncement(datagram.header, datagram.announcement);
    case DecodedDatagram::Kind::kGoodbye:
      return encoder->EncodeGoodbye(datagram.header);
    case DecodedDatagram::Kind::kFrames:
      break;
  }
  GLUE_RETURN_IF_ERROR(encoder->BeginFrames(datagram.header));
  for (const Frame& frame : datagram.frames) {
    if (const auto* data = std::get_if<DataFrame>(&frame)) {
      GLUE_RETURN_IF_ERROR(encoder->AddData(*data));
    } else {
      GLUE_RETURN_IF_ERROR(encoder->AddAck(std::get<AckFrame>(frame)));
    }
  }
  return encoder->Finish();
}

wire::Envelope ToProto(const DecodedDatagram& datagram) {
  wire::Envelope envelope;
  envelope.set_protocol_major(datagram.header.protocol_major);
  envelope.set_protocol_minor(datagram.header.protocol_minor);
  envelope.set_network_id(datagram.header.network_id);
  envelope.set_endpoint_id(datagram.header.endpoint_id);
  envelope.set_endpoint_name(std::string(datagram.header.endpoint_name));
  if (datagram.header.session != 0 || datagram.header.peer_session != 0 ||
      datagram.header.session_challenge != 0 || datagram.header.session_echo != 0) {
    envelope.mutable_session()->set_sender(datagram.header.session);
    envelope.mutable_session()->set_receiver(datagram.header.peer_session);
    envelope.mutable_session()->set_challenge(datagram.header.session_challenge);
    envelope.mutable_session()->set_echo(datagram.header.session_echo);
  }
  switch (datagram.kind) {
    case DecodedDatagram::Kind::kAnnouncement: {
      wire::Announcement* announcement = envelope.mutable_announcement();
      SetAddress(datagram.announcement.data_address,
                 announcement->mutable_data_address());
      announcement->set_rate_milliseconds(datagram.announcement.rate_milliseconds);
      announcement->set_challenge(datagram.announcement.challenge);
      announcement->set_echo(datagram.announcement.echo);
      for (const PeerRecord& peer : datagram.announcement.known_peers) {
        wire::PeerRecord* out = announcement->add_known_peers();
        out->set_endpoint_id(peer.endpoint_id);
        out->set_endpoint_name(std::string(peer.endpoint_name));
        SetAddress(peer.data_address, out->mutable_data_address());
        out->set_rate_milliseconds(peer.rate_milliseconds);
        out->set_age_milliseconds(peer.age_milliseconds);
      }
      break;
    }
    case DecodedDatagram::Kind::kGoodbye:
      envelope.mutable_goodbye();
      break;
    case DecodedDatagram::Kind::kFrames:
      for (const Frame& frame : datagram.frames) {
        wire::Frame* out = envelope.add_frames();
        if (const auto* data = std::get_if<DataFrame>(&frame)) {
          wire::DataFrame* out_data = out->mutable_data();
          out_data->set_sequence(data->sequence);
          out_data->set_flags(data->flags);
          out_data->set_payload(std::string(data->payload.begin(), data->payload.end()));
          out_data->set_meta(std::string(data->meta.begin(), data->meta.end()));
        } else {
          const auto& ack = std::get<AckFrame>(frame);
          wire::AckFrame* out_ack = out->mutable_ack();
          out_ack->set_cumulative(ack.cumulative);
          for (const AckRange& range : ack.ranges) {
            wire::AckRange* out_range = out_ack->add_ranges();
            out_range->set_first(range.first);
            out_range->set_last(range.last);
          }
        }
      }
      break;
  }
  return envelope;
}

std::string ProtoDifference(const wire::Envelope& expected,
                            const wire::Envelope& actual) {
  wire::Envelope known_expected = expected;
  wire::Envelope known_actual = actual;
  known_expected.DiscardUnknownFields();
  known_actual.DiscardUnknownFields();
  known_expected.clear_checksum();
  known_actual.clear_checksum();
  // A Session with no numbers says what no Session says, and Header cannot tell them
  // apart (0 is none in both).
  for (wire::Envelope* envelope : {&known_expected, &known_actual}) {
    if (envelope->has_session() && envelope->session().ByteSizeLong() == 0) {
      envelope->clear_session();
    }
  }
  std::string difference;
  google::protobuf::util::MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&difference);
  if (differencer.Compare(known_expected, known_actual)) {
    return "";
  }
  return difference.empty() ? "differ" : difference;
}

std::string Sealed(std::string content) {
  const size_t size = content.size();
  content.resize(size + wire_format::kChecksumTrailerBytes);
  auto* begin = reinterpret_cast<uint8_t*>(content.data());
  wire_format::WriteChecksumTrailer(begin, begin + size);
  return content;
}

void Reseal(std::vector<uint8_t>* bytes) {
  size_t size = bytes->size();
  if (size >= wire_format::kChecksumTrailerBytes &&
      (*bytes)[size - wire_format::kChecksumTrailerBytes] == wire_format::kChecksumTag) {
    size -= wire_format::kChecksumTrailerBytes;
  }
  bytes->resize(size + wire_format::kChecksumTrailerBytes);
  wire_format::WriteChecksumTrailer(bytes->data(), bytes->data() + size);
}

uint32_t ChecksumOf(absl::Span<const uint8_t> datagram) {
  return Crc32c(datagram.first(datagram.size() - wire_format::kChecksumTrailerBytes));
}

Header TestHeader() {
  return Header{
      .network_id = 7, .endpoint_id = 0x0123456789abcdef, .endpoint_name = "alpha"};
}

uint64_t TestSeed(uint64_t default_seed) {
  uint64_t seed = default_seed;
  if (const char* text = std::getenv("GLUE_TEST_SEED"); text != nullptr) {
    if (!absl::SimpleAtoi(text, &seed)) {
      std::fprintf(stderr, "GLUE_TEST_SEED='%s' is not a number; using %llu\n", text,
                   static_cast<unsigned long long>(default_seed));
      seed = default_seed;
    }
  }
  std::printf("random seed %llu (set GLUE_TEST_SEED to replay)\n",
              static_cast<unsigned long long>(seed));
  return seed;
}

std::string Describe(const DecodedDatagram& datagram) {
  return ToProto(datagram).ShortDebugString();
}

void RandomDatagram(std::mt19937_64& rng, OwnedDatagram* out) {
  DecodedDatagram& datagram = out->datagram;
  out->endpoint_name = RandomName(rng);
  datagram.header = Header{
      .protocol_major = kProtocolMajor,
      .protocol_minor = static_cast<uint32_t>(RandomValue(rng) >> 32),
      .network_id = RandomValue(rng),
      .endpoint_id = std::max<uint64_t>(1, rng()),
      .endpoint_name = out->endpoint_name,
  };
  switch (std::uniform_int_distribution<int>(0, 7)(rng)) {
    case 0: {
      datagram.kind = DecodedDatagram::Kind::kAnnouncement;
      datagram.announcement = Announcement{
          .data_address = RandomAddress(rng),
          .rate_milliseconds = std::max<uint32_t>(1, static_cast<uint32_t>(rng())),
          .challenge = RandomValue(rng),
          .echo = RandomValue(rng),
      };
      const size_t peers = RandomSize(rng, 4, 100);
      for (size_t i = 0; i < peers; ++i) {
        out->peer_names.push_back(RandomName(rng));
        datagram.peer_records.push_back(PeerRecord{
            .endpoint_id = std::max<uint64_t>(1, rng()),
            .endpoint_name = out->peer_names.back(),
            .data_address = RandomAddress(rng),
            .rate_milliseconds =
                std::max<uint32_t>(1, static_cast<uint32_t>(RandomValue(rng) >> 32)),
            .age_milliseconds = static_cast<uint32_t>(RandomValue(rng) >> 32),
        });
      }
      datagram.announcement.known_peers = datagram.peer_records;
      return;
    }
    case 1:
      datagram.kind = DecodedDatagram::Kind::kGoodbye;
      return;
    default:
      datagram.kind = DecodedDatagram::Kind::kFrames;
      // Either number may be absent (0).
      datagram.header.session = RandomValue(rng);
      datagram.header.peer_session = RandomValue(rng);
      datagram.header.session_challenge = RandomValue(rng);
      datagram.header.session_echo = RandomValue(rng);
  }
  const int frame_count = std::uniform_int_distribution<int>(1, 8)(rng);
  // Ranges first, so that the views made below point at their final storage.
  std::vector<size_t> range_counts;
  for (int i = 0; i < frame_count; ++i) {
    const bool is_ack = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
    if (!is_ack) {
      out->payloads.emplace_back(RandomBytes(rng, RandomSize(rng, 100, 4000)));
      // Usually no meta, as from a transport with no layer above that uses it.
      const bool has_meta = std::uniform_int_distribution<int>(0, 2)(rng) == 0;
      out->metas.emplace_back(RandomBytes(rng, has_meta ? RandomSize(rng, 16, 300) : 0));
      range_counts.push_back(SIZE_MAX);
      continue;
    }
    const size_t ranges = RandomSize(rng, 8, 256);
    for (size_t r = 0; r < ranges; ++r) {
      uint64_t first = RandomValue(rng);
      uint64_t last = RandomValue(rng);
      if (first > last) std::swap(first, last);
      datagram.ack_ranges.push_back({.first = first, .last = last});
    }
    range_counts.push_back(ranges);
  }
  size_t next_data = 0;
  size_t next_range = 0;
  for (size_t count : range_counts) {
    if (count == SIZE_MAX) {
      datagram.frames.emplace_back(DataFrame{
          .sequence = RandomValue(rng),
          .flags = static_cast<uint32_t>(RandomValue(rng) >> 32),
          .payload = out->payloads[next_data],
          .meta = out->metas[next_data],
      });
      ++next_data;
    } else {
      datagram.frames.emplace_back(AckFrame{
          .cumulative = RandomValue(rng),
          .ranges = absl::MakeConstSpan(datagram.ack_ranges.data() + next_range, count),
      });
      next_range += count;
    }
  }
}

}  // namespace testing
}  // namespace glue::serialization
