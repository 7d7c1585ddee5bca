// BlockPool: memory blocks for messages, kept and used again. A message sent is
// allocated by the thread that publishes it and freed, once acknowledged, by the one
// that handles the acknowledgement; malloc makes each such free contend for the
// publishing thread's arena. Here a free is one lock-free push, and an allocation a pop
// from what came back.
//
//   auto bytes = std::allocate_shared_for_overwrite<uint8_t[]>(PoolAllocator<uint8_t>(),
//                                                               size);
//   auto entry = std::allocate_shared<Entry>(PoolAllocator<Entry>(), ...);
//
// Blocks come in classes of powers of two from kMinBytes to kMaxBytes; larger ones go
// to operator new and delete. Bound: a class keeps at most kMaxClassBytes of blocks
// (2 MiB; at most 22 MiB in all); a block freed beyond it goes back to the system
// (counted in `released`). Thread-safe; one pool per process.
#ifndef GLUE_BASE_BLOCK_POOL_H_
#define GLUE_BASE_BLOCK_POOL_H_

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace glue {

// BlockPoolCounters count what the pool did.
struct BlockPoolCounters {
  uint64_t allocated = 0;   // blocks asked for
  uint64_t reused = 0;      // of them, given from the pool
  uint64_t released = 0;    // freed blocks given back to the system: class full
  uint64_t bytes_kept = 0;  // held now, ready for reuse
};

class BlockPool {
 public:
  static constexpr size_t kMinBytes = 64;
  static constexpr size_t kMaxBytes = 64 << 10;
  static constexpr size_t kMaxClassBytes = 2 << 20;

  // Global is the process's pool; it is never destroyed, as blocks may be freed at exit.
  static BlockPool& Global();

  BlockPool() = default;
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool();

  // Allocate returns a block of at least `bytes` bytes, aligned for any type.
  void* Allocate(size_t bytes);
  // Free gives back a block Allocate returned for the same `bytes`.
  void Free(void* block, size_t bytes);

  BlockPoolCounters counters() const;

 private:
  static constexpr int kMinShift = 6;
  static constexpr int kMaxShift = 16;
  static_assert(size_t{1} << kMinShift == kMinBytes);
  static_assert(size_t{1} << kMaxShift == kMaxBytes);

  struct Node {
    Node* next;
  };
  // Class is one size's blocks: those freed go on `returned`, any thread pushing,
  // lock-free; allocating threads pop from `ready`, refilled with all of `returned` at
  // once. `taking` lets one allocating thread at a time at `ready`.
  struct alignas(64) Class {
    std::atomic<Node*> returned{nullptr};
    std::atomic<bool> taking{false};
    Node* ready = nullptr;  // while `taking` is held
    std::atomic<size_t> bytes_kept{0};
  };

  static int ClassOf(size_t bytes);

  std::array<Class, kMaxShift - kMinShift + 1> classes_;
  std::atomic<uint64_t> allocated_{0};
  std::atomic<uint64_t> reused_{0};
  std::atomic<uint64_t> released_{0};
};

// PoolAllocator is an allocator for std::allocate_shared and the containers, from
// BlockPool::Global().
template <typename T>
struct PoolAllocator {
  using value_type = T;

  PoolAllocator() = default;
  template <typename U>
  PoolAllocator(const PoolAllocator<U>&) {}  // NOLINT(google-explicit-constructor)

  T* allocate(size_t n) {
    return static_cast<T*>(BlockPool::Global().Allocate(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) { BlockPool::Global().Free(p, n * sizeof(T)); }

  template <typename U>
  bool operator==(const PoolAllocator<U>&) const {
    return true;
  }
};

}  // namespace glue

#endif  // GLUE_BASE_BLOCK_POOL_H_
