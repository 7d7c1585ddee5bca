// Session: the transport state of one peer, reliable and best-effort, both ways. It
// combines a SendWindow, an RttEstimator and two ReceiveTrackers; it opens no socket
// and reads no clock. The transport layer; the endpoint owns one per discovered peer.
//
//   Session session(options);
//   session.SendReliable(payload, expiry, /*ordered=*/true, token);
//   session.Poll(now, &out);                     // frames and ack to put on the wire
//   session.OnData(frame, now, &deliveries);     // a data frame from the peer
//   session.OnAck(ack, now, &acknowledged);      // an ack from the peer
//   session.Expire(now, &expired);               // expiries, reported to the senders
#ifndef GLUE_TRANSPORT_SESSION_H_
#define GLUE_TRANSPORT_SESSION_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/serialization/messages.h"
#include "glue/transport/flags.h"
#include "glue/transport/payload.h"
#include "glue/transport/receive_tracker.h"
#include "glue/transport/rtt_estimator.h"
#include "glue/transport/send_window.h"

namespace glue::transport {

// The flags, kFlagReliable, kFlagOrdered and kFlagSkip, are in flags.h.

// kMaxAckRanges is the most ranges an AckFrame may carry on the wire.
inline constexpr size_t kMaxAckRanges = 256;

// SessionOptions bound a session and tune when it acknowledges.
struct SessionOptions {
  SendWindowOptions window;
  RttOptions rtt;
  // Both receive spaces. The best-effort one waits for a late (reordered) frame at most
  // min(max_ranges, window - 1) sequences behind the highest arrived; older gaps are
  // counted lost.
  ReceiveTrackerOptions receive;
  // A pending ack waits at most this long for data to ride on. Keep rtt.max_ack_delay
  // at least this on the peer, which sizes its timeout by it.
  absl::Duration ack_delay = absl::Milliseconds(1);
  // An ack goes at once, without the delay, once this many reliable frames arrived
  // since the last one (as TCP acknowledges every second segment). At least 1.
  size_t ack_every_frames = 64;
  // Ranges per AckFrame sent (the most recent ones), 1..kMaxAckRanges. More ranges
  // spare the peer resending frames that arrived above old gaps; the transport trims
  // an ack that would not fit its datagram.
  size_t max_ack_ranges = 128;
  // Payload bytes of ordered frames held waiting for a gap to fill. A frame that would
  // go beyond it is dropped unacknowledged (the peer resends it) and counted.
  size_t max_reorder_bytes = 4 << 20;
  // Best-effort frames queued for the next Poll; beyond it the oldest is dropped and
  // counted. At least 1.
  size_t max_best_effort_queue = 1024;
};

// SessionCounters count what a session did since it was made.
struct SessionCounters {
  uint64_t reliable_queued = 0;            // SendReliable accepted
  uint64_t best_effort_queued = 0;         // SendBestEffort calls
  uint64_t best_effort_dropped_queue = 0;  // dropped from a full queue, never sent
  uint64_t data_sent = 0;         // first transmissions, reliable and best-effort
  uint64_t data_resent = 0;       // retransmissions (timeout or fast)
  uint64_t fast_retransmits = 0;  // ... of frames acknowledgements showed lost
  uint64_t timeouts = 0;          // times the retransmission timeout passed
  uint64_t acks_sent = 0;
  uint64_t delivered = 0;   // frames handed up
  uint64_t duplicates = 0;  // frames that arrived again (both spaces), not handed up
  // Best-effort sequences that never arrived, as far as the receiver can tell: gaps
  // below the highest arrived. A gap later filled by a late frame stops counting.
  uint64_t best_effort_lost = 0;
  uint64_t reorder_dropped = 0;  // ordered frames dropped at max_reorder_bytes
  uint64_t expired = 0;          // reliable frames given up at their expiry
  uint64_t skips_sent = 0;       // skip frames sent (and resent) after expiries
  // Reliable sequences the receiver gave up on the peer's skip, never having had them.
  uint64_t skipped = 0;
  uint64_t invalid_frames = 0;  // data frames with invalid flags, dropped
  uint64_t acked = 0;           // reliable frames acknowledged
  uint64_t unknown_acks = 0;    // acknowledged sequence numbers never sent
  // Data frames refused by a receive tracker and not stored: beyond its window, past
  // its range bound, or sequence 0.
  uint64_t beyond_window = 0;
  absl::Duration smoothed_rtt;  // zero before the first sample
  absl::Duration rto;
};

// Delivery is one frame to hand up. Payload and meta are copies: the datagram they
// arrived in does not outlive OnData.
struct Delivery {
  std::vector<uint8_t> payload;
  std::vector<uint8_t> meta;  // what the sender's layers above put with it; often empty
  uint32_t flags = 0;
  uint64_t sequence = 0;  // in the frame's space (reliable or best-effort)
  // The sender's session number, set by the Transport (0 from a bare Session). It
  // changes when the sender starts a new session with us (it restarted, or removed us
  // and found us again): whatever the layers above numbered per session starts anew.
  uint64_t peer_session = 0;
};

// Outgoing is what to put on the wire now. The payloads of `data` and the ranges of
// `ack` point into the session: valid until the next call that changes it (any
// non-const member function).
struct Outgoing {
  std::vector<serialization::DataFrame> data;
  std::optional<serialization::AckFrame> ack;
};

// Session is not thread-safe: one owner, the session's strand, calls everything.
//
// When reliable frames expire before the peer acknowledged them, the session sends a
// skip frame (kFlagSkip) up to its forward point, the sequence below which every frame
// is acknowledged or expired, and resends it every rto() until the peer's cumulative
// acknowledgement reaches it; so an ordered receiver never waits for a frame that
// will not come.
class Session {
 public:
  // Needs `options` that Validate accepts.
  explicit Session(SessionOptions options = {});
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Validate returns OK, or kInvalidArgument naming the offending field and value:
  // the window, rtt and receive options as their classes validate them, ack_delay
  // finite and >= 0, max_ack_ranges 1..kMaxAckRanges, ack_every_frames and
  // max_best_effort_queue
  // >= 1.
  static absl::Status Validate(const SessionOptions& options);

  // SendReliable queues a reliable frame for the next Poll, to be resent until
  // acknowledged or until `expiry`; `ordered` asks the peer to hand it up in sequence
  // order. `token` is the caller's handle, returned by OnAck, Expire or Close.
  // Returns the frame's sequence number. Errors: kResourceExhausted when the send
  // window is at its bound (nothing is queued: wait for acks); kInvalidArgument for a
  // payload larger than the whole window; kFailedPrecondition after Close.
  absl::StatusOr<uint64_t> SendReliable(Payload payload, absl::Time expiry, bool ordered,
                                        uint64_t token);

  // HasRoomFor says whether SendReliable of a payload of `bytes` bytes would be
  // accepted now.
  bool HasRoomFor(size_t bytes) const { return !closed_ && window_.HasRoom(bytes); }

  // SendBestEffort queues a best-effort frame for the next Poll. When the queue holds
  // max_best_effort_queue frames, the oldest is dropped and counted. Dropped at once
  // after Close.
  void SendBestEffort(Payload payload);

  // Poll replaces `out` (not null) with everything due at `now`: a skip frame when one
  // is owed, the queued best-effort frames, then the reliable frames to send or resend
  // (new, timed out after rto(), or marked lost by fast retransmit), and an ack when one
  // is owed and either data goes out too, the ack delay has passed, or a duplicate or
  // out-of-order frame asked for it at once. The timeout doubles (once per Poll) when a
  // frame already resent times out again.
  void Poll(absl::Time now, Outgoing* out);

  // OnData takes one data frame from the peer and appends to `deliveries` (not null)
  // what to hand up: reliable unordered and best-effort frames at once, ordered ones
  // once every reliable frame below them arrived. A reliable frame makes an ack owed;
  // a duplicate (never handed up again) or one above a gap makes it owed at once.
  void OnData(const serialization::DataFrame& frame, absl::Time now,
              std::vector<Delivery>* deliveries);

  // OnAck applies an ack from the peer, takes its round-trip sample and appends the
  // tokens of the frames it acknowledged to `acknowledged` (not null). Acks of
  // sequence numbers never sent are counted and ignored.
  void OnAck(const serialization::AckFrame& ack, absl::Time now,
             std::vector<uint64_t>* acknowledged);

  // RequestAck makes an ack owed at once, whatever arrived: for a peer that must
  // hear from this session.
  void RequestAck(absl::Time now) { OweAck(now, /*urgent=*/true); }

  // Expire drops every reliable frame whose expiry is at or before `now`, never to be
  // sent again, and appends their tokens to `expired` (not null). When the peer had
  // not acknowledged them, the next Poll sends a skip frame.
  void Expire(absl::Time now, std::vector<uint64_t>* expired);

  // Close releases everything (the peer is gone) and appends the tokens of the
  // reliable frames not yet acknowledged to `released` (not null). Afterwards the
  // session sends nothing, ignores what arrives, and SendReliable fails.
  void Close(std::vector<uint64_t>* released);

  // NextDeadline returns when Poll or Expire next has something to do:
  // absl::InfinitePast() when something is due now, nullopt when nothing is pending.
  std::optional<absl::Time> NextDeadline() const;

  SessionCounters counters() const;

  // bytes_held returns the payload bytes the session holds: in the send window, in
  // the reorder buffer and in the best-effort queue. The best-effort frames of the
  // last Poll are kept (for its output) until the next Poll and are not counted.
  size_t bytes_held() const;
  // unacknowledged_bytes returns the payload bytes of the send window: reliable frames
  // not yet acknowledged (or held above a gap, see SendWindowOptions::max_bytes).
  size_t unacknowledged_bytes() const { return window_.bytes(); }

 private:
  // HeldFrame is an ordered frame waiting for the gap below it to fill.
  struct HeldFrame {
    uint32_t flags = 0;
    std::vector<uint8_t> payload;
    std::vector<uint8_t> meta;
  };

  void OnReliableData(const serialization::DataFrame& frame, absl::Time now,
                      std::vector<Delivery>* deliveries);
  void OnBestEffortData(const serialization::DataFrame& frame,
                        std::vector<Delivery>* deliveries);
  void OnSkip(const serialization::DataFrame& frame, absl::Time now,
              std::vector<Delivery>* deliveries);
  // ForwardPoint is the sequence below which every reliable frame sent is
  // acknowledged or expired.
  uint64_t ForwardPoint() const;
  // SkipOwed says whether the peer must be told to skip expired frames.
  bool SkipOwed() const;
  // Deliver hands up one frame, copying its payload.
  void Deliver(const serialization::DataFrame& frame, std::vector<Delivery>* deliveries);
  // ReleaseHeld hands up the held ordered frames the cumulative point has reached.
  void ReleaseHeld(std::vector<Delivery>* deliveries);
  // OweAck records that the peer needs an ack, at once when `urgent`.
  void OweAck(absl::Time now, bool urgent);

  const SessionOptions options_;
  bool closed_ = false;

  // Sending.
  SendWindow window_;
  RttEstimator rtt_;
  // The best-effort frames to send, from best_effort_head_ (those before it dropped
  // for the bound). Poll swaps the vector with best_effort_polled_, so that both keep
  // their room: no allocation per frame, as a deque's nodes would be (allocated by
  // the sending thread, freed by the network thread).
  std::vector<Payload> best_effort_queue_;
  size_t best_effort_head_ = 0;
  size_t best_effort_queue_bytes_ = 0;
  std::vector<Payload> best_effort_polled_;  // the last Poll's payloads
  uint64_t next_best_effort_sequence_ = 1;
  std::vector<const PendingFrame*> due_;  // scratch for Poll
  // The highest cumulative point the peer acknowledged, and the skip frame last sent.
  uint64_t peer_cumulative_ = 0;
  uint64_t skip_sent_ = 0;
  absl::Time skip_sent_at_;

  // Receiving.
  ReceiveTracker reliable_received_;
  ReceiveTracker best_effort_received_;
  uint64_t best_effort_reorder_tolerance_;
  uint64_t best_effort_given_up_ = 0;  // gaps SkipTo gave up without an arrival
  absl::btree_map<uint64_t, HeldFrame> held_;
  size_t held_bytes_ = 0;

  // The ack owed to the peer, if any.
  bool ack_owed_ = false;
  bool ack_urgent_ = false;
  absl::Time ack_owed_since_;
  size_t frames_unacknowledged_ = 0;  // reliable frames since the last ack
  uint64_t highest_received_ = 0;     // the highest reliable sequence received
  std::vector<serialization::AckRange> ack_ranges_;  // the last Poll's ack's ranges

  SessionCounters counters_;
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_SESSION_H_
