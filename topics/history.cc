#include "topics/history.h"

namespace glue::topics::internal {

size_t AddToHistory(PublishedTopic& topic, uint64_t sequence, absl::Time deadline,
                    const SharedBytes& encoded, size_t payload_offset, size_t depth,
                    size_t max_bytes, size_t* history_bytes) {
  if (depth > 0) {
    topic.history.push_back({sequence, deadline, encoded, payload_offset});
    *history_bytes += encoded.view.size();
  }
  while (topic.history.size() > depth) {
    *history_bytes -= topic.history.front().encoded.view.size();
    topic.history.pop_front();
  }
  size_t dropped = 0;
  while (*history_bytes > max_bytes && !topic.history.empty()) {
    *history_bytes -= topic.history.front().encoded.view.size();
    topic.history.pop_front();
    ++dropped;
  }
  return dropped;
}

}  // namespace glue::topics::internal
