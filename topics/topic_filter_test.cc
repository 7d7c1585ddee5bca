#include "glue/topics/topic_filter.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "glue/base/status_matchers.h"

namespace glue::topics {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

// MatchCase is whether `filter` matches `topic`.
struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
};

void ExpectMatches(absl::Span<const MatchCase> cases) {
  for (const MatchCase& c : cases) {
    SCOPED_TRACE(std::string(c.filter) + " ~ " + c.topic);
    ASSERT_OK(ValidateTopicFilter(c.filter));
    ASSERT_OK(ValidateTopicName(c.topic));
    EXPECT_EQ(TopicMatches(c.filter, c.topic), c.matches);
  }
}

TEST(TopicFilter, MatchesAsMqttDoes) {
  ExpectMatches({
      {"some_topic", "some_topic", true},
      {"some_topic", "some_topic/x", false},
      {"some_topic/x", "some_topic", false},
      {"#", "some_topic", true},
      {"#", "a/b/c", true},
      {"#", "/", true},
      {"sensors/#", "sensors", true},
      {"sensors/#", "sensors/kitchen", true},
      {"sensors/#", "sensors/kitchen/temperature", true},
      {"sensors/#", "sensorsx", false},
      {"sensors/#", "actuators/kitchen", false},
      {"sensors/+/temperature", "sensors/kitchen/temperature", true},
      {"sensors/+/temperature", "sensors/temperature", false},
      {"sensors/+/temperature", "sensors/a/b/temperature", false},
      {"sensors/+/temperature", "sensors//temperature", true},  // an empty level
      {"+", "a", true},
      {"+", "a/b", false},
      {"+", "/", false},
      {"+/+", "/", true},
      {"+/#", "a", true},
      {"+/#", "a/b/c", true},
      {"a/+/#", "a", false},
      {"a/+/#", "a/b", true},
      {"a//b", "a//b", true},
      {"a//b", "a/b", false},
      {"/a", "a", false},
  });
}

TEST(TopicFilter, AWildcardFirstLevelNeverMatchesATopicThatStartsWithDollar) {
  ExpectMatches({
      {"#", "$glue/model/a/x", false},
      {"#", "$", false},
      {"+", "$", false},
      {"+", "$glue", false},
      {"+/x", "$glue/x", false},
      {"+/#", "$glue/model/a/x", false},
      {"+/model/a/x", "$glue/model/a/x", false},
      {"+/+/+/+", "$glue/model/a/x", false},
      // Named from its first level, a '$' topic matches as any other.
      {"$glue/#", "$glue/model/a/x", true},
      {"$glue/#", "$glue", true},
      {"$glue/+/a/x", "$glue/model/a/x", true},
      {"$glue/model/a/x", "$glue/model/a/x", true},
      {"$", "$", true},
      // Only a '$' that starts the topic sets it apart.
      {"#", "a/$glue", true},
      {"a/+", "a/$glue", true},
      {"+/+", "/$glue", true},
      {"#", "glue$", true},
  });
}

TEST(TopicFilter, AFilterWithoutWildcardsMatchesOnlyItself) {
  // Random names over a small alphabet, so that prefixes and shared levels are common.
  const unsigned seed = std::random_device{}();
  std::printf("topic filter seed: %u\n", seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 random(seed);
  auto name = [&] {
    std::string s;
    for (int i = 0, n = 1 + random() % 6; i < n; ++i) s += "ab/"[random() % 3];
    return s;
  };
  for (int i = 0; i < 10'000; ++i) {
    const std::string filter = name();
    const std::string topic = name();
    ASSERT_EQ(TopicMatches(filter, topic), filter == topic) << filter << " ~ " << topic;
    ASSERT_FALSE(IsWildcardFilter(filter));
  }
}

TEST(TopicFilter, RefusesMisplacedWildcards) {
  for (const char* filter : {"a+", "+a", "a/b#", "#/a", "a/#/b", "##", "++", "a/+b/c"}) {
    SCOPED_TRACE(filter);
    EXPECT_THAT(ValidateTopicFilter(filter),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(filter)));
  }
}

TEST(TopicFilter, NamesMayNotHoldWildcardsOrControlCharacters) {
  EXPECT_THAT(ValidateTopicName("a/+/b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'+' at byte 2")));
  EXPECT_THAT(ValidateTopicName("#"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("wildcard")));
  EXPECT_THAT(ValidateTopicName(std::string("a\0b", 3)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("control character at byte 1")));
  EXPECT_THAT(ValidateTopicFilter("a\nb"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("control character")));
  EXPECT_OK(ValidateTopicName("capteurs/température"));  // UTF-8 passes
}

TEST(TopicFilter, BoundsTheLengthOfNamesFiltersAndTypes) {
  const std::string longest(kMaxTopicBytes, 'a');
  const std::string too_long(kMaxTopicBytes + 1, 'a');
  EXPECT_OK(ValidateTopicName(longest));
  EXPECT_OK(ValidateTopicFilter(longest));
  EXPECT_OK(ValidateTypeName(longest));
  for (auto validate : {ValidateTopicName, ValidateTopicFilter, ValidateTypeName}) {
    EXPECT_THAT(validate(too_long),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("256 bytes")));
    EXPECT_THAT(validate(""),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  }
}

TEST(TopicFilter, TypeNamesArePrintableAsciiWithoutSpaces) {
  EXPECT_OK(ValidateTypeName("glue.demo.Payload"));
  EXPECT_OK(ValidateTypeName("some_type"));
  EXPECT_THAT(ValidateTypeName("some type"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("byte 4")));
  EXPECT_THAT(ValidateTypeName("typ\xc3\xa9"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("byte 3")));
}

}  // namespace
}  // namespace glue::topics
