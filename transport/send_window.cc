#include "glue/transport/send_window.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace glue::transport {

SendWindow::SendWindow(SendWindowOptions options) : options_(options) {}

absl::Status SendWindow::Validate(const SendWindowOptions& options) {
  if (options.max_bytes == 0) {
    return absl::InvalidArgumentError("SendWindowOptions.max_bytes must be above 0");
  }
  if (options.max_frames == 0) {
    return absl::InvalidArgumentError("SendWindowOptions.max_frames must be above 0");
  }
  if (options.fast_retransmit_threshold == 0) {
    return absl::InvalidArgumentError(
        "SendWindowOptions.fast_retransmit_threshold must be above 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> SendWindow::Add(Payload payload, uint32_t flags,
                                         absl::Time expiry, uint64_t token) {
  if (payload.size() > options_.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("a frame of ", payload.size(),
                                                   " bytes exceeds the send window of ",
                                                   options_.max_bytes, " bytes"));
  }
  if (!HasRoom(payload.size())) {
    ++counters_.refused;
    return absl::ResourceExhaustedError(absl::StrCat(
        "send window full: ", next_sequence_ - lowest_counted(), " frames spanned and ",
        bytes(), " bytes unacknowledged (bounds ", options_.max_frames, " frames, ",
        options_.max_bytes, " bytes); adding ", payload.size(), " bytes"));
  }
  if (next_sequence_ - base_ >= ring_.size()) Grow();
  const uint64_t sequence = next_sequence_++;
  bytes_ += payload.size();
  ++live_;
  PendingFrame& frame = ring_[sequence & (ring_.size() - 1)];
  frame.sequence = sequence;
  frame.flags = flags;
  frame.payload = std::move(payload);
  frame.expiry = expiry;
  frame.token = token;
  frame.transmissions = 0;
  frame.last_sent = absl::InfinitePast();
  frame.send_order = 0;
  frame.lost = false;
  if (expiry != absl::InfiniteFuture()) {
    if (expiry_order_.empty() || expiry_order_.back().at <= expiry) {
      expiry_order_.push_back({expiry, sequence});
    } else {
      expiry_others_.insert({expiry, sequence});
    }
  }
  ++counters_.added;
  return sequence;
}

void SendWindow::Grow() {
  std::vector<PendingFrame> ring(std::max<size_t>(16, 2 * ring_.size()));
  const size_t mask = ring.size() - 1;
  for (uint64_t sequence = base_; sequence < next_sequence_; ++sequence) {
    PendingFrame& frame = ring_[sequence & (ring_.size() - 1)];
    if (frame.sequence == sequence) ring[sequence & mask] = std::move(frame);
  }
  ring_ = std::move(ring);
}

void SendWindow::Transmit(PendingFrame& frame, absl::Time now,
                          std::vector<const PendingFrame*>* due) {
  if (frame.transmissions == 0) {
    ++counters_.sent;
  } else {
    ++counters_.resent;
    if (frame.lost) {
      ++counters_.fast_retransmits;
    } else if (frame.transmissions >= 2) {
      ++counters_.repeated_timeouts;
    }
  }
  ++frame.transmissions;
  frame.last_sent = now;
  last_activity_ = now;
  frame.send_order = ++transmissions_;
  frame.lost = false;
  sent_.push_back({now, frame.sequence, frame.send_order});
  // Entries go stale behind a live front while acknowledgements hold the timeout off;
  // past twice the frames held, drop them all, so that sent_ stays within a bound of
  // the window's size.
  if (sent_.size() > 2 * live_ + 64) {
    std::erase_if(sent_, [this](const Sent& entry) {
      const PendingFrame* held = Find(entry.sequence);
      return held == nullptr || held->send_order != entry.send_order;
    });
  }
  due->push_back(&frame);
}

void SendWindow::DropStaleSent() {
  while (!sent_.empty()) {
    const PendingFrame* held = Find(sent_.front().sequence);
    if (held != nullptr && held->send_order == sent_.front().send_order) return;
    sent_.pop_front();
  }
}

void SendWindow::DropStaleExpiries() {
  while (!expiry_order_.empty() && Find(expiry_order_.front().sequence) == nullptr) {
    expiry_order_.pop_front();
  }
}

void SendWindow::CollectDue(absl::Time now, absl::Duration rto,
                            std::vector<const PendingFrame*>* due) {
  std::sort(lost_.begin(), lost_.end());
  for (uint64_t sequence : lost_) {
    PendingFrame* frame = Find(sequence);
    if (frame != nullptr && frame->lost && frame->expiry > now)
      Transmit(*frame, now, due);
  }
  lost_.clear();

  // The timeout: frames outstanding, and for rto nothing transmitted and nothing new
  // acknowledged. Every frame sent rto or more ago goes again, oldest first; only the
  // entries there now, as those Transmit appends are not due.
  DropStaleSent();
  if (!sent_.empty() && now >= last_activity_ + rto) {
    ++counters_.timeouts;
    for (size_t entries = sent_.size(); entries > 0 && !sent_.empty(); --entries) {
      DropStaleSent();
      if (sent_.empty() || sent_.front().at + rto > now) break;
      const uint64_t sequence = sent_.front().sequence;
      sent_.pop_front();
      PendingFrame& frame = *Find(sequence);
      if (frame.expiry > now) Transmit(frame, now, due);
    }
  }

  for (uint64_t sequence = std::max(next_unsent_, base_); sequence < next_sequence_;
       ++sequence) {
    PendingFrame* frame = Find(sequence);
    if (frame != nullptr && frame->expiry > now) Transmit(*frame, now, due);
  }
  next_unsent_ = next_sequence_;
  DropStaleSent();
}

void SendWindow::Erase(PendingFrame& frame) {
  bytes_ -= frame.payload.size();
  --live_;
  if (!expiry_others_.empty() && frame.expiry != absl::InfiniteFuture()) {
    expiry_others_.erase({frame.expiry, frame.sequence});
  }
  frame.sequence = 0;
  frame.payload.owner.reset();  // the payload's buffer goes now, not when reused
  frame.payload.meta.clear();
  while (base_ < next_sequence_ && ring_[base_ & (ring_.size() - 1)].sequence != base_) {
    ++base_;
  }
}

AckOutcome SendWindow::OnAck(const serialization::AckFrame& ack, absl::Time now) {
  AckOutcome outcome;
  uint64_t newest = 0;  // the highest sequence acknowledged by this ack
  std::optional<absl::Duration> newest_sample;

  // Everything at or below the cumulative point, then each range.
  auto acknowledge = [&](uint64_t first, uint64_t last) {
    if (last >= next_sequence_) {
      const uint64_t never_sent_from = std::max(first, next_sequence_);
      outcome.unknown += last - never_sent_from + 1;
      if (first >= next_sequence_) return;
      last = next_sequence_ - 1;
    }
    for (uint64_t sequence = std::max(first, base_); sequence <= last; ++sequence) {
      PendingFrame* held = Find(sequence);
      if (held == nullptr) continue;
      PendingFrame& frame = *held;
      if (frame.transmissions == 0) {  // not sent yet: an ack of it is bogus
        ++outcome.unknown;
        continue;
      }
      if (frame.sequence >= newest) {
        newest = frame.sequence;
        newest_sample = frame.transmissions == 1
                            ? std::optional<absl::Duration>(now - frame.last_sent)
                            : std::nullopt;
        if (frame.sequence > highest_acked_) {
          highest_acked_ = frame.sequence;
          highest_acked_order_ = frame.send_order;
        }
      }
      outcome.acknowledged.push_back(frame.token);
      last_activity_ = std::max(last_activity_, now);
      if ((frame.flags & kFlagOrdered) != 0 && frame.sequence > ack.cumulative) {
        held_above_gap_.emplace(frame.sequence, frame.payload.size());
        held_above_gap_bytes_ += frame.payload.size();
      }
      Erase(frame);
    }
  };
  if (ack.cumulative > 0) acknowledge(1, ack.cumulative);
  for (const serialization::AckRange& range : ack.ranges) {
    acknowledge(range.first, range.last);
  }
  // The receiver has handed up, or given up on, everything to the cumulative point.
  while (!held_above_gap_.empty() && held_above_gap_.begin()->first <= ack.cumulative) {
    held_above_gap_bytes_ -= held_above_gap_.begin()->second;
    held_above_gap_.erase(held_above_gap_.begin());
  }
  outcome.rtt_sample = newest_sample;
  counters_.acknowledged += outcome.acknowledged.size();
  counters_.unknown_acks += outcome.unknown;

  // Fast retransmit: a frame far enough below the highest acknowledged one, and
  // transmitted before it, will not be acknowledged: resend it now. A resent frame was
  // transmitted after, so the same evidence cannot mark it twice. sent_ is in the
  // order of transmissions, so the candidates are a prefix of it; those marked (and
  // stale entries) leave it from the front, so an ack costs what it marks, not the
  // window. The few frames within the threshold of the highest stay, and what lies
  // behind them is looked at again by the next ack.
  if (highest_acked_ > options_.fast_retransmit_threshold) {
    const uint64_t limit = highest_acked_ - options_.fast_retransmit_threshold;
    size_t i = 0;
    while (i < sent_.size() && sent_[i].send_order < highest_acked_order_) {
      const Sent& entry = sent_[i];
      PendingFrame* held = Find(entry.sequence);
      const bool live = held != nullptr && held->send_order == entry.send_order;
      if (live && entry.sequence > limit) {  // within the threshold: not yet
        ++i;
        continue;
      }
      if (live && !held->lost) {
        held->lost = true;
        lost_.push_back(entry.sequence);
        ++outcome.marked_lost;
      }
      if (i == 0) {
        sent_.pop_front();
      } else {
        ++i;
      }
    }
  }
  DropStaleSent();
  DropStaleExpiries();
  ReleaseIfEmpty();
  return outcome;
}

size_t SendWindow::Expire(absl::Time now, std::vector<uint64_t>* tokens) {
  size_t count = 0;
  auto expire = [&](uint64_t sequence) {
    PendingFrame* frame = Find(sequence);
    if (frame == nullptr) return;
    tokens->push_back(frame->token);
    Erase(*frame);
    ++count;
  };
  for (;;) {
    DropStaleExpiries();
    const bool in_order = !expiry_order_.empty() && expiry_order_.front().at <= now;
    const bool other = !expiry_others_.empty() && expiry_others_.begin()->first <= now;
    if (in_order &&
        (!other || expiry_order_.front().at <= expiry_others_.begin()->first)) {
      const uint64_t sequence = expiry_order_.front().sequence;
      expiry_order_.pop_front();
      expire(sequence);
    } else if (other) {
      const uint64_t sequence = expiry_others_.begin()->second;
      expiry_others_.erase(expiry_others_.begin());
      expire(sequence);
    } else {
      break;
    }
  }
  counters_.expired += count;
  DropStaleSent();
  ReleaseIfEmpty();
  return count;
}

void SendWindow::ReleaseIfEmpty() {
  if (live_ == 0 && ring_.size() > kKeptSlots) {
    ring_.clear();
    ring_.shrink_to_fit();
  }
}

void SendWindow::Clear(std::vector<uint64_t>* tokens) {
  for (uint64_t sequence = base_; sequence < next_sequence_; ++sequence) {
    if (const PendingFrame* frame = Find(sequence)) tokens->push_back(frame->token);
  }
  counters_.released += live_;
  ring_.clear();
  ring_.shrink_to_fit();
  base_ = next_sequence_;
  live_ = 0;
  sent_.clear();
  lost_.clear();
  expiry_order_.clear();
  expiry_others_.clear();
  held_above_gap_.clear();
  held_above_gap_bytes_ = 0;
  next_unsent_ = next_sequence_;
  bytes_ = 0;
}

std::optional<absl::Time> SendWindow::NextDeadline(absl::Duration rto) const {
  // Frames from next_unsent_ on are held until sent, or expired (then CollectDue
  // finds nothing, and moves next_unsent_ past them).
  if (!lost_.empty() || next_unsent_ < next_sequence_) return absl::InfinitePast();
  std::optional<absl::Time> next;
  // The front of sent_ is live: every change to the window drops the stale ones.
  if (!sent_.empty()) next = std::max(sent_.front().at, last_activity_) + rto;
  // The front of expiry_order_ is held: every change to the window drops the others.
  auto consider = [&next](absl::Time at) {
    if (!next || at < *next) next = at;
  };
  if (!expiry_order_.empty()) consider(expiry_order_.front().at);
  if (!expiry_others_.empty()) consider(expiry_others_.begin()->first);
  return next;
}

}  // namespace glue::transport
