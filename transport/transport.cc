#include "glue/transport/transport.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/random/distributions.h"
#include "absl/strings/str_cat.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/serialization/codec.h"
#include "transport/transport_state.h"

namespace glue::transport {
namespace internal {
namespace {

using discovery::Peer;

// Done is a reliable send's end, reported after the lock is released.
struct Done {
  uint64_t peer_id;
  uint64_t token;
  SendOutcome outcome;
};

// Reports gathers what a handler reports once it has released the lock.
struct Reports {
  std::vector<Delivery> deliveries;  // all from one peer, the handler's
  std::vector<Done> done;
  std::vector<uint64_t> tokens;  // scratch

  void TakeTokens(uint64_t peer_id, SendOutcome outcome) {
    for (uint64_t token : tokens) done.push_back({peer_id, token, outcome});
    tokens.clear();
  }
};

// Add adds every count of `c` to `into` (not the RTT, which does not add up).
void Add(const SessionCounters& c, SessionCounters* into) {
  into->reliable_queued += c.reliable_queued;
  into->best_effort_queued += c.best_effort_queued;
  into->best_effort_dropped_queue += c.best_effort_dropped_queue;
  into->data_sent += c.data_sent;
  into->data_resent += c.data_resent;
  into->fast_retransmits += c.fast_retransmits;
  into->timeouts += c.timeouts;
  into->acks_sent += c.acks_sent;
  into->delivered += c.delivered;
  into->duplicates += c.duplicates;
  into->best_effort_lost += c.best_effort_lost;
  into->reorder_dropped += c.reorder_dropped;
  into->expired += c.expired;
  into->skips_sent += c.skips_sent;
  into->skipped += c.skipped;
  into->invalid_frames += c.invalid_frames;
  into->acked += c.acked;
  into->unknown_acks += c.unknown_acks;
  into->beyond_window += c.beyond_window;
}

}  // namespace

namespace {

// A challenge to a peer is asked again, and a peer's is echoed again, at most this
// often while datagrams keep coming; every datagram to the peer carries ours anyway.
constexpr absl::Duration kChallengeRetry = absl::Milliseconds(10);

// NewChallenge returns a random number other than 0.
uint64_t NewChallenge(TransportState& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  uint64_t nonce = 0;
  while (nonce == 0) nonce = absl::Uniform<uint64_t>(s.random);
  return nonce;
}

void Flush(const std::shared_ptr<TransportState>& state);

// Reschedule files the session under its next deadline.
void Reschedule(TransportState& s, PeerSession& ps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const std::optional<absl::Time> next = ps.session->NextDeadline();
  if (next == ps.scheduled) return;
  if (ps.scheduled) s.deadlines.erase({*ps.scheduled, ps.peer.id});
  ps.scheduled = next;
  if (next) s.deadlines.insert({*next, ps.peer.id});
}

// ClaimFlush says whether the caller is to post a flush (PostClaimedFlush): whether
// none is posted yet.
bool ClaimFlush(TransportState& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (s.flush_posted) return false;
  s.flush_posted = true;
  return true;
}

// PostClaimedFlush posts the flush ClaimFlush gave the caller; with or without the
// lock (posting may wake the strand's thread, a system call: Send does it unlocked).
void PostClaimedFlush(const std::shared_ptr<TransportState>& state) {
  boost::asio::post(state->strand, [state] { Flush(state); });
}

void PostFlush(const std::shared_ptr<TransportState>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  if (ClaimFlush(*state)) PostClaimedFlush(state);
}

// The transport whose handler the calling thread runs, if any: a Send made there is
// flushed as the handler ends (FinishHandler); one made anywhere else, other handlers
// posted to the strand by the layers above included, posts a flush of its own.
thread_local const TransportState* running_handler = nullptr;

class HandlerScope {
 public:
  explicit HandlerScope(const TransportState* state)
      : previous_(std::exchange(running_handler, state)) {}
  ~HandlerScope() { running_handler = previous_; }
  HandlerScope(const HandlerScope&) = delete;
  HandlerScope& operator=(const HandlerScope&) = delete;

 private:
  const TransportState* previous_;
};

// ArmAlarm makes the strand wake for the earliest deadline. On the strand only.
void ArmAlarm(const std::shared_ptr<TransportState>& state, absl::Time now)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  TransportState& s = *state;
  if (s.deadlines.empty()) return;  // an alarm still armed wakes to nothing due
  const absl::Time first = s.deadlines.begin()->first;
  if (first <= now) {
    PostFlush(state);
    return;
  }
  // An alarm armed for earlier stays: it wakes to nothing due and is armed again
  // then. Deadlines move later with every acknowledgement, and re-arming a timer is a
  // system call or two.
  if (s.alarm_at && *s.alarm_at <= first) return;
  s.alarm_at = first;
  s.alarm->Set(first);
}

void OnAlarm(const std::shared_ptr<TransportState>& state) {
  {
    MutexLock lock(&state->mu);
    state->alarm_at.reset();  // nothing is armed now
  }
  Flush(state);
}

// SendBatch encodes what the handler's Transmit calls took, and sends it.
void SendBatch(TransportState& s) ABSL_LOCKS_EXCLUDED(s.mu, s.send_mu) {
  MutexLock lock(&s.send_mu);
  for (size_t i = 0; i < s.transmission_count; ++i) {
    TransportState::Transmission& t = s.transmissions[i];
    // Create checked that the header, the largest ack and the largest payload fit; an
    // error here is a bug, and the frames are left to be resent.
    if (absl::Status status = PackFrames(t.header, t.to, t.out, s.encoder, *s.batch);
        !status.ok()) {
      GLUE_LOG(kError, "transport: cannot encode for peer %d: %s", t.peer_id,
               status.ToString());
    }
  }
  s.transmission_count = 0;
  s.batch->Send();
}

// Transmit takes s.out, what one session's Poll gave, for SendBatch to encode.
void Transmit(TransportState& s, PeerSession& ps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (s.out.data.empty() && !s.out.ack) return;
  MutexLock send_lock(&s.send_mu);
  if (s.transmission_count == s.transmissions.size()) s.transmissions.emplace_back();
  TransportState::Transmission& t = s.transmissions[s.transmission_count++];
  t.peer_id = ps.peer.id;
  t.to = ps.peer.data_address;
  t.header = s.header;
  t.header.session = ps.number;
  t.header.peer_session = ps.peer_number;
  t.header.session_challenge = ps.challenge;
  t.header.session_echo = ps.echo_owed;
  std::swap(t.out, s.out);  // s.out keeps the vectors' room; Poll clears them
  size_t meta_bytes = 0;
  for (const serialization::DataFrame& frame : t.out.data)
    meta_bytes += frame.meta.size();
  t.meta.resize(meta_bytes);
  size_t at = 0;
  for (serialization::DataFrame& frame : t.out.data) {
    if (frame.meta.empty()) continue;
    std::memcpy(t.meta.data() + at, frame.meta.data(), frame.meta.size());
    frame.meta = absl::MakeConstSpan(t.meta.data() + at, frame.meta.size());
    at += frame.meta.size();
  }
  ps.echo_owed = 0;  // echoed once; a peer that missed it asks again
}

// Service does what is due in one session at `now`: expiries, then sending.
void Service(TransportState& s, PeerSession& ps, absl::Time now, Reports* reports)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  ps.session->Expire(now, &reports->tokens);
  if (!reports->tokens.empty()) s.mu.NotifyAll();  // room for a waiting Send
  reports->TakeTokens(ps.peer.id, SendOutcome::kExpired);
  ps.session->Poll(now, &s.out);
  Transmit(s, ps);
  Reschedule(s, ps);
}

// Report runs the callbacks for what a handler gathered, without the lock.
void Report(const TransportState& s, const Peer* from, Reports& reports) {
  if (s.listener == nullptr) return;
  for (Delivery& delivery : reports.deliveries) {
    s.listener->OnMessage(*from, std::move(delivery));
  }
  {
    // One call per run of the same peer and outcome: an ack settles many at once.
    std::vector<uint64_t>& tokens = reports.tokens;
    for (size_t i = 0; i < reports.done.size();) {
      const Done& first = reports.done[i];
      tokens.clear();
      for (; i < reports.done.size() && reports.done[i].peer_id == first.peer_id &&
             reports.done[i].outcome == first.outcome;
           ++i) {
        tokens.push_back(reports.done[i].token);
      }
      s.listener->OnSendDone(first.peer_id, tokens, first.outcome);
    }
  }
}

// FlushOnce services every session whose deadline has come. On the strand.
void FlushOnce(const std::shared_ptr<TransportState>& state) {
  TransportState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  Reports reports;
  {
    MutexLock lock(&s.mu);
    s.flush_posted = false;
    if (s.stopped) return;
    const absl::Time now = s.Now();
    s.due.clear();
    for (auto it = s.deadlines.begin(); it != s.deadlines.end() && it->first <= now;
         ++it) {
      s.due.push_back(it->second);
    }
    for (uint64_t id : s.due) {
      auto found = s.sessions.find(id);
      if (found != s.sessions.end()) Service(s, *found->second, now, &reports);
    }
    if (!reports.done.empty()) s.mu.NotifyAll();
    ArmAlarm(state, now);
  }
  SendBatch(s);
  Report(s, nullptr, reports);
}

// FinishHandler ends every handler on the strand that runs callbacks: it flushes what
// they sent (see flush_on_exit), and what the callbacks of that flush sent in turn.
void FinishHandler(const std::shared_ptr<TransportState>& state) {
  while (state->flush_on_exit.exchange(false, std::memory_order_relaxed)) {
    FlushOnce(state);
  }
}

void Flush(const std::shared_ptr<TransportState>& state) {
  HandlerScope scope(state.get());
  FlushOnce(state);
  FinishHandler(state);
}

// Close closes a session and reports what it held as released.
void Close(TransportState& s, PeerSession& ps, Reports* reports)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  ps.session->Close(&reports->tokens);
  reports->TakeTokens(ps.peer.id, SendOutcome::kReleased);
  Add(ps.session->counters(), &s.removed);
  s.mu.NotifyAll();  // a waiting Send sees the change
}

void OnAdded(const std::shared_ptr<TransportState>& state, const Peer& peer) {
  HandlerScope scope(state.get());
  TransportState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  {
    MutexLock lock(&s.mu);
    if (s.stopped) return;
    auto& ps = s.sessions[peer.id];
    ps = std::make_unique<PeerSession>(peer, s.options.session);
    ++s.counters.peers_added;
    // An empty ack tells the peer our session's number at once: one that still talks
    // to an older session of ours (it did not remove us) restarts now, not on the
    // first datagram it sends, whose messages would be released. It challenges the
    // peer too, whose echo proves the first number we take from it.
    const absl::Time now = s.Now();
    ps->Challenge(NewChallenge(s));
    ps->challenged_at = now;
    ++s.counters.challenges_sent;
    ps->session->RequestAck(now);
    Reschedule(s, *ps);
    ArmAlarm(state, now);
  }
  if (s.listener) s.listener->OnPeerAdded(peer);
  FinishHandler(state);
}

void OnRemoved(const std::shared_ptr<TransportState>& state, const Peer& peer,
               discovery::RemovalReason reason) {
  HandlerScope scope(state.get());
  TransportState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  Reports reports;
  {
    MutexLock lock(&s.mu);
    auto found = s.sessions.find(peer.id);
    if (found == s.sessions.end()) return;
    PeerSession& ps = *found->second;
    Close(s, ps, &reports);
    if (ps.scheduled) s.deadlines.erase({*ps.scheduled, peer.id});
    s.sessions.erase(found);
    ++s.counters.peers_removed;
  }
  Report(s, nullptr, reports);
  if (s.listener) s.listener->OnPeerRemoved(peer, reason);
  FinishHandler(state);
}

// AcceptSession checks the session numbers of a datagram of frames from ps.peer,
// restarting our session when the peer started a new one, and says whether its
// frames belong to our session.
bool AcceptSession(TransportState& s, PeerSession& ps,
                   const serialization::Header& header, absl::Time now, Reports* reports)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  // The peer's challenge is echoed whatever becomes of the datagram: at once when it
  // is new, and otherwise at most once per kChallengeRetry, so that a flood of forged
  // challenges draws no flood of acks.
  if (header.session_challenge != 0 && (header.session_challenge != ps.echo_owed ||
                                        now - ps.echo_asked_at >= kChallengeRetry)) {
    ps.echo_owed = header.session_challenge;
    ps.echo_asked_at = now;
    ps.session->RequestAck(now);
  }
  switch (ps.HearPeerNumber(header.session, header.session_echo)) {
    case PeerNumber::kStale:
      ++s.counters.stale_datagrams;  // no session number
      return false;
    case PeerNumber::kUnverified:
      // Another number than the peer's: a datagram of an older session still on its
      // way, a restart of the peer's, or a forgery. Only the peer's echo tells which.
      ++s.counters.unverified_datagrams;
      if (ps.Challenge(NewChallenge(s)) || now - ps.challenged_at >= kChallengeRetry) {
        ps.challenged_at = now;
        ++s.counters.challenges_sent;
        ps.session->RequestAck(now);
      }
      if (const uint64_t n = s.unverified_log.Admit(now)) {
        GLUE_LOG(kInfo,
                 "transport: %d datagram(s) under the name of %s (id %d) with a session "
                 "number not proven (e.g. %d, not %d): dropped, the peer challenged",
                 n, ps.peer.name, ps.peer.id, header.session, ps.peer_number);
      }
      return false;
    case PeerNumber::kRestarted:
      if (const uint64_t n = s.restarts_log.Admit(now)) {
        GLUE_LOG(kInfo,
                 "transport: %s (id %d) started a new session; restarting ours (%d "
                 "sessions restarted since the last such line)",
                 ps.peer.name, ps.peer.id, n);
      }
      Close(s, ps, reports);
      ps.session.emplace(s.options.session);
      ++s.counters.session_restarts;
      break;
    case PeerNumber::kCurrent:
      break;
  }
  // Otherwise the peer speaks to a session of ours that ended: our ack tells it our
  // number.
  if (!ps.ForThisSession(header.peer_session)) {
    ++s.counters.stale_datagrams;
    ps.session->RequestAck(now);
    return false;
  }
  return true;
}

bool OnFrames(const std::shared_ptr<TransportState>& state, const Peer& peer,
              const serialization::DecodedDatagram& datagram) {
  HandlerScope scope(state.get());
  TransportState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return false;
  Reports reports;
  bool alive = false;
  {
    MutexLock lock(&s.mu);
    auto found = s.sessions.find(peer.id);
    if (s.stopped || found == s.sessions.end()) return false;
    PeerSession& ps = *found->second;
    const absl::Time now = s.Now();
    if (AcceptSession(s, ps, datagram.header, now, &reports)) {
      // The peer named our session's number, which only reaches its address.
      alive = datagram.header.peer_session == ps.number;
      for (const serialization::Frame& frame : datagram.frames) {
        if (const auto* data = std::get_if<serialization::DataFrame>(&frame)) {
          ps.session->OnData(*data, now, &reports.deliveries);
        } else {
          ps.session->OnAck(std::get<serialization::AckFrame>(frame), now,
                            &reports.tokens);
        }
      }
      for (Delivery& delivery : reports.deliveries)
        delivery.peer_session = ps.peer_number;
    }
    if (!reports.tokens.empty()) {
      reports.TakeTokens(peer.id, SendOutcome::kAcknowledged);
      s.mu.NotifyAll();
    }
    // An ack owed at once (a duplicate, a gap) goes now; a delayed one by the timer.
    const std::optional<absl::Time> next = ps.session->NextDeadline();
    if (next && *next <= now) {
      Service(s, ps, now, &reports);
    } else {
      Reschedule(s, ps);
    }
    ArmAlarm(state, now);
  }
  SendBatch(s);
  Report(s, &peer, reports);
  FinishHandler(state);
  return alive;
}

// BodyRoom returns the largest body a data frame with `meta_bytes` of meta may carry
// in `room` bytes, whatever its sequence number and flags, or 0 when not even an empty
// one fits.
size_t BodyRoom(size_t room, size_t meta_bytes) {
  constexpr uint64_t kLargestSequence = std::numeric_limits<uint64_t>::max();
  constexpr uint32_t kAllFlags = kFlagReliable | kFlagOrdered | kFlagSkip;
  auto size = [&](size_t body) {
    return serialization::DatagramEncoder::EncodedDataFrameSize(
        body, meta_bytes, kLargestSequence, kAllFlags);
  };
  if (size(0) > room) return 0;
  // The frame's overhead only shrinks with the body (its length prefixes), so room
  // less the overhead of a body of `room` bytes fits; at most a byte or two more may.
  // Send calls this for every payload with meta: a few steps, not one per byte.
  const size_t overhead = size(room) - room;
  size_t body = room > overhead ? room - overhead : 0;
  while (size(body + 1) <= room) ++body;
  return body;
}

}  // namespace

// Discovery calls the state as its listener; the handlers above take the state
// shared, as the alarm's and posted ones do.
void TransportState::OnPeerAdded(const Peer& peer) { OnAdded(shared_from_this(), peer); }

void TransportState::OnPeerRemoved(const Peer& peer, discovery::RemovalReason reason) {
  OnRemoved(shared_from_this(), peer, reason);
}

bool TransportState::OnFrames(const Peer& from,
                              const serialization::DecodedDatagram& datagram) {
  return internal::OnFrames(shared_from_this(), from, datagram);
}

}  // namespace internal

using internal::TransportState;

size_t DatagramBytesForMtu(size_t mtu) {
  constexpr size_t kHeaders = 48;  // IPv6 (40) and UDP (8)
  if (mtu == 0) return TransportOptions().max_datagram_bytes;
  return std::clamp(mtu > kHeaders ? mtu - kHeaders : 0, kMinDatagramBytes,
                    kMaxDefaultDatagramBytes);
}

std::string_view SendOutcomeName(SendOutcome outcome) {
  switch (outcome) {
    case SendOutcome::kAcknowledged:
      return "acknowledged";
    case SendOutcome::kExpired:
      return "expired";
    case SendOutcome::kReleased:
      return "released";
  }
  return "unknown";
}

absl::StatusOr<TransportOptions> OptionsFromEnvironment(const EnvironmentLookup& env) {
  TransportOptions options;
  GLUE_ASSIGN_OR_RETURN(const uint64_t mtu,
                        GetUint64(env, kMtuVariable, options.max_datagram_bytes,
                                  kMinDatagramBytes, kMaxDatagramBytes));
  options.max_datagram_bytes = mtu;
  return options;
}

absl::StatusOr<std::unique_ptr<Transport>> Transport::Create(
    discovery::Discovery& discovery, TransportOptions options) {
  GLUE_RETURN_IF_ERROR(Session::Validate(options.session));
  // Discovery's announcements need the lower bound; UDP over IPv4 sets the upper.
  if (options.max_datagram_bytes < kMinDatagramBytes ||
      options.max_datagram_bytes > kMaxDatagramBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("TransportOptions.max_datagram_bytes=", options.max_datagram_bytes,
                     " is outside ", kMinDatagramBytes, "..", kMaxDatagramBytes));
  }
  GLUE_ASSIGN_OR_RETURN(
      serialization::DatagramEncoder encoder,
      serialization::DatagramEncoder::Create(options.max_datagram_bytes));
  auto state =
      std::make_shared<TransportState>(discovery, std::move(options), std::move(encoder));
  TransportState& s = *state;
  s.header = discovery.header();

  MutexLock lock(&s.mu);
  s.alarm = s.clock.CreateAlarm(s.strand, [weak = std::weak_ptr<TransportState>(state)] {
    if (auto state = weak.lock()) internal::OnAlarm(state);
  });
  // Room for a payload next to the largest header: with both session numbers, a
  // challenge and an echo.
  serialization::Header largest = s.header;
  largest.session = largest.peer_session = largest.session_challenge =
      largest.session_echo = std::numeric_limits<uint64_t>::max();
  {
    MutexLock send_lock(&s.send_mu);
    if (absl::Status begun = s.encoder.BeginFrames(largest); !begun.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "TransportOptions.max_datagram_bytes=", s.options.max_datagram_bytes,
          " leaves no room for frames: ", begun.message()));
    }
    s.room = s.encoder.remaining();
    s.batch.emplace(s.options.max_datagram_bytes,
                    [discovery = &s.discovery](
                        absl::Span<const network::OutgoingDatagram> datagrams) {
                      return discovery->SendBatch(datagrams);
                    });
  }
  const size_t room = s.room;
  s.max_payload = internal::BodyRoom(room, 0);
  if (s.max_payload == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TransportOptions.max_datagram_bytes=", s.options.max_datagram_bytes, " leaves ",
        room, " bytes after the header, too few for any payload"));
  }
  return std::unique_ptr<Transport>(new Transport(std::move(state)));
}

Transport::Transport(std::shared_ptr<internal::TransportState> state)
    : state_(std::move(state)) {}

Transport::~Transport() { Stop(); }

absl::Status Transport::Start(Listener* listener) {
  TransportState& s = *state_;
  {
    MutexLock lock(&s.mu);
    if (s.started || s.stopped) {
      return absl::FailedPreconditionError(s.stopped ? "transport stopped"
                                                     : "transport already started");
    }
  }
  s.listener = listener;
  GLUE_RETURN_IF_ERROR(s.discovery.Start(state_.get()));
  MutexLock lock(&s.mu);
  s.started = true;
  return absl::OkStatus();
}

void Transport::Stop() {
  TransportState& s = *state_;
  if (s.gate.closed()) return;
  // No transport handler runs after this, neither ours nor discovery's calls into
  // us, so the alarm is ours to cancel.
  s.gate.Close();
  s.discovery.Stop();
  internal::Reports reports;
  {
    MutexLock lock(&s.mu);
    s.stopped = true;
    for (auto& [id, ps] : s.sessions) internal::Close(s, *ps, &reports);
    s.sessions.clear();
    s.deadlines.clear();
    s.mu.NotifyAll();
    s.alarm->Cancel();
  }
  internal::Report(s, nullptr, reports);
}

absl::Status Transport::Send(uint64_t peer_id, Payload payload,
                             const SendOptions& options) {
  TransportState& s = *state_;
  if (const size_t largest = max_body_bytes(payload.meta.size());
      payload.body.size() > largest) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a payload of ", payload.body.size(), " bytes (with ", payload.meta.size(),
        " bytes of meta) exceeds the largest one datagram of ",
        s.options.max_datagram_bytes, " bytes carries, ", largest, " bytes"));
  }
  if (options.ordered && !options.reliable) {
    return absl::InvalidArgumentError("ordered delivery needs reliable delivery");
  }
  // Under the lock; the flush, if this Send is to post one, after it.
  auto enqueue = [&]() -> absl::StatusOr<bool> {
    MutexLock lock(&s.mu);
    if (!s.started || s.stopped) {
      return absl::FailedPreconditionError(s.stopped ? "transport stopped"
                                                     : "transport not started");
    }
    auto find = [&s, peer_id]()
                    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) -> internal::PeerSession* {
      auto found = s.sessions.find(peer_id);
      return found == s.sessions.end() ? nullptr : found->second.get();
    };
    internal::PeerSession* ps = find();
    if (ps == nullptr) {
      return absl::NotFoundError(absl::StrCat("no peer with endpoint id ", peer_id));
    }
    if (!options.reliable) {
      ps->session->SendBestEffort(std::move(payload));
    } else {
      if (!ps->session->HasRoomFor(payload.size()) &&
          options.wait_until > absl::InfinitePast() &&
          !s.strand.running_in_this_thread()) {
        ++s.counters.waited;
        const size_t bytes = payload.size();
        s.clock.AwaitUntil(
            &s.mu,
            [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
              ps = find();
              return s.stopped || ps == nullptr || ps->session->HasRoomFor(bytes);
            },
            options.wait_until);
        if (s.stopped) return absl::FailedPreconditionError("transport stopped");
        if (ps == nullptr) {
          return absl::NotFoundError(
              absl::StrCat("peer ", peer_id, " removed while the send waited for room"));
        }
      }
      absl::StatusOr<uint64_t> sequence = ps->session->SendReliable(
          std::move(payload), options.expiry, options.ordered, options.token);
      if (!sequence.ok()) {
        if (absl::IsResourceExhausted(sequence.status())) ++s.counters.refused_full;
        return sequence.status();
      }
    }
    // A frame to send makes the session due now: filed so already, it stays.
    if (ps->scheduled != absl::InfinitePast()) internal::Reschedule(s, *ps);
    if (internal::running_handler == &s) {
      s.flush_on_exit.store(true, std::memory_order_relaxed);
      return false;
    }
    return internal::ClaimFlush(s);
  };
  GLUE_ASSIGN_OR_RETURN(const bool post, enqueue());
  if (post) internal::PostClaimedFlush(state_);
  return absl::OkStatus();
}

absl::Status Transport::SendToName(std::string_view name, Payload payload,
                                   const SendOptions& options) {
  for (const discovery::Peer& peer : state_->discovery.peers()) {
    if (peer.name == name) return Send(peer.id, std::move(payload), options);
  }
  return absl::NotFoundError(
      absl::StrCat("no peer named '", absl::string_view(name.data(), name.size()), "'"));
}

size_t Transport::max_datagram_bytes() const {
  return state_->options.max_datagram_bytes;
}

size_t Transport::max_payload_bytes() const { return state_->max_payload; }

bool Transport::in_handler() const { return state_->strand.running_in_this_thread(); }

size_t Transport::max_body_bytes(size_t meta_bytes) const {
  return meta_bytes == 0 ? state_->max_payload
                         : internal::BodyRoom(state_->room, meta_bytes);
}

std::vector<discovery::Peer> Transport::peers() const {
  return state_->discovery.peers();
}

std::optional<PeerCounters> Transport::peer_counters(uint64_t peer_id) const {
  TransportState& s = *state_;
  MutexLock lock(&s.mu);
  auto found = s.sessions.find(peer_id);
  if (found == s.sessions.end()) return std::nullopt;
  const internal::PeerSession& ps = *found->second;
  return PeerCounters{.peer_id = peer_id,
                      .peer_name = ps.peer.name,
                      .session = ps.session->counters(),
                      .bytes_held = ps.session->bytes_held(),
                      .bytes_unacknowledged = ps.session->unacknowledged_bytes()};
}

TransportCounters Transport::counters() const {
  TransportState& s = *state_;
  TransportCounters c;
  {
    MutexLock lock(&s.mu);
    c = s.counters;
    c.sessions = s.removed;
    for (const auto& [id, ps] : s.sessions) {
      internal::Add(ps->session->counters(), &c.sessions);
      c.bytes_held += ps->session->bytes_held();
      c.bytes_unacknowledged += ps->session->unacknowledged_bytes();
    }
  }
  {
    MutexLock lock(&s.send_mu);
    c.datagrams_sent = s.batch->datagrams_sent();
    c.send_failures = s.batch->send_failures();
  }
  c.discovery = s.discovery.counters();
  return c;
}

const discovery::Strand& Transport::strand() const { return state_->strand; }

Clock& Transport::clock() const { return state_->clock; }

}  // namespace glue::transport
