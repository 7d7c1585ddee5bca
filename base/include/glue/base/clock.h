// Clock: the one source of time of a stack. Every deadline of every layer (discovery's
// expiry, resends, message expiry, reassembly, linger, a publisher's wait) reads Now
// and waits with an Alarm of the same Clock, so that a test can drive time itself
// (testing/glue/base/simulated_clock.h) instead of waiting for it. Shared by every
// layer; not a layer.
//
//   Clock& clock = SystemClock();
//   std::unique_ptr<Alarm> alarm = clock.CreateAlarm(strand, [weak] { ... });
//   alarm->Set(clock.Now() + absl::Milliseconds(20));
#ifndef GLUE_BASE_CLOCK_H_
#define GLUE_BASE_CLOCK_H_

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "glue/base/mutex.h"

namespace glue {

// Alarm runs its callback on its executor once the clock reaches the deadline it was
// last Set to. Set and Cancel are not thread-safe against each other: call them from
// the alarm's executor (its strand), or under the lock of the object that owns the
// alarm. A callback that was already due when Set or Cancel was called does not run:
// only the last Set counts.
class Alarm {
 public:
  virtual ~Alarm() = default;  // Cancels.

  // Set (re)arms the alarm for `deadline`, a time of the clock that made it; a
  // deadline already passed runs the callback as soon as the executor can.
  virtual void Set(absl::Time deadline) = 0;

  // Cancel disarms the alarm. Idempotent.
  virtual void Cancel() = 0;
};

// Clock gives the time and makes alarms on it. Any thread may call any method.
class Clock {
 public:
  using AlarmCallback = std::function<void()>;

  virtual ~Clock() = default;

  // Now returns the current time.
  virtual absl::Time Now() const = 0;

  // CreateAlarm makes a disarmed alarm whose callback runs on `executor`. The
  // callback must not own what owns the alarm (capture a weak_ptr): a pending alarm
  // keeps its callback alive. The Clock must outlive the alarm.
  virtual std::unique_ptr<Alarm> CreateAlarm(const boost::asio::any_io_executor& executor,
                                             AlarmCallback callback) = 0;

  // AwaitUntil blocks the calling thread, with `mu` held on entry and on return, until
  // `condition()` holds or the clock reaches `deadline`; returns whether `condition()`
  // holds. Whoever changes what `condition` reads must call mu->NotifyAll(). For
  // threads that may block: never from a handler of an executor the wait depends on.
  virtual bool AwaitUntil(Mutex* mu, absl::FunctionRef<bool()> condition,
                          absl::Time deadline) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

// SystemClock is absl::Now() with alarms on Asio's steady timers. It lives for the
// whole program.
Clock& SystemClock();

}  // namespace glue

#endif  // GLUE_BASE_CLOCK_H_
