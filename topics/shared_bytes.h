// SharedBytes: an encoded message that several holders share (the peers' queues, the
// history, local subscribers). Internal to the topics layer.
#ifndef GLUE_TOPICS_SHARED_BYTES_H_
#define GLUE_TOPICS_SHARED_BYTES_H_

#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

#include "absl/types/span.h"

namespace glue::topics::internal {

// SharedBytes is a view of what `owner` keeps alive.
struct SharedBytes {
  std::shared_ptr<const void> owner;
  absl::Span<const uint8_t> view;

  static SharedBytes Of(std::vector<uint8_t> bytes) {
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    const absl::Span<const uint8_t> view = *shared;
    return {std::move(shared), view};
  }
};

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_SHARED_BYTES_H_
