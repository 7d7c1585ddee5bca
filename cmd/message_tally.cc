#include "cmd/message_tally.h"

#include "absl/strings/str_format.h"
#include "glue/base/crc32c.h"

namespace glue {

std::vector<uint8_t> MakePayload(uint64_t sequence, size_t size) {
  std::vector<uint8_t> payload(size);
  for (size_t i = kPayloadHeaderBytes; i < size; ++i) {
    payload[i] = static_cast<uint8_t>(sequence * 131 + i);
  }
  for (int i = 0; i < 8; ++i) payload[i] = static_cast<uint8_t>(sequence >> (8 * i));
  const uint32_t crc = Crc32c(absl::MakeConstSpan(payload).subspan(kPayloadHeaderBytes));
  for (int i = 0; i < 4; ++i) payload[8 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return payload;
}

void MessageTally::Count(const topics::Message& m) {
  const absl::Span<const uint8_t> p = m.payload;
  uint32_t crc = 0;
  if (p.size() >= kPayloadHeaderBytes) {
    for (int i = 0; i < 4; ++i) crc |= uint32_t{p[8 + i]} << (8 * i);
  }
  const bool intact =
      p.size() >= kPayloadHeaderBytes && crc == Crc32c(p.subspan(kPayloadHeaderBytes));
  MutexLock lock(&mu_);
  if (!intact) {
    ++totals_.corrupt;
    return;
  }
  auto [it, first] = last_.try_emplace({m.publisher_id, m.publisher_epoch}, m.sequence);
  if (first) {
    totals_.missed_at_start += m.sequence > 0 ? m.sequence - 1 : 0;
  } else {
    if (m.sequence <= it->second) {
      ++totals_.duplicates;
      return;
    }
    totals_.lost += m.sequence - it->second - 1;
    it->second = m.sequence;
  }
  ++totals_.received;
}

TallyTotals MessageTally::totals() const {
  MutexLock lock(&mu_);
  return totals_;
}

std::string MessageTally::Line(absl::string_view what, absl::string_view topic) const {
  const TallyTotals t = totals();
  return absl::StrFormat(
      "%s topic=%s received=%d lost=%d duplicates=%d corrupt=%d missed_at_start=%d\n",
      what, topic, t.received, t.lost, t.duplicates, t.corrupt, t.missed_at_start);
}

}  // namespace glue
