#include "model/model_message.h"

#include <limits>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "glue/base/byte_reader.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"
#include "glue/topics/topic_filter.h"

namespace glue::model::internal {
namespace {

constexpr uint8_t kReplyWantedFlag = 0x01;
constexpr uint8_t kLastFlag = 0x01;
constexpr uint8_t kAckWantedFlag = 0x02;
// A version's flags.
constexpr uint8_t kHasValue = 0x01;
constexpr uint8_t kEphemeral = 0x02;
constexpr uint8_t kHasTimeToLive = 0x04;
constexpr uint8_t kHasReplaced = 0x08;

uint64_t ZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t UnZigZag(uint64_t v) {
  return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
}
uint64_t Difference(uint64_t value, uint64_t base) {
  return ZigZag(static_cast<int64_t>(value - base));
}

// Runs go as their count, then per run the distance from the end of the one before
// (from 0 for the first) and its length less one.
void AppendRuns(const std::vector<Run>& runs, std::vector<uint8_t>* out) {
  AppendVarint(runs.size(), out);
  uint64_t end = 0;
  for (const auto& [first, last] : runs) {
    AppendVarint(first - end, out);
    AppendVarint(last - first, out);
    end = last;
  }
}

void AppendWriter(const Writer& w, std::vector<uint8_t>* out) {
  AppendFixed64(w.endpoint_id, out);
  AppendFixed64(w.incarnation, out);
}

absl::Status Flags(uint8_t flags, uint8_t allowed) {
  if ((flags & ~allowed) == 0) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("model message: flags 0x", absl::Hex(flags), " set reserved bits"));
}

// Count reads a count of elements, each of at least `element_bytes`, so that a count
// the remaining bytes cannot hold fails before anything is reserved.
absl::StatusOr<uint64_t> Count(ByteReader& r, absl::string_view field,
                               size_t element_bytes) {
  const size_t start = r.position();
  GLUE_ASSIGN_OR_RETURN(const uint64_t n, r.Varint(field));
  if (n > r.rest().size() / element_bytes) {
    return r.Invalid(field, start,
                     absl::StrCat(n, " elements, more than the ", r.rest().size(),
                                  " bytes left can hold"));
  }
  return n;
}

absl::StatusOr<std::vector<Run>> ReadRuns(ByteReader& r, absl::string_view field) {
  GLUE_ASSIGN_OR_RETURN(const uint64_t n, Count(r, field, 2));
  std::vector<Run> runs;
  runs.reserve(n);
  uint64_t end = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const size_t start = r.position();
    GLUE_ASSIGN_OR_RETURN(const uint64_t gap, r.Varint(field));
    GLUE_ASSIGN_OR_RETURN(const uint64_t length, r.Varint(field));
    // Runs are disjoint and apart: each starts at least 2 past the last's end (the
    // first at 1 or later), and none passes 2^64 - 1.
    const uint64_t min_gap = i == 0 ? 1 : 2;
    if (gap < min_gap || gap > std::numeric_limits<uint64_t>::max() - end ||
        length > std::numeric_limits<uint64_t>::max() - end - gap) {
      return r.Invalid(field, start, "a run out of order or beyond 2^64 - 1");
    }
    const uint64_t first = end + gap;
    end = first + length;
    runs.emplace_back(first, end);
  }
  return runs;
}

absl::StatusOr<Writer> ReadWriter(ByteReader& r) {
  Writer w;
  GLUE_ASSIGN_OR_RETURN(w.endpoint_id, r.Fixed64("writer endpoint id"));
  GLUE_ASSIGN_OR_RETURN(w.incarnation, r.Fixed64("writer incarnation"));
  return w;
}

void EncodeHello(const Hello& m, std::vector<uint8_t>* out) {
  out->push_back(kHelloKind);
  AppendVarint(m.incarnation, out);
}

void EncodeAck(const Ack& m, std::vector<uint8_t>* out) {
  out->push_back(kAckKind);
  AppendVarint(m.incarnation, out);
  AppendVarint(m.counter, out);
}

void EncodeSummary(const Summary& m, std::vector<uint8_t>* out) {
  out->push_back(kSummaryKind);
  out->push_back(m.reply_wanted ? kReplyWantedFlag : 0);
  AppendVarint(m.incarnation, out);
  AppendVarint(m.request, out);
  AppendVarint(m.writers.size(), out);
  for (const WriterSummary& w : m.writers) {
    AppendWriter(w.writer, out);
    AppendRuns(w.seen, out);
    AppendVarint(w.live_count, out);
    AppendFixed64(w.live_digest, out);
  }
}

void EncodeDelta(const Delta& m, std::vector<uint8_t>* out) {
  out->push_back(kDeltaKind);
  out->push_back((m.last ? kLastFlag : 0) | (m.ack_wanted ? kAckWantedFlag : 0));
  AppendVarint(m.incarnation, out);
  AppendVarint(m.answer_to, out);
  AppendVarint(m.writers.size(), out);
  for (const WireWriter& w : m.writers) {
    AppendWriter(w.writer, out);
    AppendString(w.name, out);
  }
  // Counters go as the difference from the writer's previous one in the message,
  // times from the previous version's: a batch of one writer's writes costs a byte or
  // two for both.
  std::vector<uint64_t> previous(m.writers.size(), 0);
  uint64_t time = 0;
  AppendVarint(m.versions.size(), out);
  for (const WireVersion& v : m.versions) {
    uint8_t flags = 0;
    if (v.value) flags |= kHasValue;
    if (v.ephemeral) flags |= kEphemeral;
    if (v.time_to_live_ms != 0) flags |= kHasTimeToLive;
    if (!v.replaced.empty()) flags |= kHasReplaced;
    out->push_back(flags);
    AppendVarint(v.writer, out);
    AppendVarint(Difference(v.counter, previous[v.writer]), out);
    previous[v.writer] = v.counter;
    AppendVarint(Difference(v.time.packed, time), out);
    time = v.time.packed;
    AppendString(v.key, out);
    if (v.value) AppendString(*v.value, out);
    if (v.time_to_live_ms != 0) AppendVarint(v.time_to_live_ms, out);
    if (!v.replaced.empty()) {
      AppendVarint(v.replaced.size(), out);
      for (const auto& [writer, counter] : v.replaced) {
        AppendVarint(writer, out);
        AppendVarint(counter, out);
      }
    }
  }
  AppendVarint(m.dots.size(), out);
  for (const DotsOf& d : m.dots) {
    AppendVarint(d.writer, out);
    AppendRuns(d.seen, out);
    AppendRuns(d.live, out);
  }
}

absl::StatusOr<Summary> DecodeSummary(ByteReader& r) {
  Summary m;
  GLUE_ASSIGN_OR_RETURN(const uint8_t flags, r.Byte("flags"));
  GLUE_RETURN_IF_ERROR(Flags(flags, kReplyWantedFlag));
  m.reply_wanted = (flags & kReplyWantedFlag) != 0;
  GLUE_ASSIGN_OR_RETURN(m.incarnation, r.Varint("incarnation"));
  GLUE_ASSIGN_OR_RETURN(m.request, r.Varint("request"));
  GLUE_ASSIGN_OR_RETURN(const uint64_t n, Count(r, "writer count", 26));
  m.writers.reserve(n);
  absl::flat_hash_set<Writer> named;
  for (uint64_t i = 0; i < n; ++i) {
    WriterSummary w;
    const size_t at = r.position();
    GLUE_ASSIGN_OR_RETURN(w.writer, ReadWriter(r));
    if (!named.insert(w.writer).second) return r.Invalid("writer", at, "named twice");
    GLUE_ASSIGN_OR_RETURN(w.seen, ReadRuns(r, "seen runs"));
    GLUE_ASSIGN_OR_RETURN(w.live_count, r.Varint("live count"));
    GLUE_ASSIGN_OR_RETURN(w.live_digest, r.Fixed64("live digest"));
    m.writers.push_back(std::move(w));
  }
  return m;
}

absl::StatusOr<Delta> DecodeDelta(ByteReader& r) {
  Delta m;
  GLUE_ASSIGN_OR_RETURN(const uint8_t flags, r.Byte("flags"));
  GLUE_RETURN_IF_ERROR(Flags(flags, kLastFlag | kAckWantedFlag));
  m.last = (flags & kLastFlag) != 0;
  m.ack_wanted = (flags & kAckWantedFlag) != 0;
  GLUE_ASSIGN_OR_RETURN(m.incarnation, r.Varint("incarnation"));
  GLUE_ASSIGN_OR_RETURN(m.answer_to, r.Varint("answer_to"));
  GLUE_ASSIGN_OR_RETURN(const uint64_t writers, Count(r, "writer count", 17));
  m.writers.reserve(writers);
  absl::flat_hash_set<Writer> named;
  for (uint64_t i = 0; i < writers; ++i) {
    WireWriter w;
    const size_t at = r.position();
    GLUE_ASSIGN_OR_RETURN(w.writer, ReadWriter(r));
    if (!named.insert(w.writer).second) return r.Invalid("writer", at, "named twice");
    GLUE_ASSIGN_OR_RETURN(w.name, r.String("writer name"));
    m.writers.push_back(std::move(w));
  }
  auto writer_index = [&](absl::string_view field) -> absl::StatusOr<uint32_t> {
    const size_t start = r.position();
    GLUE_ASSIGN_OR_RETURN(const uint64_t index, r.Varint(field));
    if (index >= writers) {
      return r.Invalid(
          field, start,
          absl::StrCat(index, ", but the message names ", writers, " writers"));
    }
    return static_cast<uint32_t>(index);
  };
  std::vector<uint64_t> previous(writers, 0);
  uint64_t time = 0;
  GLUE_ASSIGN_OR_RETURN(const uint64_t versions, Count(r, "version count", 5));
  m.versions.reserve(versions);
  for (uint64_t i = 0; i < versions; ++i) {
    WireVersion v;
    GLUE_ASSIGN_OR_RETURN(const uint8_t vflags, r.Byte("version flags"));
    GLUE_RETURN_IF_ERROR(
        Flags(vflags, kHasValue | kEphemeral | kHasTimeToLive | kHasReplaced));
    v.ephemeral = (vflags & kEphemeral) != 0;
    GLUE_ASSIGN_OR_RETURN(v.writer, writer_index("version writer"));
    const size_t counter_at = r.position();
    GLUE_ASSIGN_OR_RETURN(const uint64_t counter, r.Varint("version counter"));
    v.counter = previous[v.writer] + static_cast<uint64_t>(UnZigZag(counter));
    if (v.counter == 0) return r.Invalid("version counter", counter_at, "0");
    previous[v.writer] = v.counter;
    GLUE_ASSIGN_OR_RETURN(const uint64_t t, r.Varint("version time"));
    time += static_cast<uint64_t>(UnZigZag(t));
    v.time.packed = time;
    const size_t key_at = r.position();
    GLUE_ASSIGN_OR_RETURN(v.key, r.View("key"));
    if (absl::Status s = topics::ValidateTopicName(v.key); !s.ok()) {
      return r.Invalid("key", key_at, s.message());
    }
    if ((vflags & kHasValue) != 0) {
      GLUE_ASSIGN_OR_RETURN(v.value, r.View("value"));
    }
    if ((vflags & kHasTimeToLive) != 0) {
      GLUE_ASSIGN_OR_RETURN(v.time_to_live_ms,
                            r.Varint("time to live", 64, kMaxTimeToLiveMs));
      if (v.time_to_live_ms == 0) return r.Invalid("time to live", r.position(), "0");
    }
    if ((vflags & kHasReplaced) != 0) {
      GLUE_ASSIGN_OR_RETURN(const uint64_t n, Count(r, "replaced count", 2));
      v.replaced.reserve(n);
      for (uint64_t j = 0; j < n; ++j) {
        GLUE_ASSIGN_OR_RETURN(const uint32_t w, writer_index("replaced writer"));
        const size_t at = r.position();
        GLUE_ASSIGN_OR_RETURN(const uint64_t c, r.Varint("replaced counter"));
        if (c == 0) return r.Invalid("replaced counter", at, "0");
        v.replaced.emplace_back(w, c);
      }
    }
    m.versions.push_back(std::move(v));
  }
  GLUE_ASSIGN_OR_RETURN(const uint64_t dots, Count(r, "dots count", 3));
  m.dots.reserve(dots);
  for (uint64_t i = 0; i < dots; ++i) {
    DotsOf d;
    GLUE_ASSIGN_OR_RETURN(d.writer, writer_index("dots writer"));
    GLUE_ASSIGN_OR_RETURN(d.seen, ReadRuns(r, "seen runs"));
    const size_t live_at = r.position();
    GLUE_ASSIGN_OR_RETURN(d.live, ReadRuns(r, "live runs"));
    if (!SubtractRuns(d.live, d.seen).empty()) {
      return r.Invalid("live runs", live_at, "not within the seen runs");
    }
    m.dots.push_back(std::move(d));
  }
  return m;
}

}  // namespace

size_t VersionWireBytes(const WireVersion& v) {
  return 1 + VarintSize(v.writer) + 10 + 10 + VarintSize(v.key.size()) + v.key.size() +
         (v.value ? VarintSize(v.value->size()) + v.value->size() : 0) +
         (v.time_to_live_ms != 0 ? VarintSize(v.time_to_live_ms) : 0) +
         v.replaced.size() * 12 + (v.replaced.empty() ? 0 : 2);
}

std::vector<uint8_t> EncodeModelMessage(const ModelMessage& message) {
  std::vector<uint8_t> out;
  std::visit(
      [&out](const auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Hello>) {
          EncodeHello(m, &out);
        } else if constexpr (std::is_same_v<T, Ack>) {
          EncodeAck(m, &out);
        } else if constexpr (std::is_same_v<T, Summary>) {
          EncodeSummary(m, &out);
        } else {
          EncodeDelta(m, &out);
        }
      },
      message);
  return out;
}

absl::StatusOr<ModelMessage> DecodeModelMessage(absl::Span<const uint8_t> bytes) {
  ByteReader r(bytes, "model message");
  GLUE_ASSIGN_OR_RETURN(const uint8_t kind, r.Byte("kind"));
  ModelMessage message;
  switch (kind) {
    case kHelloKind: {
      Hello m;
      GLUE_ASSIGN_OR_RETURN(m.incarnation, r.Varint("incarnation"));
      message = m;
      break;
    }
    case kAckKind: {
      Ack m;
      GLUE_ASSIGN_OR_RETURN(m.incarnation, r.Varint("incarnation"));
      GLUE_ASSIGN_OR_RETURN(m.counter, r.Varint("counter"));
      message = m;
      break;
    }
    case kSummaryKind: {
      GLUE_ASSIGN_OR_RETURN(message, DecodeSummary(r));
      break;
    }
    case kDeltaKind: {
      GLUE_ASSIGN_OR_RETURN(message, DecodeDelta(r));
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("model message: unknown kind 0x", absl::Hex(kind)));
  }
  if (!r.done()) {
    return r.Invalid("end", r.position(),
                     absl::StrCat(r.rest().size(), " bytes after the message"));
  }
  return message;
}

}  // namespace glue::model::internal
