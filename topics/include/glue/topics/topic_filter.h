// Topic names, type names and subscription filters: what each may hold, and which
// topics a filter matches. The topics layer; no I/O.
//
//   GLUE_RETURN_IF_ERROR(ValidateTopicFilter("sensors/+/temperature"));
//   TopicMatches("sensors/+/temperature", "sensors/kitchen/temperature");  // true
//   TopicMatches("sensors/#", "sensors");                                  // true
//   TopicMatches("#", "anything/at/all");                                  // true
//   TopicMatches("#", "$glue/model/a/x");                                  // false
#ifndef GLUE_TOPICS_TOPIC_FILTER_H_
#define GLUE_TOPICS_TOPIC_FILTER_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace glue::topics {

// kMaxTopicBytes bounds a topic name, a filter and a type name: 1 to 255 bytes.
inline constexpr size_t kMaxTopicBytes = 255;

// A topic name is 1 to kMaxTopicBytes bytes, none of them a control character (below
// 0x20, or 0x7f), '+' or '#'. '/' separates its levels; a level may be empty
// ("a//b" has three levels). Bytes from 0x80 up pass as they are, so UTF-8 names do.
//
// ValidateTopicName returns OK, or kInvalidArgument naming the name (escaped) and the
// rule it breaks. Any thread.
absl::Status ValidateTopicName(absl::string_view topic);

// A filter is a topic name in which a level may also be a wildcard, alone in its
// level: '+' matches any one level; '#', only as the last level, matches any number
// of levels, none included. So "#" alone matches every topic (but those that start
// with '$', below), "sensors/#" matches "sensors" and everything below it, and
// "sensors/+/temperature" matches "sensors/kitchen/temperature" but not
// "sensors/temperature". A filter without wildcards matches only the topic it names.
//
// As in MQTT, topics that start with '$' are set apart, for glue's own layers
// ("$glue/model/..."): a filter whose first level is a wildcard never matches one, so
// that "#" and "+/x" do not take in what those layers say among themselves. A filter
// reaches such a topic by naming its first level: "$glue/#", "$glue/+/a/x".
//
// ValidateTopicFilter returns OK, or kInvalidArgument naming the filter (escaped) and
// the rule it breaks ('+' or '#' sharing a level, '#' before the last level, and
// those of ValidateTopicName). Any thread.
absl::Status ValidateTopicFilter(absl::string_view filter);

// A type name says what a topic's payloads are (for Protocol Buffers, the message's
// full name). It is 1 to kMaxTopicBytes printable ASCII bytes (0x21 to 0x7e).
//
// ValidateTypeName returns OK, or kInvalidArgument naming the type (escaped). Any
// thread.
absl::Status ValidateTypeName(absl::string_view type);

// IsWildcardFilter says whether `filter` has a wildcard level.
bool IsWildcardFilter(absl::string_view filter);

// TopicMatches says whether `filter` matches `topic`, by the rules of
// ValidateTopicFilter's comment: never when the filter's first level is a wildcard and
// the topic starts with '$'. Every match of the topics layer (local subscriptions,
// peers' interests, history) goes through it. Needs a filter that ValidateTopicFilter
// accepts and a topic that ValidateTopicName accepts; O(length). Any thread.
bool TopicMatches(absl::string_view filter, absl::string_view topic);

}  // namespace glue::topics

#endif  // GLUE_TOPICS_TOPIC_FILTER_H_
