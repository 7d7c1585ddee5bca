#include "fragmentation/chunked_bytes.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

#include "glue/base/block_pool.h"
#include "gtest/gtest.h"

namespace glue::fragmentation::internal {
namespace {

std::vector<uint8_t> Bytes(size_t size, uint8_t first) {
  std::vector<uint8_t> bytes(size);
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<uint8_t>(first + i * 7);
  return bytes;
}

std::vector<uint8_t> Copied(const ChunkedBytes& bytes) {
  std::vector<uint8_t> out;
  bytes.CopyTo(out);
  return out;
}

TEST(ChunkedBytes, StartsEmpty) {
  const ChunkedBytes bytes;
  EXPECT_EQ(bytes.size(), 0u);
  EXPECT_EQ(bytes.capacity(), 0u);
  EXPECT_EQ(bytes.blocks(), 0u);
  EXPECT_TRUE(Copied(bytes).empty());
  EXPECT_EQ(bytes.GrowthFor(0, 100).blocks, 0u);
}

TEST(ChunkedBytes, GrowsByBlocksOfPowersOfTwoAsLargeAsWhatItHolds) {
  ChunkedBytes bytes;
  const std::vector<uint8_t> piece = Bytes(1000, 1);
  bytes.Append(piece, 1 << 20);
  EXPECT_EQ(bytes.capacity(), 1024u);  // the smallest power of two that holds it
  bytes.Append(piece, 1 << 20);        // 24 bytes in the first block, 976 in a second
  EXPECT_EQ(bytes.capacity(), 2048u);
  bytes.Append(piece, 1 << 20);  // then a block as large as what it holds
  EXPECT_EQ(bytes.capacity(), 4096u);
  EXPECT_EQ(bytes.blocks(), 3u);
  EXPECT_EQ(bytes.size(), 3000u);

  // No larger than the bytes still to come need, nor smaller than the smallest block.
  ChunkedBytes limited;
  limited.Append(Bytes(2000, 2), 2100);
  EXPECT_EQ(limited.capacity(), 2048u);
  limited.Append(Bytes(50, 3), 2100);
  EXPECT_EQ(limited.capacity(), 2048u + 64);
  ChunkedBytes small;
  small.Append(Bytes(3, 4), 6);
  EXPECT_EQ(small.capacity(), ChunkedBytes::kMinBlockBytes);
}

TEST(ChunkedBytes, KeepsBlocksWithinTheLargestClass) {
  ChunkedBytes bytes;
  const std::vector<uint8_t> large = Bytes(200'000, 5);
  bytes.Append(large, large.size());
  EXPECT_EQ(bytes.blocks(), 4u);  // three of 64 KiB, one of 4 KiB for what remains
  EXPECT_EQ(bytes.capacity(), 3 * ChunkedBytes::kMaxBlockBytes + 4096);
  EXPECT_EQ(Copied(bytes), large);
}

TEST(ChunkedBytes, GrowthForSaysWhatAppendAddsAndBlocksStayWithinTwiceTheBytes) {
  const unsigned seed = std::random_device{}();
  std::printf("seed: %u\n", seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 random(seed);
  for (int round = 0; round < 200; ++round) {
    const size_t limit = 1 + random() % 300'000;
    ChunkedBytes bytes;
    std::vector<uint8_t> expected;
    while (expected.size() < limit) {
      const size_t most = std::min<size_t>(limit - expected.size(), 70'000);
      const size_t size =
          1 + random() % (random() % 2 == 0 ? std::min<size_t>(most, 2000) : most);
      const std::vector<uint8_t> piece = Bytes(size, static_cast<uint8_t>(round));
      const ChunkedBytes::Growth growth = bytes.GrowthFor(size, limit);
      const size_t capacity = bytes.capacity();
      const size_t blocks = bytes.blocks();
      bytes.Append(piece, limit);
      expected.insert(expected.end(), piece.begin(), piece.end());
      ASSERT_EQ(bytes.capacity(), capacity + growth.bytes) << "round " << round;
      ASSERT_EQ(bytes.blocks(), blocks + growth.blocks) << "round " << round;
      ASSERT_EQ(bytes.size(), expected.size());
      ASSERT_LE(bytes.capacity(),
                std::max(2 * bytes.size(), ChunkedBytes::kMinBlockBytes))
          << "round " << round;
    }
    ASSERT_EQ(Copied(bytes), expected) << "round " << round;
  }
}

TEST(ChunkedBytes, SpliceMovesTheBlocksWithoutCopying) {
  ChunkedBytes front;
  ChunkedBytes back;
  const std::vector<uint8_t> a = Bytes(100, 1);
  const std::vector<uint8_t> b = Bytes(3000, 2);
  front.Append(a, 10'000);
  back.Append(b, 10'000);
  const size_t capacity = front.capacity() + back.capacity();
  front.Splice(back);
  EXPECT_EQ(back.size(), 0u);
  EXPECT_EQ(back.capacity(), 0u);
  EXPECT_EQ(back.blocks(), 0u);
  EXPECT_EQ(front.size(), a.size() + b.size());
  EXPECT_EQ(front.capacity(), capacity);
  EXPECT_EQ(front.blocks(), 2u);
  // What follows goes after the spliced bytes, into the room of their last block.
  const std::vector<uint8_t> c = Bytes(50, 3);
  EXPECT_EQ(front.GrowthFor(c.size(), 10'000).blocks, 0u);
  front.Append(c, 10'000);
  std::vector<uint8_t> expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  expected.insert(expected.end(), c.begin(), c.end());
  EXPECT_EQ(Copied(front), expected);

  // A moved-from one is empty too.
  ChunkedBytes moved(std::move(front));
  EXPECT_EQ(front.size(), 0u);  // NOLINT(bugprone-use-after-move)
  EXPECT_EQ(front.blocks(), 0u);
  EXPECT_EQ(Copied(moved), expected);
}

TEST(ChunkedBytes, ClearLeavesItEmptyAndReadyForMore) {
  ChunkedBytes bytes;
  bytes.Append(Bytes(3000, 1), 10'000);
  bytes.Clear();
  EXPECT_EQ(bytes.size(), 0u);
  EXPECT_EQ(bytes.capacity(), 0u);
  EXPECT_EQ(bytes.blocks(), 0u);
  const std::vector<uint8_t> again = Bytes(100, 2);
  bytes.Append(again, 10'000);
  EXPECT_EQ(Copied(bytes), again);
}

TEST(ChunkedBytes, GivesItsBlocksBackToThePool) {
  const std::vector<uint8_t> piece = Bytes(3000, 9);
  {
    ChunkedBytes bytes;
    bytes.Append(piece, piece.size());
  }
  const uint64_t reused = BlockPool::Global().counters().reused;
  ChunkedBytes again;
  again.Append(piece, piece.size());
  EXPECT_EQ(BlockPool::Global().counters().reused, reused + 1);
}

}  // namespace
}  // namespace glue::fragmentation::internal
