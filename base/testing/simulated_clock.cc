#include "glue/base/simulated_clock.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <utility>

#include "absl/time/clock.h"

namespace glue::testing {

// Entry is one alarm's state, shared with callbacks posted and not yet run: those
// run only if no Set or Cancel came after they were posted.
struct SimulatedClock::Entry {
  Entry(const boost::asio::any_io_executor& e, AlarmCallback cb)
      : executor(e), callback(std::move(cb)) {}
  const boost::asio::any_io_executor executor;
  const AlarmCallback callback;
  std::atomic<uint64_t> generation{0};
  // Where it is filed in armed_, while armed (guarded by the clock's mu_).
  std::optional<std::pair<absl::Time, uint64_t>> key;
};

class SimulatedClock::SimulatedAlarm final : public Alarm {
 public:
  SimulatedAlarm(SimulatedClock* clock, std::shared_ptr<Entry> entry)
      : clock_(clock), entry_(std::move(entry)) {}
  ~SimulatedAlarm() override { Cancel(); }
  void Set(absl::Time deadline) override { clock_->Arm(entry_, deadline); }
  void Cancel() override { clock_->Disarm(entry_); }

 private:
  SimulatedClock* const clock_;
  const std::shared_ptr<Entry> entry_;
};

SimulatedClock::SimulatedClock(absl::Time start) : now_(start) {}

SimulatedClock::~SimulatedClock() = default;

absl::Time SimulatedClock::Now() const {
  MutexLock lock(&mu_);
  return now_;
}

std::unique_ptr<Alarm> SimulatedClock::CreateAlarm(
    const boost::asio::any_io_executor& executor, AlarmCallback callback) {
  return std::make_unique<SimulatedAlarm>(
      this, std::make_shared<Entry>(executor, std::move(callback)));
}

bool SimulatedClock::AwaitUntil(Mutex* mu, absl::FunctionRef<bool()> condition,
                                absl::Time deadline) {
  while (!condition()) {
    if (Now() >= deadline) return false;
    mu->AwaitUntil([&] { return condition(); }, absl::Now() + absl::Milliseconds(1));
  }
  return true;
}

std::optional<absl::Time> SimulatedClock::NextDeadline() const {
  MutexLock lock(&mu_);
  if (armed_.empty()) return std::nullopt;
  return armed_.begin()->first.first;
}

void SimulatedClock::AdvanceTo(absl::Time time) {
  MutexLock lock(&mu_);
  while (!armed_.empty() && armed_.begin()->first.first <= time) {
    const std::shared_ptr<Entry> entry = armed_.begin()->second;
    now_ = std::max(now_, entry->key->first);
    Fire(entry);
  }
  now_ = std::max(now_, time);
}

void SimulatedClock::Arm(const std::shared_ptr<Entry>& entry, absl::Time deadline) {
  MutexLock lock(&mu_);
  if (entry->key) armed_.erase(*entry->key);
  entry->key.reset();
  entry->generation.fetch_add(1);
  entry->key.emplace(deadline, next_order_++);
  armed_.emplace(*entry->key, entry);
  if (deadline <= now_) Fire(entry);
}

void SimulatedClock::Disarm(const std::shared_ptr<Entry>& entry) {
  MutexLock lock(&mu_);
  if (entry->key) armed_.erase(*entry->key);
  entry->key.reset();
  entry->generation.fetch_add(1);
}

void SimulatedClock::Fire(const std::shared_ptr<Entry>& entry) {
  armed_.erase(*entry->key);
  entry->key.reset();
  boost::asio::post(entry->executor, [entry, generation = entry->generation.load()] {
    if (entry->generation.load() == generation) entry->callback();
  });
}

}  // namespace glue::testing
