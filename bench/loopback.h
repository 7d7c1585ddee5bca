// What the benchmarks between two endpoints in one process share: a count that the
// benchmark thread can wait on, and a discovery configuration on loopback.
#ifndef GLUE_BENCH_LOOPBACK_H_
#define GLUE_BENCH_LOOPBACK_H_

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <cstdint>
#include <limits>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glue/base/mutex.h"
#include "glue/discovery/config.h"
#include "glue/network/address.h"

namespace glue::bench {

// Tally counts what an endpoint's callbacks report on its io thread; the benchmark
// thread waits for the count to reach a number.
class Tally {
 public:
  void Add(uint64_t n = 1) {
    MutexLock lock(&mu_);
    count_ += n;
    if (count_ >= awaited_) mu_.NotifyAll();
  }

  // WaitFor returns whether the count reached `target` within `timeout`.
  bool WaitFor(uint64_t target, absl::Duration timeout) {
    MutexLock lock(&mu_);
    awaited_ = target;
    return mu_.AwaitUntil(
        [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= target; },
        absl::Now() + timeout);
  }

  uint64_t count() const {
    MutexLock lock(&mu_);
    return count_;
  }

 private:
  mutable Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t awaited_ ABSL_GUARDED_BY(mu_) = std::numeric_limits<uint64_t>::max();
};

// PollUntil polls `done` every millisecond until it holds (true) or `timeout` passes.
template <typename F>
bool PollUntil(F done, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// LoopbackConfig is endpoint `id` on 127.0.0.1 and multicast on lo. It announces every
// second and removes a peer only after ten silent periods, so that losing a tenth of
// the datagrams, or a busy io thread, never removes one.
inline discovery::Config LoopbackConfig(uint64_t id) {
  discovery::Config config;
  config.endpoint_id = id;
  config.endpoint_name = absl::StrCat("bench-", id);
  config.listen_address = network::Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  config.listen_interface = "lo";
  config.rate = absl::Seconds(1);
  config.rate_timeout_multiplier = 10;
  return config;
}

// kSetupHint says where a benchmark whose endpoints did not find each other must run.
inline constexpr char kSetupHint[] =
    "; run inside scripts/isolated.sh (multicast on loopback)";

}  // namespace glue::bench

#endif  // GLUE_BENCH_LOOPBACK_H_
