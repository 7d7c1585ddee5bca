#include "fragmentation/send_queue.h"

#include "glue/base/status_matchers.h"
#include "gtest/gtest.h"

namespace glue::fragmentation::internal {
namespace {

using ::glue::testing::StatusIs;

MessageTransportOptions Bounds(size_t messages, size_t bytes) {
  MessageTransportOptions options;
  options.max_queued_messages = messages;
  options.max_queued_bytes = bytes;
  return options;
}

TEST(QueueRoom, TakesAMessageWithinBothBounds) {
  EXPECT_OK(QueueRoom(7, 0, 0, 100, Bounds(2, 100)));
  EXPECT_OK(QueueRoom(7, 1, 60, 40, Bounds(2, 100)));
}

TEST(QueueRoom, RefusesAMessageBeyondMaxQueuedMessages) {
  EXPECT_THAT(QueueRoom(7, 2, 0, 1, Bounds(2, 100)),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(QueueRoom, RefusesAMessageBeyondMaxQueuedBytes) {
  EXPECT_THAT(QueueRoom(7, 1, 60, 41, Bounds(2, 100)),
              StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(OutMessage, QueuedBytesAreWhatIsNotYetHanded) {
  OutMessage m;
  m.plan = {.message_bytes = 250, .fragmented = true, .count = 3, .fragment_bytes = 100};
  EXPECT_EQ(m.queued_bytes(), 250u);
  m.next = 1;
  EXPECT_EQ(m.queued_bytes(), 150u);
  m.next = 2;
  EXPECT_EQ(m.queued_bytes(), 50u);
  m.next = 3;
  EXPECT_EQ(m.queued_bytes(), 0u);
}

}  // namespace
}  // namespace glue::fragmentation::internal
