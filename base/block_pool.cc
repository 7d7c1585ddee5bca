#include "glue/base/block_pool.h"

#include <algorithm>
#include <bit>
#include <new>
#include <thread>

namespace glue {

BlockPool& BlockPool::Global() {
  static BlockPool* const pool = new BlockPool();
  return *pool;
}

BlockPool::~BlockPool() {
  for (Class& c : classes_) {
    for (Node* list : {c.ready, c.returned.load(std::memory_order_acquire)}) {
      while (list != nullptr) {
        Node* next = list->next;
        ::operator delete(list);
        list = next;
      }
    }
  }
}

int BlockPool::ClassOf(size_t bytes) {
  return std::max(kMinShift,
                  static_cast<int>(std::bit_width(std::max<size_t>(bytes, 1) - 1)));
}

void* BlockPool::Allocate(size_t bytes) {
  allocated_.fetch_add(1, std::memory_order_relaxed);
  if (bytes > kMaxBytes) return ::operator new(bytes);
  const int shift = ClassOf(bytes);
  Class& c = classes_[shift - kMinShift];
  Node* node = nullptr;
  // Another allocating thread at `ready` is a few instructions from done.
  while (c.taking.exchange(true, std::memory_order_acquire)) std::this_thread::yield();
  if (c.ready == nullptr)
    c.ready = c.returned.exchange(nullptr, std::memory_order_acquire);
  if (c.ready != nullptr) {
    node = c.ready;
    c.ready = node->next;
  }
  c.taking.store(false, std::memory_order_release);
  if (node == nullptr) return ::operator new (size_t{1} << shift);
  c.bytes_kept.fetch_sub(size_t{1} << shift, std::memory_order_relaxed);
  reused_.fetch_add(1, std::memory_order_relaxed);
  return node;
}

void BlockPool::Free(void* block, size_t bytes) {
  if (bytes > kMaxBytes) {
    ::operator delete(block);
    return;
  }
  const int shift = ClassOf(bytes);
  const size_t size = size_t{1} << shift;
  Class& c = classes_[shift - kMinShift];
  if (c.bytes_kept.fetch_add(size, std::memory_order_relaxed) + size > kMaxClassBytes) {
    c.bytes_kept.fetch_sub(size, std::memory_order_relaxed);
    released_.fetch_add(1, std::memory_order_relaxed);
    ::operator delete(block);
    return;
  }
  Node* node = new (block) Node{c.returned.load(std::memory_order_relaxed)};
  while (!c.returned.compare_exchange_weak(node->next, node, std::memory_order_release,
                                           std::memory_order_relaxed)) {
  }
}

BlockPoolCounters BlockPool::counters() const {
  BlockPoolCounters out{.allocated = allocated_.load(std::memory_order_relaxed),
                        .reused = reused_.load(std::memory_order_relaxed),
                        .released = released_.load(std::memory_order_relaxed)};
  for (const Class& c : classes_)
    out.bytes_kept += c.bytes_kept.load(std::memory_order_relaxed);
  return out;
}

}  // namespace glue
