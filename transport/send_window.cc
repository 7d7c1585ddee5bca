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
        "send window full: ", frames_.size() + held_above_gap_.size(), " frames and ",
        bytes(), " bytes unacknowledged (bounds ", options_.max_frames, " frames, ",
        options_.max_bytes, " bytes); adding ", payload.size(), " bytes"));
  }
  const uint64_t sequence = next_sequence_++;
  bytes_ += payload.size();
  PendingFrame& frame = frames_[sequence];
  frame.sequence = sequence;
  frame.flags = flags;
  frame.payload = std::move(payload);
  frame.expiry = expiry;
  frame.token = token;
  if (expiry != absl::InfiniteFuture()) expiries_.insert({expiry, sequence});
  ++counters_.added;
  return sequence;
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
  if (sent_.size() > 2 * frames_.size() + 64) {
    std::erase_if(sent_, [this](const Sent& entry) {
      auto it = frames_.find(entry.sequence);
      return it == frames_.end() || it->second.send_order != entry.send_order;
    });
  }
  due->push_back(&frame);
}

void SendWindow::DropStaleSent() {
  while (!sent_.empty()) {
    auto it = frames_.find(sent_.front().sequence);
    if (it != frames_.end() && it->second.send_order == sent_.front().send_order) {
      return;
    }
    sent_.pop_front();
  }
}

void SendWindow::CollectDue(absl::Time now, absl::Duration rto,
                            std::vector<const PendingFrame*>* due) {
  std::sort(lost_.begin(), lost_.end());
  for (uint64_t sequence : lost_) {
    auto it = frames_.find(sequence);
    if (it != frames_.end() && it->second.lost && it->second.expiry > now) {
      Transmit(it->second, now, due);
    }
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
      PendingFrame& frame = frames_.find(sequence)->second;
      if (frame.expiry > now) Transmit(frame, now, due);
    }
  }

  for (auto it = frames_.lower_bound(next_unsent_); it != frames_.end(); ++it) {
    if (it->second.expiry > now) Transmit(it->second, now, due);
  }
  next_unsent_ = next_sequence_;
  DropStaleSent();
}

SendWindow::Frames::iterator SendWindow::Erase(Frames::iterator it) {
  bytes_ -= it->second.payload.size();
  if (it->second.expiry != absl::InfiniteFuture()) {
    expiries_.erase({it->second.expiry, it->first});
  }
  return frames_.erase(it);  // a btree's erase invalidates every other iterator
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
    for (auto it = frames_.lower_bound(first);
         it != frames_.end() && it->first <= last;) {
      PendingFrame& frame = it->second;
      if (frame.transmissions == 0) {  // not sent yet: an ack of it is bogus
        ++outcome.unknown;
        ++it;
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
      it = Erase(it);
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
      auto it = frames_.find(entry.sequence);
      const bool live = it != frames_.end() && it->second.send_order == entry.send_order;
      if (live && entry.sequence > limit) {  // within the threshold: not yet
        ++i;
        continue;
      }
      if (live && !it->second.lost) {
        it->second.lost = true;
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
  return outcome;
}

size_t SendWindow::Expire(absl::Time now, std::vector<uint64_t>* tokens) {
  size_t count = 0;
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    auto it = frames_.find(expiries_.begin()->second);
    tokens->push_back(it->second.token);
    Erase(it);
    ++count;
  }
  counters_.expired += count;
  DropStaleSent();
  return count;
}

void SendWindow::Clear(std::vector<uint64_t>* tokens) {
  for (const auto& [sequence, frame] : frames_) tokens->push_back(frame.token);
  counters_.released += frames_.size();
  frames_.clear();
  sent_.clear();
  lost_.clear();
  expiries_.clear();
  held_above_gap_.clear();
  held_above_gap_bytes_ = 0;
  next_unsent_ = next_sequence_;
  bytes_ = 0;
}

std::optional<absl::Time> SendWindow::NextDeadline(absl::Duration rto) const {
  if (!lost_.empty() || frames_.lower_bound(next_unsent_) != frames_.end()) {
    return absl::InfinitePast();
  }
  std::optional<absl::Time> next;
  // The front of sent_ is live: every change to the window drops the stale ones.
  if (!sent_.empty()) next = std::max(sent_.front().at, last_activity_) + rto;
  if (!expiries_.empty() && (!next || expiries_.begin()->first < *next)) {
    next = expiries_.begin()->first;
  }
  return next;
}

}  // namespace glue::transport
