// Byte vectors for tests that compare encodings: Bytes spells one out, EncodeVarint
// makes one with PutVarint. Test code only.
//
//   EXPECT_EQ(EncodeVarint(300), Bytes({0xac, 0x02}));
#ifndef GLUE_BASE_BYTE_VECTORS_H_
#define GLUE_BASE_BYTE_VECTORS_H_

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "glue/base/varint.h"

namespace glue::testing {

// Bytes returns `values`, each 0 to 255, as bytes.
inline std::vector<uint8_t> Bytes(std::initializer_list<int> values) {
  std::vector<uint8_t> bytes;
  for (int value : values) bytes.push_back(static_cast<uint8_t>(value));
  return bytes;
}

// EncodeVarint returns the varint PutVarint writes for `value`.
inline std::vector<uint8_t> EncodeVarint(uint64_t value) {
  std::vector<uint8_t> bytes(kMaxVarintBytes);
  bytes.resize(static_cast<size_t>(PutVarint(value, bytes.data()) - bytes.data()));
  return bytes;
}

}  // namespace glue::testing

#endif  // GLUE_BASE_BYTE_VECTORS_H_
