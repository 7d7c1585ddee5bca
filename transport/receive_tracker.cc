#include "glue/transport/receive_tracker.h"

#include <algorithm>
#include <iterator>

namespace glue::transport {

absl::string_view ReceiveTracker::ResultName(Result result) {
  switch (result) {
    case Result::kNew:
      return "new";
    case Result::kDuplicate:
      return "duplicate";
    case Result::kBeyondWindow:
      return "beyond window";
    case Result::kOverflow:
      return "overflow";
    case Result::kInvalid:
      return "invalid";
  }
  return "unknown";
}

ReceiveTracker::ReceiveTracker(ReceiveTrackerOptions options) : options_(options) {}

absl::Status ReceiveTracker::Validate(const ReceiveTrackerOptions& options) {
  if (options.window == 0) {
    return absl::InvalidArgumentError(
        "ReceiveTrackerOptions.window = 0: must be >= 1, or nothing is ever accepted");
  }
  return absl::OkStatus();
}

ReceiveTracker::Result ReceiveTracker::OnReceived(uint64_t sequence) {
  if (sequence == 0) return Result::kInvalid;
  if (sequence <= cumulative_) return Result::kDuplicate;
  if (sequence - cumulative_ > options_.window) return Result::kBeyondWindow;

  // `next` is the first range above `sequence`, `previous` the last one below or at it.
  auto next = ranges_.upper_bound(sequence);
  auto previous = next == ranges_.begin() ? ranges_.end() : std::prev(next);
  if (previous != ranges_.end() && previous->second >= sequence) {
    return Result::kDuplicate;
  }
  // None of these `+ 1` overflows: cumulative_ and previous->second are below
  // `sequence`, and `sequence` is below next->first.
  const bool extends_cumulative = sequence == cumulative_ + 1;
  const bool extends_previous =
      previous != ranges_.end() && previous->second + 1 == sequence;
  const bool extends_next = next != ranges_.end() && next->first == sequence + 1;

  if (extends_cumulative) {
    cumulative_ = sequence;
    AdvanceCumulative();
  } else if (extends_previous && extends_next) {
    previous->second = next->second;
    ranges_.erase(next);
    ++in_ranges_;
  } else if (extends_previous) {
    previous->second = sequence;
    ++in_ranges_;
  } else if (extends_next) {
    const uint64_t last = next->second;
    ranges_.emplace_hint(ranges_.erase(next), sequence, last);
    ++in_ranges_;
  } else {
    if (ranges_.size() >= options_.max_ranges) return Result::kOverflow;
    ranges_.emplace_hint(next, sequence, sequence);
    ++in_ranges_;
  }
  highest_ = std::max(highest_, sequence);
  return Result::kNew;
}

uint64_t ReceiveTracker::FillAck(size_t max_ranges,
                                 std::vector<serialization::AckRange>* ranges) const {
  ranges->clear();
  ranges->reserve(std::min(max_ranges, ranges_.size()));
  for (auto it = ranges_.rbegin(); it != ranges_.rend() && ranges->size() < max_ranges;
       ++it) {
    ranges->push_back({.first = it->first, .last = it->second});
  }
  return cumulative_;
}

uint64_t ReceiveTracker::SkipTo(uint64_t sequence) {
  if (sequence <= cumulative_) return 0;
  uint64_t given_up = sequence - cumulative_;
  // Ranges that start at or below `sequence` arrived in part or whole; the one that
  // starts right after it is absorbed by AdvanceCumulative.
  auto it = ranges_.begin();
  while (it != ranges_.end() && it->first <= sequence) {
    given_up -= std::min(it->second, sequence) - it->first + 1;
    in_ranges_ -= it->second - it->first + 1;
    sequence = std::max(sequence, it->second);
    it = ranges_.erase(it);
  }
  cumulative_ = sequence;
  AdvanceCumulative();
  highest_ = std::max(highest_, cumulative_);
  return given_up;
}

void ReceiveTracker::AdvanceCumulative() {
  auto lowest = ranges_.begin();
  if (lowest == ranges_.end() || lowest->first != cumulative_ + 1) return;
  cumulative_ = lowest->second;
  in_ranges_ -= lowest->second - lowest->first + 1;
  ranges_.erase(lowest);
}

}  // namespace glue::transport
