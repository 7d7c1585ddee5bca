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

absl::StatusOr<uint64_t> SendWindow::Add(std::vector<uint8_t> payload, uint32_t flags,
                                         absl::Time expiry, uint64_t token) {
  if (payload.size() > options_.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("a frame of ", payload.size(),
                                                   " bytes exceeds the send window of ",
                                                   options_.max_bytes, " bytes"));
  }
  if (bytes_ + payload.size() > options_.max_bytes ||
      frames_.size() >= options_.max_frames) {
    ++counters_.refused;
    return absl::ResourceExhaustedError(
        absl::StrCat("send window full: ", frames_.size(), " frames and ", bytes_,
                     " bytes unacknowledged (bounds ", options_.max_frames, " frames, ",
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
  ++counters_.added;
  return sequence;
}

void SendWindow::CollectDue(absl::Time now, absl::Duration rto,
                            std::vector<const PendingFrame*>* due) {
  for (auto& [sequence, frame] : frames_) {
    if (frame.expiry <= now) continue;
    const bool never_sent = frame.transmissions == 0;
    if (!never_sent && !frame.lost && frame.last_sent + rto > now) continue;
    if (never_sent) {
      ++counters_.sent;
    } else {
      ++counters_.resent;
      if (frame.lost) ++counters_.fast_retransmits;
    }
    ++frame.transmissions;
    frame.last_sent = now;
    frame.send_order = ++transmissions_;
    frame.lost = false;
    due->push_back(&frame);
  }
}

absl::btree_map<uint64_t, PendingFrame>::iterator SendWindow::Erase(
    absl::btree_map<uint64_t, PendingFrame>::iterator it) {
  bytes_ -= it->second.payload.size();
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
      it = Erase(it);
    }
  };
  if (ack.cumulative > 0) acknowledge(1, ack.cumulative);
  for (const serialization::AckRange& range : ack.ranges) {
    acknowledge(range.first, range.last);
  }
  outcome.rtt_sample = newest_sample;
  counters_.acknowledged += outcome.acknowledged.size();
  counters_.unknown_acks += outcome.unknown;

  // Fast retransmit: a frame far enough below the highest acknowledged one, and
  // transmitted before it, will not be acknowledged: resend it now. A resent frame was
  // transmitted after, so the same evidence cannot mark it twice.
  if (highest_acked_ > options_.fast_retransmit_threshold) {
    const uint64_t limit = highest_acked_ - options_.fast_retransmit_threshold;
    for (auto it = frames_.begin(); it != frames_.end() && it->first <= limit; ++it) {
      PendingFrame& frame = it->second;
      if (frame.transmissions > 0 && !frame.lost &&
          frame.send_order < highest_acked_order_) {
        frame.lost = true;
        ++outcome.marked_lost;
      }
    }
  }
  return outcome;
}

size_t SendWindow::Expire(absl::Time now, std::vector<uint64_t>* tokens) {
  size_t count = 0;
  for (auto it = frames_.begin(); it != frames_.end();) {
    if (it->second.expiry > now) {
      ++it;
      continue;
    }
    tokens->push_back(it->second.token);
    it = Erase(it);
    ++count;
  }
  counters_.expired += count;
  return count;
}

void SendWindow::Clear(std::vector<uint64_t>* tokens) {
  for (const auto& [sequence, frame] : frames_) tokens->push_back(frame.token);
  counters_.released += frames_.size();
  frames_.clear();
  bytes_ = 0;
}

std::optional<absl::Time> SendWindow::NextDeadline(absl::Duration rto) const {
  std::optional<absl::Time> next;
  for (const auto& [sequence, frame] : frames_) {
    absl::Time at = frame.expiry;
    if (frame.transmissions == 0 || frame.lost) {
      at = absl::InfinitePast();
    } else {
      at = std::min(at, frame.last_sent + rto);
    }
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace glue::transport
