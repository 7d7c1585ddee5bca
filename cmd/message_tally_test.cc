#include "cmd/message_tally.h"

#include <vector>

#include "gtest/gtest.h"

namespace glue {
namespace {

constexpr uint64_t kPublisher = 7;
constexpr uint64_t kFirstRun = 1'700'000'000'000'000;
constexpr uint64_t kSecondRun = kFirstRun + 60'000'000;

// Receive hands `tally` message `sequence` of the publisher's run `epoch`, with the
// payload a simple_endpoint publisher sends.
void Receive(MessageTally& tally, uint64_t epoch, uint64_t sequence,
             uint64_t publisher = kPublisher) {
  const std::vector<uint8_t> payload = MakePayload(sequence, 64);
  tally.Count({.publisher_id = publisher,
               .publisher_epoch = epoch,
               .sequence = sequence,
               .payload = payload});
}

TEST(MessageTally, MessagesInSequenceAreReceivedWithNothingLost) {
  MessageTally tally;
  for (uint64_t i = 1; i <= 5; ++i) Receive(tally, kFirstRun, i);
  const TallyTotals t = tally.totals();
  EXPECT_EQ(t.received, 5u);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.corrupt, 0u);
  EXPECT_EQ(t.missed_at_start, 0u);
}

TEST(MessageTally, WhatCameBeforeTheFirstMessageHeardIsMissedAtStartNotLost) {
  MessageTally tally;
  Receive(tally, kFirstRun, 5);
  Receive(tally, kFirstRun, 6);
  const TallyTotals t = tally.totals();
  EXPECT_EQ(t.received, 2u);
  EXPECT_EQ(t.missed_at_start, 4u);
  EXPECT_EQ(t.lost, 0u);
}

TEST(MessageTally, AGapAfterTheFirstMessageIsLost) {
  MessageTally tally;
  Receive(tally, kFirstRun, 1);
  Receive(tally, kFirstRun, 4);
  EXPECT_EQ(tally.totals().lost, 2u);
  EXPECT_EQ(tally.totals().received, 2u);
}

TEST(MessageTally, ASequenceHeardBeforeInTheSameRunIsADuplicate) {
  MessageTally tally;
  Receive(tally, kFirstRun, 1);
  Receive(tally, kFirstRun, 2);
  Receive(tally, kFirstRun, 2);
  Receive(tally, kFirstRun, 1);
  EXPECT_EQ(tally.totals().duplicates, 2u);
  EXPECT_EQ(tally.totals().received, 2u);
}

TEST(MessageTally, ARestartedPublisherOfTheSameIdStartsATallyOfItsOwn) {
  MessageTally tally;
  for (uint64_t i = 1; i <= 10; ++i) Receive(tally, kFirstRun, i);
  // Restarted under the same GLUE_ENDPOINT_ID: a new epoch, numbered from 1 again.
  for (uint64_t i = 1; i <= 3; ++i) Receive(tally, kSecondRun, i);
  // A late message of the first run still counts against the first run.
  Receive(tally, kFirstRun, 12);
  const TallyTotals t = tally.totals();
  EXPECT_EQ(t.received, 14u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.lost, 1u);
  EXPECT_EQ(t.missed_at_start, 0u);
}

TEST(MessageTally, PublishersAreCountedApart) {
  MessageTally tally;
  Receive(tally, kFirstRun, 1, /*publisher=*/1);
  Receive(tally, kFirstRun, 3, /*publisher=*/2);
  Receive(tally, kFirstRun, 2, /*publisher=*/1);
  const TallyTotals t = tally.totals();
  EXPECT_EQ(t.received, 3u);
  EXPECT_EQ(t.duplicates, 0u);
  EXPECT_EQ(t.missed_at_start, 2u);
}

TEST(MessageTally, ATruncatedOrAlteredPayloadIsCorruptAndOtherwiseUncounted) {
  MessageTally tally;
  std::vector<uint8_t> payload = MakePayload(1, 64);
  payload[40] ^= 1;
  tally.Count({.publisher_id = kPublisher,
               .publisher_epoch = kFirstRun,
               .sequence = 1,
               .payload = payload});
  const std::vector<uint8_t> truncated(kPayloadHeaderBytes - 1);
  tally.Count({.publisher_id = kPublisher,
               .publisher_epoch = kFirstRun,
               .sequence = 2,
               .payload = truncated});
  Receive(tally, kFirstRun, 3);
  const TallyTotals t = tally.totals();
  EXPECT_EQ(t.corrupt, 2u);
  EXPECT_EQ(t.received, 1u);
  EXPECT_EQ(t.missed_at_start, 2u);
}

TEST(MessageTally, TheLineEndsWithMissedAtStart) {
  MessageTally tally;
  Receive(tally, kFirstRun, 5);
  EXPECT_EQ(tally.Line("final", "some_topic"),
            "final topic=some_topic received=1 lost=0 duplicates=0 corrupt=0 "
            "missed_at_start=4\n");
}

}  // namespace
}  // namespace glue
