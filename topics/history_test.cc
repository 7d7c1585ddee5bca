#include "topics/history.h"

#include <vector>

#include "gtest/gtest.h"

namespace glue::topics::internal {
namespace {

// Add adds message `sequence` of `bytes` bytes to `topic` with no time to live.
size_t Add(PublishedTopic& topic, uint64_t sequence, size_t bytes, size_t depth,
           size_t max_bytes, size_t* history_bytes) {
  return AddToHistory(topic, sequence, absl::InfiniteFuture(),
                      SharedBytes::Of(std::vector<uint8_t>(bytes, 0)),
                      /*payload_offset=*/0, depth, max_bytes, history_bytes);
}

std::vector<uint64_t> Sequences(const PublishedTopic& topic) {
  std::vector<uint64_t> sequences;
  for (const Kept& kept : topic.history) sequences.push_back(kept.sequence);
  return sequences;
}

TEST(History, KeepsTheNewestMessagesUpToTheDepth) {
  PublishedTopic topic;
  size_t bytes = 0;
  for (uint64_t sequence = 1; sequence <= 5; ++sequence) {
    EXPECT_EQ(Add(topic, sequence, 10, /*depth=*/3, /*max_bytes=*/1000, &bytes), 0u);
  }
  EXPECT_EQ(Sequences(topic), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(bytes, 30u);
}

TEST(History, DepthZeroKeepsNothingAndEmptiesTheTopic) {
  PublishedTopic topic;
  size_t bytes = 0;
  Add(topic, 1, 10, /*depth=*/2, /*max_bytes=*/1000, &bytes);
  Add(topic, 2, 10, /*depth=*/0, /*max_bytes=*/1000, &bytes);
  EXPECT_TRUE(topic.history.empty());
  EXPECT_EQ(bytes, 0u);
}

TEST(History, DropsTheTopicsOldestPastTheBytesOfAllTopicsAndCountsThem) {
  PublishedTopic topic;
  size_t bytes = 50;  // another topic's
  EXPECT_EQ(Add(topic, 1, 20, /*depth=*/10, /*max_bytes=*/100, &bytes), 0u);
  EXPECT_EQ(Add(topic, 2, 20, /*depth=*/10, /*max_bytes=*/100, &bytes), 0u);
  EXPECT_EQ(Add(topic, 3, 20, /*depth=*/10, /*max_bytes=*/100, &bytes), 1u);
  EXPECT_EQ(Sequences(topic), (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(bytes, 90u);
  // A message larger than the bound leaves this topic empty, the others untouched.
  EXPECT_EQ(Add(topic, 4, 80, /*depth=*/10, /*max_bytes=*/100, &bytes), 3u);
  EXPECT_TRUE(topic.history.empty());
  EXPECT_EQ(bytes, 50u);
}

TEST(History, KeptPayloadStartsAtItsOffset) {
  PublishedTopic topic;
  size_t bytes = 0;
  AddToHistory(topic, 1, absl::InfiniteFuture(), SharedBytes::Of({1, 2, 3, 4}),
               /*payload_offset=*/3, /*depth=*/1, /*max_bytes=*/100, &bytes);
  ASSERT_EQ(topic.history.size(), 1u);
  EXPECT_EQ(std::vector<uint8_t>(topic.history[0].payload().begin(),
                                 topic.history[0].payload().end()),
            std::vector<uint8_t>{4});
}

}  // namespace
}  // namespace glue::topics::internal
