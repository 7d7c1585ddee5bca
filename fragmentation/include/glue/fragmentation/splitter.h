// PlanSplit and FragmentPayload: how the sender cuts a message into fragments that fit
// one datagram each, without copying it. The fragmentation layer, sending side; no
// I/O.
//
//   GLUE_ASSIGN_OR_RETURN(SplitPlan plan,
//                         PlanSplit(message.size(), max_fragment_bytes, max_message));
//   if (!plan.fragmented) { send `message` with empty meta; }
//   for (uint32_t i = 0; i < plan.count; ++i) {
//     FragmentHeader header = {.message_id = id, .total_bytes = plan.message_bytes,
//                              .fragment_bytes = plan.fragment_bytes, .index = i,
//                              .checksum = Crc32c(message), .time_to_live_ms = ttl};
//     send FragmentPayload(message, plan, i) with EncodeFragmentHeader(header) in meta;
//   }
#ifndef GLUE_FRAGMENTATION_SPLITTER_H_
#define GLUE_FRAGMENTATION_SPLITTER_H_

#include <cstddef>
#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace glue::fragmentation {

// SplitPlan says how one message goes on the wire.
struct SplitPlan {
  uint64_t message_bytes = 0;
  // Whether the message goes as `count` fragments, each with a FragmentHeader in its
  // meta. When false it goes whole, in one frame with empty meta.
  bool fragmented = false;
  // Frames to send: 1 when not fragmented, 2 to kMaxFragmentCount when fragmented.
  uint32_t count = 1;
  // Payload bytes of every frame but the last (the FragmentHeader's fragment_bytes);
  // message_bytes when not fragmented.
  uint32_t fragment_bytes = 0;

  friend bool operator==(const SplitPlan&, const SplitPlan&) = default;
};

// PlanSplit returns how to send a message of `message_bytes` in frames whose payload
// is at most `max_fragment_bytes`. The caller derives that bound from the datagram
// budget, leaving room for a header of kMaxFragmentHeaderBytes in meta: a message of
// up to max_fragment_bytes goes whole, a larger one in the fewest fragments, evened
// out so that the last is not a runt: it is smaller than the others by fewer bytes
// than there are fragments. Errors, all kInvalidArgument naming the values: a message
// larger than `max_message_bytes`; `max_fragment_bytes` 0 or above 2^32 - 1; a
// message that would need more than kMaxFragmentCount fragments. Any thread.
absl::StatusOr<SplitPlan> PlanSplit(size_t message_bytes, size_t max_fragment_bytes,
                                    size_t max_message_bytes);

// FragmentPayload returns the bytes of frame `index` of `message`: a view into
// `message`, valid as long as it is, never a copy. Needs the `plan` PlanSplit made for
// message.size() and index < plan.count. Any thread.
absl::Span<const uint8_t> FragmentPayload(absl::Span<const uint8_t> message,
                                          const SplitPlan& plan, uint32_t index);

}  // namespace glue::fragmentation

#endif  // GLUE_FRAGMENTATION_SPLITTER_H_
