#include "glue/fragmentation/splitter.h"

#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "glue/fragmentation/fragment_header.h"

namespace glue::fragmentation {

absl::StatusOr<SplitPlan> PlanSplit(size_t message_bytes, size_t max_fragment_bytes,
                                    size_t max_message_bytes) {
  if (message_bytes > max_message_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("message of ", message_bytes,
                     " bytes exceeds GLUE_MAX_MESSAGE_BYTES=", max_message_bytes));
  }
  if (max_fragment_bytes == 0 ||
      max_fragment_bytes > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_fragment_bytes = ", max_fragment_bytes, ": must be 1 to ",
                     std::numeric_limits<uint32_t>::max()));
  }
  if (message_bytes <= max_fragment_bytes) {
    return SplitPlan{.message_bytes = message_bytes,
                     .fragmented = false,
                     .count = 1,
                     .fragment_bytes = static_cast<uint32_t>(message_bytes)};
  }
  const uint64_t count =
      FragmentCount(message_bytes, static_cast<uint32_t>(max_fragment_bytes));
  if (count > kMaxFragmentCount) {
    return absl::InvalidArgumentError(absl::StrCat(
        "message of ", message_bytes, " bytes needs ", count, " fragments of at most ",
        max_fragment_bytes, " bytes, more than kMaxFragmentCount = ", kMaxFragmentCount));
  }
  // The fewest fragments, evened out: ceil(message_bytes / count) is at most
  // max_fragment_bytes, and fragments of that size still number `count`.
  const uint64_t evened = message_bytes / count + (message_bytes % count != 0 ? 1 : 0);
  return SplitPlan{.message_bytes = message_bytes,
                   .fragmented = true,
                   .count = static_cast<uint32_t>(count),
                   .fragment_bytes = static_cast<uint32_t>(evened)};
}

absl::Span<const uint8_t> FragmentPayload(absl::Span<const uint8_t> message,
                                          const SplitPlan& plan, uint32_t index) {
  return message.subspan(
      size_t{index} * plan.fragment_bytes,
      FragmentPayloadBytes(plan.message_bytes, plan.fragment_bytes, index));
}

}  // namespace glue::fragmentation
