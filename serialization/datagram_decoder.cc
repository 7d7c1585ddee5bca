#include "glue/serialization/datagram_decoder.h"

#include "absl/base/optimization.h"
#include "absl/strings/str_format.h"
#include "glue/base/crc32c.h"
#include "glue/base/status_macros.h"
#include "serialization/envelope_parser.h"
#include "serialization/wire_format.h"

namespace glue::serialization {
namespace {

using wire_format::kChecksumTrailerBytes;

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
  wire_format::WireReader(datagram.subspan(at + 1)).ReadFixed32(&carried);
  const uint32_t computed = Crc32c(datagram.first(at));
  if (ABSL_PREDICT_FALSE(carried != computed)) {
    return absl::DataLossError(absl::StrFormat(
        "checksum mismatch: the datagram carries 0x%08x, its first %d bytes give 0x%08x",
        carried, at, computed));
  }
  return absl::OkStatus();
}

}  // namespace

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
  return ParseEnvelope(limits_, datagram.first(datagram.size() - kChecksumTrailerBytes),
                       out);
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
