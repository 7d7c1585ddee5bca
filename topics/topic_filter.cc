#include "glue/topics/topic_filter.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace glue::topics {
namespace {

bool IsControl(unsigned char c) { return c < 0x20 || c == 0x7f; }

// Checks what a name and a filter share: the length and the bytes allowed anywhere.
absl::Status ValidateBytes(absl::string_view what, absl::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (value.size() > kMaxTopicBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " of ", value.size(), " bytes is longer than ", kMaxTopicBytes));
  }
  for (size_t i = 0; i < value.size(); ++i) {
    if (IsControl(static_cast<unsigned char>(value[i]))) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " '", absl::CHexEscape(value), "' has a control character at byte ", i));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateTopicName(absl::string_view topic) {
  if (absl::Status status = ValidateBytes("topic name", topic); !status.ok())
    return status;
  const size_t wildcard = topic.find_first_of("+#");
  if (wildcard != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic name '", absl::CHexEscape(topic), "' has the wildcard '",
                     topic.substr(wildcard, 1), "' at byte ", wildcard,
                     "; wildcards belong in subscription filters"));
  }
  return absl::OkStatus();
}

absl::Status ValidateTopicFilter(absl::string_view filter) {
  if (absl::Status status = ValidateBytes("topic filter", filter); !status.ok()) {
    return status;
  }
  size_t start = 0;
  while (true) {
    const size_t end = std::min(filter.find('/', start), filter.size());
    const absl::string_view level = filter.substr(start, end - start);
    const bool last = end == filter.size();
    if (level.size() > 1 && level.find_first_of("+#") != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "topic filter '", absl::CHexEscape(filter), "' has a wildcard sharing level '",
          absl::CHexEscape(level), "'; '+' and '#' must be a level of their own"));
    }
    if (level == "#" && !last) {
      return absl::InvalidArgumentError(
          absl::StrCat("topic filter '", absl::CHexEscape(filter),
                       "' has '#' before its last level; '#' may only end a filter"));
    }
    if (last) return absl::OkStatus();
    start = end + 1;
  }
}

absl::Status ValidateTypeName(absl::string_view type) {
  if (type.empty()) return absl::InvalidArgumentError("type name is empty");
  if (type.size() > kMaxTopicBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "type name of ", type.size(), " bytes is longer than ", kMaxTopicBytes));
  }
  for (size_t i = 0; i < type.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(type[i]);
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("type name '", absl::CHexEscape(type), "' has byte ", i,
                       " outside printable ASCII (no spaces)"));
    }
  }
  return absl::OkStatus();
}

bool IsWildcardFilter(absl::string_view filter) {
  return filter.find_first_of("+#") != absl::string_view::npos;
}

bool TopicMatches(absl::string_view filter, absl::string_view topic) {
  // A wildcard is alone in its level: a filter that starts with one has it first.
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '#' || filter.front() == '+')) {
    return false;
  }
  size_t f = 0;  // start of the filter's current level
  size_t t = 0;  // start of the topic's current level
  while (true) {
    const size_t f_end = std::min(filter.find('/', f), filter.size());
    const absl::string_view level = filter.substr(f, f_end - f);
    if (level == "#") return true;  // the rest of the topic, even nothing
    const size_t t_end = std::min(topic.find('/', t), topic.size());
    if (level != "+" && level != topic.substr(t, t_end - t)) return false;
    const bool filter_done = f_end == filter.size();
    const bool topic_done = t_end == topic.size();
    if (filter_done || topic_done) {
      if (filter_done && topic_done) return true;
      // "a/#" matches "a": the filter's next level is a final '#'.
      return topic_done && filter.substr(f_end) == "/#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

}  // namespace glue::topics
