// SimulatedClock: a Clock whose time moves only when a test moves it, and
// RunSimulatedUntil, which drives an io_context and the clock together: it runs what
// is ready, and when nothing is, jumps to the next alarm's deadline. A whole stack on
// one io_context and this clock runs deterministically and as fast as the CPU allows,
// with no sleeps. Test code only.
//
//   SimulatedClock clock;
//   boost::asio::io_context io;
//   ... layers made with `clock` and `io` ...
//   ASSERT_TRUE(RunSimulatedUntil(io, clock, [&] { return received == 3; }));
#ifndef GLUE_BASE_SIMULATED_CLOCK_H_
#define GLUE_BASE_SIMULATED_CLOCK_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>

#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/mutex.h"

namespace glue::testing {

// SimulatedClock: any thread may call any method. Alarms made by it must not outlive
// it.
class SimulatedClock final : public Clock {
 public:
  // The clock starts at `start`; by default a fixed time, so that runs repeat.
  explicit SimulatedClock(absl::Time start = absl::FromUnixSeconds(1'700'000'000));
  ~SimulatedClock() override;
  SimulatedClock(const SimulatedClock&) = delete;
  SimulatedClock& operator=(const SimulatedClock&) = delete;

  absl::Time Now() const override;
  std::unique_ptr<Alarm> CreateAlarm(const boost::asio::any_io_executor& executor,
                                     AlarmCallback callback) override;
  // Waits in slices of real time for the condition, or for another thread to move
  // the clock past `deadline`.
  bool AwaitUntil(Mutex* mu, absl::FunctionRef<bool()> condition,
                  absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // NextDeadline is the earliest deadline of an armed alarm, if any is armed.
  std::optional<absl::Time> NextDeadline() const;

  // AdvanceTo moves the time forward to `time` (never back) and posts, earliest
  // first, the callbacks of the alarms due by then to their executors.
  void AdvanceTo(absl::Time time);
  void AdvanceBy(absl::Duration duration) { AdvanceTo(Now() + duration); }

 private:
  struct Entry;
  class SimulatedAlarm;

  void Arm(const std::shared_ptr<Entry>& entry, absl::Time deadline);
  void Disarm(const std::shared_ptr<Entry>& entry);
  void Fire(const std::shared_ptr<Entry>& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  uint64_t next_order_ ABSL_GUARDED_BY(mu_) = 0;
  // Armed alarms by deadline, then by the order they were armed in.
  std::map<std::pair<absl::Time, uint64_t>, std::shared_ptr<Entry>> armed_
      ABSL_GUARDED_BY(mu_);
};

// RunSimulatedUntil runs `io` and moves `clock` until `done()` holds: whatever is
// ready runs first; when nothing is, the clock jumps to the next alarm. Returns false
// when `done()` does not hold by `limit` of simulated time, or when nothing is left
// to run. `io` must run on this thread only.
template <typename Predicate>
bool RunSimulatedUntil(boost::asio::io_context& io, SimulatedClock& clock, Predicate done,
                       absl::Duration limit = absl::Minutes(1)) {
  const absl::Time end = clock.Now() + limit;
  while (!done()) {
    if (io.stopped()) io.restart();
    if (io.poll() > 0) continue;
    const std::optional<absl::Time> next = clock.NextDeadline();
    if (!next.has_value() || *next > end) return done();
    clock.AdvanceTo(*next);
  }
  return true;
}

// RunSimulatedFor runs `io` for `duration` of simulated time: for checking that
// something does NOT happen within it.
inline void RunSimulatedFor(boost::asio::io_context& io, SimulatedClock& clock,
                            absl::Duration duration) {
  const absl::Time end = clock.Now() + duration;
  // It returns with nothing ready and no alarm due by `end`: only time is left to move.
  RunSimulatedUntil(
      io, clock, [] { return false; }, duration);
  clock.AdvanceTo(end);
}

}  // namespace glue::testing

#endif  // GLUE_BASE_SIMULATED_CLOCK_H_
