#include "transport/peer_session.h"

#include <algorithm>
#include <atomic>

namespace glue::transport::internal {

uint64_t NextSessionNumber() {
  static std::atomic<uint64_t> last{0};
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  uint64_t previous = last.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, next, std::memory_order_relaxed));
  return next;
}

}  // namespace glue::transport::internal
