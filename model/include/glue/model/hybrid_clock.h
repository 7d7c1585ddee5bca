// HybridClock: a hybrid logical clock (Kulkarni et al., 2014) for the model layer's
// writes. Its times stay close to physical time, so that they mean something to a
// reader, while every event a replica makes after seeing another's is given a larger
// time, whatever the two machines' clocks say. Like PeerTable it reads no clock:
// callers pass the physical time, so that tests can move it both ways.
//
//   HybridClock clock;
//   HybridTime t = clock.Tick(absl::Now());      // a local write
//   clock.Observe(remote_time, absl::Now());      // a write received from a peer
//
// Times order concurrent writes only. Which write supersedes which is decided by what
// each writer had seen (causal contexts), never by comparing times: a clock minutes
// wrong cannot make a replica lose a write made after it saw another.
#ifndef GLUE_MODEL_HYBRID_CLOCK_H_
#define GLUE_MODEL_HYBRID_CLOCK_H_

#include <compare>
#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace glue::model {

// HybridTime is a reading of a hybrid logical clock: milliseconds since the Unix epoch
// (the largest physical time its clock had seen), and a counter that orders events
// within one millisecond. Packed in 64 bits, milliseconds in the upper 48 (until the
// year 10889), the counter in the lower 16, so that the packed values order as the
// times do and travel as one fixed64.
struct HybridTime {
  static constexpr int kCounterBits = 16;
  static constexpr uint64_t kMaxCounter = (uint64_t{1} << kCounterBits) - 1;

  uint64_t packed = 0;

  static HybridTime Of(uint64_t milliseconds, uint64_t counter) {
    return {(milliseconds << kCounterBits) | (counter & kMaxCounter)};
  }
  uint64_t milliseconds() const { return packed >> kCounterBits; }
  uint64_t counter() const { return packed & kMaxCounter; }
  // The physical time it stands for (the counter left out).
  absl::Time time() const {
    return absl::FromUnixMillis(static_cast<int64_t>(milliseconds()));
  }

  friend auto operator<=>(HybridTime, HybridTime) = default;
};

// Format gives "2026-12-05T12:00:00.123+00:00/4": the time, then the counter.
std::string Format(HybridTime time);

// HybridClockCounters say how often peers' times were beyond what we follow.
struct HybridClockCounters {
  // Times observed further ahead of our physical time than max_ahead: kept by the
  // write as they are, but our clock followed them only up to max_ahead.
  uint64_t observed_ahead = 0;
  // Ticks that found the counter at its largest in the same millisecond, and moved
  // to the next millisecond (over 65,535 events in one millisecond).
  uint64_t counter_overflows = 0;
};

// HybridClock is not thread-safe: its owner's lock guards it.
class HybridClock {
 public:
  struct Options {
    // How far ahead of our physical time a peer's time may take our clock. A peer
    // whose clock runs an hour fast cannot drag every replica's times an hour ahead:
    // its writes keep their times, ours stay within this of our own clock.
    absl::Duration max_ahead = absl::Seconds(10);
  };

  HybridClock() : HybridClock(Options()) {}
  explicit HybridClock(Options options) : options_(options) {}

  // Tick returns the time of a new local event at physical time `physical`: larger
  // than every time Tick returned or Observe saw (up to max_ahead), and equal to
  // `physical` (counter 0) when that is larger still. A physical clock that went back
  // does not take the times back.
  HybridTime Tick(absl::Time physical);

  // Observe records a peer's time, seen at our physical time `physical`, so that the
  // next Tick is larger than it; a time more than max_ahead beyond `physical` is
  // followed only up to there, and counted.
  void Observe(HybridTime remote, absl::Time physical);

  // last is the largest time given or followed so far (0 before any).
  HybridTime last() const { return last_; }
  const HybridClockCounters& counters() const { return counters_; }

 private:
  const Options options_;
  HybridTime last_;
  HybridClockCounters counters_;
};

}  // namespace glue::model

#endif  // GLUE_MODEL_HYBRID_CLOCK_H_
