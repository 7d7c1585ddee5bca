// Fnv1a64: the 64-bit FNV-1a hash of a string. Unlike absl::Hash, which is seeded per
// process, it is the same in every process and on every host: for choices that
// several endpoints must make alike (which registry posts a webhook, which bridge
// serves a mapping).
#ifndef GLUE_BASE_FNV1A_H_
#define GLUE_BASE_FNV1A_H_

#include <cstdint>

#include "absl/strings/string_view.h"

namespace glue {

inline uint64_t Fnv1a64(absl::string_view text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace glue

#endif  // GLUE_BASE_FNV1A_H_
