#include "glue/serialization/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<int64_t> allocation_count{0};
std::atomic<int64_t> allocated_bytes{0};
}  // namespace

// The array and aligned forms of operator new end in these two by default.
void* operator new(size_t size) {
  allocation_count.fetch_add(1, std::memory_order_relaxed);
  allocated_bytes.fetch_add(static_cast<int64_t>(size), std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) {
    return p;
  }
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace glue::serialization::testing {

int64_t AllocationCount() { return allocation_count.load(std::memory_order_relaxed); }

int64_t AllocatedBytes() { return allocated_bytes.load(std::memory_order_relaxed); }

}  // namespace glue::serialization::testing
