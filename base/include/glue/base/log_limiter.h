// LogLimiter: one log line per reason per period, however often the reason occurs, so
// that a flood of bad datagrams costs a line every few seconds rather than one each.
// In base, beside log.h; the layers keep one per reason of refusal.
//
//   if (const uint64_t n = limiter.Admit(now)) {
//     GLUE_LOG(kWarning, "discovery: refused %d announcements (...), e.g. from %s", n, who);
//   }
#ifndef GLUE_BASE_LOG_LIMITER_H_
#define GLUE_BASE_LOG_LIMITER_H_

#include <cstdint>

#include "absl/time/time.h"

namespace glue {

// LogLimiter is not thread-safe: its owner's lock or strand guards it.
class LogLimiter {
 public:
  // At most one line per `period`.
  explicit LogLimiter(absl::Duration period = absl::Seconds(10)) : period_(period) {}

  // Admit counts one occurrence at `now`. It returns 0 when no line is due (the
  // occurrence is kept for the next line), and otherwise the number of occurrences the
  // line due now stands for: this one and those kept since the last line.
  uint64_t Admit(absl::Time now) {
    ++pending_;
    if (now < next_) return 0;
    next_ = now + period_;
    const uint64_t n = pending_;
    pending_ = 0;
    return n;
  }

 private:
  const absl::Duration period_;
  absl::Time next_ = absl::InfinitePast();
  uint64_t pending_ = 0;
};

}  // namespace glue

#endif  // GLUE_BASE_LOG_LIMITER_H_
