#include "topics/dispatcher.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <iterator>
#include <vector>

#include "glue/base/handler_gate.h"

namespace glue::topics::internal {
namespace {

using State = TopicsState;

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Messages one Drain hands to callbacks before it yields the thread to other work.
constexpr size_t kDrainBatch = 256;

void Drain(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub);

// PostDrain has a thread of the pool run Drain for `sub`.
void PostDrain(const std::shared_ptr<State>& state,
               const std::shared_ptr<Subscription>& sub) {
  boost::asio::post(state->slow_executor, [state, sub] { Drain(state, sub); });
}

// EndRun ends the run of `sub`'s callbacks that just finished: the next Drain goes to
// the pool when messages queued meanwhile; after Stop (`stopped`), they are dropped.
void EndRun(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub,
            bool stopped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sub->mu) {
  if (sub->queue.empty() || stopped) {
    sub->queue.clear();
    sub->running = false;
    return;
  }
  PostDrain(state, sub);
}

// Drain runs the callbacks of the messages waiting for `sub`, a batch at a time.
void Drain(const std::shared_ptr<State>& state,
           const std::shared_ptr<Subscription>& sub) {
  std::vector<std::shared_ptr<const PendingMessage>> batch;
  {
    MutexLock lock(&sub->mu);
    const size_t n = std::min(kDrainBatch, sub->queue.size());
    batch.assign(std::make_move_iterator(sub->queue.begin()),
                 std::make_move_iterator(sub->queue.begin() + n));
    sub->queue.erase(sub->queue.begin(), sub->queue.begin() + n);
  }
  uint64_t expired = 0;
  uint64_t called = 0;
  int64_t took = 0;
  {
    HandlerGate::Pass pass(&state->gate);
    if (!pass) {  // stopped: no callback runs any more
      MutexLock lock(&sub->mu);
      EndRun(state, sub, /*stopped=*/true);
      return;
    }
    const absl::Time now = state->Now();
    const int64_t start = MonotonicNanos();
    for (const std::shared_ptr<const PendingMessage>& pending : batch) {
      if (now < pending->deadline) {
        sub->callback(pending->message);
        ++called;
      } else {
        ++expired;
      }
    }
    took = MonotonicNanos() - start;
  }
  if (expired > 0) {
    MutexLock lock(&state->mu);
    state->counters.expired_undelivered += expired;
  }
  MutexLock lock(&sub->mu);
  if (called > 0) sub->TookOnAverage(took, called);
  EndRun(state, sub, /*stopped=*/false);
}

}  // namespace

void RunInline(const std::shared_ptr<State>& state, InlineCalls& calls) {
  if (calls.empty()) return;
  HandlerGate::Pass pass(&state->gate);
  for (Inline& call : calls) {
    Subscription& sub = *call.sub;
    int64_t took = -1;
    if (pass) {
      const int64_t start = MonotonicNanos();
      sub.callback(call.message->message);
      took = MonotonicNanos() - start;
    }
    MutexLock lock(&sub.mu);
    if (took >= 0) sub.Took(took);
    EndRun(state, call.sub, /*stopped=*/!pass);
  }
}

void Post(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub,
          std::shared_ptr<const PendingMessage> message, InlineCalls* inline_calls) {
  State& s = *state;
  const bool local = message->message.publisher_id == s.self_id;
  {
    MutexLock lock(&sub->mu);
    if (inline_calls != nullptr && !sub->running && sub->quick()) {
      sub->running = true;
      inline_calls->push_back({sub, std::move(message)});
      ++s.counters.delivered_inline;
    } else if (sub->queue.size() >= s.options.max_pending_per_subscription) {
      ++s.counters.slow_subscriber_drops;
      return;
    } else {
      sub->queue.push_back(std::move(message));
      if (!sub->running) {
        sub->running = true;
        PostDrain(state, sub);
      }
    }
  }
  ++s.counters.delivered;
  if (local) ++s.counters.delivered_locally;
}

}  // namespace glue::topics::internal
