#include "glue/transport/transport.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <cassert>
#include <limits>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "glue/base/handler_gate.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/serialization/codec.h"

namespace glue::transport {
namespace internal {
namespace {

using discovery::Peer;

// A batch of datagrams is sent when it holds this many, or would pass this many
// bytes: the most one system call takes (UIO_MAXIOV), and a bound on the memory.
constexpr size_t kMaxBatchDatagrams = 1024;
constexpr size_t kMaxBatchBytes = 1 << 20;

// NextSessionNumber returns a number larger than any it returned before in this
// process, and than any an earlier process on this host can have returned (it starts
// from the clock, in microseconds), so that a peer can tell a new session of ours
// from an old one even across our restart.
uint64_t NextSessionNumber() {
  static std::atomic<uint64_t> last{0};
  const uint64_t now = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  uint64_t previous = last.load(std::memory_order_relaxed);
  uint64_t next;
  do {
    next = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, next, std::memory_order_relaxed));
  return next;
}

// PeerSession is the session with one peer, and where it stands in the schedule.
//
// Each side numbers its session with the other (number, NextSessionNumber) and puts
// it in every datagram of frames, with the other side's as last heard (peer_number).
// A peer that starts a new session (it removed us and found us again, or restarted)
// sends a larger number: our session restarts too, so that both count from 1 again.
// Datagrams meant for an older session of ours, or from an older one of the peer's,
// are dropped, and an ack tells the peer our number.
struct PeerSession {
  PeerSession(Peer p, const SessionOptions& options)
      : peer(std::move(p)),
        session(std::in_place, options),
        number(NextSessionNumber()) {}

  Peer peer;
  std::optional<Session> session;  // replaced, not reset, when the peer restarts its own
  const uint64_t number;
  uint64_t peer_number = 0;             // 0 until the peer's first datagram of frames
  std::optional<absl::Time> scheduled;  // its key in TransportState::deadlines
};

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

struct TransportState {
  TransportState(const boost::asio::any_io_executor& executor, Transport::Callbacks c,
                 TransportOptions o, serialization::DatagramEncoder e)
      : strand(boost::asio::make_strand(executor)),
        callbacks(std::move(c)),
        options(std::move(o)),
        timer(strand),
        encoder(std::move(e)) {}

  absl::Time Now() const { return options.discovery.now(); }

  const boost::asio::strand<boost::asio::any_io_executor> strand;
  const Transport::Callbacks callbacks;
  const TransportOptions options;
  std::unique_ptr<discovery::Discovery> discovery;  // set once by Create
  serialization::Header header;                     // views into discovery's config
  size_t room = 0;  // for one data frame in a datagram with the largest header
  size_t max_payload = 0;
  HandlerGate gate;
  // Touched by handlers on the strand only, and by Stop once the gate is closed.
  boost::asio::steady_timer timer;

  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_map<uint64_t, std::unique_ptr<PeerSession>> sessions
      ABSL_GUARDED_BY(mu);
  // When each session next has something to do, earliest first.
  absl::btree_set<std::pair<absl::Time, uint64_t>> deadlines ABSL_GUARDED_BY(mu);
  bool flush_posted ABSL_GUARDED_BY(mu) = false;
  // A Send from a callback on the strand asks the handler that ran the callback to
  // flush when it ends, rather than post a flush, which would wake another thread.
  bool flush_on_exit ABSL_GUARDED_BY(mu) = false;
  std::optional<absl::Time> timer_at ABSL_GUARDED_BY(mu);
  serialization::DatagramEncoder encoder ABSL_GUARDED_BY(mu);
  Outgoing out ABSL_GUARDED_BY(mu);
  // The datagrams a handler encoded, sent together when it is done, once it has
  // released `mu` (so that Send does not wait for the system call): their bytes back
  // to back, each encoded in its place, and where each goes and starts. Handlers fill
  // and send them, on the strand, so `send_mu` is never contended; it is taken after
  // `mu`, never before.
  struct Encoded {
    network::Address to;
    size_t offset;
    size_t size;
  };
  mutable Mutex send_mu;
  // kMaxBatchBytes and room for one more datagram; set once by Create.
  std::unique_ptr<uint8_t[]> batch_bytes ABSL_GUARDED_BY(send_mu);
  size_t batch_used ABSL_GUARDED_BY(send_mu) = 0;
  std::vector<Encoded> batch ABSL_GUARDED_BY(send_mu);
  std::vector<network::OutgoingDatagram> outgoing ABSL_GUARDED_BY(send_mu);
  uint64_t datagrams_sent ABSL_GUARDED_BY(send_mu) = 0;
  uint64_t send_failures ABSL_GUARDED_BY(send_mu) = 0;
  std::vector<uint64_t> due ABSL_GUARDED_BY(mu);
  SessionCounters removed ABSL_GUARDED_BY(mu);  // of the sessions closed
  TransportCounters counters ABSL_GUARDED_BY(mu);
};

namespace {

void Flush(const std::shared_ptr<TransportState>& state);

// Reschedule files the session under its next deadline.
void Reschedule(TransportState& s, PeerSession& ps) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const std::optional<absl::Time> next = ps.session->NextDeadline();
  if (next == ps.scheduled) return;
  if (ps.scheduled) s.deadlines.erase({*ps.scheduled, ps.peer.id});
  ps.scheduled = next;
  if (next) s.deadlines.insert({*next, ps.peer.id});
}

void PostFlush(const std::shared_ptr<TransportState>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  if (state->flush_posted) return;
  state->flush_posted = true;
  boost::asio::post(state->strand, [state] { Flush(state); });
}

// ArmTimer makes the strand wake for the earliest deadline. On the strand only.
void ArmTimer(const std::shared_ptr<TransportState>& state, absl::Time now)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  TransportState& s = *state;
  if (s.deadlines.empty()) return;  // a timer still armed wakes to nothing due
  const absl::Time first = s.deadlines.begin()->first;
  if (first <= now) {
    PostFlush(state);
    return;
  }
  // A timer armed for earlier stays: it wakes to nothing due and is armed again then.
  // Deadlines move later with every acknowledgement, and re-arming a timer is a
  // system call or two.
  if (s.timer_at && *s.timer_at <= first) return;
  s.timer_at = first;
  s.timer.expires_after(absl::ToChronoNanoseconds(first - now));
  s.timer.async_wait([state](const boost::system::error_code& error) {
    if (error == boost::asio::error::operation_aborted) return;
    {
      MutexLock lock(&state->mu);
      state->timer_at.reset();  // nothing is armed now
    }
    Flush(state);
  });
}

// SendBatch sends the datagrams encoded so far. A datagram the network refuses (the
// socket buffer is full) is counted and left to the retransmission timer, like a loss.
void SendBatchLocked(TransportState& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.send_mu) {
  s.outgoing.clear();
  for (const TransportState::Encoded& encoded : s.batch) {
    s.outgoing.push_back(
        {encoded.to,
         absl::MakeConstSpan(s.batch_bytes.get() + encoded.offset, encoded.size)});
  }
  absl::Span<const network::OutgoingDatagram> left = s.outgoing;
  while (!left.empty()) {
    absl::StatusOr<size_t> sent = s.discovery->SendBatch(left);
    if (!sent.ok()) {
      s.send_failures += left.size();
      break;
    }
    s.datagrams_sent += *sent;
    left.remove_prefix(*sent);
  }
  s.batch.clear();
  s.batch_used = 0;
}

void SendBatch(TransportState& s) ABSL_LOCKS_EXCLUDED(s.send_mu) {
  MutexLock lock(&s.send_mu);
  SendBatchLocked(s);
}

// Reserve returns where the next datagram of the batch is encoded, sending the batch
// first when it is full.
uint8_t* Reserve(TransportState& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.send_mu) {
  if (s.batch.size() >= kMaxBatchDatagrams || s.batch_used > kMaxBatchBytes) {
    SendBatchLocked(s);
  }
  return s.batch_bytes.get() + s.batch_used;
}

// Queue adds the datagram just encoded where Reserve said to the batch.
void Queue(TransportState& s, const network::Address& to, absl::Span<const uint8_t> bytes)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.send_mu) {
  assert(bytes.data() == s.batch_bytes.get() + s.batch_used);
  s.batch.push_back({to, s.batch_used, bytes.size()});
  s.batch_used += bytes.size();
}

// Transmit packs s.out, what one session's Poll gave, into as few datagrams as the
// budget allows, the ack first, and queues them.
void Transmit(TransportState& s, const PeerSession& ps)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const Peer& peer = ps.peer;
  const uint64_t peer_id = peer.id;
  if (s.out.data.empty() && !s.out.ack) return;
  MutexLock send_lock(&s.send_mu);
  serialization::DatagramEncoder& encoder = s.encoder;
  // Create checked that the header, the largest ack and the largest payload fit; an
  // error here is a bug, and the frames are left to be resent.
  auto fail = [&](const absl::Status& status) {
    GLUE_LOG(kError, "transport: cannot encode for peer %d: %s", peer_id,
             status.ToString());
  };
  serialization::Header header = s.header;
  header.session = ps.number;
  header.peer_session = ps.peer_number;
  if (absl::Status status = encoder.BeginFramesAt(header, Reserve(s)); !status.ok()) {
    return fail(status);
  }
  if (s.out.ack) {
    // The oldest ranges go when the ack would not fit: the cumulative point and the
    // newest ranges matter most, and the others come again in later acks.
    serialization::AckFrame& ack = *s.out.ack;
    while (!ack.ranges.empty() && serialization::DatagramEncoder::EncodedAckFrameSize(
                                      ack) > encoder.remaining()) {
      ack.ranges.remove_suffix(std::max<size_t>(1, ack.ranges.size() / 8));
    }
    if (absl::Status status = encoder.AddAck(ack); !status.ok()) return fail(status);
  }
  for (const serialization::DataFrame& frame : s.out.data) {
    absl::Status added = encoder.AddData(frame);
    if (absl::IsResourceExhausted(added)) {
      absl::StatusOr<absl::Span<const uint8_t>> datagram = encoder.Finish();
      if (!datagram.ok()) return fail(datagram.status());
      Queue(s, peer.data_address, *datagram);
      if (absl::Status status = encoder.BeginFramesAt(header, Reserve(s)); !status.ok()) {
        return fail(status);
      }
      added = encoder.AddData(frame);
    }
    if (!added.ok()) return fail(added);
  }
  absl::StatusOr<absl::Span<const uint8_t>> datagram = encoder.Finish();
  if (!datagram.ok()) return fail(datagram.status());
  Queue(s, peer.data_address, *datagram);
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
  if (s.callbacks.on_message) {
    for (Delivery& delivery : reports.deliveries) {
      s.callbacks.on_message(*from, std::move(delivery));
    }
  }
  if (s.callbacks.on_send_done) {
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
      s.callbacks.on_send_done(first.peer_id, tokens, first.outcome);
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
    ArmTimer(state, now);
  }
  SendBatch(s);
  Report(s, nullptr, reports);
}

// FinishHandler ends every handler on the strand that runs callbacks: it flushes what
// they sent (see flush_on_exit), and what the callbacks of that flush sent in turn.
void FinishHandler(const std::shared_ptr<TransportState>& state) {
  for (;;) {
    {
      MutexLock lock(&state->mu);
      if (!state->flush_on_exit) return;
      state->flush_on_exit = false;
    }
    FlushOnce(state);
  }
}

void Flush(const std::shared_ptr<TransportState>& state) {
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
    // first datagram it sends, whose messages would be released.
    const absl::Time now = s.Now();
    ps->session->RequestAck(now);
    Reschedule(s, *ps);
    ArmTimer(state, now);
  }
  if (s.callbacks.on_peer_added) s.callbacks.on_peer_added(peer);
  FinishHandler(state);
}

void OnRemoved(const std::shared_ptr<TransportState>& state, const Peer& peer,
               discovery::RemovalReason reason) {
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
  if (s.callbacks.on_peer_removed) s.callbacks.on_peer_removed(peer, reason);
  FinishHandler(state);
}

// AcceptSession checks the session numbers of a datagram of frames from ps.peer,
// restarting our session when the peer started a new one, and says whether its
// frames belong to our session.
bool AcceptSession(TransportState& s, PeerSession& ps,
                   const serialization::Header& header, absl::Time now, Reports* reports)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (header.session == 0 || header.session < ps.peer_number) {
    ++s.counters.stale_datagrams;  // from an older session of the peer's, or none
    return false;
  }
  if (header.session > ps.peer_number) {
    if (ps.peer_number != 0) {
      GLUE_LOG(kInfo, "transport: %s (id %d) started a new session; restarting ours",
               ps.peer.name, ps.peer.id);
      Close(s, ps, reports);
      ps.session.emplace(s.options.session);
      ++s.counters.session_restarts;
    }
    ps.peer_number = header.session;
  }
  // The peer speaks to this session of ours, or has not heard of any yet; otherwise
  // to one that ended, and our ack tells it our number.
  if (header.peer_session != ps.number && header.peer_session != 0) {
    ++s.counters.stale_datagrams;
    ps.session->RequestAck(now);
    return false;
  }
  return true;
}

void OnFrames(const std::shared_ptr<TransportState>& state, const Peer& peer,
              const serialization::DecodedDatagram& datagram) {
  TransportState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  Reports reports;
  {
    MutexLock lock(&s.mu);
    auto found = s.sessions.find(peer.id);
    if (s.stopped || found == s.sessions.end()) return;
    PeerSession& ps = *found->second;
    const absl::Time now = s.Now();
    if (AcceptSession(s, ps, datagram.header, now, &reports)) {
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
    ArmTimer(state, now);
  }
  SendBatch(s);
  Report(s, &peer, reports);
  FinishHandler(state);
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

absl::StatusOr<std::unique_ptr<Transport>> Transport::Create(
    const boost::asio::any_io_executor& executor, const discovery::Config& config,
    Callbacks callbacks, TransportOptions options) {
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
  options.discovery.datagram_budget = options.max_datagram_bytes;
  auto state = std::make_shared<TransportState>(executor, std::move(callbacks),
                                                std::move(options), std::move(encoder));
  TransportState& s = *state;
  std::weak_ptr<TransportState> weak = state;
  // Discovery's handlers run on a strand of the transport's strand, so both layers'
  // handlers take turns. They hold the state weakly: discovery may outlive it by the
  // handlers in flight when it stopped, which then call nothing.
  discovery::Discovery::Callbacks discovery_callbacks{
      .on_added =
          [weak](const discovery::Peer& peer) {
            if (auto state = weak.lock()) internal::OnAdded(state, peer);
          },
      .on_removed =
          [weak](const discovery::Peer& peer, discovery::RemovalReason reason) {
            if (auto state = weak.lock()) internal::OnRemoved(state, peer, reason);
          },
      .on_frames =
          [weak](const discovery::Peer& peer,
                 const serialization::DecodedDatagram& datagram) {
            if (auto state = weak.lock()) internal::OnFrames(state, peer, datagram);
          },
  };
  GLUE_ASSIGN_OR_RETURN(s.discovery, discovery::Discovery::Create(
                                         s.strand, config, std::move(discovery_callbacks),
                                         s.options.discovery));
  s.header = s.discovery->header();

  MutexLock lock(&s.mu);
  // Room for a payload next to the largest header: with both session numbers.
  serialization::Header largest = s.header;
  largest.session = largest.peer_session = std::numeric_limits<uint64_t>::max();
  if (absl::Status begun = s.encoder.BeginFrames(largest); !begun.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("TransportOptions.max_datagram_bytes=", s.options.max_datagram_bytes,
                     " leaves no room for frames: ", begun.message()));
  }
  const size_t room = s.encoder.remaining();
  s.room = room;
  s.max_payload = internal::BodyRoom(room, 0);
  {
    MutexLock send_lock(&s.send_mu);
    s.batch_bytes = std::make_unique_for_overwrite<uint8_t[]>(
        internal::kMaxBatchBytes + s.options.max_datagram_bytes);
  }
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

absl::Status Transport::Start() {
  TransportState& s = *state_;
  {
    MutexLock lock(&s.mu);
    if (s.started || s.stopped) {
      return absl::FailedPreconditionError(s.stopped ? "transport stopped"
                                                     : "transport already started");
    }
  }
  GLUE_RETURN_IF_ERROR(s.discovery->Start());
  MutexLock lock(&s.mu);
  s.started = true;
  return absl::OkStatus();
}

void Transport::Stop() {
  TransportState& s = *state_;
  if (s.gate.closed()) return;
  // No transport handler runs after this, neither ours nor discovery's callbacks
  // into us, so the timer is ours to cancel.
  s.gate.Close();
  s.discovery->Stop();
  internal::Reports reports;
  {
    MutexLock lock(&s.mu);
    s.stopped = true;
    for (auto& [id, ps] : s.sessions) internal::Close(s, *ps, &reports);
    s.sessions.clear();
    s.deadlines.clear();
    s.mu.NotifyAll();
  }
  s.timer.cancel();
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
        options.wait_until > absl::InfinitePast() && !s.strand.running_in_this_thread()) {
      ++s.counters.waited;
      const size_t bytes = payload.size();
      s.mu.AwaitUntil(
          [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
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
  if (s.strand.running_in_this_thread()) {
    s.flush_on_exit = true;
  } else {
    internal::PostFlush(state_);
  }
  return absl::OkStatus();
}

absl::Status Transport::SendToName(std::string_view name, Payload payload,
                                   const SendOptions& options) {
  for (const discovery::Peer& peer : state_->discovery->peers()) {
    if (peer.name == name) return Send(peer.id, std::move(payload), options);
  }
  return absl::NotFoundError(
      absl::StrCat("no peer named '", absl::string_view(name.data(), name.size()), "'"));
}

size_t Transport::max_payload_bytes() const { return state_->max_payload; }

bool Transport::in_handler() const { return state_->strand.running_in_this_thread(); }

size_t Transport::max_body_bytes(size_t meta_bytes) const {
  return meta_bytes == 0 ? state_->max_payload
                         : internal::BodyRoom(state_->room, meta_bytes);
}

std::vector<discovery::Peer> Transport::peers() const {
  return state_->discovery->peers();
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
                      .bytes_held = ps.session->bytes_held()};
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
    c.datagrams_sent = s.datagrams_sent;
    c.send_failures = s.send_failures;
  }
  c.discovery = s.discovery->counters();
  return c;
}

const discovery::Discovery& Transport::discovery() const { return *state_->discovery; }

}  // namespace glue::transport
