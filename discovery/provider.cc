#include "glue/discovery/provider.h"

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"

namespace glue::discovery {

absl::Status ValidateProviderName(absl::string_view name) {
  const bool ok =
      !name.empty() && name.size() <= kMaxProviderNameBytes &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("provider name '", name, "': expected 1 to ", kMaxProviderNameBytes,
                   " letters, digits, '-' and '_'"));
}

namespace {

class PollingProvider final : public Provider {
 public:
  PollingProvider(std::string name, absl::Duration interval, PollFunction poll,
                  bool fail_at_start, Clock& clock)
      : name_(std::move(name)),
        interval_(interval),
        poll_(std::move(poll)),
        fail_at_start_(fail_at_start),
        clock_(clock) {}

  ~PollingProvider() override { Stop(); }

  const std::string& name() const override { return name_; }

  absl::Status Start(Update update) override {
    {
      MutexLock lock(&mu_);
      if (started_) {
        return absl::FailedPreconditionError(
            absl::StrCat("provider ", name_, " started already"));
      }
      started_ = true;
      update_ = std::move(update);
    }
    // The first poll runs here, so that what cannot work (a file that does not parse)
    // is said by Start rather than in a log line later.
    {
      MutexLock lock(&mu_);
      next_ = clock_.Now() + interval_;
    }
    absl::StatusOr<std::vector<network::Address>> first = poll_();
    // A server that does not answer may yet: that is retried, not fatal.
    if (!first.ok() && fail_at_start_ && !absl::IsUnavailable(first.status())) {
      MutexLock lock(&mu_);
      stopping_ = true;
      return first.status();
    }
    Take(std::move(first));
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() override {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      mu_.NotifyAll();
    }
    if (thread_.joinable()) thread_.join();
    MutexLock lock(&mu_);
    update_ = nullptr;
  }

  ProviderCounters counters() const override {
    MutexLock lock(&mu_);
    return counters_;
  }

 private:
  void Run() {
    for (;;) {
      {
        MutexLock lock(&mu_);
        // Polls keep their cadence from Start; one that ran past the next's time
        // puts the next an interval after it.
        clock_.AwaitUntil(
            &mu_, [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return stopping_; }, next_);
        if (stopping_) return;
        next_ = std::max(next_ + interval_, clock_.Now());
        if (next_ == clock_.Now()) next_ += interval_;
      }
      Take(poll_());
    }
  }

  // Take gives discovery a poll's set when it changed, or says why there is none.
  void Take(absl::StatusOr<std::vector<network::Address>> polled) {
    MutexLock lock(&mu_);
    if (stopping_) return;
    if (!polled.ok()) {
      ++counters_.failures;
      if (const uint64_t n = failure_log_.Admit(clock_.Now())) {
        GLUE_LOG(kWarning,
                 "discovery: provider %s failed (%d time(s) since the last such line); "
                 "it keeps the %d address(es) it had: %s",
                 name_, n, last_.size(), polled.status().ToString());
      }
      return;
    }
    std::vector<network::Address>& addresses = *polled;
    std::sort(addresses.begin(), addresses.end());
    addresses.erase(std::unique(addresses.begin(), addresses.end()), addresses.end());
    if (polled_once_ && addresses == last_) return;
    polled_once_ = true;
    last_ = addresses;
    ++counters_.updates;
    // Called under the lock: Stop waits for it, and then no update follows.
    update_(std::move(addresses));
  }

  const std::string name_;
  const absl::Duration interval_;
  const PollFunction poll_;
  const bool fail_at_start_;
  Clock& clock_;
  std::thread thread_;

  mutable Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool polled_once_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time next_ ABSL_GUARDED_BY(mu_);  // of the next poll
  Update update_ ABSL_GUARDED_BY(mu_);
  std::vector<network::Address> last_ ABSL_GUARDED_BY(mu_);
  ProviderCounters counters_ ABSL_GUARDED_BY(mu_);
  LogLimiter failure_log_ ABSL_GUARDED_BY(mu_) = LogLimiter(absl::Seconds(10));
};

}  // namespace

std::unique_ptr<Provider> MakePollingProvider(std::string name, absl::Duration interval,
                                              PollFunction poll, bool fail_at_start,
                                              Clock& clock) {
  return std::make_unique<PollingProvider>(std::move(name), interval, std::move(poll),
                                           fail_at_start, clock);
}

}  // namespace glue::discovery
