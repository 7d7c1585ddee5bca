#include "serialization/message_validation.h"

#include <string_view>

#include "absl/base/attributes.h"
#include "absl/strings/str_format.h"
#include "glue/base/status_macros.h"
#include "glue/base/utf8.h"
#include "glue/network/address.h"
#include "serialization/wire_format.h"

namespace glue::serialization {
namespace {

// Messages start with the field, so that Within can say whose field it is.

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
  if (!IsValidUtf8(name)) {
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

}  // namespace

absl::Status ValidateHeader(const Header& header, const CodecLimits& limits) {
  if (header.protocol_major == 0) {
    return absl::InvalidArgumentError("header protocol_major is 0, which means missing");
  }
  if (header.endpoint_id == 0) {
    return absl::InvalidArgumentError("header endpoint_id is 0, which means missing");
  }
  if (absl::Status name = ValidateName(header.endpoint_name, limits.max_name_bytes);
      !name.ok()) {
    return Within("header", name);
  }
  return absl::OkStatus();
}

absl::Status ValidateAnnouncement(const Announcement& announcement,
                                  const CodecLimits& limits) {
  if (absl::Status rate = ValidateRate(announcement.rate_milliseconds); !rate.ok()) {
    return Within("announcement", rate);
  }
  if (absl::Status address = ValidateAddress(announcement.data_address); !address.ok()) {
    return Within("announcement", address);
  }
  if (announcement.known_peers.size() > limits.max_known_peers) {
    return absl::InvalidArgumentError(
        absl::StrFormat("announcement has %d known_peers, more than the limit of %d "
                        "(CodecLimits::max_known_peers)",
                        announcement.known_peers.size(), limits.max_known_peers));
  }
  for (size_t i = 0; i < announcement.known_peers.size(); ++i) {
    if (absl::Status peer =
            ValidatePeer(announcement.known_peers[i], limits.max_name_bytes);
        !peer.ok()) {
      return Within(absl::StrFormat("announcement known_peers[%d]", i), peer);
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateAckFrame(const AckFrame& frame, const CodecLimits& limits) {
  if (frame.ranges.size() > limits.max_ack_ranges) {
    return absl::InvalidArgumentError(
        absl::StrFormat("ack frame has %d ranges, more than the limit of %d "
                        "(CodecLimits::max_ack_ranges)",
                        frame.ranges.size(), limits.max_ack_ranges));
  }
  for (size_t i = 0; i < frame.ranges.size(); ++i) {
    if (frame.ranges[i].first > frame.ranges[i].last) {
      return absl::InvalidArgumentError(
          absl::StrFormat("ack range %d has first %d > last %d", i, frame.ranges[i].first,
                          frame.ranges[i].last));
    }
  }
  return absl::OkStatus();
}

}  // namespace glue::serialization
