#include "glue/topics/topic_message.h"

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "glue/base/status_matchers.h"

namespace glue::topics {
namespace {

using ::glue::testing::StatusIs;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

const std::vector<uint8_t> kPayload = {1, 2, 3, 4, 5};

Publication Sample() {
  return {.epoch = 1'700'000'000'000'000,
          .sequence = 300,
          .time_to_live_ms = 1000,
          .history = true,
          .topic = "sensors/kitchen",
          .type = "glue.demo.Reading",
          .payload = kPayload};
}

TEST(TopicMessage, EncodesThePublicationAsDocumented) {
  const std::vector<uint8_t> bytes = EncodePublication({.epoch = 1,
                                                        .sequence = 2,
                                                        .time_to_live_ms = 300,
                                                        .topic = "t",
                                                        .type = "x",
                                                        .payload = kPayload});
  EXPECT_THAT(bytes, ElementsAreArray<uint8_t>({0x20, 0x00, 0x01, 0x02, 0xac, 0x02, 0x01,
                                                't', 0x01, 'x', 1, 2, 3, 4, 5}));
}

TEST(TopicMessage, PublicationsRoundTripWithThePayloadInPlace) {
  const Publication sample = Sample();
  const std::vector<uint8_t> bytes = EncodePublication(sample);
  EXPECT_EQ(bytes.size(), PublicationHeaderSize(sample) + kPayload.size());
  absl::StatusOr<TopicMessage> decoded = DecodeTopicMessage(bytes);
  ASSERT_OK(decoded);
  const Publication& p = std::get<Publication>(*decoded);
  EXPECT_EQ(p.epoch, sample.epoch);
  EXPECT_EQ(p.sequence, sample.sequence);
  EXPECT_EQ(p.time_to_live_ms, sample.time_to_live_ms);
  EXPECT_TRUE(p.history);
  EXPECT_EQ(p.topic, sample.topic);
  EXPECT_EQ(p.type, sample.type);
  EXPECT_EQ(p.payload.data(), bytes.data() + PublicationHeaderSize(sample));
  EXPECT_THAT(p.payload, ElementsAreArray(kPayload));
}

TEST(TopicMessage, AnEmptyPayloadAndTheLargestValuesRoundTrip) {
  Publication sample = Sample();
  sample.epoch = UINT64_MAX;
  sample.sequence = UINT64_MAX;
  sample.time_to_live_ms = UINT32_MAX;
  sample.payload = {};
  const std::vector<uint8_t> bytes = EncodePublication(sample);
  absl::StatusOr<TopicMessage> decoded = DecodeTopicMessage(bytes);
  ASSERT_OK(decoded);
  const Publication& p = std::get<Publication>(*decoded);
  EXPECT_EQ(p.epoch, UINT64_MAX);
  EXPECT_EQ(p.sequence, UINT64_MAX);
  EXPECT_EQ(p.time_to_live_ms, UINT32_MAX);
  EXPECT_TRUE(p.payload.empty());
}

TEST(TopicMessage, EncodesTheInterestAsDocumented) {
  const std::vector<uint8_t> bytes = EncodeInterest(
      {.version = 2, .epoch = 300, .reply_wanted = true, .entries = {{"a/#", "t"}}});
  EXPECT_THAT(bytes, ElementsAreArray<uint8_t>({0x21, 0x01, 0x02, 0xac, 0x02, 0x01, 0x03,
                                                'a', '/', '#', 0x01, 't'}));
}

TEST(TopicMessage, InterestsRoundTrip) {
  const Interest interest{
      .version = 7,
      .epoch = 1'700'000'000'000'000,
      .reply_wanted = true,
      // The last of any type (kAnyType): an empty type.
      .entries = {
          {"#", "any"}, {"sensors/+/temperature", "t.Celsius"}, {"s/#", ""}, {"n", ""}}};
  absl::StatusOr<TopicMessage> decoded = DecodeTopicMessage(EncodeInterest(interest));
  ASSERT_OK(decoded);
  const Interest& i = std::get<Interest>(*decoded);
  EXPECT_EQ(i.version, 7u);
  EXPECT_EQ(i.epoch, 1'700'000'000'000'000u);
  EXPECT_TRUE(i.reply_wanted);
  EXPECT_EQ(i.entries, interest.entries);
  decoded = DecodeTopicMessage(EncodeInterest({.version = 8, .epoch = UINT64_MAX}));
  ASSERT_OK(decoded);
  EXPECT_EQ(std::get<Interest>(*decoded).epoch, UINT64_MAX);
  EXPECT_TRUE(std::get<Interest>(*decoded).entries.empty());
}

TEST(TopicMessage, RefusesEveryTruncation) {
  const std::vector<uint8_t> publication = EncodePublication(Sample());
  const size_t header = PublicationHeaderSize(Sample());
  for (size_t size = 0; size < header; ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(DecodeTopicMessage(absl::MakeConstSpan(publication).first(size)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  const std::vector<uint8_t> interest = EncodeInterest(
      {.version = 1, .epoch = 1'700'000'000'000'000, .entries = {{"a/#", "t"}}});
  for (size_t size = 0; size < interest.size(); ++size) {
    SCOPED_TRACE(size);
    EXPECT_THAT(DecodeTopicMessage(absl::MakeConstSpan(interest).first(size)),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
}

TEST(TopicMessage, NamesWhatIsWrong) {
  struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    std::string error;
  };
  const Case cases[] = {
      {"unknown kind", {0x22}, "kind 0x22"},
      {"reserved flags", {0x20, 0x02, 1, 1, 0, 1, 't', 1, 'x'}, "reserved"},
      {"non-canonical varint",
       {0x20, 0x00, 0x81, 0x00, 1, 0, 1, 't', 1, 'x'},
       "epoch at byte 2 is longer than its shortest form"},
      {"time to live beyond 32 bits",
       {0x20, 0x00, 1, 1, 0x80, 0x80, 0x80, 0x80, 0x10, 1, 't', 1, 'x'},
       "time_to_live_ms"},
      {"string beyond the end", {0x20, 0x00, 1, 1, 0, 9, 't'}, "9 bytes, but 1 remain"},
      {"wildcard in a topic", {0x20, 0x00, 1, 1, 0, 1, '#', 1, 'x'}, "wildcard"},
      {"space in a type", {0x20, 0x00, 1, 1, 0, 1, 't', 1, ' '}, "type"},
      {"bad filter", {0x21, 0, 1, 5, 1, 2, 'a', '#', 1, 'x'}, "entry 0"},
      {"interest's reserved flags", {0x21, 0x80, 1, 5, 0}, "reserved"},
      {"interest without an epoch", {0x21, 0, 1}, "epoch at byte 3 is truncated"},
      {"truncated epoch", {0x21, 0, 1, 0x85}, "epoch at byte 3 is truncated"},
      {"non-canonical epoch",
       {0x21, 0, 1, 0x85, 0x00, 0},
       "epoch at byte 3 is longer than its shortest form"},
      {"epoch beyond 64 bits",
       {0x21, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0},
       "epoch at byte 3 is beyond 64 bits"},
      {"count above the bound", {0x21, 0, 1, 5, 0x81, 0x20}, "above 4096"},
      {"count beyond the bytes", {0x21, 0, 1, 5, 100, 1, 'a', 1, 'x'}, "count 100"},
      {"bytes after an interest", {0x21, 0, 1, 5, 1, 1, 'a', 1, 'x', 0}, "1 bytes after"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(DecodeTopicMessage(c.bytes),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.error)));
  }
}

TEST(TopicMessage, DecodesMutatedMessagesToErrorsOrValidMessages) {
  const unsigned seed = std::random_device{}();
  std::printf("topic message seed: %u\n", seed);
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 random(seed);
  const std::vector<std::vector<uint8_t>> valid = {
      EncodePublication(Sample()),
      EncodeInterest({.version = 3,
                      .epoch = 1'700'000'000'000'000,
                      .entries = {{"a/+/c", "t"}, {"#", "u"}}})};
  int decoded = 0;
  for (int trial = 0; trial < 20'000; ++trial) {
    std::vector<uint8_t> bytes = valid[trial % 2];
    for (int i = 0, n = 1 + random() % 3; i < n; ++i) {
      bytes[random() % bytes.size()] ^= static_cast<uint8_t>(1 + random() % 255);
    }
    if (random() % 4 == 0) bytes.resize(random() % (bytes.size() + 1));
    absl::StatusOr<TopicMessage> message = DecodeTopicMessage(bytes);
    if (!message.ok()) {
      ASSERT_EQ(message.status().code(), absl::StatusCode::kInvalidArgument);
      continue;
    }
    ++decoded;
    // What decodes encodes back to the same bytes: every encoding is canonical.
    const std::vector<uint8_t> again =
        std::holds_alternative<Publication>(*message)
            ? EncodePublication(std::get<Publication>(*message))
            : EncodeInterest(std::get<Interest>(*message));
    ASSERT_EQ(again, bytes) << "trial " << trial;
  }
  std::printf("%d of 20000 mutated messages decoded\n", decoded);
}

}  // namespace
}  // namespace glue::topics
