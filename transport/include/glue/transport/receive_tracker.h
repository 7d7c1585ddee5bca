// ReceiveTracker: which sequence numbers of one sequence space have arrived, so that
// duplicates are suppressed and acknowledgements (a cumulative point plus ranges above
// it) can be built. The transport layer, receiving side of a peer session; no I/O.
//
//   ReceiveTracker tracker;
//   if (tracker.OnReceived(frame.sequence) == ReceiveTracker::Result::kNew) deliver;
//   std::vector<serialization::AckRange> ranges;
//   uint64_t cumulative = tracker.FillAck(kMaxAckRanges, &ranges);
#ifndef GLUE_TRANSPORT_RECEIVE_TRACKER_H_
#define GLUE_TRANSPORT_RECEIVE_TRACKER_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "glue/serialization/messages.h"

namespace glue::transport {

// ReceiveTrackerOptions bound the tracker's memory against a hostile or broken sender.
struct ReceiveTrackerOptions {
  // A sequence more than this beyond the cumulative point is refused (kBeyondWindow)
  // and never stored. At least 1.
  uint64_t window = 1 << 16;
  // At most this many distinct ranges are kept above the cumulative point; a sequence
  // that would need one more is refused (kOverflow). 0 accepts only sequences in order.
  size_t max_ranges = 1024;
};

// Sequence numbers start at 1 in each sequence space and only grow. The tracker keeps
// the cumulative point c (1..c all arrived, or were given up by SkipTo) and the
// disjoint, non-adjacent ranges of arrived sequences above c + 1, in O(log n) per
// call. Not thread-safe: one owner, one thread (or strand) at a time.
class ReceiveTracker {
 public:
  // Result says what OnReceived made of one sequence number.
  enum class Result {
    kNew,           // first arrival: deliver it
    kDuplicate,     // arrived before (or given up): acknowledge again, never deliver
    kBeyondWindow,  // more than `window` beyond the cumulative point: not stored
    kOverflow,      // would need a range beyond max_ranges: not stored
    kInvalid,       // 0, which no sender uses: not stored
  };

  // ResultName returns "new", "duplicate", "beyond window", "overflow" or "invalid".
  static absl::string_view ResultName(Result result);

  // Needs `options` that Validate accepts.
  explicit ReceiveTracker(ReceiveTrackerOptions options = {});

  ReceiveTracker(const ReceiveTracker&) = delete;
  ReceiveTracker& operator=(const ReceiveTracker&) = delete;

  // Validate returns OK, or kInvalidArgument naming the field when window is 0.
  static absl::Status Validate(const ReceiveTrackerOptions& options);

  // OnReceived records that `sequence` arrived, unless the result says it was not
  // stored. Refused sequences change nothing; the sender will resend them.
  Result OnReceived(uint64_t sequence);

  // cumulative returns the highest c with 1..c all received or given up (0 = none).
  uint64_t cumulative() const { return cumulative_; }

  // highest returns the highest sequence received, or the point SkipTo moved to if
  // that is higher (0 = none). Never below cumulative().
  uint64_t highest() const { return highest_; }

  // FillAck returns the cumulative point and puts into `ranges` (cleared first, not
  // null) up to `max_ranges` ranges above it, the most recent (highest) first, as the
  // wire's AckFrame carries them. Each range is inclusive, and none touches the
  // cumulative point or another range.
  uint64_t FillAck(size_t max_ranges, std::vector<serialization::AckRange>* ranges) const;

  // missing returns how many sequences between cumulative() and highest() have not
  // arrived: the gaps that may still be filled. Those SkipTo gave up are counted by its
  // return value instead, never here.
  uint64_t missing() const { return highest_ - cumulative_ - in_ranges_; }

  // SkipTo records that the sender will never send anything <= `sequence` again
  // (expired, or best-effort): moves the cumulative point up to at least `sequence`,
  // absorbing the ranges it reaches. Returns how many sequences were given up without
  // having arrived (lost, for best-effort counters); 0 when `sequence` <= cumulative().
  uint64_t SkipTo(uint64_t sequence);

  // range_count returns how many ranges are kept above the cumulative point.
  size_t range_count() const { return ranges_.size(); }

  const ReceiveTrackerOptions& options() const { return options_; }

 private:
  // Absorbs into the cumulative point the lowest range if it starts right after it.
  void AdvanceCumulative();

  const ReceiveTrackerOptions options_;
  uint64_t cumulative_ = 0;
  uint64_t highest_ = 0;
  // Ranges above cumulative_ + 1, first -> last (inclusive): disjoint, non-adjacent.
  absl::btree_map<uint64_t, uint64_t> ranges_;
  // How many sequences ranges_ holds.
  uint64_t in_ranges_ = 0;
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_RECEIVE_TRACKER_H_
