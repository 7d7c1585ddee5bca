// Counts the heap allocations of a test binary, and the bytes they asked for, so that
// tests can check that a path allocates nothing, or little. The object file that
// defines AllocationCount also replaces the global operator new; it is linked into a
// binary only when AllocationCount or AllocatedBytes is used.
#ifndef GLUE_SERIALIZATION_ALLOCATION_COUNTER_H_
#define GLUE_SERIALIZATION_ALLOCATION_COUNTER_H_

#include <cstdint>

namespace glue::serialization::testing {

// AllocationCount returns how many times operator new has run in this process. Any
// thread.
int64_t AllocationCount();

// AllocatedBytes returns how many bytes operator new has been asked for in this
// process, in all: freeing gives none back. Any thread.
int64_t AllocatedBytes();

}  // namespace glue::serialization::testing

#endif  // GLUE_SERIALIZATION_ALLOCATION_COUNTER_H_
