#include "glue/topics/topic_message.h"

#include <cassert>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "glue/base/byte_reader.h"
#include "glue/base/status_macros.h"
#include "glue/base/varint.h"
#include "glue/topics/topic_filter.h"

namespace glue::topics {
namespace {

constexpr uint8_t kHistoryFlag = 0x01;
constexpr uint8_t kReplyWantedFlag = 0x01;

absl::Status ReservedFlags(uint8_t flags) {
  return absl::InvalidArgumentError(
      absl::StrCat("topic message: flags 0x", absl::Hex(flags), " set reserved bits"));
}

absl::Status Context(absl::Status status, absl::string_view where) {
  return absl::InvalidArgumentError(
      absl::StrCat("topic message: ", where, ": ", status.message()));
}

absl::StatusOr<Publication> DecodePublication(ByteReader& reader) {
  Publication p;
  GLUE_ASSIGN_OR_RETURN(const uint8_t flags, reader.Byte("flags"));
  if ((flags & ~kHistoryFlag) != 0) return ReservedFlags(flags);
  p.history = (flags & kHistoryFlag) != 0;
  GLUE_ASSIGN_OR_RETURN(p.epoch, reader.Varint("epoch"));
  GLUE_ASSIGN_OR_RETURN(p.sequence, reader.Varint("sequence"));
  GLUE_ASSIGN_OR_RETURN(const uint64_t ttl, reader.Varint("time_to_live_ms", 32));
  p.time_to_live_ms = static_cast<uint32_t>(ttl);
  GLUE_ASSIGN_OR_RETURN(p.topic, reader.View("topic"));
  if (absl::Status s = ValidateTopicName(p.topic); !s.ok()) return Context(s, "topic");
  GLUE_ASSIGN_OR_RETURN(p.type, reader.View("type"));
  if (absl::Status s = ValidateTypeName(p.type); !s.ok()) return Context(s, "type");
  p.payload = reader.rest();
  return p;
}

absl::StatusOr<Interest> DecodeInterest(ByteReader& reader) {
  Interest interest;
  GLUE_ASSIGN_OR_RETURN(const uint8_t flags, reader.Byte("flags"));
  if ((flags & ~kReplyWantedFlag) != 0) return ReservedFlags(flags);
  interest.reply_wanted = (flags & kReplyWantedFlag) != 0;
  GLUE_ASSIGN_OR_RETURN(interest.version, reader.Varint("version"));
  GLUE_ASSIGN_OR_RETURN(interest.epoch, reader.Varint("epoch"));
  GLUE_ASSIGN_OR_RETURN(const uint64_t count,
                        reader.Varint("count", 64, kMaxInterestEntries));
  // Each entry takes at least three bytes (a filter of one byte, a type of any type:
  // empty): no count promises more than remain.
  if (count > reader.rest().size() / 3) {
    return absl::InvalidArgumentError(absl::StrCat("topic message: count ", count,
                                                   " of interest entries in ",
                                                   reader.rest().size(), " bytes"));
  }
  interest.entries.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    InterestEntry entry;
    GLUE_ASSIGN_OR_RETURN(entry.filter, reader.String("filter"));
    if (absl::Status s = ValidateTopicFilter(entry.filter); !s.ok()) {
      return Context(s, absl::StrCat("entry ", i));
    }
    GLUE_ASSIGN_OR_RETURN(entry.type, reader.String("type"));
    // Empty: a subscription of any type (kAnyType).
    if (absl::Status s =
            entry.type.empty() ? absl::OkStatus() : ValidateTypeName(entry.type);
        !s.ok()) {
      return Context(s, absl::StrCat("entry ", i));
    }
    interest.entries.push_back(std::move(entry));
  }
  if (!reader.done()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "topic message: ", reader.rest().size(), " bytes after the interest"));
  }
  return interest;
}

}  // namespace

size_t PublicationHeaderSize(const Publication& p) {
  return 2 + VarintSize(p.epoch) + VarintSize(p.sequence) +
         VarintSize(p.time_to_live_ms) + VarintSize(p.topic.size()) + p.topic.size() +
         VarintSize(p.type.size()) + p.type.size();
}

std::vector<uint8_t> EncodePublication(const Publication& p) {
  std::vector<uint8_t> out(PublicationHeaderSize(p) + p.payload.size());
  EncodePublication(p, absl::MakeSpan(out));
  return out;
}

void EncodePublication(const Publication& p, absl::Span<uint8_t> out) {
  assert(out.size() == PublicationHeaderSize(p) + p.payload.size());
  uint8_t* at = out.data();
  *at++ = kPublicationKind;
  *at++ = p.history ? kHistoryFlag : 0;
  at = PutVarint(p.epoch, at);
  at = PutVarint(p.sequence, at);
  at = PutVarint(p.time_to_live_ms, at);
  for (absl::string_view s : {p.topic, p.type}) {
    at = PutVarint(s.size(), at);
    if (!s.empty()) std::memcpy(at, s.data(), s.size());
    at += s.size();
  }
  if (!p.payload.empty()) std::memcpy(at, p.payload.data(), p.payload.size());
}

std::vector<uint8_t> EncodeInterest(const Interest& interest) {
  std::vector<uint8_t> out;
  out.push_back(kInterestKind);
  out.push_back(interest.reply_wanted ? kReplyWantedFlag : 0);
  AppendVarint(interest.version, &out);
  AppendVarint(interest.epoch, &out);
  AppendVarint(interest.entries.size(), &out);
  for (const InterestEntry& entry : interest.entries) {
    AppendString(entry.filter, &out);
    AppendString(entry.type, &out);
  }
  return out;
}

absl::StatusOr<TopicMessage> DecodeTopicMessage(absl::Span<const uint8_t> bytes) {
  ByteReader reader(bytes, "topic message");
  GLUE_ASSIGN_OR_RETURN(const uint8_t kind, reader.Byte("kind"));
  switch (kind) {
    case kPublicationKind:
      return DecodePublication(reader);
    case kInterestKind:
      return DecodeInterest(reader);
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "topic message: kind 0x", absl::Hex(kind, absl::kZeroPad2), " is unknown"));
  }
}

}  // namespace glue::topics
