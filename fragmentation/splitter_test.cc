#include "glue/fragmentation/splitter.h"

#include <cstdint>
#include <vector>

#include "glue/base/status_matchers.h"
#include "glue/fragmentation/fragment_header.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::fragmentation {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

constexpr size_t kF = 1400;  // a fragment payload that fits an Ethernet datagram
constexpr size_t kMaxMessage = kDefaultMaxMessageBytes;
constexpr size_t kMiB = size_t{1} << 20;

// ExpectCovers checks that the fragments of `plan` cut a message of its size into
// consecutive pieces of at most `max_fragment_bytes`, each of a size its header
// announces, and that a receiver would accept every header.
void ExpectCovers(const SplitPlan& plan, size_t max_fragment_bytes) {
  ASSERT_TRUE(plan.fragmented);
  ASSERT_GE(plan.count, 2u);
  ASSERT_LE(plan.fragment_bytes, max_fragment_bytes);
  EXPECT_EQ(FragmentCount(plan.message_bytes, plan.fragment_bytes), plan.count);
  uint64_t covered = 0;
  for (uint32_t index = 0; index < plan.count; ++index) {
    const FragmentHeader header = {.total_bytes = plan.message_bytes,
                                   .fragment_bytes = plan.fragment_bytes,
                                   .index = index};
    ASSERT_OK(ValidateFragmentHeader(header, kMaxMessage));
    const uint64_t size =
        FragmentPayloadBytes(plan.message_bytes, plan.fragment_bytes, index);
    ASSERT_GE(size, 1u);
    // Evened out: the last is short of the others by fewer bytes than the count.
    ASSERT_GT(size + plan.count, plan.fragment_bytes) << "index " << index;
    covered += size;
  }
  EXPECT_EQ(covered, plan.message_bytes);
}

TEST(PlanSplit, SendsWholeWhatFitsOneFrame) {
  for (size_t size : {size_t{0}, size_t{1}, kF - 1, kF}) {
    SCOPED_TRACE(size);
    ASSERT_OK_AND_ASSIGN(const SplitPlan plan, PlanSplit(size, kF, kMaxMessage));
    EXPECT_EQ(plan, (SplitPlan{.message_bytes = size,
                               .fragmented = false,
                               .count = 1,
                               .fragment_bytes = static_cast<uint32_t>(size)}));
    const std::vector<uint8_t> message(size, 0x11);
    const absl::Span<const uint8_t> payload = FragmentPayload(message, plan, 0);
    EXPECT_EQ(payload.data(), message.data());
    EXPECT_EQ(payload.size(), size);
  }
}

TEST(PlanSplit, SplitsOneByteTooManyIntoTwoEvenFragments) {
  ASSERT_OK_AND_ASSIGN(const SplitPlan plan, PlanSplit(kF + 1, kF, kMaxMessage));
  EXPECT_EQ(plan, (SplitPlan{.message_bytes = kF + 1,
                             .fragmented = true,
                             .count = 2,
                             .fragment_bytes = kF / 2 + 1}));
  ExpectCovers(plan, kF);
}

TEST(PlanSplit, SplitsLargeMessagesIntoTheFewestFragments) {
  for (size_t size : {kMiB, 64 * kMiB}) {
    SCOPED_TRACE(size);
    ASSERT_OK_AND_ASSIGN(const SplitPlan plan, PlanSplit(size, kF, kMaxMessage));
    EXPECT_EQ(plan.count, (size + kF - 1) / kF);
    ExpectCovers(plan, kF);
  }
  // 1 MiB takes 749 fragments; evened out they still need 1400 bytes, and the last
  // carries the 1376 left.
  ASSERT_OK_AND_ASSIGN(const SplitPlan mib, PlanSplit(kMiB, kF, kMaxMessage));
  EXPECT_EQ(mib.count, 749u);
  EXPECT_EQ(mib.fragment_bytes, 1400u);
  EXPECT_EQ(FragmentPayloadBytes(kMiB, 1400, 748), 1376u);
  // 3000 bytes take 3 fragments: 1000 each rather than 1400, 1400 and 200.
  ASSERT_OK_AND_ASSIGN(const SplitPlan even, PlanSplit(3000, kF, kMaxMessage));
  EXPECT_EQ(even.count, 3u);
  EXPECT_EQ(even.fragment_bytes, 1000u);
}

TEST(PlanSplit, RefusesAMessageAboveTheMaximum) {
  EXPECT_THAT(PlanSplit(64 * kMiB + 1, kF, kMaxMessage),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("message of 67108865 bytes exceeds "
                                 "GLUE_MAX_MESSAGE_BYTES=67108864")));
  EXPECT_THAT(
      PlanSplit(11, kF, 10),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("message of 11 bytes exceeds GLUE_MAX_MESSAGE_BYTES=10")));
}

TEST(PlanSplit, RefusesAFragmentSizeOutsideItsRange) {
  EXPECT_THAT(
      PlanSplit(10, 0, kMaxMessage),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_fragment_bytes = 0")));
  EXPECT_THAT(PlanSplit(10, size_t{1} << 32, kMaxMessage),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("max_fragment_bytes = 4294967296")));
}

TEST(PlanSplit, RefusesMoreFragmentsThanTheMost) {
  ASSERT_OK_AND_ASSIGN(const SplitPlan most,
                       PlanSplit(kMaxFragmentCount, 1, kMaxMessage));
  EXPECT_EQ(most.count, kMaxFragmentCount);
  EXPECT_THAT(PlanSplit(kMaxFragmentCount + 1, 1, kMaxMessage),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("needs 1048577 fragments of at most 1 bytes")));
  EXPECT_THAT(PlanSplit(64 * kMiB, 63, kMaxMessage),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("kMaxFragmentCount = 1048576")));
}

TEST(PlanSplit, FragmentsEveryMessageSizeEvenly) {
  for (size_t max_fragment_bytes : {1, 2, 3, 7, 64, 100}) {
    for (size_t size = max_fragment_bytes + 1; size <= 400; ++size) {
      SCOPED_TRACE(::testing::Message() << size << " in " << max_fragment_bytes);
      ASSERT_OK_AND_ASSIGN(const SplitPlan plan,
                           PlanSplit(size, max_fragment_bytes, kMaxMessage));
      EXPECT_EQ(plan.count, (size + max_fragment_bytes - 1) / max_fragment_bytes);
      ExpectCovers(plan, max_fragment_bytes);
    }
  }
}

TEST(FragmentPayload, ViewsTheMessageInPlace) {
  std::vector<uint8_t> message(1000);
  for (size_t i = 0; i < message.size(); ++i) message[i] = static_cast<uint8_t>(i);
  ASSERT_OK_AND_ASSIGN(const SplitPlan plan, PlanSplit(message.size(), 300, kMaxMessage));
  ASSERT_EQ(plan.count, 4u);
  ASSERT_EQ(plan.fragment_bytes, 250u);
  for (uint32_t index = 0; index < plan.count; ++index) {
    const absl::Span<const uint8_t> payload = FragmentPayload(message, plan, index);
    EXPECT_EQ(payload.data(), message.data() + 250 * index);
    EXPECT_EQ(payload.size(), 250u);
  }
}

}  // namespace
}  // namespace glue::fragmentation
