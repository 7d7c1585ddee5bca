#include "glue/base/crc32c.h"

#include <array>
#include <bit>
#include <cstddef>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace glue {
namespace {

// The Castagnoli polynomial, bit-reflected: the CRC register shifts right, taking the
// lowest bit of each byte first.
constexpr uint32_t kPolynomial = 0x82F63B78;

// kTables[k][b] is what byte b does to a zero register when k zero bytes follow it.
// With the eight tables, slice-by-8 folds a whole 8-byte word into the register with
// eight independent look-ups, instead of eight look-ups that each wait for the last.
using Tables = std::array<std::array<uint32_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables tables{};
  for (uint32_t byte = 0; byte < 256; ++byte) {
    uint32_t crc = byte;
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ ((crc & 1) != 0 ? kPolynomial : 0);
    }
    tables[0][byte] = crc;
  }
  for (size_t k = 1; k < tables.size(); ++k) {
    for (size_t byte = 0; byte < 256; ++byte) {
      const uint32_t previous = tables[k - 1][byte];
      tables[k][byte] = (previous >> 8) ^ tables[0][previous & 0xff];
    }
  }
  return tables;
}

constexpr Tables kTables = MakeTables();
// The first entries of the table RFC 3720 (section 12.1) builds the same way.
static_assert(kTables[0][1] == 0xF26B8303 && kTables[0][255] == 0xAD7D5351);

uint64_t LoadLittleEndian64(const uint8_t* bytes) {
  uint64_t value;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, bytes, sizeof(value));
  } else {
    value = 0;
    for (int i = 0; i < 8; ++i) {
      value |= uint64_t{bytes[i]} << (8 * i);
    }
  }
  return value;
}

#if defined(__x86_64__)
// The crc32 instruction takes 3 cycles, and a CPU can start one every cycle: three
// streams over three adjacent blocks, folded together after each block, run about
// three times as fast as one. Folding needs the register moved past the bytes of a
// block: the CRC register is linear, so the register after a block of data is the
// register after the data from 0, xor the register after as many zero bytes from the
// initial value. ZeroShift is that second map for a block of `kBlock` bytes, as four
// tables, one per byte of the register.
constexpr size_t kBlock = 2048;

struct ZeroShift {
  std::array<std::array<uint32_t, 256>, 4> tables;

  uint32_t operator()(uint32_t r) const {
    return tables[0][r & 0xff] ^ tables[1][(r >> 8) & 0xff] ^
           tables[2][(r >> 16) & 0xff] ^ tables[3][r >> 24];
  }
};

__attribute__((target("sse4.2"))) ZeroShift MakeZeroShift() {
  // What each bit of the register becomes after kBlock zero bytes...
  std::array<uint32_t, 32> bits;
  for (int bit = 0; bit < 32; ++bit) {
    uint64_t r = uint64_t{1} << bit;
    for (size_t i = 0; i < kBlock; i += 8) r = _mm_crc32_u64(r, 0);
    bits[bit] = static_cast<uint32_t>(r);
  }
  // ...and so each byte, the xor of its bits'.
  ZeroShift shift{};
  for (int k = 0; k < 4; ++k) {
    for (uint32_t byte = 0; byte < 256; ++byte) {
      uint32_t r = 0;
      for (int bit = 0; bit < 8; ++bit) {
        if ((byte >> bit) & 1) r ^= bits[8 * k + bit];
      }
      shift.tables[k][byte] = r;
    }
  }
  return shift;
}

// The crc32 instruction computes exactly CRC-32C, 8 bytes at a time; a word loaded
// little-endian feeds it the bytes in their order.
__attribute__((target("sse4.2"))) uint32_t ExtendSse42(uint32_t crc, const uint8_t* data,
                                                       size_t size) {
  uint64_t state = ~crc;
  if (size >= 3 * kBlock) {
    static const ZeroShift shift = MakeZeroShift();
    for (; size >= 3 * kBlock; data += 3 * kBlock, size -= 3 * kBlock) {
      uint64_t b = 0;
      uint64_t c = 0;
      for (size_t i = 0; i < kBlock; i += 8) {
        uint64_t wa, wb, wc;
        std::memcpy(&wa, data + i, sizeof(wa));
        std::memcpy(&wb, data + kBlock + i, sizeof(wb));
        std::memcpy(&wc, data + 2 * kBlock + i, sizeof(wc));
        state = _mm_crc32_u64(state, wa);
        b = _mm_crc32_u64(b, wb);
        c = _mm_crc32_u64(c, wc);
      }
      // a moves past block b and takes it in, then past block c.
      state = shift(shift(static_cast<uint32_t>(state)) ^ static_cast<uint32_t>(b)) ^
              static_cast<uint32_t>(c);
    }
  }
  for (; size >= 8; data += 8, size -= 8) {
    uint64_t word;
    std::memcpy(&word, data, sizeof(word));
    state = _mm_crc32_u64(state, word);
  }
  auto state32 = static_cast<uint32_t>(state);
  for (; size > 0; ++data, --size) {
    state32 = _mm_crc32_u8(state32, *data);
  }
  return ~state32;
}

bool CpuHasSse42() {
  // Also correct when called before the constructors that usually run it.
  __builtin_cpu_init();
  return __builtin_cpu_supports("sse4.2");
}
#endif

}  // namespace

namespace internal {

uint32_t ExtendCrc32cPortable(uint32_t crc, absl::Span<const uint8_t> data) {
  const uint8_t* next = data.data();
  size_t size = data.size();
  uint32_t state = ~crc;
  for (; size >= 8; next += 8, size -= 8) {
    const uint64_t word = LoadLittleEndian64(next) ^ state;
    state = kTables[7][word & 0xff] ^ kTables[6][(word >> 8) & 0xff] ^
            kTables[5][(word >> 16) & 0xff] ^ kTables[4][(word >> 24) & 0xff] ^
            kTables[3][(word >> 32) & 0xff] ^ kTables[2][(word >> 40) & 0xff] ^
            kTables[1][(word >> 48) & 0xff] ^ kTables[0][word >> 56];
  }
  for (; size > 0; ++next, --size) {
    state = (state >> 8) ^ kTables[0][(state ^ *next) & 0xff];
  }
  return ~state;
}

bool Crc32cUsesHardware() {
#if defined(__x86_64__)
  // Asked once: the answer cannot change while the process runs.
  static const bool has_sse42 = CpuHasSse42();
  return has_sse42;
#else
  return false;
#endif
}

}  // namespace internal

uint32_t ExtendCrc32c(uint32_t crc, absl::Span<const uint8_t> data) {
#if defined(__x86_64__)
  if (internal::Crc32cUsesHardware()) {
    return ExtendSse42(crc, data.data(), data.size());
  }
#endif
  return internal::ExtendCrc32cPortable(crc, data);
}

}  // namespace glue
