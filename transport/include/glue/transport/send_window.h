// SendWindow: the reliable frames sent to one peer and not yet acknowledged, with
// when to resend them. It does no I/O and reads no clock: callers pass the time. The
// transport layer; a session owns one per peer.
//
//   SendWindow window(options);
//   window.Add(payload, flags, expiry, token);         // kResourceExhausted at the bound
//   window.CollectDue(now, rto, &due);                 // new frames and resends
//   window.OnAck(ack, now);                            // acknowledged, RTT sample,
//   losses window.Expire(now, &expired);                      // never resent after
//   expiry
#ifndef GLUE_TRANSPORT_SEND_WINDOW_H_
#define GLUE_TRANSPORT_SEND_WINDOW_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/serialization/messages.h"
#include "glue/transport/flags.h"
#include "glue/transport/payload.h"

namespace glue::transport {

// SendWindowOptions bound the window and tune loss detection.
struct SendWindowOptions {
  // Payload bytes held (body and meta), sent or not, until acknowledged or expired. Add
  // beyond it is refused with kResourceExhausted. An ordered frame acknowledged above
  // a gap counts until the cumulative acknowledgement passes it: the receiver holds it
  // until then, in a buffer (SessionOptions::max_reorder_bytes) of the same size.
  size_t max_bytes = 4 << 20;
  // The sequence numbers the window spans, from the lowest frame held (or, below it,
  // an ordered frame the receiver holds above a gap) to the newest: at most this many
  // frames are held, and the window's memory is bounded by it.
  size_t max_frames = 1 << 16;
  // A frame is taken as lost, and resent without waiting for its timeout, once a frame
  // this many sequence numbers later, sent after it, has been acknowledged.
  uint64_t fast_retransmit_threshold = 3;
};

// PendingFrame is one reliable frame in the window.
struct PendingFrame {
  uint64_t sequence = 0;
  uint32_t flags = 0;
  Payload payload;
  absl::Time expiry;
  uint64_t token = 0;          // the sender's handle, reported back on ack or expiry
  uint32_t transmissions = 0;  // 0: queued, never sent
  absl::Time last_sent;
  uint64_t send_order = 0;  // of its last transmission, among all of this window's
  bool lost = false;        // marked by fast retransmit; resent at the next CollectDue
};

// AckOutcome says what one acknowledgement did.
struct AckOutcome {
  std::vector<uint64_t> acknowledged;        // tokens of frames acknowledged now
  std::optional<absl::Duration> rtt_sample;  // from the newest of them, if sent once
  size_t marked_lost = 0;                    // frames marked for fast retransmit
  size_t unknown = 0;                        // acknowledged sequence numbers never sent
};

// SendWindowCounters count what the window did.
struct SendWindowCounters {
  uint64_t added = 0;
  uint64_t refused = 0;  // Add at the bound
  uint64_t sent = 0;
  uint64_t resent = 0;
  uint64_t fast_retransmits = 0;
  uint64_t timeouts = 0;  // CollectDue calls that found the timeout passed
  // Timeout resends of a frame already resent: its retransmission was lost too.
  uint64_t repeated_timeouts = 0;
  uint64_t acknowledged = 0;
  uint64_t expired = 0;
  uint64_t released = 0;  // dropped by Clear (peer gone)
  uint64_t unknown_acks = 0;
};

// SendWindow is not thread-safe: its session's strand owns it.
class SendWindow {
 public:
  explicit SendWindow(SendWindowOptions options = {});
  SendWindow(const SendWindow&) = delete;
  SendWindow& operator=(const SendWindow&) = delete;

  // Validate checks the options. Error: kInvalidArgument naming the field.
  static absl::Status Validate(const SendWindowOptions& options);

  // Add queues a frame and returns its sequence number (1, 2, ...).
  // Errors: kInvalidArgument for a payload larger than max_bytes (it could never be
  // held); kResourceExhausted when the window is full (the message gives the bound
  // and what is held), in which case nothing is added.
  absl::StatusOr<uint64_t> Add(Payload payload, uint32_t flags, absl::Time expiry,
                               uint64_t token);

  // CollectDue appends to `due` every frame to transmit at `now`: frames marked lost
  // (lowest sequence first); at a timeout, the frames unacknowledged for `rto` since
  // last sent (oldest transmission first); then frames never sent (lowest sequence
  // first); and records them as sent at `now`. The timeout is `rto` without a
  // transmission or a new acknowledgement, frames outstanding: while acknowledgements
  // come, a window sent in one burst and draining slowly through the receiver's queue,
  // its last frames later than the smoothed round trip, is not sent again, and lost
  // frames are found by fast retransmit. Expired frames are not collected (call
  // Expire). Pointers stay valid until the window next changes. Costs O(log n) per
  // frame collected, not per frame held.
  void CollectDue(absl::Time now, absl::Duration rto,
                  std::vector<const PendingFrame*>* due);

  // OnAck removes the frames `ack` acknowledges (all up to ack.cumulative, and every
  // range) and marks frames for fast retransmit.
  AckOutcome OnAck(const serialization::AckFrame& ack, absl::Time now);

  // Expire removes every frame whose expiry is at or before `now`, appending their
  // tokens to `tokens`. Returns how many.
  size_t Expire(absl::Time now, std::vector<uint64_t>* tokens);

  // Clear removes every frame (the peer is gone), appending their tokens.
  void Clear(std::vector<uint64_t>* tokens);

  // NextDeadline is the earliest time something is due: an expiry, the timeout (see
  // CollectDue), or a frame never sent or marked lost (now-ish: absl::InfinitePast()).
  std::optional<absl::Time> NextDeadline(absl::Duration rto) const;

  // HasRoom says whether Add of a payload of `bytes` bytes would be accepted now.
  bool HasRoom(size_t bytes) const {
    return bytes_ + held_above_gap_bytes_ + bytes <= options_.max_bytes &&
           next_sequence_ - lowest_counted() < options_.max_frames;
  }

  // bytes returns the payload bytes held: not acknowledged, or ordered and
  // acknowledged above a gap.
  size_t bytes() const { return bytes_ + held_above_gap_bytes_; }
  // size is the number of frames held, not acknowledged.
  size_t size() const { return live_; }
  uint64_t next_sequence() const { return next_sequence_; }
  // lowest_held is the lowest sequence in the window, or next_sequence() when empty:
  // every frame below it was acknowledged, expired or cleared.
  uint64_t lowest_held() const { return base_; }

  const SendWindowCounters& counters() const { return counters_; }
  const SendWindowOptions& options() const { return options_; }

 private:
  // Sent is one transmission, in the order of transmissions_: the frame's resend is
  // due at `at` + rto, unless the frame was acknowledged, expired or sent again since
  // (then the entry is stale, and skipped).
  struct Sent {
    absl::Time at;
    uint64_t sequence;
    uint64_t send_order;
  };
  // Expiry is a frame's expiry, by sequence.
  struct Expiry {
    absl::Time at;
    uint64_t sequence;
  };

  // Find returns the frame held with `sequence`, or nullptr.
  PendingFrame* Find(uint64_t sequence) {
    if (sequence < base_ || sequence >= next_sequence_) return nullptr;
    PendingFrame& frame = ring_[sequence & (ring_.size() - 1)];
    return frame.sequence == sequence ? &frame : nullptr;
  }
  // lowest_counted is the lowest sequence the frame bound counts from: the lowest
  // held, or an ordered frame below it that the receiver holds above a gap.
  uint64_t lowest_counted() const {
    return held_above_gap_.empty() ? base_
                                   : std::min(base_, held_above_gap_.begin()->first);
  }
  // ReleaseIfEmpty gives back a large ring once nothing is held.
  void ReleaseIfEmpty();
  // Grow doubles the ring, for one more sequence than it spans.
  void Grow();
  // Erase removes one frame.
  void Erase(PendingFrame& frame);
  // Transmit records that `frame` goes out at `now` and appends it to `due`.
  void Transmit(PendingFrame& frame, absl::Time now,
                std::vector<const PendingFrame*>* due);
  // DropStaleSent pops the stale entries at the front of sent_.
  void DropStaleSent();
  // DropStaleExpiries pops the entries of frames no longer held at the front of
  // expiry_order_.
  void DropStaleExpiries();

  const SendWindowOptions options_;
  // The frames from base_ to next_sequence_ - 1, each at its sequence modulo the
  // ring's size, a power of two; a slot whose frame has gone has sequence 0. The ring
  // spans fewer sequences than max_frames (see HasRoom), so it never outgrows it.
  std::vector<PendingFrame> ring_;
  // The largest ring kept while empty: a burst's larger one goes back when it ends.
  static constexpr size_t kKeptSlots = 1024;
  uint64_t base_ = 1;  // the lowest sequence held, or next_sequence_
  size_t live_ = 0;    // frames held
  // Frames from this sequence on have never been sent.
  uint64_t next_unsent_ = 1;
  // Every transmission, oldest first; since time only moves forward, the frames
  // whose resend is due are a prefix. Stale entries are dropped when they reach the
  // front, so it holds at most the transmissions of the last rto and the frames held.
  std::deque<Sent> sent_;
  // Frames marked lost by fast retransmit, to resend first.
  std::vector<uint64_t> lost_;
  // Ordered frames acknowledged above the cumulative point, which the receiver holds
  // until the gap fills: their sizes, by sequence.
  absl::btree_map<uint64_t, size_t> held_above_gap_;
  size_t held_above_gap_bytes_ = 0;
  // The finite expiries of the frames held, in two parts: in the order of sequence,
  // each no earlier than the one before (one time to live per stream makes them all
  // so; entries of frames gone are dropped when they reach the front), and the others,
  // by time.
  std::deque<Expiry> expiry_order_;
  absl::btree_set<std::pair<absl::Time, uint64_t>> expiry_others_;
  uint64_t next_sequence_ = 1;
  size_t bytes_ = 0;
  // The highest sequence ever acknowledged, and the order of its last transmission: a
  // frame transmitted before it and far enough below it is lost.
  uint64_t highest_acked_ = 0;
  uint64_t highest_acked_order_ = 0;
  uint64_t transmissions_ = 0;  // every transmission gets the next number
  // The last transmission, or acknowledgement of a frame not acknowledged before: the
  // timeout runs from it.
  absl::Time last_activity_ = absl::InfinitePast();
  SendWindowCounters counters_;
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_SEND_WINDOW_H_
