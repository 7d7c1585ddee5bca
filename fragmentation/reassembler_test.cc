#include "glue/fragmentation/reassembler.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

#include "glue/base/crc32c.h"
#include "glue/base/status_matchers.h"
#include "glue/fragmentation/splitter.h"
#include "glue/serialization/allocation_counter.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::fragmentation {
namespace {

using ::glue::serialization::testing::AllocatedBytes;
using ::glue::serialization::testing::AllocationCount;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Result = Reassembler::Result;

const absl::Time kStart = absl::FromUnixSeconds(1000);
constexpr size_t kMessageOverhead = Reassembler::kMessageOverheadBytes;
constexpr size_t kRunOverhead = Reassembler::kRunOverheadBytes;
constexpr size_t kBlockOverhead = Reassembler::kBlockOverheadBytes;
// The smallest block a fragment's bytes are kept in.
constexpr size_t kMinBlock = 64;

// Fragment is one fragment as a sender puts it on the wire. The payload views
// the message it was cut from.
struct Fragment {
  FragmentHeader header;
  absl::Span<const uint8_t> payload;
};

// Split cuts `message` as a sender does, into payloads of at most
// `max_fragment_bytes`; it must need fragments.
std::vector<Fragment> Split(absl::Span<const uint8_t> message, size_t max_fragment_bytes,
                            uint64_t message_id, uint32_t time_to_live_ms = 0) {
  const absl::StatusOr<SplitPlan> plan =
      PlanSplit(message.size(), max_fragment_bytes, kDefaultMaxMessageBytes);
  EXPECT_TRUE(plan.ok() && plan->fragmented) << message.size();
  if (!plan.ok()) return {};
  const uint32_t checksum = Crc32c(message);
  std::vector<Fragment> fragments;
  for (uint32_t index = 0; index < plan->count; ++index) {
    fragments.push_back({.header = {.message_id = message_id,
                                    .total_bytes = plan->message_bytes,
                                    .fragment_bytes = plan->fragment_bytes,
                                    .index = index,
                                    .checksum = checksum,
                                    .time_to_live_ms = time_to_live_ms},
                         .payload = FragmentPayload(message, *plan, index)});
  }
  return fragments;
}

// Pattern returns `size` bytes that differ from one `seed` to another, eight at
// a time so that 64 MiB take little time.
std::vector<uint8_t> Pattern(size_t size, uint64_t seed) {
  std::vector<uint8_t> bytes(size);
  uint64_t state = seed * 0x9e3779b97f4a7c15u + 1;
  for (size_t i = 0; i < size; i += sizeof(state)) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    std::memcpy(bytes.data() + i, &state, std::min(sizeof(state), size - i));
  }
  return bytes;
}

Reassembler::Outcome Feed(Reassembler& reassembler, const Fragment& fragment,
                          absl::Time now = kStart) {
  return reassembler.OnFragment(fragment.header, fragment.payload, now);
}

// FeedAll feeds every fragment of `fragments` from `from` on and returns the
// last outcome.
Reassembler::Outcome FeedAll(Reassembler& reassembler,
                             const std::vector<Fragment>& fragments, size_t from = 0) {
  Reassembler::Outcome outcome;
  for (size_t i = from; i < fragments.size(); ++i) {
    outcome = Feed(reassembler, fragments[i]);
  }
  return outcome;
}

// HoldsWhatArrived says whether `held` bytes are what a reassembler may charge
// for `messages` incomplete messages, of which `fragments` fragments of `bytes`
// payload bytes in all arrived: the payload, room to grow into no larger than
// it (or than the smallest block), and the bookkeeping of each message and of
// each fragment, kept apart in a block of its own at most.
::testing::AssertionResult HoldsWhatArrived(size_t held, size_t messages,
                                            size_t fragments, size_t bytes) {
  const size_t least = messages * kMessageOverhead + bytes;
  const size_t most = messages * kMessageOverhead + 2 * bytes +
                      fragments * (kRunOverhead + kBlockOverhead + kMinBlock);
  if (held >= least && held <= most) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << held << " bytes held for " << messages << " messages, " << fragments
         << " fragments of " << bytes << " bytes: expected " << least << " to " << most;
}

unsigned Seed(const char* test) {
  const unsigned seed = std::random_device{}();
  std::printf("%s seed: %u\n", test, seed);
  return seed;
}

TEST(Reassembler, ValidateNamesTheOffendingField) {
  EXPECT_OK(Reassembler::Validate({}));
  EXPECT_THAT(
      Reassembler::Validate({.max_messages = 0}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_messages = 0")));
  for (absl::Duration bad :
       {absl::ZeroDuration(), absl::Seconds(-1), absl::InfiniteDuration()}) {
    EXPECT_THAT(
        Reassembler::Validate({.default_time_to_live = bad}),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 HasSubstr("default_time_to_live = " + absl::FormatDuration(bad))));
  }
  for (absl::Duration bad :
       {absl::ZeroDuration(), absl::Seconds(-1), absl::InfiniteDuration()}) {
    EXPECT_THAT(Reassembler::Validate({.max_time_to_live = bad}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("max_time_to_live = " + absl::FormatDuration(bad))));
  }
  EXPECT_THAT(Reassembler::Validate({.default_time_to_live = absl::Seconds(11),
                                     .max_time_to_live = absl::Seconds(10)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("default_time_to_live = 11s"),
                             HasSubstr("max_time_to_live = 10s"))));
  EXPECT_OK(Reassembler::Validate(
      {.default_time_to_live = absl::Hours(1), .max_time_to_live = absl::Hours(1)}));
  EXPECT_EQ(Reassembler::ResultName(Result::kChecksumMismatch), "checksum mismatch");
}

TEST(Reassembler, HandsUpEveryOrderOfUpToFiveFragments) {
  // One fragment is no fragment: such a message goes whole, and a header that
  // claims one is refused.
  ASSERT_OK_AND_ASSIGN(const SplitPlan whole, PlanSplit(10, 10, kDefaultMaxMessageBytes));
  EXPECT_FALSE(whole.fragmented);
  {
    ReassemblyBudget budget;
    Reassembler reassembler({}, &budget);
    const std::vector<uint8_t> payload(10);
    EXPECT_EQ(reassembler
                  .OnFragment({.message_id = 1, .total_bytes = 10, .fragment_bytes = 10},
                              payload, kStart)
                  .result,
              Result::kInvalid);
    EXPECT_EQ(reassembler.bytes_held(), 0u);
  }

  for (uint32_t count = 2; count <= 5; ++count) {
    const std::vector<uint8_t> message = Pattern(count * 10 - 3, count);
    const std::vector<Fragment> fragments = Split(message, 10, /*message_id=*/count);
    ASSERT_EQ(fragments.size(), count);
    std::vector<uint32_t> order(count);
    std::iota(order.begin(), order.end(), 0);
    int orders = 0;
    do {
      SCOPED_TRACE(::testing::Message() << "order " << ::testing::PrintToString(order));
      ReassemblyBudget budget;
      Reassembler reassembler({}, &budget);
      size_t arrived = 0;
      for (uint32_t i = 0; i + 1 < count; ++i) {
        ASSERT_EQ(Feed(reassembler, fragments[order[i]]).result, Result::kStored);
        arrived += fragments[order[i]].payload.size();
        EXPECT_TRUE(HoldsWhatArrived(reassembler.bytes_held(), 1, i + 1, arrived));
        EXPECT_EQ(budget.bytes_held(), reassembler.bytes_held());
      }
      const Reassembler::Outcome outcome = Feed(reassembler, fragments[order.back()]);
      ASSERT_EQ(outcome.result, Result::kCompleted);
      EXPECT_EQ(outcome.message, message);
      EXPECT_EQ(reassembler.bytes_held(), 0u);
      EXPECT_EQ(budget.bytes_held(), 0u);
      EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
      EXPECT_EQ(reassembler.counters().completed, 1u);
      ++orders;
    } while (std::next_permutation(order.begin(), order.end()));
    EXPECT_EQ(orders, count == 2 ? 2 : count == 3 ? 6 : count == 4 ? 24 : 120);
  }
}

TEST(Reassembler, HandsUpRandomOrdersWithDuplicatesOnce) {
  const unsigned seed = Seed("random orders");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  uint64_t fragments_sent = 0;
  uint64_t duplicates_sent = 0;
  for (uint64_t message_id = 1; message_id <= 200; ++message_id) {
    SCOPED_TRACE(::testing::Message() << "message " << message_id);
    const size_t max_fragment_bytes = 1 + random() % 64;
    const size_t count = 6 + random() % 300;
    const size_t size =
        (count - 1) * max_fragment_bytes + 1 + random() % max_fragment_bytes;
    const std::vector<uint8_t> message = Pattern(size, message_id);
    const std::vector<Fragment> fragments =
        Split(message, max_fragment_bytes, message_id);
    ASSERT_EQ(fragments.size(), count);
    std::vector<size_t> order(count);
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), random);
    // Each fragment in `order`, and now and then again one sent before it.
    for (size_t i = 0; i < count; ++i) {
      if (i > 0 && random() % 4 == 0) {
        ASSERT_EQ(Feed(reassembler, fragments[order[random() % i]]).result,
                  Result::kDuplicate);
        ++duplicates_sent;
      }
      const Reassembler::Outcome outcome = Feed(reassembler, fragments[order[i]]);
      if (i + 1 < count) {
        ASSERT_EQ(outcome.result, Result::kStored) << "fragment " << i;
      } else {
        ASSERT_EQ(outcome.result, Result::kCompleted);
        ASSERT_EQ(outcome.message, message);
      }
    }
    // A fragment of a message already handed up is a duplicate too.
    ASSERT_EQ(Feed(reassembler, fragments[random() % count]).result, Result::kDuplicate);
    fragments_sent += count;
    ++duplicates_sent;
  }
  const ReassemblerCounters counters = reassembler.counters();
  EXPECT_EQ(counters.fragments, fragments_sent + duplicates_sent);
  EXPECT_EQ(counters.duplicates, duplicates_sent);
  EXPECT_EQ(counters.completed, 200u);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
}

TEST(Reassembler, ReassemblesA64MiBMessageFromShuffledFragments) {
  const unsigned seed = Seed("64 MiB");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  const std::vector<uint8_t> message = Pattern(kDefaultMaxMessageBytes, seed);
  std::vector<Fragment> fragments = Split(message, 1400, /*message_id=*/1);
  ASSERT_EQ(fragments.size(), 47935u);
  std::shuffle(fragments.begin(), fragments.end(), random);

  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  for (size_t i = 0; i + 1 < fragments.size(); ++i) {
    ASSERT_EQ(Feed(reassembler, fragments[i]).result, Result::kStored) << i;
  }
  EXPECT_TRUE(HoldsWhatArrived(reassembler.bytes_held(), 1, fragments.size() - 1,
                               message.size() - fragments.back().payload.size()));
  EXPECT_LE(reassembler.bytes_held(), reassembler.options().max_bytes);
  const Reassembler::Outcome outcome = Feed(reassembler, fragments.back());
  ASSERT_EQ(outcome.result, Result::kCompleted);
  EXPECT_TRUE(outcome.message == message);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(budget.bytes_held(), 0u);
}

TEST(Reassembler, DropsAndCountsAMessageWithAnyByteCorrupted) {
  const std::vector<uint8_t> message = Pattern(50, 1);
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  for (size_t corrupt = 0; corrupt < message.size(); ++corrupt) {
    SCOPED_TRACE(::testing::Message() << "byte " << corrupt);
    std::vector<uint8_t> corrupted = message;
    corrupted[corrupt] ^= 0x20;
    // The headers carry the checksum of the message sent; one payload was
    // damaged.
    std::vector<Fragment> fragments = Split(message, 16, /*message_id=*/corrupt + 1);
    for (Fragment& fragment : fragments) {
      fragment.payload = absl::MakeConstSpan(corrupted).subspan(
          fragment.payload.data() - message.data(), fragment.payload.size());
    }
    const Reassembler::Outcome outcome = FeedAll(reassembler, fragments);
    EXPECT_EQ(outcome.result, Result::kChecksumMismatch);
    EXPECT_TRUE(outcome.message.empty());
    EXPECT_EQ(reassembler.bytes_held(), 0u);
    // The message is given up: a copy of one of its fragments changes nothing.
    EXPECT_EQ(Feed(reassembler, fragments[0]).result, Result::kLate);
  }
  EXPECT_EQ(reassembler.counters().checksum_mismatches, message.size());
  EXPECT_EQ(reassembler.counters().late, message.size());
  EXPECT_EQ(reassembler.counters().completed, 0u);
  EXPECT_EQ(budget.bytes_held(), 0u);
}

TEST(Reassembler, CountsAndIgnoresDuplicateFragments) {
  const std::vector<uint8_t> message = Pattern(30, 3);
  const std::vector<Fragment> fragments = Split(message, 10, /*message_id=*/1);
  ASSERT_EQ(fragments.size(), 3u);
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  EXPECT_EQ(Feed(reassembler, fragments[0]).result, Result::kStored);
  EXPECT_EQ(Feed(reassembler, fragments[0]).result, Result::kDuplicate);
  EXPECT_EQ(Feed(reassembler, fragments[2]).result, Result::kStored);
  EXPECT_EQ(Feed(reassembler, fragments[2]).result, Result::kDuplicate);
  const Reassembler::Outcome outcome = Feed(reassembler, fragments[1]);
  EXPECT_EQ(outcome.result, Result::kCompleted);
  EXPECT_EQ(outcome.message, message);
  // Once handed up, its fragments allocate nothing again.
  EXPECT_EQ(Feed(reassembler, fragments[1]).result, Result::kDuplicate);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  const ReassemblerCounters counters = reassembler.counters();
  EXPECT_EQ(counters.fragments, 6u);
  EXPECT_EQ(counters.duplicates, 3u);
  EXPECT_EQ(counters.completed, 1u);
}

TEST(Reassembler, RejectsFragmentsThatDisagreeWithTheFirst) {
  const std::vector<uint8_t> message = Pattern(100, 4);
  const std::vector<Fragment> fragments = Split(message, 30, /*message_id=*/8);
  ASSERT_EQ(fragments.size(), 4u);
  ASSERT_EQ(fragments[0].header.fragment_bytes, 25u);
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  ASSERT_EQ(Feed(reassembler, fragments[0]).result, Result::kStored);
  const size_t held = reassembler.bytes_held();

  struct Case {
    const char* what;
    FragmentHeader header;
    size_t payload_bytes;
    Result expected;
  };
  FragmentHeader other_total = fragments[1].header;
  other_total.total_bytes = 101;
  FragmentHeader other_size = fragments[1].header;
  other_size.fragment_bytes = 30;
  FragmentHeader other_checksum = fragments[1].header;
  other_checksum.checksum ^= 1;
  const Case cases[] = {
      {"other total_bytes", other_total, 25, Result::kInconsistent},
      {"other fragment_bytes", other_size, 30, Result::kInconsistent},
      {"other checksum", other_checksum, 25, Result::kInconsistent},
      {"short payload", fragments[1].header, 24, Result::kInvalid},
      {"long last payload", fragments[3].header, 26, Result::kInvalid},
      {"empty payload", fragments[3].header, 0, Result::kInvalid},
  };
  const std::vector<uint8_t> junk(100, 0xee);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(reassembler
                  .OnFragment(c.header, absl::MakeConstSpan(junk).first(c.payload_bytes),
                              kStart)
                  .result,
              c.expected);
    EXPECT_EQ(reassembler.bytes_held(), held);
  }
  EXPECT_EQ(reassembler.counters().rejected, std::size(cases));
  // None of them was stored: the message is still whole from its own fragments.
  const Reassembler::Outcome outcome = FeedAll(reassembler, fragments, 1);
  EXPECT_EQ(outcome.result, Result::kCompleted);
  EXPECT_EQ(outcome.message, message);
}

TEST(Reassembler, ExpiresAnIncompleteMessageAtItsDefaultTimeToLive) {
  ReassemblyBudget budget;
  Reassembler reassembler({.default_time_to_live = absl::Seconds(2)}, &budget);
  const std::vector<uint8_t> first = Pattern(300, 1);
  const std::vector<uint8_t> second = Pattern(200, 2);
  const std::vector<Fragment> a = Split(first, 100, 1);
  const std::vector<Fragment> b = Split(second, 100, 2);
  EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
  ASSERT_EQ(Feed(reassembler, a[0], kStart).result, Result::kStored);
  ASSERT_EQ(Feed(reassembler, b[0], kStart + absl::Seconds(1)).result, Result::kStored);
  // A later fragment does not move the deadline, set by the first.
  ASSERT_EQ(Feed(reassembler, a[1], kStart + absl::Seconds(1.5)).result, Result::kStored);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Seconds(2));

  EXPECT_EQ(reassembler.Expire(kStart + absl::Seconds(2) - absl::Nanoseconds(1)), 0u);
  EXPECT_TRUE(HoldsWhatArrived(reassembler.bytes_held(), 2, 3, 300));
  EXPECT_EQ(reassembler.Expire(kStart + absl::Seconds(2)), 1u);
  // b's first fragment, half of b: in b's own buffer.
  constexpr size_t kFirstOfB = kMessageOverhead + 200;
  EXPECT_EQ(reassembler.bytes_held(), kFirstOfB);
  EXPECT_EQ(budget.bytes_held(), kFirstOfB);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Seconds(3));
  // The rest of an expired message comes too late.
  EXPECT_EQ(Feed(reassembler, a[2], kStart + absl::Seconds(2)).result, Result::kLate);
  EXPECT_EQ(reassembler.bytes_held(), kFirstOfB);

  EXPECT_EQ(reassembler.Expire(kStart + absl::Hours(1)), 1u);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(budget.bytes_held(), 0u);
  EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
  EXPECT_EQ(reassembler.counters().expired, 2u);
  EXPECT_EQ(reassembler.counters().late, 1u);
}

TEST(Reassembler, TheHeadersTimeToLiveOverridesTheDefault) {
  ReassemblyBudget budget;
  Reassembler reassembler({.default_time_to_live = absl::Seconds(2)}, &budget);
  const std::vector<uint8_t> message = Pattern(300, 1);
  const std::vector<Fragment> fragments = Split(message, 100, 1, /*time_to_live_ms=*/250);
  ASSERT_EQ(Feed(reassembler, fragments[0]).result, Result::kStored);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Milliseconds(250));
  EXPECT_EQ(reassembler.Expire(kStart + absl::Milliseconds(250)), 1u);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
}

TEST(Reassembler, AHeadersTimeToLiveIsCutToTheLongest) {
  ReassemblyBudget budget;
  Reassembler reassembler({.max_time_to_live = absl::Seconds(5)}, &budget);
  const std::vector<uint8_t> message = Pattern(300, 1);
  const std::vector<Fragment> at_most = Split(message, 100, 1, /*time_to_live_ms=*/5000);
  const std::vector<Fragment> beyond = Split(message, 100, 2, /*time_to_live_ms=*/5001);
  const std::vector<Fragment> forever = Split(message, 100, 3, UINT32_MAX);  // 49 days
  ASSERT_EQ(Feed(reassembler, at_most[0]).result, Result::kStored);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Seconds(5));
  EXPECT_EQ(reassembler.counters().time_to_live_clamped, 0u);
  ASSERT_EQ(Feed(reassembler, beyond[0], kStart + absl::Seconds(1)).result,
            Result::kStored);
  ASSERT_EQ(Feed(reassembler, forever[0], kStart + absl::Seconds(2)).result,
            Result::kStored);
  EXPECT_EQ(reassembler.counters().time_to_live_clamped, 2u);
  EXPECT_EQ(reassembler.Expire(kStart + absl::Seconds(5)), 1u);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Seconds(6));
  EXPECT_EQ(reassembler.Expire(kStart + absl::Seconds(7)), 2u);
  EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
}

TEST(Reassembler, AReliableMessageWithoutATimeToLiveWaitsForItsLastFragment) {
  // Its transport resends every fragment, however long that takes, or ends the
  // session; expiring it here would lose a message the sender saw acknowledged.
  ReassemblyBudget budget;
  Reassembler reassembler({.default_time_to_live = absl::Seconds(2)}, &budget);
  const std::vector<uint8_t> message = Pattern(300, 1);
  const std::vector<Fragment> fragments = Split(message, 100, 1);
  ASSERT_EQ(reassembler
                .OnFragment(fragments[0].header, fragments[0].payload, kStart,
                            /*reliable=*/true)
                .result,
            Result::kStored);
  EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
  EXPECT_EQ(reassembler.Expire(kStart + absl::Hours(1)), 0u);
  reassembler.OnFragment(fragments[1].header, fragments[1].payload, kStart,
                         /*reliable=*/true);
  const Reassembler::Outcome outcome =
      reassembler.OnFragment(fragments[2].header, fragments[2].payload,
                             kStart + absl::Hours(1), /*reliable=*/true);
  ASSERT_EQ(outcome.result, Result::kCompleted);
  EXPECT_EQ(outcome.message, message);
  // With a time to live in its header, it keeps it.
  const std::vector<Fragment> timed = Split(message, 100, 2, /*time_to_live_ms=*/250);
  reassembler.OnFragment(timed[0].header, timed[0].payload, kStart,
                         /*reliable=*/true);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Milliseconds(250));
}

TEST(Reassembler, DestructionGivesTheRoomBackToTheBudget) {
  ReassemblyBudget budget;
  const std::vector<uint8_t> message = Pattern(300, 1);
  {
    Reassembler reassembler({}, &budget);
    ASSERT_EQ(Feed(reassembler, Split(message, 100, 1)[0]).result, Result::kStored);
    ASSERT_EQ(Feed(reassembler, Split(message, 100, 2)[0]).result, Result::kStored);
    EXPECT_EQ(budget.bytes_held(), 2 * (kMessageOverhead + kBlockOverhead + 128));
    EXPECT_EQ(budget.messages_held(), 2u);
  }
  EXPECT_EQ(budget.bytes_held(), 0u);
  EXPECT_EQ(budget.messages_held(), 0u);
}

// Messages 1 to 5, of 384 bytes in 3 fragments each, to start and finish at
// will. Each fragment takes a block of its size: started by its middle
// fragment, a message holds kHeldApart bytes, and kOneMore for each fragment
// that follows it.
class CapTest : public ::testing::Test {
 protected:
  static constexpr size_t kOneMore = kBlockOverhead + 128;
  static constexpr size_t kHeldApart = kMessageOverhead + kRunOverhead + kOneMore;

  CapTest() {
    for (uint64_t id = 0; id <= 5; ++id) fragments_.push_back(Split(message_, 128, id));
  }

  const std::vector<Fragment>& Message(uint64_t id) const { return fragments_.at(id); }

  const std::vector<uint8_t> message_ = Pattern(384, 9);
  std::vector<std::vector<Fragment>> fragments_;
};

TEST_F(CapTest, DropsTheOldestIncompleteMessageAtThePerPeerCap) {
  ReassemblyBudget budget;
  // Three messages of one fragment, and two more fragments.
  Reassembler reassembler({.max_bytes = 3 * kHeldApart + 2 * kOneMore}, &budget);
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(Feed(reassembler, Message(id)[1]).result, Result::kStored);
  }
  // A later fragment of the oldest does not make it younger.
  ASSERT_EQ(Feed(reassembler, Message(1)[2]).result, Result::kStored);
  EXPECT_EQ(reassembler.bytes_held(), 3 * kHeldApart + kOneMore);
  ASSERT_EQ(Feed(reassembler, Message(4)[1]).result, Result::kStored);
  ASSERT_EQ(Feed(reassembler, Message(5)[1]).result, Result::kStored);
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 2u);
  EXPECT_EQ(reassembler.bytes_held(), 3 * kHeldApart);
  EXPECT_EQ(reassembler.messages_held(), 3u);

  EXPECT_EQ(Feed(reassembler, Message(1)[0]).result, Result::kLate);
  EXPECT_EQ(Feed(reassembler, Message(2)[0]).result, Result::kLate);
  // Each of the others fits beside those still held as it completes.
  for (uint64_t id = 3; id <= 5; ++id) {
    SCOPED_TRACE(id);
    const Reassembler::Outcome outcome = FeedAll(reassembler, Message(id));
    EXPECT_EQ(outcome.result, Result::kCompleted);
    EXPECT_EQ(outcome.message, message_);
  }
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 2u);
  EXPECT_EQ(reassembler.counters().dropped_total_cap, 0u);
}

TEST_F(CapTest, DropsTheOldestIncompleteMessageAtMaxMessages) {
  ReassemblyBudget budget;
  Reassembler reassembler({.max_messages = 2}, &budget);
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(Feed(reassembler, Message(id)[0]).result, Result::kStored);
  }
  EXPECT_EQ(reassembler.messages_held(), 2u);
  EXPECT_EQ(reassembler.bytes_held(), 2 * (kMessageOverhead + kOneMore));
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 1u);
  EXPECT_EQ(Feed(reassembler, Message(1)[1]).result, Result::kLate);
  EXPECT_EQ(FeedAll(reassembler, Message(2), 1).result, Result::kCompleted);
}

TEST_F(CapTest, RefusesAMessageLargerThanACapByItselfWithoutDroppingOthers) {
  // What a message of 384 bytes claims whole: it does not fit in one byte less.
  constexpr size_t kWhole = kMessageOverhead + 384;
  ReassemblyBudget budget(kWhole + 200);
  Reassembler peer_capped({.max_bytes = kWhole - 1}, &budget);
  Reassembler total_capped({.max_bytes = 4 * kWhole}, &budget);
  const std::vector<uint8_t> small = Pattern(256, 1);
  const std::vector<Fragment> held = Split(small, 128, 100);
  ASSERT_EQ(Feed(total_capped, held[0]).result, Result::kStored);

  EXPECT_EQ(Feed(peer_capped, Message(1)[0]).result, Result::kRefused);
  EXPECT_EQ(peer_capped.counters().dropped_peer_cap, 1u);
  EXPECT_EQ(Feed(peer_capped, Message(1)[1]).result, Result::kLate);
  EXPECT_EQ(peer_capped.bytes_held(), 0u);

  const std::vector<uint8_t> large = Pattern(768, 2);
  EXPECT_EQ(Feed(total_capped, Split(large, 128, 1)[0]).result, Result::kRefused);
  EXPECT_EQ(total_capped.counters().dropped_total_cap, 1u);
  EXPECT_EQ(budget.counters().refused, 1u);
  EXPECT_EQ(budget.counters().dropped, 0u);
  // The message held before (half of it, in its own buffer) is untouched.
  EXPECT_EQ(total_capped.bytes_held(), kMessageOverhead + small.size());
  EXPECT_EQ(budget.bytes_held(), kMessageOverhead + small.size());
  EXPECT_EQ(FeedAll(total_capped, held, 1).result, Result::kCompleted);
}

TEST(Reassembler, DropsAMessageWhoseFragmentsKeptApartOutgrowTheCapByThemselves) {
  // A message of 16 fragments of 64 bytes, under a cap that holds it as it
  // arrives in order: kept apart, each fragment takes a run and a block of its
  // own, and the message outgrows the cap before half of them arrived. The
  // fragment that would take it beyond drops it.
  const std::vector<uint8_t> message = Pattern(1024, 3);
  const std::vector<Fragment> fragments = Split(message, 64, 1);
  ASSERT_EQ(fragments.size(), 16u);
  size_t in_order = 0;
  {
    ReassemblyBudget budget;
    Reassembler reassembler({}, &budget);
    for (size_t i = 0; i + 1 < fragments.size(); ++i) {
      ASSERT_EQ(Feed(reassembler, fragments[i]).result, Result::kStored);
      in_order = std::max(in_order, reassembler.bytes_held());
    }
  }
  ReassemblyBudget budget;
  Reassembler reassembler({.max_bytes = in_order}, &budget);
  // Every other fragment, from the last down.
  size_t runs = 0;
  Result result = Result::kStored;
  for (int index = 15; index > 0 && result == Result::kStored; index -= 2) {
    result = Feed(reassembler, fragments[index]).result;
    if (result == Result::kStored) ++runs;
  }
  EXPECT_EQ(result, Result::kRefused);
  EXPECT_EQ(runs, (in_order - kMessageOverhead) / (kRunOverhead + kBlockOverhead + 64));
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 1u);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(budget.bytes_held(), 0u);
  EXPECT_EQ(Feed(reassembler, fragments[0]).result, Result::kLate);

  // In order, it is held whole within the same cap.
  const Reassembler::Outcome outcome = FeedAll(reassembler, Split(message, 64, 2));
  EXPECT_EQ(outcome.result, Result::kCompleted);
  EXPECT_EQ(outcome.message, message);
}

TEST_F(CapTest, DropsTheOldestOfAnyPeerAtTheTotalCap) {
  ReassemblyBudget budget(3 * kHeldApart);
  Reassembler a({}, &budget);
  Reassembler b({}, &budget);
  ASSERT_EQ(Feed(a, Message(1)[1]).result, Result::kStored);
  ASSERT_EQ(Feed(b, Message(1)[1]).result, Result::kStored);
  ASSERT_EQ(Feed(a, Message(2)[1]).result, Result::kStored);
  EXPECT_EQ(budget.bytes_held(), 3 * kHeldApart);

  // B's new message drops A's first, the oldest of all.
  ASSERT_EQ(Feed(b, Message(2)[1]).result, Result::kStored);
  EXPECT_EQ(a.counters().dropped_total_cap, 1u);
  EXPECT_EQ(b.counters().dropped_total_cap, 0u);
  EXPECT_EQ(a.bytes_held(), kHeldApart);
  EXPECT_EQ(b.bytes_held(), 2 * kHeldApart);
  EXPECT_EQ(budget.bytes_held(), 3 * kHeldApart);
  EXPECT_EQ(Feed(a, Message(1)[0]).result, Result::kLate);

  // A third message of B drops B's first, the oldest now; its second fragment
  // drops A's second, never the message it belongs to.
  ASSERT_EQ(Feed(b, Message(3)[1]).result, Result::kStored);
  EXPECT_EQ(b.counters().dropped_total_cap, 1u);
  ASSERT_EQ(Feed(b, Message(3)[2]).result, Result::kStored);
  EXPECT_EQ(a.counters().dropped_total_cap, 2u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(b.bytes_held(), 2 * kHeldApart + kOneMore);
  EXPECT_EQ(budget.counters().dropped, 3u);
  EXPECT_EQ(FeedAll(b, Message(2)).result, Result::kCompleted);
  EXPECT_EQ(budget.bytes_held(), kHeldApart + kOneMore);
}

TEST(Reassembler, AFloodOfIncompleteMessagesNeverExceedsTheCaps) {
  const unsigned seed = Seed("flood");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  const ReassemblerOptions options = {.max_bytes = 20'000, .max_messages = 16};
  ReassemblyBudget budget(50'000);
  std::vector<std::unique_ptr<Reassembler>> peers;
  for (int i = 0; i < 4; ++i) {
    peers.push_back(std::make_unique<Reassembler>(options, &budget));
  }
  const std::vector<uint8_t> payload(8000, 0x77);
  constexpr int kMessages = 20'000;
  for (int step = 0; step < kMessages; ++step) {
    Reassembler& peer = *peers[random() % peers.size()];
    const uint64_t total = 2 + random() % 7999;
    const auto fragment_bytes = static_cast<uint32_t>(1 + random() % (total - 1));
    const auto index =
        static_cast<uint32_t>(random() % FragmentCount(total, fragment_bytes));
    const FragmentHeader header = {.message_id = static_cast<uint64_t>(step),
                                   .total_bytes = total,
                                   .fragment_bytes = fragment_bytes,
                                   .index = index};
    const size_t size = FragmentPayloadBytes(total, fragment_bytes, index);
    ASSERT_EQ(peer.OnFragment(header, absl::MakeConstSpan(payload).first(size),
                              kStart + absl::Milliseconds(step))
                  .result,
              Result::kStored)
        << "step " << step;
    size_t bytes = 0;
    size_t messages = 0;
    for (const auto& p : peers) {
      ASSERT_LE(p->bytes_held(), options.max_bytes) << "step " << step;
      ASSERT_LE(p->messages_held(), options.max_messages) << "step " << step;
      bytes += p->bytes_held();
      messages += p->messages_held();
    }
    ASSERT_LE(budget.bytes_held(), budget.max_bytes()) << "step " << step;
    ASSERT_EQ(budget.bytes_held(), bytes) << "step " << step;
    ASSERT_EQ(budget.messages_held(), messages) << "step " << step;
  }
  // Every message started is held or was dropped at a cap, and counted once.
  uint64_t accounted = 0;
  uint64_t dropped_total = 0;
  for (const auto& p : peers) {
    accounted += p->messages_held() + p->counters().dropped_peer_cap +
                 p->counters().dropped_total_cap;
    dropped_total += p->counters().dropped_total_cap;
  }
  EXPECT_EQ(accounted, uint64_t{kMessages});
  EXPECT_EQ(budget.counters().dropped, dropped_total);
  EXPECT_GT(dropped_total, 0u);
}

TEST(Reassembler, RefusesHostileHeadersWithoutAllocating) {
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  const std::vector<uint8_t> message = Pattern(100, 5);
  const std::vector<Fragment> fragments = Split(message, 30, /*message_id=*/1);
  ASSERT_EQ(Feed(reassembler, fragments[0]).result, Result::kStored);
  const size_t held = reassembler.bytes_held();
  const uint64_t kHuge = kDefaultMaxMessageBytes;
  const FragmentHeader in_progress = fragments[1].header;

  struct Case {
    FragmentHeader header;
    size_t payload_bytes;
    Result expected;
  };
  const Case cases[] = {
      // Huge count: 64 Mi fragments of 1 byte.
      {{.message_id = 2, .total_bytes = kHuge, .fragment_bytes = 1}, 1, Result::kInvalid},
      // Beyond max_message_bytes.
      {{.message_id = 3, .total_bytes = uint64_t{1} << 62, .fragment_bytes = 1 << 30},
       1 << 30,
       Result::kInvalid},
      {{.message_id = 4, .total_bytes = kHuge + 1, .fragment_bytes = 1400},
       1400,
       Result::kInvalid},
      // Index out of range.
      {{.message_id = 5, .total_bytes = 100, .fragment_bytes = 30, .index = 4},
       10,
       Result::kInvalid},
      {{.message_id = 6,
        .total_bytes = kHuge,
        .fragment_bytes = 1400,
        .index = std::numeric_limits<uint32_t>::max()},
       1400,
       Result::kInvalid},
      // Inconsistent sizes: not fragmented, no fragment size, a payload of the
      // wrong
      // size for its index.
      {{.message_id = 7, .total_bytes = 30, .fragment_bytes = 30}, 30, Result::kInvalid},
      {{.message_id = 8, .total_bytes = 30, .fragment_bytes = 0}, 0, Result::kInvalid},
      {{.message_id = 9, .total_bytes = kHuge, .fragment_bytes = 1400},
       1399,
       Result::kInvalid},
      // Disagreeing with the message in progress, claiming 64 MiB.
      {{.message_id = 1, .total_bytes = kHuge, .fragment_bytes = 1400, .index = 1},
       1400,
       Result::kInconsistent},
      {{.message_id = 1,
        .total_bytes = 100,
        .fragment_bytes = 25,
        .index = 1,
        .checksum = in_progress.checksum + 1},
       25,
       Result::kInconsistent},
  };
  const std::vector<uint8_t> junk(2000, 0xee);
  std::vector<Result> results;
  results.reserve(std::size(cases));

  const int64_t before = AllocationCount();
  for (const Case& c : cases) {
    results.push_back(reassembler
                          .OnFragment(c.header,
                                      absl::MakeConstSpan(junk).first(
                                          std::min(c.payload_bytes, junk.size())),
                                      kStart)
                          .result);
  }
  EXPECT_EQ(AllocationCount() - before, 0);

  for (size_t i = 0; i < std::size(cases); ++i) {
    EXPECT_EQ(results[i], cases[i].expected) << "case " << i;
  }
  EXPECT_EQ(reassembler.counters().rejected, std::size(cases));
  EXPECT_EQ(reassembler.bytes_held(), held);
  EXPECT_EQ(budget.bytes_held(), held);
  EXPECT_EQ(reassembler.messages_held(), 1u);
}

TEST(Reassembler, AFragmentClaimingAHugeMessageHoldsOnlyItsPayload) {
  // 1 KiB claiming 64 MiB: the claim costs nothing, whatever the fragment's
  // place.
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  const std::vector<uint8_t> payload(1024, 0x5a);
  for (const uint32_t index : {0u, 1u, 65535u}) {
    SCOPED_TRACE(::testing::Message() << "index " << index);
    const FragmentHeader header = {.message_id = index + 1,
                                   .total_bytes = kDefaultMaxMessageBytes,
                                   .fragment_bytes = 1024,
                                   .index = index};
    const size_t held = reassembler.bytes_held();
    const int64_t before = AllocatedBytes();
    ASSERT_EQ(reassembler.OnFragment(header, payload, kStart).result, Result::kStored);
    const int64_t allocated = AllocatedBytes() - before;
    EXPECT_EQ(reassembler.bytes_held() - held, kMessageOverhead +
                                                   (index == 0 ? 0 : kRunOverhead) +
                                                   kBlockOverhead + payload.size());
    // The payload's copy and some bookkeeping; not 64 MiB.
    EXPECT_LE(allocated, static_cast<int64_t>(payload.size() + 4096));
  }
  EXPECT_EQ(budget.bytes_held(), reassembler.bytes_held());
}

TEST(Reassembler, BookkeepingDoesNotGrowWithTheClaimedFragmentCount) {
  // One fragment of 64 bytes claiming 3 fragments, or the most a header may claim:
  // 1,048,576 of them (64 MiB). Either is held at the same cost, and allocates a few
  // hundred bytes: nothing is sized by the count (a bitmap of it would be 128 KiB).
  // (Claiming 2, the first fragment would be half its message, and go to a buffer of
  // its own, of 128 bytes.)
  const std::vector<uint8_t> payload(64, 0x33);
  struct Held {
    size_t bytes;
    int64_t allocated;
  };
  auto hold = [&](uint64_t total_bytes, uint32_t index) {
    ReassemblyBudget budget;
    Reassembler reassembler({}, &budget);
    const int64_t before = AllocatedBytes();
    const Reassembler::Outcome outcome =
        reassembler.OnFragment({.message_id = 1,
                                .total_bytes = total_bytes,
                                .fragment_bytes = 64,
                                .index = index},
                               payload, kStart);
    EXPECT_EQ(outcome.result, Result::kStored);
    return Held{reassembler.bytes_held(), AllocatedBytes() - before};
  };
  constexpr uint64_t kMost = uint64_t{kMaxFragmentCount} * 64;
  ASSERT_EQ(FragmentCount(kMost, 64), kMaxFragmentCount);
  for (const uint32_t index : {0u, 1u}) {
    SCOPED_TRACE(::testing::Message() << "index " << index);
    const Held few = hold(3 * 64, index);
    const Held most = hold(kMost, index);
    EXPECT_EQ(most.bytes, few.bytes);
    EXPECT_EQ(most.bytes,
              kMessageOverhead + (index == 0 ? 0 : kRunOverhead) + kBlockOverhead + 64);
    // Blocks come from a pool: the second may allocate less than the first, not more.
    EXPECT_LT(few.allocated, 4096);
    EXPECT_LT(most.allocated, 4096);
  }
  // The last of the most fragments, far from any other, costs no more.
  const Held last = hold(kMost, kMaxFragmentCount - 1);
  EXPECT_EQ(last.bytes, hold(3 * 64, 1).bytes);
  EXPECT_LT(last.allocated, 4096);
}

TEST(Reassembler, FragmentsInOrderMoveIntoTheMessagesOwnBufferOnceHalfOfIt) {
  // 8 fragments of 128 bytes: the first 3 in blocks; the 4th makes half the message,
  // which then holds a buffer of its size, and the rest fill it without more room.
  const std::vector<uint8_t> message = Pattern(1024, 4);
  const std::vector<Fragment> fragments = Split(message, 128, 1);
  ASSERT_EQ(fragments.size(), 8u);
  ReassemblyBudget budget;
  Reassembler reassembler({}, &budget);
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_EQ(Feed(reassembler, fragments[i]).result, Result::kStored);
  }
  EXPECT_TRUE(HoldsWhatArrived(reassembler.bytes_held(), 1, 3, 384));
  EXPECT_LT(reassembler.bytes_held(), kMessageOverhead + message.size());
  for (size_t i = 3; i < 7; ++i) {
    ASSERT_EQ(Feed(reassembler, fragments[i]).result, Result::kStored);
    EXPECT_EQ(reassembler.bytes_held(), kMessageOverhead + message.size()) << i;
  }
  const int64_t before = AllocatedBytes();
  const Reassembler::Outcome outcome = Feed(reassembler, fragments[7]);
  EXPECT_LT(AllocatedBytes() - before, 1024);  // handed up as it is, not copied
  ASSERT_EQ(outcome.result, Result::kCompleted);
  EXPECT_EQ(outcome.message, message);
  EXPECT_EQ(budget.bytes_held(), 0u);

  // A run kept apart is copied into that buffer once the fragments before it arrive.
  const std::vector<Fragment> again = Split(message, 128, 2);
  for (size_t i : {6, 7, 0, 1, 2, 3}) {
    ASSERT_EQ(Feed(reassembler, again[i]).result, Result::kStored) << i;
  }
  EXPECT_EQ(reassembler.bytes_held(), kMessageOverhead + message.size() + kRunOverhead +
                                          2 * kBlockOverhead + 2 * 128);
  ASSERT_EQ(Feed(reassembler, again[4]).result, Result::kStored);
  const Reassembler::Outcome whole = Feed(reassembler, again[5]);
  ASSERT_EQ(whole.result, Result::kCompleted);
  EXPECT_EQ(whole.message, message);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
}

TEST(Reassembler, AFloodOfHugeClaimsHoldsWhatArrivedAndExpiresAtTheLongestTimeToLive) {
  // A hostile peer sends 400 fragments of 1 KiB a second, each of a message
  // claiming 64 MiB and a time to live of 2^32 - 1 ms (49 days). Its own
  // genuine message, interleaved, still arrives whole.
  constexpr int kFlood = 2000;
  constexpr absl::Duration kEvery = absl::Microseconds(2500);
  constexpr size_t kFloodHeld = kMessageOverhead + kRunOverhead + kBlockOverhead + 1024;
  const ReassemblerOptions options;  // the defaults: 128 MiB, 1024 messages, 30 s
  ReassemblyBudget budget;
  Reassembler reassembler(options, &budget);
  const std::vector<uint8_t> junk(1024, 0xa5);
  const std::vector<uint8_t> genuine = Pattern(40'000, 11);
  const std::vector<Fragment> genuine_fragments =
      Split(genuine, 1000, /*message_id=*/1, /*time_to_live_ms=*/5000);
  ASSERT_EQ(genuine_fragments.size(), 40u);
  size_t genuine_next = 0;
  size_t genuine_arrived = 0;

  const int64_t allocated_before = AllocatedBytes();
  for (int i = 0; i < kFlood; ++i) {
    const absl::Time now = kStart + i * kEvery;
    const FragmentHeader header = {.message_id = 1000 + static_cast<uint64_t>(i),
                                   .total_bytes = kDefaultMaxMessageBytes,
                                   .fragment_bytes = 1024,
                                   .index = static_cast<uint32_t>(1 + i % 65535),
                                   .checksum = static_cast<uint32_t>(i),
                                   .time_to_live_ms = UINT32_MAX};
    ASSERT_EQ(reassembler.OnFragment(header, junk, now).result, Result::kStored) << i;
    // From the 500th on, a genuine fragment after every 20 hostile ones.
    if (i >= 500 && i % 20 == 0 && genuine_next < genuine_fragments.size()) {
      const Fragment& fragment = genuine_fragments[genuine_next++];
      const Reassembler::Outcome outcome = Feed(reassembler, fragment, now);
      genuine_arrived += fragment.payload.size();
      if (genuine_next < genuine_fragments.size()) {
        ASSERT_EQ(outcome.result, Result::kStored) << "genuine " << genuine_next;
      } else {
        ASSERT_EQ(outcome.result, Result::kCompleted);
        ASSERT_TRUE(outcome.message == genuine);
        genuine_arrived = 0;
      }
    }
    // What arrived, never what was claimed.
    ASSERT_LE(reassembler.bytes_held(),
              reassembler.messages_held() * kFloodHeld + 2 * genuine_arrived)
        << i;
    ASSERT_LE(reassembler.messages_held(), options.max_messages);
    ASSERT_EQ(budget.bytes_held(), reassembler.bytes_held());
  }
  EXPECT_EQ(genuine_next, genuine_fragments.size());
  // A few KiB allocated for each fragment of 1 KiB, in all.
  EXPECT_LT(AllocatedBytes() - allocated_before, int64_t{kFlood} * 4096);

  const ReassemblerCounters counters = reassembler.counters();
  EXPECT_EQ(counters.time_to_live_clamped, uint64_t{kFlood});
  EXPECT_EQ(counters.completed, 1u);
  // The oldest hostile messages made way for newer ones, at max_messages.
  EXPECT_EQ(counters.dropped_peer_cap, kFlood - options.max_messages);
  ASSERT_EQ(reassembler.messages_held(), options.max_messages);
  EXPECT_EQ(reassembler.bytes_held(), options.max_messages * kFloodHeld);

  // Each expires max_time_to_live after it arrived, not 49 days later.
  const absl::Time oldest = kStart + (kFlood - options.max_messages) * kEvery;
  const absl::Time youngest = kStart + (kFlood - 1) * kEvery;
  EXPECT_EQ(reassembler.NextDeadline(), oldest + options.max_time_to_live);
  EXPECT_EQ(
      reassembler.Expire(youngest + options.max_time_to_live - absl::Nanoseconds(1)),
      options.max_messages - 1);
  EXPECT_EQ(reassembler.NextDeadline(), youngest + options.max_time_to_live);
  EXPECT_EQ(reassembler.Expire(youngest + options.max_time_to_live), 1u);
  EXPECT_EQ(reassembler.counters().expired, options.max_messages);
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(budget.bytes_held(), 0u);
  EXPECT_EQ(reassembler.NextDeadline(), std::nullopt);
}

TEST(Reassembler, ForgetsTheOldestFinishedMessagesBeyondMaxRemembered) {
  ReassemblyBudget budget;
  Reassembler reassembler({.max_remembered = 2}, &budget);
  const std::vector<uint8_t> message = Pattern(20, 6);
  std::vector<std::vector<Fragment>> messages;
  for (uint64_t id = 1; id <= 3; ++id) {
    messages.push_back(Split(message, 10, id));
    ASSERT_EQ(FeedAll(reassembler, messages.back()).result, Result::kCompleted);
  }
  EXPECT_EQ(Feed(reassembler, messages[2][0]).result, Result::kDuplicate);
  EXPECT_EQ(Feed(reassembler, messages[1][0]).result, Result::kDuplicate);
  // Message 1 is forgotten: its fragment starts it anew, to expire if nothing
  // follows.
  EXPECT_EQ(Feed(reassembler, messages[0][0]).result, Result::kStored);
  EXPECT_EQ(reassembler.bytes_held(), kMessageOverhead + 20);  // its own buffer
}

}  // namespace
}  // namespace glue::fragmentation
