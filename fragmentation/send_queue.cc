#include "fragmentation/send_queue.h"

#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glue/base/status_macros.h"

namespace glue::fragmentation::internal {
namespace {

using State = MessageTransportState;
using transport::Payload;
using transport::SendOptions;
using transport::SendOutcome;

// PumpQueue hands the transport the peer's queued frames, in order, until its send
// window is full. A message the transport refuses otherwise is released.
void PumpQueue(State& s, uint64_t peer_id, PeerState& ps, std::vector<Done>* done)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  while (!ps.queue.empty()) {
    const std::shared_ptr<OutMessage> m = ps.queue.front();
    const absl::Status status = HandNext(s, peer_id, ps, *m);
    if (absl::IsResourceExhausted(status)) return;
    if (!status.ok()) {
      // The peer is gone or the transport stopped: no queued message can go. All of
      // them at once, not one erase per message (a queue can hold a million).
      for (const std::shared_ptr<OutMessage>& q : ps.queue) {
        Report(s, peer_id, *q, SendOutcome::kReleased, done);
        q->next = q->plan.count;
        Settle(ps, *q);
      }
      s.counters.bytes_queued -= ps.bytes_queued;
      ps.bytes_queued = 0;
      ps.queue.clear();
      return;
    }
    if (m->next == m->plan.count) ps.queue.pop_front();
  }
}

}  // namespace

absl::Status QueueRoom(uint64_t peer_id, size_t messages, size_t bytes, size_t size,
                       const MessageTransportOptions& options) {
  if (messages >= options.max_queued_messages) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the queue to peer ", peer_id,
        " holds max_queued_messages = ", options.max_queued_messages, " messages"));
  }
  if (bytes + size > options.max_queued_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "message of ", size, " bytes does not fit in the queue to peer ", peer_id, ": ",
        bytes, " of max_queued_bytes = ", options.max_queued_bytes, " bytes held"));
  }
  return absl::OkStatus();
}

void Count(State& s, SendOutcome outcome) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  switch (outcome) {
    case SendOutcome::kAcknowledged:
      ++s.counters.acknowledged;
      break;
    case SendOutcome::kExpired:
      ++s.counters.expired;
      break;
    case SendOutcome::kReleased:
      ++s.counters.released;
      break;
  }
}

void Report(State& s, uint64_t peer_id, OutMessage& m, SendOutcome outcome,
            std::vector<Done>* done) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (m.reported) return;
  m.reported = true;
  Count(s, outcome);
  if (m.key != kUntracked) done->push_back({peer_id, m.options.token, outcome});
}

void Withdraw(State& s, PeerState& ps, OutMessage& m)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (m.next == m.plan.count) return;
  ps.bytes_queued -= m.queued_bytes();
  s.counters.bytes_queued -= m.queued_bytes();
  m.next = m.plan.count;
  if (!ps.queue.empty() && ps.queue.front().get() == &m) ps.queue.pop_front();
}

void Settle(PeerState& ps, const OutMessage& m) {
  if (m.outstanding == 0 && (m.reported || m.next == m.plan.count))
    ps.pending.erase(m.key);
}

absl::Status HandNext(State& s, uint64_t peer_id, PeerState& ps, OutMessage& m)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  Payload payload = Payload::View(m.owner, FragmentPayload(m.bytes, m.plan, m.next));
  if (m.plan.fragmented) {
    FragmentHeader header = m.header;
    header.index = m.next;
    payload.meta.resize(kMaxFragmentHeaderBytes);
    payload.meta.resize(EncodeFragmentHeader(header, absl::MakeSpan(payload.meta)));
  }
  SendOptions options = m.options;
  options.token = m.key;
  options.wait_until = absl::InfinitePast();
  const size_t bytes = payload.body.size();
  GLUE_RETURN_IF_ERROR(s.transport->Send(peer_id, std::move(payload), options));
  ++m.next;
  if (m.options.reliable) ++m.outstanding;
  if (m.plan.fragmented) ++s.counters.fragments_sent;
  ps.bytes_queued -= bytes;
  s.counters.bytes_queued -= bytes;
  return absl::OkStatus();
}
void Pump(State& s, uint64_t peer_id, PeerState& ps, std::vector<Done>* done)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (ps.queue.empty()) return;
  PumpQueue(s, peer_id, ps, done);
  if (ps.queue.empty()) s.mu.NotifyAll();
}

void ReleaseAll(State& s, uint64_t peer_id, PeerState& ps, std::vector<Done>* done)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  for (auto& [key, m] : ps.pending) Report(s, peer_id, *m, SendOutcome::kReleased, done);
  for (const std::shared_ptr<OutMessage>& m : ps.queue) {  // untracked, not pending
    if (m->key == kUntracked) Report(s, peer_id, *m, SendOutcome::kReleased, done);
  }
  s.counters.bytes_queued -= ps.bytes_queued;
  ps.bytes_queued = 0;
  ps.queue.clear();
  ps.pending.clear();
  s.mu.NotifyAll();  // AwaitQueueEmpty
}

void RunDone(const State& s, const std::vector<Done>& done) {
  if (!s.report_done) return;
  for (const Done& d : done) s.listener->OnSendDone(d.peer_id, d.token, d.outcome);
}

}  // namespace glue::fragmentation::internal
