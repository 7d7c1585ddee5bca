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

using ::glue::serialization::testing::AllocationCount;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using Result = Reassembler::Result;

const absl::Time kStart = absl::FromUnixSeconds(1000);

// Fragment is one fragment as a sender puts it on the wire. The payload views the
// message it was cut from.
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

// Pattern returns `size` bytes that differ from one `seed` to another, eight at a
// time so that 64 MiB take little time.
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

// FeedAll feeds every fragment of `fragments` from `from` on and returns the last
// outcome.
Reassembler::Outcome FeedAll(Reassembler& reassembler,
                             const std::vector<Fragment>& fragments, size_t from = 0) {
  Reassembler::Outcome outcome;
  for (size_t i = from; i < fragments.size(); ++i) {
    outcome = Feed(reassembler, fragments[i]);
  }
  return outcome;
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
  // One fragment is no fragment: such a message goes whole, and a header that claims
  // one is refused.
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
      for (uint32_t i = 0; i + 1 < count; ++i) {
        ASSERT_EQ(Feed(reassembler, fragments[order[i]]).result, Result::kStored);
        EXPECT_EQ(reassembler.bytes_held(), message.size());
        EXPECT_EQ(budget.bytes_held(), message.size());
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
  EXPECT_EQ(reassembler.bytes_held(), kDefaultMaxMessageBytes);
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
    // The headers carry the checksum of the message sent; one payload was damaged.
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
    EXPECT_EQ(reassembler.bytes_held(), message.size());
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
  EXPECT_EQ(reassembler.bytes_held(), 500u);
  EXPECT_EQ(reassembler.Expire(kStart + absl::Seconds(2)), 1u);
  EXPECT_EQ(reassembler.bytes_held(), 200u);
  EXPECT_EQ(budget.bytes_held(), 200u);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Seconds(3));
  // The rest of an expired message comes too late.
  EXPECT_EQ(Feed(reassembler, a[2], kStart + absl::Seconds(2)).result, Result::kLate);
  EXPECT_EQ(reassembler.bytes_held(), 200u);

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
  reassembler.OnFragment(timed[0].header, timed[0].payload, kStart, /*reliable=*/true);
  EXPECT_EQ(reassembler.NextDeadline(), kStart + absl::Milliseconds(250));
}

TEST(Reassembler, DestructionGivesTheRoomBackToTheBudget) {
  ReassemblyBudget budget;
  const std::vector<uint8_t> message = Pattern(300, 1);
  {
    Reassembler reassembler({}, &budget);
    ASSERT_EQ(Feed(reassembler, Split(message, 100, 1)[0]).result, Result::kStored);
    ASSERT_EQ(Feed(reassembler, Split(message, 100, 2)[0]).result, Result::kStored);
    EXPECT_EQ(budget.bytes_held(), 600u);
    EXPECT_EQ(budget.messages_held(), 2u);
  }
  EXPECT_EQ(budget.bytes_held(), 0u);
  EXPECT_EQ(budget.messages_held(), 0u);
}

// Messages 1 to 5, of 1000 bytes in 10 fragments each, to start and finish at will.
class CapTest : public ::testing::Test {
 protected:
  CapTest() {
    for (uint64_t id = 0; id <= 5; ++id) fragments_.push_back(Split(message_, 100, id));
  }

  const std::vector<Fragment>& Message(uint64_t id) const { return fragments_.at(id); }

  const std::vector<uint8_t> message_ = Pattern(1000, 9);
  std::vector<std::vector<Fragment>> fragments_;
};

TEST_F(CapTest, DropsTheOldestIncompleteMessageAtThePerPeerCap) {
  ReassemblyBudget budget;
  Reassembler reassembler({.max_bytes = 3000}, &budget);
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(Feed(reassembler, Message(id)[5]).result, Result::kStored);
  }
  // A later fragment of the oldest does not make it younger.
  ASSERT_EQ(Feed(reassembler, Message(1)[6]).result, Result::kStored);
  ASSERT_EQ(Feed(reassembler, Message(4)[5]).result, Result::kStored);
  ASSERT_EQ(Feed(reassembler, Message(5)[5]).result, Result::kStored);
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 2u);
  EXPECT_EQ(reassembler.bytes_held(), 3000u);
  EXPECT_EQ(reassembler.messages_held(), 3u);

  EXPECT_EQ(Feed(reassembler, Message(1)[0]).result, Result::kLate);
  EXPECT_EQ(Feed(reassembler, Message(2)[0]).result, Result::kLate);
  for (uint64_t id = 3; id <= 5; ++id) {
    SCOPED_TRACE(id);
    const Reassembler::Outcome outcome = FeedAll(reassembler, Message(id));
    EXPECT_EQ(outcome.result, Result::kCompleted);
    EXPECT_EQ(outcome.message, message_);
  }
  EXPECT_EQ(reassembler.bytes_held(), 0u);
  EXPECT_EQ(reassembler.counters().dropped_total_cap, 0u);
}

TEST_F(CapTest, DropsTheOldestIncompleteMessageAtMaxMessages) {
  ReassemblyBudget budget;
  Reassembler reassembler({.max_messages = 2}, &budget);
  for (uint64_t id = 1; id <= 3; ++id) {
    ASSERT_EQ(Feed(reassembler, Message(id)[0]).result, Result::kStored);
  }
  EXPECT_EQ(reassembler.messages_held(), 2u);
  EXPECT_EQ(reassembler.bytes_held(), 2000u);
  EXPECT_EQ(reassembler.counters().dropped_peer_cap, 1u);
  EXPECT_EQ(Feed(reassembler, Message(1)[1]).result, Result::kLate);
  EXPECT_EQ(FeedAll(reassembler, Message(2), 1).result, Result::kCompleted);
}

TEST_F(CapTest, RefusesAMessageLargerThanACapByItselfWithoutDroppingOthers) {
  ReassemblyBudget budget(1500);
  Reassembler peer_capped({.max_bytes = 999}, &budget);
  Reassembler total_capped({.max_bytes = 4000}, &budget);
  const std::vector<uint8_t> small = Pattern(500, 1);
  const std::vector<Fragment> held = Split(small, 100, 100);
  ASSERT_EQ(Feed(total_capped, held[0]).result, Result::kStored);

  EXPECT_EQ(Feed(peer_capped, Message(1)[0]).result, Result::kRefused);
  EXPECT_EQ(peer_capped.counters().dropped_peer_cap, 1u);
  EXPECT_EQ(Feed(peer_capped, Message(1)[1]).result, Result::kLate);
  EXPECT_EQ(peer_capped.bytes_held(), 0u);

  const std::vector<uint8_t> large = Pattern(2000, 2);
  EXPECT_EQ(Feed(total_capped, Split(large, 100, 1)[0]).result, Result::kRefused);
  EXPECT_EQ(total_capped.counters().dropped_total_cap, 1u);
  EXPECT_EQ(budget.counters().refused, 1u);
  EXPECT_EQ(budget.counters().dropped, 0u);
  // The message held before is untouched.
  EXPECT_EQ(total_capped.bytes_held(), 500u);
  EXPECT_EQ(budget.bytes_held(), 500u);
  EXPECT_EQ(FeedAll(total_capped, held, 1).result, Result::kCompleted);
}

TEST_F(CapTest, DropsTheOldestOfAnyPeerAtTheTotalCap) {
  ReassemblyBudget budget(3000);
  Reassembler a({}, &budget);
  Reassembler b({}, &budget);
  ASSERT_EQ(Feed(a, Message(1)[0]).result, Result::kStored);
  ASSERT_EQ(Feed(b, Message(1)[0]).result, Result::kStored);
  ASSERT_EQ(Feed(a, Message(2)[0]).result, Result::kStored);
  EXPECT_EQ(budget.bytes_held(), 3000u);

  // B's new message drops A's first, the oldest of all.
  ASSERT_EQ(Feed(b, Message(2)[0]).result, Result::kStored);
  EXPECT_EQ(a.counters().dropped_total_cap, 1u);
  EXPECT_EQ(b.counters().dropped_total_cap, 0u);
  EXPECT_EQ(a.bytes_held(), 1000u);
  EXPECT_EQ(b.bytes_held(), 2000u);
  EXPECT_EQ(budget.bytes_held(), 3000u);
  EXPECT_EQ(Feed(a, Message(1)[1]).result, Result::kLate);

  // 2000 bytes more drop the two oldest: B's first, then A's second.
  const std::vector<uint8_t> large = Pattern(2000, 2);
  ASSERT_EQ(Feed(b, Split(large, 100, 3)[0]).result, Result::kStored);
  EXPECT_EQ(a.counters().dropped_total_cap, 2u);
  EXPECT_EQ(b.counters().dropped_total_cap, 1u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(b.bytes_held(), 3000u);
  EXPECT_EQ(budget.counters().dropped, 3u);
  EXPECT_EQ(FeedAll(b, Message(2), 1).result, Result::kCompleted);
  EXPECT_EQ(budget.bytes_held(), 2000u);
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
      // Inconsistent sizes: not fragmented, no fragment size, a payload of the wrong
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
  EXPECT_EQ(reassembler.bytes_held(), message.size());
  EXPECT_EQ(budget.bytes_held(), message.size());
  EXPECT_EQ(reassembler.messages_held(), 1u);
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
  // Message 1 is forgotten: its fragment starts it anew, to expire if nothing follows.
  EXPECT_EQ(Feed(reassembler, messages[0][0]).result, Result::kStored);
  EXPECT_EQ(reassembler.bytes_held(), 20u);
}

}  // namespace
}  // namespace glue::fragmentation
