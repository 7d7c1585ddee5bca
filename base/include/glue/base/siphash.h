// SipHash-2-4 (Aumasson and Bernstein, 2012): a keyed 64-bit hash for short inputs,
// which nobody without the key can compute or predict. In base; discovery makes its
// challenges with it, so that it can check an echo without remembering what it sent.
//
//   const SipHashKey key = RandomSipHashKey();
//   uint64_t tag = SipHash24(key, bytes);
#ifndef GLUE_BASE_SIPHASH_H_
#define GLUE_BASE_SIPHASH_H_

#include <array>
#include <cstdint>

#include "absl/types/span.h"

namespace glue {

// SipHashKey is the 128-bit key, as two little-endian 64-bit halves (k0, k1).
using SipHashKey = std::array<uint64_t, 2>;

// SipHash24 returns the SipHash-2-4 of `bytes` under `key`. Any thread.
uint64_t SipHash24(const SipHashKey& key, absl::Span<const uint8_t> bytes);

// RandomSipHashKey returns a key from the operating system's random source. Any thread.
SipHashKey RandomSipHashKey();

}  // namespace glue

#endif  // GLUE_BASE_SIPHASH_H_
