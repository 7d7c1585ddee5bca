// TopicMessage: what the topics layer puts in a fragmentation-layer message: a
// publication (a payload on a topic) or an interest (the filters an endpoint
// subscribes to), and their encoding. The topics layer; no I/O.
//
//   std::vector<uint8_t> bytes = EncodePublication(publication);  // header + payload
//   absl::StatusOr<TopicMessage> message = DecodeTopicMessage(bytes);
//   if (auto* p = std::get_if<Publication>(&*message)) { ... p->payload ... }
#ifndef GLUE_TOPICS_TOPIC_MESSAGE_H_
#define GLUE_TOPICS_TOPIC_MESSAGE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace glue::topics {

// The encoding (docs/PROTOCOL.md §9), every varint unsigned LEB128 in its shortest
// form, every string a varint length and its bytes:
//
//   publication: byte 0x20, byte flags (bit 0: history; others 0), varint epoch,
//                varint sequence, varint time_to_live_ms, string topic, string type,
//                then the payload: every byte to the end of the message
//   interest:    byte 0x21, byte flags (bit 0: reply with yours; others 0),
//                varint version, varint epoch, varint count (at most
//                kMaxInterestEntries), then `count` pairs of string filter,
//                string type
//
// Topics, filters and types are validated as topic_filter.h says.
inline constexpr uint8_t kPublicationKind = 0x20;
inline constexpr uint8_t kInterestKind = 0x21;
inline constexpr size_t kMaxInterestEntries = 4096;

// Publication is one message published on a topic. `payload` views the buffer it was
// decoded from (or is to be encoded from), which must outlive it.
struct Publication {
  // The publisher's run: a number it picks when it starts (its start time in
  // microseconds), another than its earlier runs', so that a restarted publisher's
  // sequences are not taken for old ones. A subscriber believes it only as the
  // publisher's interest declares it (Interest::epoch).
  uint64_t epoch = 0;
  // The publisher's number for this message on this topic: 1, 2, ... in one epoch.
  uint64_t sequence = 0;
  // How long after it arrives the message may still be delivered, in ms; 0: no expiry.
  uint32_t time_to_live_ms = 0;
  // Sent from the publisher's history to a subscriber that appeared later.
  bool history = false;
  // Views, like the payload: into the bytes decoded, or what the encoder's caller
  // holds.
  absl::string_view topic;
  absl::string_view type;
  absl::Span<const uint8_t> payload;
};

// InterestEntry is one subscription: a filter and the type its subscriber expects.
struct InterestEntry {
  std::string filter;
  std::string type;

  friend bool operator==(const InterestEntry&, const InterestEntry&) = default;
};

// Interest is the whole set of subscriptions of one endpoint, and the epoch of its
// publications.
struct Interest {
  // The sender's count of its changes of subscriptions. Informational: a receiver
  // takes the latest interest of the sender's session, in the order the session's
  // reliable ordered stream delivers them, and compares no versions (docs/PROTOCOL.md
  // §9), so that no interest, a forged one say, can make it ignore those that follow.
  uint64_t version = 0;
  // The sender's Publication::epoch: it declares it with every interest, so that a
  // subscriber knows the epoch from the session that carries the interest rather
  // than from what a publication claims.
  uint64_t epoch = 0;
  // Asks the peer to answer with its own interest: sent when a peer appears, since
  // the peer may have kept us (and forgotten to tell) while we had removed it.
  bool reply_wanted = false;
  std::vector<InterestEntry> entries;
};

using TopicMessage = std::variant<Publication, Interest>;

// PublicationHeaderSize is the size of `publication` encoded without its payload.
size_t PublicationHeaderSize(const Publication& publication);

// EncodePublication returns `publication` encoded, payload included: the header and
// one copy of the payload. Needs a valid topic and type. Any thread.
std::vector<uint8_t> EncodePublication(const Publication& publication);
// This EncodePublication writes into `out`, of exactly PublicationHeaderSize(publication)
// plus the payload's size.
void EncodePublication(const Publication& publication, absl::Span<uint8_t> out);

// EncodeInterest returns `interest` encoded. Needs at most kMaxInterestEntries valid
// entries. Any thread.
std::vector<uint8_t> EncodeInterest(const Interest& interest);

// DecodeTopicMessage reads one message; a publication's payload views `bytes`.
// Errors, all kInvalidArgument naming what is wrong and where: an unknown kind, a
// truncated or non-canonical varint, a string longer than what remains, reserved
// flags set, a value beyond its width, an invalid topic, filter or type, more than
// kMaxInterestEntries entries, and bytes after an interest. Any thread.
absl::StatusOr<TopicMessage> DecodeTopicMessage(absl::Span<const uint8_t> bytes);

}  // namespace glue::topics

#endif  // GLUE_TOPICS_TOPIC_MESSAGE_H_
