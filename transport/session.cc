#include "glue/transport/session.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"

namespace glue::transport {

Session::Session(SessionOptions options)
    : options_(options),
      window_(options.window),
      rtt_(options.rtt),
      reliable_received_(options.receive),
      best_effort_received_(options.receive),
      // With gaps only this far behind the highest arrival, the tracker can neither
      // run out of ranges nor see a sequence beyond its window.
      best_effort_reorder_tolerance_(
          std::min<uint64_t>(options.receive.max_ranges, options.receive.window - 1)) {}

absl::Status Session::Validate(const SessionOptions& options) {
  if (absl::Status status = SendWindow::Validate(options.window); !status.ok()) {
    return status;
  }
  if (absl::Status status = RttEstimator::Validate(options.rtt); !status.ok()) {
    return status;
  }
  if (absl::Status status = ReceiveTracker::Validate(options.receive); !status.ok()) {
    return status;
  }
  if (options.ack_delay == absl::InfiniteDuration() ||
      options.ack_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("SessionOptions.ack_delay must be finite and >= 0, not ",
                     absl::FormatDuration(options.ack_delay)));
  }
  if (options.max_ack_ranges == 0 || options.max_ack_ranges > kMaxAckRanges) {
    return absl::InvalidArgumentError(
        absl::StrCat("SessionOptions.max_ack_ranges must be 1..", kMaxAckRanges, ", not ",
                     options.max_ack_ranges));
  }
  if (options.ack_every_frames == 0) {
    return absl::InvalidArgumentError("SessionOptions.ack_every_frames must be above 0");
  }
  if (options.max_best_effort_queue == 0) {
    return absl::InvalidArgumentError(
        "SessionOptions.max_best_effort_queue must be above 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> Session::SendReliable(Payload payload, absl::Time expiry,
                                               bool ordered, uint64_t token) {
  if (closed_) {
    return absl::FailedPreconditionError(
        absl::StrCat("session closed: cannot send reliable frame (token ", token, ")"));
  }
  const uint32_t flags = kFlagReliable | (ordered ? kFlagOrdered : 0);
  absl::StatusOr<uint64_t> sequence =
      window_.Add(std::move(payload), flags, expiry, token);
  if (sequence.ok()) ++counters_.reliable_queued;
  return sequence;
}

void Session::SendBestEffort(Payload payload) {
  ++counters_.best_effort_queued;
  if (closed_) {
    ++counters_.best_effort_dropped_queue;
    return;
  }
  if (best_effort_queue_.size() - best_effort_head_ >= options_.max_best_effort_queue) {
    Payload& oldest = best_effort_queue_[best_effort_head_++];
    best_effort_queue_bytes_ -= oldest.size();
    oldest.owner.reset();  // its buffer goes now
    oldest.body = {};
    oldest.meta.clear();
    if (best_effort_head_ >= options_.max_best_effort_queue) {  // at most twice the bound
      best_effort_queue_.erase(
          best_effort_queue_.begin(),
          best_effort_queue_.begin() + static_cast<std::ptrdiff_t>(best_effort_head_));
      best_effort_head_ = 0;
    }
    ++counters_.best_effort_dropped_queue;
  }
  best_effort_queue_bytes_ += payload.size();
  best_effort_queue_.push_back(std::move(payload));
}

void Session::Poll(absl::Time now, Outgoing* out) {
  out->data.clear();
  out->ack.reset();
  best_effort_polled_.clear();
  if (closed_) return;

  if (SkipOwed()) {
    const uint64_t forward = ForwardPoint();
    if (forward != skip_sent_ || now >= skip_sent_at_ + rtt_.rto()) {
      out->data.push_back(serialization::DataFrame{
          .sequence = forward, .flags = kFlagSkip, .payload = {}});
      skip_sent_ = forward;
      skip_sent_at_ = now;
      ++counters_.skips_sent;
    }
  }

  // Best-effort frames take their sequence only now, so that those dropped from a
  // full queue leave no gap the peer would count as lost on the wire.
  std::swap(best_effort_polled_, best_effort_queue_);  // cleared above
  best_effort_queue_bytes_ = 0;
  const size_t dropped = std::exchange(best_effort_head_, 0);
  for (const Payload& payload :
       absl::MakeConstSpan(best_effort_polled_).subspan(dropped)) {
    out->data.push_back(serialization::DataFrame{.sequence = next_best_effort_sequence_++,
                                                 .flags = 0,
                                                 .payload = payload.body,
                                                 .meta = payload.meta});
  }
  counters_.data_sent += best_effort_polled_.size() - dropped;

  const SendWindowCounters before = window_.counters();
  due_.clear();
  window_.CollectDue(now, rtt_.rto(), &due_);
  for (const PendingFrame* frame : due_) {
    out->data.push_back(serialization::DataFrame{.sequence = frame->sequence,
                                                 .flags = frame->flags,
                                                 .payload = frame->payload.body,
                                                 .meta = frame->payload.meta});
  }
  const SendWindowCounters& after = window_.counters();
  counters_.data_sent += after.sent - before.sent;
  counters_.data_resent += after.resent - before.resent;
  counters_.fast_retransmits += after.fast_retransmits - before.fast_retransmits;
  counters_.timeouts += after.timeouts - before.timeouts;
  // Back off when a retransmission was lost too, not on a frame's first timeout:
  // with timers per frame, one burst of losses would otherwise double the timeout
  // once per Poll, and stretch the tail of a stream for no gain on a LAN.
  if (after.repeated_timeouts > before.repeated_timeouts) rtt_.Backoff();

  if (ack_owed_ && (!out->data.empty() || ack_urgent_ ||
                    now >= ack_owed_since_ + options_.ack_delay)) {
    const uint64_t cumulative =
        reliable_received_.FillAck(options_.max_ack_ranges, &ack_ranges_);
    out->ack = serialization::AckFrame{.cumulative = cumulative, .ranges = ack_ranges_};
    ack_owed_ = false;
    ack_urgent_ = false;
    frames_unacknowledged_ = 0;
    ++counters_.acks_sent;
  }
}

void Session::OnData(const serialization::DataFrame& frame, absl::Time now,
                     std::vector<Delivery>* deliveries) {
  if (closed_) return;
  const bool valid =
      frame.flags == kFlagSkip
          ? frame.payload.empty() && frame.meta.empty()
          : (frame.flags & ~(kFlagReliable | kFlagOrdered)) == 0 &&
                (frame.flags & kFlagReliable || !(frame.flags & kFlagOrdered));
  if (!valid) {
    ++counters_.invalid_frames;
    return;
  }
  if (frame.flags == kFlagSkip) {
    OnSkip(frame, now, deliveries);
  } else if (frame.flags & kFlagReliable) {
    OnReliableData(frame, now, deliveries);
  } else {
    OnBestEffortData(frame, deliveries);
  }
}

void Session::OnReliableData(const serialization::DataFrame& frame, absl::Time now,
                             std::vector<Delivery>* deliveries) {
  const uint64_t next_in_order = reliable_received_.cumulative() + 1;
  const bool ordered = (frame.flags & kFlagOrdered) != 0;
  // An ordered frame above a gap that is not held yet is new (or beyond the window):
  // one that does not fit the reorder buffer is left for the sender to resend, and is
  // not recorded, so that it is not acknowledged.
  if (ordered && frame.sequence > next_in_order && !held_.contains(frame.sequence) &&
      held_bytes_ + frame.payload.size() + frame.meta.size() >
          options_.max_reorder_bytes) {
    ++counters_.reorder_dropped;
    return;
  }
  switch (reliable_received_.OnReceived(frame.sequence)) {
    case ReceiveTracker::Result::kNew:
      break;
    case ReceiveTracker::Result::kDuplicate:
      // The ack of it was lost, or it was resent too early: tell the sender at once.
      ++counters_.duplicates;
      OweAck(now, /*urgent=*/true);
      return;
    case ReceiveTracker::Result::kBeyondWindow:
    case ReceiveTracker::Result::kOverflow:
    case ReceiveTracker::Result::kInvalid:
      ++counters_.beyond_window;
      return;
  }
  // A frame that opens a gap (beyond the highest received plus one) or fills one
  // (below the highest) is acknowledged at once: the sender learns of the loss, or of
  // the repair, sooner. Frames that follow the highest in order, even above an older
  // gap, wait for ack_every_frames or the ack delay, as otherwise every datagram
  // behind a loss would draw an ack of its own.
  const bool urgent =
      frame.sequence > highest_received_ + 1 || frame.sequence < highest_received_;
  highest_received_ = std::max(highest_received_, frame.sequence);
  OweAck(now, urgent);
  if (ordered && frame.sequence != next_in_order) {
    held_bytes_ += frame.payload.size() + frame.meta.size();
    held_[frame.sequence] = HeldFrame{
        .flags = frame.flags,
        .payload = std::vector<uint8_t>(frame.payload.begin(), frame.payload.end()),
        .meta = std::vector<uint8_t>(frame.meta.begin(), frame.meta.end())};
    return;
  }
  Deliver(frame, deliveries);
  // Any reliable frame, ordered or not, may fill the gap held frames wait for.
  ReleaseHeld(deliveries);
}

void Session::OnBestEffortData(const serialization::DataFrame& frame,
                               std::vector<Delivery>* deliveries) {
  if (frame.sequence > best_effort_reorder_tolerance_ + 1) {
    best_effort_given_up_ +=
        best_effort_received_.SkipTo(frame.sequence - best_effort_reorder_tolerance_ - 1);
  }
  switch (best_effort_received_.OnReceived(frame.sequence)) {
    case ReceiveTracker::Result::kNew:
      Deliver(frame, deliveries);
      return;
    case ReceiveTracker::Result::kDuplicate:
      ++counters_.duplicates;
      return;
    case ReceiveTracker::Result::kBeyondWindow:
    case ReceiveTracker::Result::kOverflow:
    case ReceiveTracker::Result::kInvalid:
      ++counters_.beyond_window;
      return;
  }
}

void Session::OnSkip(const serialization::DataFrame& frame, absl::Time now,
                     std::vector<Delivery>* deliveries) {
  // Gaps below the point will not be filled: ordered frames held above them go up now.
  const uint64_t given_up = reliable_received_.SkipTo(frame.sequence);
  counters_.skipped += given_up;
  ReleaseHeld(deliveries);
  // The sender resends the skip until the acknowledged point reaches it.
  OweAck(now, /*urgent=*/false);
}

uint64_t Session::ForwardPoint() const { return window_.lowest_held() - 1; }

bool Session::SkipOwed() const { return ForwardPoint() > peer_cumulative_; }

void Session::Deliver(const serialization::DataFrame& frame,
                      std::vector<Delivery>* deliveries) {
  deliveries->push_back(Delivery{
      .payload = std::vector<uint8_t>(frame.payload.begin(), frame.payload.end()),
      .meta = std::vector<uint8_t>(frame.meta.begin(), frame.meta.end()),
      .flags = frame.flags,
      .sequence = frame.sequence});
  ++counters_.delivered;
}

void Session::ReleaseHeld(std::vector<Delivery>* deliveries) {
  const uint64_t cumulative = reliable_received_.cumulative();
  for (auto it = held_.begin(); it != held_.end() && it->first <= cumulative;) {
    held_bytes_ -= it->second.payload.size() + it->second.meta.size();
    deliveries->push_back(Delivery{.payload = std::move(it->second.payload),
                                   .meta = std::move(it->second.meta),
                                   .flags = it->second.flags,
                                   .sequence = it->first});
    ++counters_.delivered;
    it = held_.erase(it);  // a btree's erase invalidates every other iterator
  }
}

void Session::OweAck(absl::Time now, bool urgent) {
  if (!ack_owed_) {
    ack_owed_ = true;
    ack_owed_since_ = now;
  }
  // A sender with a small window would otherwise wait out the ack delay per window.
  ++frames_unacknowledged_;
  ack_urgent_ =
      ack_urgent_ || urgent || frames_unacknowledged_ >= options_.ack_every_frames;
}

void Session::OnAck(const serialization::AckFrame& ack, absl::Time now,
                    std::vector<uint64_t>* acknowledged) {
  if (closed_) return;
  AckOutcome outcome = window_.OnAck(ack, now);
  // A cumulative point beyond anything sent is not believed (its acks count unknown).
  peer_cumulative_ =
      std::max(peer_cumulative_, std::min(ack.cumulative, window_.next_sequence() - 1));
  if (outcome.rtt_sample) {
    rtt_.OnSample(*outcome.rtt_sample);
  } else if (!outcome.acknowledged.empty() && rtt_.has_sample()) {
    // Retransmissions acknowledged give no sample (Karn), but a live peer: without
    // this, the tail of a lossy stream, all retransmissions, waits ever longer. Not
    // before the first sample, though: a peer slower than the initial timeout would
    // then have every frame resent before its ack, and never give a sample at all.
    rtt_.ResetBackoff();
  }
  counters_.acked += outcome.acknowledged.size();
  counters_.unknown_acks += outcome.unknown;
  acknowledged->insert(acknowledged->end(), outcome.acknowledged.begin(),
                       outcome.acknowledged.end());
}

void Session::Expire(absl::Time now, std::vector<uint64_t>* expired) {
  counters_.expired += window_.Expire(now, expired);
}

void Session::Close(std::vector<uint64_t>* released) {
  closed_ = true;
  window_.Clear(released);
  best_effort_queue_.clear();
  best_effort_head_ = 0;
  best_effort_queue_bytes_ = 0;
  best_effort_polled_.clear();
  due_.clear();
  held_.clear();
  held_bytes_ = 0;
  ack_owed_ = false;
  ack_urgent_ = false;
  ack_ranges_.clear();
}

std::optional<absl::Time> Session::NextDeadline() const {
  std::optional<absl::Time> next = window_.NextDeadline(rtt_.rto());
  auto consider = [&next](absl::Time at) {
    if (!next || at < *next) next = at;
  };
  if (best_effort_queue_.size() > best_effort_head_) consider(absl::InfinitePast());
  if (!closed_ && SkipOwed()) {
    consider(ForwardPoint() != skip_sent_ ? absl::InfinitePast()
                                          : skip_sent_at_ + rtt_.rto());
  }
  if (ack_owed_) {
    consider(ack_urgent_ ? absl::InfinitePast() : ack_owed_since_ + options_.ack_delay);
  }
  return next;
}

SessionCounters Session::counters() const {
  SessionCounters counters = counters_;
  counters.best_effort_lost = best_effort_given_up_ + best_effort_received_.missing();
  counters.smoothed_rtt = rtt_.smoothed();
  counters.rto = rtt_.rto();
  return counters;
}

size_t Session::bytes_held() const {
  return window_.bytes() + held_bytes_ + best_effort_queue_bytes_;
}

}  // namespace glue::transport
