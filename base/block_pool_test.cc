#include "glue/base/block_pool.h"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <thread>
#include <vector>

namespace glue {
namespace {

TEST(BlockPool, AFreedBlockIsGivenAgainForItsClass) {
  BlockPool pool;
  void* block = pool.Allocate(1000);
  std::memset(block, 1, 1024);  // the block holds its class's size
  pool.Free(block, 1000);
  EXPECT_EQ(pool.counters().bytes_kept, 1024u);
  EXPECT_EQ(pool.Allocate(600), block);  // 513..1024: the same class
  BlockPoolCounters c = pool.counters();
  EXPECT_EQ(c.allocated, 2u);
  EXPECT_EQ(c.reused, 1u);
  EXPECT_EQ(c.bytes_kept, 0u);
  pool.Free(block, 600);
  // Another class does not take it.
  void* larger = pool.Allocate(1025);
  EXPECT_NE(larger, block);
  pool.Free(larger, 1025);
  EXPECT_EQ(pool.counters().reused, 1u);
  EXPECT_EQ(pool.counters().bytes_kept, 1024u + 2048u);
}

TEST(BlockPool, KeepsAtMostItsBoundPerClassAndReleasesTheRest) {
  BlockPool pool;
  constexpr size_t kSize = 64 << 10;
  constexpr size_t kKept = BlockPool::kMaxClassBytes / kSize;
  std::vector<void*> blocks;
  for (size_t i = 0; i < kKept + 3; ++i) blocks.push_back(pool.Allocate(kSize));
  for (void* block : blocks) pool.Free(block, kSize);
  BlockPoolCounters c = pool.counters();
  EXPECT_EQ(c.released, 3u);
  EXPECT_EQ(c.bytes_kept, BlockPool::kMaxClassBytes);
  // Above the largest class, blocks come from and go to the system.
  void* huge = pool.Allocate(BlockPool::kMaxBytes + 1);
  pool.Free(huge, BlockPool::kMaxBytes + 1);
  EXPECT_EQ(pool.counters().bytes_kept, BlockPool::kMaxClassBytes);
}

TEST(BlockPool, SharedBlocksFromTheAllocatorGoBackToTheGlobalPool) {
  const BlockPoolCounters before = BlockPool::Global().counters();
  {
    auto bytes =
        std::allocate_shared_for_overwrite<uint8_t[]>(PoolAllocator<uint8_t>(), 3000);
    bytes[2999] = 7;
    std::shared_ptr<const void> other = bytes;
    bytes.reset();
    EXPECT_EQ(BlockPool::Global().counters().bytes_kept, before.bytes_kept);
  }
  const BlockPoolCounters after = BlockPool::Global().counters();
  EXPECT_EQ(after.allocated, before.allocated + 1);
  EXPECT_EQ(after.bytes_kept, before.bytes_kept + 4096);
}

TEST(BlockPool, BlocksAllocatedOnOneThreadAreFreedOnAnother) {
  // The pattern of a publisher and the thread that handles acknowledgements: every
  // block is allocated on one thread, written, and freed on the other.
  BlockPool pool;
  constexpr int kBlocks = 100000;
  std::atomic<void*> handoff{nullptr};
  std::thread freer([&] {
    for (int freed = 0; freed < kBlocks;) {
      void* block = handoff.exchange(nullptr, std::memory_order_acquire);
      if (block == nullptr) continue;
      EXPECT_EQ(*static_cast<int*>(block), freed);
      pool.Free(block, 200);
      ++freed;
    }
  });
  for (int i = 0; i < kBlocks; ++i) {
    void* block = pool.Allocate(200);
    *static_cast<int*>(block) = i;
    while (handoff.load(std::memory_order_relaxed) != nullptr) {
    }
    handoff.store(block, std::memory_order_release);
  }
  freer.join();
  const BlockPoolCounters c = pool.counters();
  EXPECT_EQ(c.allocated, uint64_t{kBlocks});
  EXPECT_GT(c.reused, uint64_t{kBlocks} / 2);
}

}  // namespace
}  // namespace glue
