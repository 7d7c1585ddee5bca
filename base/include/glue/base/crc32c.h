// CRC-32C (Castagnoli), the checksum that ends every glue datagram (docs/PROTOCOL.md).
// In glue_base rather than the serialization layer so that any layer can checksum
// bytes, including a message it holds in pieces.
//
//   uint32_t crc = Crc32c(header);
//   crc = ExtendCrc32c(crc, payload);  // the same as Crc32c of header and payload
#ifndef GLUE_BASE_CRC32C_H_
#define GLUE_BASE_CRC32C_H_

#include <cstdint>

#include "absl/types/span.h"

namespace glue {

// ExtendCrc32c returns the CRC-32C of the bytes whose CRC-32C is `crc` followed by
// `data`, so that Crc32c(ab) == ExtendCrc32c(Crc32c(a), b). Uses the SSE4.2 crc32
// instruction when the CPU has it, a table-driven computation otherwise; both give the
// same result. Any thread.
uint32_t ExtendCrc32c(uint32_t crc, absl::Span<const uint8_t> data);

// Crc32c returns the CRC-32C of `data`: reflected polynomial 0x82F63B78, initial value
// and final xor 0xFFFFFFFF, as iSCSI (RFC 3720) defines it. The CRC-32C of no bytes is
// 0. Any thread.
inline uint32_t Crc32c(absl::Span<const uint8_t> data) { return ExtendCrc32c(0, data); }

namespace internal {

// ExtendCrc32cPortable is ExtendCrc32c without the SSE4.2 instruction, whatever the
// CPU; for tests and benchmarks that compare the two paths.
uint32_t ExtendCrc32cPortable(uint32_t crc, absl::Span<const uint8_t> data);

// Crc32cUsesHardware says whether ExtendCrc32c uses the SSE4.2 instruction.
bool Crc32cUsesHardware();

}  // namespace internal
}  // namespace glue

#endif  // GLUE_BASE_CRC32C_H_
