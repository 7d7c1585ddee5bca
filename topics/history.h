// History: what this endpoint keeps of each topic it publishes on, for peers that
// subscribe later, within a depth per topic and a bound on the bytes of all topics.
// Internal to the topics layer (topics.cc).
#ifndef GLUE_TOPICS_HISTORY_H_
#define GLUE_TOPICS_HISTORY_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "topics/shared_bytes.h"

namespace glue::topics::internal {

// Kept is one message of a topic's history: the publication as first encoded, whose
// payload starts at payload_offset, so that Publish copies a payload once.
struct Kept {
  uint64_t sequence;
  absl::Time deadline;
  SharedBytes encoded;
  size_t payload_offset;

  absl::Span<const uint8_t> payload() const {
    return encoded.view.subspan(payload_offset);
  }
};

// PublishedTopic is what this endpoint keeps for a topic it publishes on.
struct PublishedTopic {
  std::string type;
  uint64_t next_sequence = 1;
  bool reliable = true;
  std::deque<Kept> history;  // oldest first
};

// AddToHistory adds message `sequence` of `topic`, encoded in `encoded` with its
// payload at `payload_offset`, to the topic's history when `depth` > 0, and keeps the
// newest `depth` messages. Then, while the histories of all topics, whose bytes
// *history_bytes counts (and it keeps up to date), pass `max_bytes`, it drops this
// topic's oldest. Returns how many it dropped for `max_bytes`.
size_t AddToHistory(PublishedTopic& topic, uint64_t sequence, absl::Time deadline,
                    const SharedBytes& encoded, size_t payload_offset, size_t depth,
                    size_t max_bytes, size_t* history_bytes);

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_HISTORY_H_
