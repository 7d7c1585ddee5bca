// The dispatcher: hands each received or locally published message to the callbacks
// of the subscriptions that want it, inline on the receiving thread when a callback
// is quick and idle, otherwise through its subscription's queue to the slow executor.
// Internal to the topics layer (topics.cc), on its TopicsState.
#ifndef GLUE_TOPICS_DISPATCHER_H_
#define GLUE_TOPICS_DISPATCHER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/time/time.h"
#include "glue/base/mutex.h"
#include "glue/topics/topics.h"
#include "topics/topics_state.h"

namespace glue::topics::internal {

// A callback that takes less than this on average runs on the thread that received
// its message, with no hop to another; a slower one on a thread of the pool, so that
// it does not hold up the transport.
inline constexpr int64_t kQuickCallbackNanos = 20'000;

// PendingMessage is one message on its way to the subscriptions that want it.
struct PendingMessage {
  Message message;
  std::shared_ptr<const void> owner;             // what message.payload views
  absl::Time deadline = absl::InfiniteFuture();  // not handed to a callback after it
};

// Subscription is one local subscription. Its callbacks run one at a time (`running`):
// inline where its message was received, when the callback is quick and nothing
// waits before it; otherwise its messages wait in `queue` for a Drain on the pool,
// which runs many per wakeup, so a busy subscription costs one post per burst.
struct Subscription {
  Subscription(std::string f, std::string t, MessageCallback c)
      : filter(std::move(f)), type(std::move(t)), callback(std::move(c)) {}
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const std::string filter;
  const std::string type;
  const MessageCallback callback;
  Mutex mu;  // taken after TopicsState::mu, never before
  std::deque<std::shared_ptr<const PendingMessage>> queue ABSL_GUARDED_BY(mu);
  bool running ABSL_GUARDED_BY(mu) = false;  // a callback runs, or a Drain is posted
  // How long the callback took, averaged over its last calls (about 8).
  int64_t average_nanos ABSL_GUARDED_BY(mu) = 0;

  bool quick() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return average_nanos < kQuickCallbackNanos;
  }
  // Took adds one call's time to the average. A sample counts at most 4 times the
  // bound: a call or two that the thread spent mostly preempted, or in a page fault,
  // do not move a quick callback off its thread (where, at a million messages a
  // second, its queue would fill before a thread of the pool woke); three such calls
  // close together, or a callback slow every time, do.
  void Took(int64_t nanos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    nanos = std::min(nanos, 4 * kQuickCallbackNanos);
    average_nanos += (nanos - average_nanos) / 8;
  }
  // TookOnAverage records `calls` calls that took `nanos` in all. Many calls are an
  // average already: it replaces the one kept, so that a quick callback moved off by
  // mistake comes back after one batch.
  void TookOnAverage(int64_t nanos, uint64_t calls) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const int64_t each = nanos / static_cast<int64_t>(calls);
    if (calls >= kWholeAverageCalls) {
      average_nanos = each;
    } else {
      Took(each);
    }
  }
  static constexpr uint64_t kWholeAverageCalls = 64;
};

// Inline is a message whose callback runs where it was received, once the lock is
// released.
struct Inline {
  std::shared_ptr<Subscription> sub;
  std::shared_ptr<const PendingMessage> message;
};
using InlineCalls = absl::InlinedVector<Inline, 4>;  // a message's: on the stack

// Post hands one message to a subscription: to `inline_calls` when the caller may run
// it (it is not null) and the subscription is quick and idle; otherwise to its queue,
// or it drops it at the bound. Any thread, with the topics' lock held.
void Post(const std::shared_ptr<TopicsState>& state,
          const std::shared_ptr<Subscription>& sub,
          std::shared_ptr<const PendingMessage> message, InlineCalls* inline_calls)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu);

// RunInline runs the callbacks Post left to the receiving thread, then hands the
// subscriptions whose messages queued meanwhile to the pool. Without the topics' lock.
void RunInline(const std::shared_ptr<TopicsState>& state, InlineCalls& calls);

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_DISPATCHER_H_
