// A std::mutex with Clang thread-safety annotations, so that members can be marked
// ABSL_GUARDED_BY and checked at compile time. std::mutex rather than absl::Mutex
// because ThreadSanitizer sees through pthread locks but not through the prebuilt
// Abseil library, and the sanitizer builds must not report false races.
#ifndef GLUE_BASE_MUTEX_H_
#define GLUE_BASE_MUTEX_H_

#include <condition_variable>
#include <mutex>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"

namespace glue {

// Mutex is a non-recursive lock. Any thread may call any method.
class ABSL_LOCKABLE Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() ABSL_EXCLUSIVE_LOCK_FUNCTION() { mu_.lock(); }
  void Unlock() ABSL_UNLOCK_FUNCTION() { mu_.unlock(); }

  // Await blocks, with the lock held on entry and on return, until `condition()`
  // holds. Another thread that changes what `condition` reads must call NotifyAll.
  template <typename Condition>
  void Await(Condition condition) ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    cv_.wait(lock, condition);
    lock.release();
  }

  // AwaitUntil is Await that gives up at `deadline` (a time of the system clock,
  // absl::Now()). Returns whether `condition()` holds.
  template <typename Condition>
  bool AwaitUntil(Condition condition, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(this) {
    std::unique_lock<std::mutex> lock(mu_, std::adopt_lock);
    bool holds;
    if (deadline == absl::InfiniteFuture()) {
      cv_.wait(lock, condition);
      holds = true;
    } else {
      holds = cv_.wait_until(lock, absl::ToChronoTime(deadline), condition);
    }
    lock.release();
    return holds;
  }

  // NotifyAll wakes every thread in Await so it checks its condition again.
  void NotifyAll() { cv_.notify_all(); }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
};

// MutexLock holds `mu` for its scope.
class ABSL_SCOPED_LOCKABLE MutexLock {
 public:
  explicit MutexLock(Mutex* mu) ABSL_EXCLUSIVE_LOCK_FUNCTION(mu) : mu_(mu) {
    mu_->Lock();
  }
  ~MutexLock() ABSL_UNLOCK_FUNCTION() { mu_->Unlock(); }
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

 private:
  Mutex* const mu_;
};

}  // namespace glue

#endif  // GLUE_BASE_MUTEX_H_
