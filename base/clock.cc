#include "glue/base/clock.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <utility>

#include "absl/time/clock.h"

namespace glue {
namespace {

// SystemAlarm is a steady timer whose handler runs the callback only when no Set or
// Cancel came after the Set that armed it: a handler already queued when the timer
// was cancelled finds a newer generation and does nothing.
class SystemAlarm final : public Alarm {
 public:
  SystemAlarm(const boost::asio::any_io_executor& executor, Clock::AlarmCallback callback)
      : state_(std::make_shared<State>(executor, std::move(callback))) {}

  ~SystemAlarm() override { Cancel(); }

  void Set(absl::Time deadline) override {
    const uint64_t generation = state_->generation.fetch_add(1) + 1;
    const absl::Duration wait = std::max(deadline - absl::Now(), absl::ZeroDuration());
    state_->timer.expires_after(absl::ToChronoNanoseconds(wait));
    state_->timer.async_wait(
        [state = state_, generation](const boost::system::error_code& error) {
          if (error || state->generation.load() != generation) return;
          state->callback();
        });
  }

  void Cancel() override {
    state_->generation.fetch_add(1);
    state_->timer.cancel();
  }

 private:
  struct State {
    State(const boost::asio::any_io_executor& executor, Clock::AlarmCallback cb)
        : timer(executor), callback(std::move(cb)) {}
    boost::asio::steady_timer timer;
    const Clock::AlarmCallback callback;
    std::atomic<uint64_t> generation{0};
  };
  // Shared with the pending handler, which may outlive the alarm.
  const std::shared_ptr<State> state_;
};

class RealClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }

  std::unique_ptr<Alarm> CreateAlarm(const boost::asio::any_io_executor& executor,
                                     AlarmCallback callback) override {
    return std::make_unique<SystemAlarm>(executor, std::move(callback));
  }

  bool AwaitUntil(Mutex* mu, absl::FunctionRef<bool()> condition,
                  absl::Time deadline) override ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return mu->AwaitUntil([&] { return condition(); }, deadline);
  }
};

}  // namespace

Clock& SystemClock() {
  static RealClock* const clock = new RealClock();
  return *clock;
}

}  // namespace glue
