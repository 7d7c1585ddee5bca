#include "glue/fragmentation/message_transport.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <limits>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "fragmentation/message_transport_state.h"
#include "fragmentation/send_queue.h"
#include "glue/base/block_pool.h"
#include "glue/base/crc32c.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/fragmentation/splitter.h"

namespace glue::fragmentation {
namespace internal {
namespace {

using transport::SendOutcome;
using State = MessageTransportState;

void AddReassembly(const ReassemblerCounters& c, ReassemblerCounters* into) {
  into->fragments += c.fragments;
  into->completed += c.completed;
  into->duplicates += c.duplicates;
  into->late += c.late;
  into->rejected += c.rejected;
  into->checksum_mismatches += c.checksum_mismatches;
  into->expired += c.expired;
  into->dropped_peer_cap += c.dropped_peer_cap;
  into->dropped_total_cap += c.dropped_total_cap;
  into->time_to_live_clamped += c.time_to_live_clamped;
}

PeerState& FindOrAddPeer(State& s, uint64_t peer_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  std::unique_ptr<PeerState>& ps = s.peers[peer_id];
  if (ps == nullptr) ps = std::make_unique<PeerState>(s.options.reassembly, &s.budget);
  return *ps;
}

// RetireReassembler keeps the counters of the peer's reassembler, which is about to
// go, and counts the incomplete messages it holds as abandoned.
void RetireReassembler(State& s, const PeerState& ps)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  AddReassembly(ps.reassembler->counters(), &s.removed_reassembly);
  s.counters.reassembly_abandoned += ps.reassembler->messages_held();
}

// ArmAlarm sets the alarm for s.alarm_at. On the strand.
void ArmAlarm(const std::shared_ptr<State>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  State& s = *state;
  if (s.alarm_at) s.alarm->Set(*s.alarm_at);
}

// NoteDeadline makes the alarm wake by `deadline` (from any thread).
void NoteDeadline(const std::shared_ptr<State>& state, std::optional<absl::Time> deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  State& s = *state;
  if (!deadline || (s.alarm_at && *s.alarm_at <= *deadline)) return;
  s.alarm_at = deadline;
  boost::asio::post(s.strand, [state] {
    HandlerGate::Pass pass(&state->gate);
    if (!pass) return;
    MutexLock lock(&state->mu);
    ArmAlarm(state);
  });
}

// OnAlarm drops the incomplete messages whose time to live is over. On the strand.
void OnAlarm(const std::shared_ptr<State>& state) {
  HandlerGate::Pass pass(&state->gate);
  if (!pass) return;
  State& s = *state;
  MutexLock lock(&s.mu);
  const absl::Time now = s.Now();
  s.alarm_at.reset();
  std::optional<absl::Time> next;
  for (auto& [id, ps] : s.peers) {
    ps->reassembler->Expire(now);
    const std::optional<absl::Time> deadline = ps->reassembler->NextDeadline();
    if (deadline && (!next || *deadline < *next)) next = deadline;
  }
  s.alarm_at = next;
  ArmAlarm(state);
}

// The transport's callbacks; on its strand. `s` lives as long as the transport.

void OnPeerAdded(State& s, const discovery::Peer& peer) {
  {
    MutexLock lock(&s.mu);
    FindOrAddPeer(s, peer.id);
  }
  if (s.listener) s.listener->OnPeerAdded(peer);
}

void OnPeerRemoved(State& s, const discovery::Peer& peer,
                   discovery::RemovalReason reason) {
  std::vector<Done> done;
  {
    MutexLock lock(&s.mu);
    auto found = s.peers.find(peer.id);
    if (found != s.peers.end()) {
      ReleaseAll(s, peer.id, *found->second, &done);
      RetireReassembler(s, *found->second);
      s.peers.erase(found);
    }
  }
  RunDone(s, done);
  if (s.listener) s.listener->OnPeerRemoved(peer, reason);
}

void OnMessage(const std::shared_ptr<State>& state, const discovery::Peer& from,
               transport::Delivery delivery) {
  State& s = *state;
  if (delivery.meta.empty()) {  // a whole message: nothing here to lock for
    s.received_whole.fetch_add(1, std::memory_order_relaxed);
    if (s.listener) {
      s.listener->OnMessage(from, delivery.peer_session, std::move(delivery.payload));
    }
    return;
  }
  std::optional<std::vector<uint8_t>> message;
  {
    MutexLock lock(&s.mu);
    // A hostile header costs a count, not an allocation.
    const std::optional<FragmentHeader> header =
        ParseFragmentHeader(delivery.meta, s.options.max_message_bytes);
    if (!header) {
      ++s.counters.malformed_headers;
      return;
    }
    PeerState& ps = FindOrAddPeer(s, from.id);
    if (delivery.peer_session != ps.peer_session) {
      if (ps.peer_session != 0) {
        RetireReassembler(s, ps);
        ps.reassembler.emplace(s.options.reassembly, &s.budget);
      }
      ps.peer_session = delivery.peer_session;
    }
    Reassembler::Outcome outcome =
        ps.reassembler->OnFragment(*header, delivery.payload, s.Now(),
                                   (delivery.flags & transport::kFlagReliable) != 0);
    if (outcome.result == Reassembler::Result::kCompleted) {
      ++s.counters.received_reassembled;
      message = std::move(outcome.message);
    }
    NoteDeadline(state, ps.reassembler->NextDeadline());
  }
  if (message && s.listener) {
    s.listener->OnMessage(from, delivery.peer_session, *std::move(message));
  }
}

void OnSendDone(State& s, uint64_t peer_id, absl::Span<const uint64_t> keys,
                SendOutcome outcome) {
  std::vector<Done> done;
  {
    MutexLock lock(&s.mu);
    auto peer = s.peers.find(peer_id);
    if (peer == s.peers.end()) return;  // released when the peer was removed
    PeerState& ps = *peer->second;
    for (uint64_t key : keys) {
      if (key == kUntracked) {
        Count(s, outcome);
        continue;
      }
      auto found = ps.pending.find(key);
      if (found == ps.pending.end()) continue;
      OutMessage& m = *found->second;
      --m.outstanding;
      if (outcome != SendOutcome::kAcknowledged) {
        Report(s, peer_id, m, outcome, &done);
        Withdraw(s, ps, m);
      } else if (m.outstanding == 0 && m.next == m.plan.count) {
        Report(s, peer_id, m, outcome, &done);
      }
      Settle(ps, m);  // may free m
    }
    Pump(s, peer_id, ps, &done);
  }
  RunDone(s, done);
}

absl::Status ValidateOptions(const MessageTransportOptions& options) {
  if (options.max_message_bytes < 1 || options.max_message_bytes > kMaxMaxMessageBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_message_bytes = ", options.max_message_bytes, ": must be 1 to ",
                     kMaxMaxMessageBytes));
  }
  if (options.max_queued_messages == 0) {
    return absl::InvalidArgumentError("max_queued_messages = 0: must be at least 1");
  }
  if (options.max_queued_bytes < options.max_message_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_queued_bytes = ", options.max_queued_bytes,
        ": must be at least max_message_bytes = ", options.max_message_bytes));
  }
  return Reassembler::Validate(options.reassembly);
}

}  // namespace

// The transport's calls, through the state as its listener.
void MessageTransportState::OnPeerAdded(const discovery::Peer& peer) {
  internal::OnPeerAdded(*this, peer);
}

void MessageTransportState::OnPeerRemoved(const discovery::Peer& peer,
                                          discovery::RemovalReason reason) {
  internal::OnPeerRemoved(*this, peer, reason);
}

void MessageTransportState::OnMessage(const discovery::Peer& from,
                                      transport::Delivery delivery) {
  // The alarm's handlers need the state to outlive them.
  internal::OnMessage(self.lock(), from, std::move(delivery));
}

void MessageTransportState::OnSendDone(uint64_t peer_id, absl::Span<const uint64_t> keys,
                                       transport::SendOutcome outcome) {
  internal::OnSendDone(*this, peer_id, keys, outcome);
}

}  // namespace internal

absl::StatusOr<MessageTransportOptions> OptionsFromEnvironment(
    const EnvironmentLookup& env) {
  MessageTransportOptions options;
  GLUE_ASSIGN_OR_RETURN(options.max_message_bytes,
                        GetUint64(env, "GLUE_MAX_MESSAGE_BYTES",
                                  options.max_message_bytes, 1, kMaxMaxMessageBytes));
  options.max_queued_bytes =
      std::max<size_t>(options.max_queued_bytes, options.max_message_bytes);
  ReassemblerOptions& reassembly = options.reassembly;
  GLUE_ASSIGN_OR_RETURN(const uint64_t max_time_to_live_ms,
                        GetUint64(env, kMaxTimeToLiveVariable,
                                  absl::ToInt64Milliseconds(reassembly.max_time_to_live),
                                  1, kMaxMaxTimeToLiveMilliseconds));
  reassembly.max_time_to_live = absl::Milliseconds(max_time_to_live_ms);
  reassembly.default_time_to_live =
      std::min(reassembly.default_time_to_live, reassembly.max_time_to_live);
  return options;
}

absl::StatusOr<std::unique_ptr<MessageTransport>> MessageTransport::Create(
    transport::Transport& transport, MessageTransportOptions options) {
  GLUE_RETURN_IF_ERROR(internal::ValidateOptions(options));
  options.reassembly.max_message_bytes = options.max_message_bytes;
  auto state =
      std::make_shared<internal::MessageTransportState>(transport, std::move(options));
  {
    MutexLock lock(&state->mu);
    state->alarm = state->clock.CreateAlarm(
        state->strand, [weak = std::weak_ptr<internal::MessageTransportState>(state)] {
          if (auto state = weak.lock()) internal::OnAlarm(state);
        });
  }
  const size_t fragment_room = state->transport->max_body_bytes(kMaxFragmentHeaderBytes);
  const uint64_t most_fragments =
      fragment_room == 0 ? std::numeric_limits<uint64_t>::max()
                         : FragmentCount(state->options.max_message_bytes,
                                         static_cast<uint32_t>(fragment_room));
  if (most_fragments > kMaxFragmentCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_message_bytes = ", state->options.max_message_bytes, " needs ",
        most_fragments, " fragments of ", fragment_room, " bytes (max_datagram_bytes = ",
        state->transport->max_datagram_bytes(), "), more than ", kMaxFragmentCount));
  }
  state->self = state;
  return std::unique_ptr<MessageTransport>(new MessageTransport(std::move(state)));
}

MessageTransport::MessageTransport(std::shared_ptr<internal::MessageTransportState> state)
    : state_(std::move(state)) {}

MessageTransport::~MessageTransport() { Stop(); }

absl::Status MessageTransport::Start(Listener* listener) {
  state_->listener = listener;
  state_->report_done = listener != nullptr && listener->WantsSendDone();
  GLUE_RETURN_IF_ERROR(state_->transport->Start(state_.get()));
  MutexLock lock(&state_->mu);
  state_->started = true;
  return absl::OkStatus();
}

void MessageTransport::Stop() {
  internal::MessageTransportState& s = *state_;
  s.transport->Stop();  // reports what it holds, as released, to OnSendDone
  std::vector<internal::Done> done;
  {
    MutexLock lock(&s.mu);
    if (s.stopped) return;
    s.stopped = true;
    for (auto& [id, ps] : s.peers) internal::ReleaseAll(s, id, *ps, &done);
  }
  internal::RunDone(s, done);
  s.gate.Close();
  MutexLock lock(&s.mu);
  s.alarm->Cancel();
}

absl::Status MessageTransport::Send(uint64_t peer_id,
                                    std::shared_ptr<const std::vector<uint8_t>> message,
                                    const transport::SendOptions& options) {
  const absl::Span<const uint8_t> bytes = *message;
  return Send(peer_id, std::move(message), bytes, options);
}

absl::Status MessageTransport::Send(uint64_t peer_id, std::shared_ptr<const void> owner,
                                    absl::Span<const uint8_t> message,
                                    const transport::SendOptions& options, bool* queued) {
  internal::MessageTransportState& s = *state_;
  if (queued != nullptr) *queued = false;
  const size_t size = message.size();
  if (size > s.options.max_message_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", size,
                     " bytes exceeds max_message_bytes = ", s.options.max_message_bytes));
  }
  if (options.ordered && !options.reliable) {
    return absl::InvalidArgumentError("ordered delivery needs reliable delivery");
  }
  const bool whole = size <= s.transport->max_payload_bytes();
  // A reliable whole message whose end nobody awaits is handed straight to the
  // transport when nothing waits before it: no bookkeeping here, and its report
  // only counts.
  const bool untracked = whole && options.reliable && !s.report_done;
  std::shared_ptr<internal::OutMessage> m;
  auto plan = [&]() -> absl::Status {
    // From the pool: made on the sending thread, freed where the ack is handled.
    m = std::allocate_shared<internal::OutMessage>(PoolAllocator<internal::OutMessage>());
    if (whole) {
      m->plan = {.message_bytes = size,
                 .fragmented = false,
                 .count = 1,
                 .fragment_bytes = static_cast<uint32_t>(size)};
    } else {
      GLUE_ASSIGN_OR_RETURN(
          m->plan, PlanSplit(size, s.transport->max_body_bytes(kMaxFragmentHeaderBytes),
                             s.options.max_message_bytes));
      const absl::Time now = s.Now();
      uint32_t time_to_live_ms = 0;
      if (options.expiry != absl::InfiniteFuture()) {
        const int64_t ms = absl::ToInt64Milliseconds(options.expiry - now);
        time_to_live_ms = static_cast<uint32_t>(
            std::clamp<int64_t>(ms, 1, std::numeric_limits<uint32_t>::max()));
      }
      m->header = {.total_bytes = size,
                   .fragment_bytes = m->plan.fragment_bytes,
                   .checksum = Crc32c(message),
                   .time_to_live_ms = time_to_live_ms};
    }
    m->owner = owner;
    m->bytes = message;
    m->options = options;
    return absl::OkStatus();
  };
  // The checksum is computed without the lock.
  if (!untracked) GLUE_RETURN_IF_ERROR(plan());

  std::vector<internal::Done> done;
  absl::Status status;
  {
    MutexLock lock(&s.mu);
    if (!s.started || s.stopped) {
      return absl::FailedPreconditionError(s.stopped ? "message transport stopped"
                                                     : "message transport not started");
    }
    auto found = s.peers.find(peer_id);
    if (found == s.peers.end()) {
      return absl::NotFoundError(absl::StrCat("no peer with endpoint id ", peer_id));
    }
    internal::PeerState& ps = *found->second;
    if (absl::Status room = internal::QueueRoom(peer_id, ps.queue.size(), ps.bytes_queued,
                                                size, s.options);
        !room.ok()) {
      ++s.counters.refused_queue_full;
      return room;
    }
    if (untracked && ps.queue.empty()) {
      transport::SendOptions direct = options;
      direct.token = internal::kUntracked;
      direct.wait_until = absl::InfinitePast();
      status =
          s.transport->Send(peer_id, transport::Payload::View(owner, message), direct);
      if (status.ok()) {
        ++s.counters.messages_sent;
        ++s.counters.sent_whole;
        return status;
      }
      if (!absl::IsResourceExhausted(status)) return status;
      status = absl::OkStatus();  // the window is full: the message waits its turn
    }
    if (untracked) {
      GLUE_RETURN_IF_ERROR(plan());
      m->key = internal::kUntracked;
    } else {
      m->key = s.next_key++;
    }
    m->header.message_id = ps.next_message_id++;
    ++s.counters.messages_sent;
    ++(m->plan.fragmented ? s.counters.sent_fragmented : s.counters.sent_whole);
    ps.bytes_queued += size;
    s.counters.bytes_queued += size;

    if (!options.reliable) {
      // Nothing reports room for best-effort frames: all go now, and the transport's
      // best-effort queue drops the oldest when it overflows.
      while (status.ok() && m->next < m->plan.count) {
        status = internal::HandNext(s, peer_id, ps, *m);
      }
      internal::Withdraw(s, ps, *m);
      return status;
    }
    if (!untracked) ps.pending.emplace(m->key, m);
    const bool first_in_queue = ps.queue.empty();
    ps.queue.push_back(m);
    if (first_in_queue) {
      // Hand the first frame here, so that the transport's refusal is Send's error.
      status = internal::HandNext(s, peer_id, ps, *m);
      if (!status.ok() && !absl::IsResourceExhausted(status)) {
        internal::Withdraw(s, ps, *m);
        ps.pending.erase(m->key);
        --s.counters.messages_sent;
        return status;
      }
      if (m->next == m->plan.count) ps.queue.pop_front();
      internal::Pump(s, peer_id, ps, &done);
    }
    if (queued != nullptr) *queued = !ps.queue.empty();
  }
  internal::RunDone(s, done);
  return absl::OkStatus();
}

bool MessageTransport::AwaitQueueEmpty(uint64_t peer_id, absl::Time deadline) {
  internal::MessageTransportState& s = *state_;
  const bool wait = !s.transport->in_handler();
  MutexLock lock(&s.mu);
  auto empty = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
    auto found = s.peers.find(peer_id);
    return s.stopped || found == s.peers.end() || found->second->queue.empty();
  };
  return wait ? s.clock.AwaitUntil(&s.mu, empty, deadline) : empty();
}

absl::Status MessageTransport::Send(uint64_t peer_id, std::vector<uint8_t> message,
                                    const transport::SendOptions& options) {
  return Send(peer_id, std::make_shared<const std::vector<uint8_t>>(std::move(message)),
              options);
}

uint64_t MessageTransport::max_message_bytes() const {
  return state_->options.max_message_bytes;
}

MessageTransportCounters MessageTransport::counters() const {
  internal::MessageTransportState& s = *state_;
  MessageTransportCounters c;
  {
    MutexLock lock(&s.mu);
    c = s.counters;
    c.received_whole = s.received_whole.load(std::memory_order_relaxed);
    c.reassembly = s.removed_reassembly;
    for (const auto& [id, ps] : s.peers) {
      internal::AddReassembly(ps->reassembler->counters(), &c.reassembly);
    }
    c.budget = s.budget.counters();
    c.reassembly_bytes_held = s.budget.bytes_held();
  }
  c.transport = s.transport->counters();
  return c;
}

size_t MessageTransport::max_body_bytes(size_t meta_bytes) const {
  return state_->transport->max_body_bytes(meta_bytes);
}

const discovery::Strand& MessageTransport::strand() const { return state_->strand; }

Clock& MessageTransport::clock() const { return state_->clock; }

}  // namespace glue::fragmentation
