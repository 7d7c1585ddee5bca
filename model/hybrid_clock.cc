#include "glue/model/hybrid_clock.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace glue::model {
namespace {

// Milliseconds since the Unix epoch; 0 before it.
uint64_t MillisecondsOf(absl::Time t) {
  return static_cast<uint64_t>(std::max<int64_t>(0, absl::ToUnixMillis(t)));
}

}  // namespace

std::string Format(HybridTime time) {
  return absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3S%Ez", time.time(), absl::UTCTimeZone()), "/",
      time.counter());
}

HybridTime HybridClock::Tick(absl::Time physical) {
  const HybridTime now = HybridTime::Of(MillisecondsOf(physical), 0);
  if (now > last_) {
    last_ = now;
  } else if (last_.counter() < HybridTime::kMaxCounter) {
    last_.packed += 1;
  } else {
    // Past 65,535 events in one millisecond: the next millisecond, a little ahead of
    // physical time, which catches up.
    ++counters_.counter_overflows;
    last_ = HybridTime::Of(last_.milliseconds() + 1, 0);
  }
  return last_;
}

void HybridClock::Observe(HybridTime remote, absl::Time physical) {
  const HybridTime limit =
      HybridTime::Of(MillisecondsOf(physical + options_.max_ahead), 0);
  if (remote > limit) {
    ++counters_.observed_ahead;
    remote = limit;
  }
  last_ = std::max(last_, remote);
}

}  // namespace glue::model
