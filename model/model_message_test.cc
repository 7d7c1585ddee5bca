#include "model/model_message.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::model::internal {
namespace {

using ::testing::HasSubstr;

template <typename T>
T RoundTrip(const T& m) {
  const std::vector<uint8_t> bytes = EncodeModelMessage(m);
  absl::StatusOr<ModelMessage> decoded = DecodeModelMessage(bytes);
  EXPECT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(std::holds_alternative<T>(*decoded));
  return std::get<T>(*decoded);
}

Delta SampleDelta() {
  Delta d{.incarnation = 77, .answer_to = 5, .last = true, .ack_wanted = true};
  d.writers = {{{1, 2}, "one"}, {{~uint64_t{0}, 9}, ""}};
  d.versions.push_back(WireVersion{.writer = 0,
                                   .counter = 10,
                                   .time = HybridTime::Of(1'700'000'000'000, 3),
                                   .key = "a/b",
                                   .value = "value"});
  d.versions.push_back(WireVersion{.writer = 1,
                                   .counter = 3,
                                   .time = HybridTime::Of(1'699'000'000'000, 0),
                                   .ephemeral = true,
                                   .time_to_live_ms = 1500,
                                   .key = "a/c",
                                   .replaced = {{0, 9}, {1, 2}}});
  d.versions.push_back(WireVersion{
      .writer = 0, .counter = 4, .time = HybridTime::Of(1, 0), .key = "x", .value = ""});
  d.dots.push_back(DotsOf{.writer = 1, .seen = {{1, 5}, {9, 9}}, .live = {{2, 3}}});
  return d;
}

TEST(ModelMessageTest, EveryKindRoundTrips) {
  EXPECT_EQ(RoundTrip(Hello{12345}).incarnation, 12345u);
  const Ack ack = RoundTrip(Ack{5, 99});
  EXPECT_EQ(ack.incarnation, 5u);
  EXPECT_EQ(ack.counter, 99u);
  Summary s{.incarnation = 8, .request = 3, .reply_wanted = true};
  s.writers.push_back({{1, 2}, {{1, 10}, {12, 20}}, 15, 0xdeadbeef});
  s.writers.push_back({{3, 4}, {}, 0, 0});
  const Summary s2 = RoundTrip(s);
  EXPECT_TRUE(s2.reply_wanted);
  EXPECT_EQ(s2.request, 3u);
  ASSERT_EQ(s2.writers.size(), 2u);
  EXPECT_EQ(s2.writers[0].writer, (Writer{1, 2}));
  EXPECT_EQ(s2.writers[0].seen, s.writers[0].seen);
  EXPECT_EQ(s2.writers[0].live_digest, 0xdeadbeefu);
  const Delta d = SampleDelta();
  const std::vector<uint8_t> bytes = EncodeModelMessage(d);
  absl::StatusOr<ModelMessage> decoded = DecodeModelMessage(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  const Delta& d2 = std::get<Delta>(*decoded);
  EXPECT_TRUE(d2.last);
  EXPECT_TRUE(d2.ack_wanted);
  EXPECT_EQ(d2.answer_to, 5u);
  ASSERT_EQ(d2.writers.size(), 2u);
  EXPECT_EQ(d2.writers[1].writer.endpoint_id, ~uint64_t{0});
  ASSERT_EQ(d2.versions.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(d2.versions[i].writer, d.versions[i].writer);
    EXPECT_EQ(d2.versions[i].counter, d.versions[i].counter);
    EXPECT_EQ(d2.versions[i].time, d.versions[i].time);
    EXPECT_EQ(d2.versions[i].key, d.versions[i].key);
    EXPECT_EQ(d2.versions[i].value, d.versions[i].value);
    EXPECT_EQ(d2.versions[i].ephemeral, d.versions[i].ephemeral);
    EXPECT_EQ(d2.versions[i].time_to_live_ms, d.versions[i].time_to_live_ms);
    EXPECT_EQ(d2.versions[i].replaced, d.versions[i].replaced);
  }
  ASSERT_EQ(d2.dots.size(), 1u);
  EXPECT_EQ(d2.dots[0].seen, d.dots[0].seen);
  EXPECT_EQ(d2.dots[0].live, d.dots[0].live);
}

TEST(ModelMessageTest, ABatchOfOneWritersPutsCostsAFewBytesBeyondKeyAndValue) {
  Delta d{.incarnation = 1};
  d.writers = {{{1, 2}, "writer"}};
  const std::string value(64, 'v');
  uint64_t time = HybridTime::Of(1'700'000'000'000, 0).packed;
  for (uint64_t i = 1; i <= 1000; ++i) {
    d.versions.push_back(WireVersion{.writer = 0,
                                     .counter = i,
                                     .time = HybridTime{time + i},
                                     .key = "sensors/kitchen/t",
                                     .value = value,
                                     .replaced = {{0, i > 1 ? i - 1 : 1}}});
  }
  const size_t bytes = EncodeModelMessage(d).size();
  const size_t payload = 1000 * (17 + 64);
  EXPECT_LE(bytes - payload, 1000 * 10);  // an overwrite: ~9 bytes each
}

TEST(ModelMessageTest, BadMessagesFailWithWhatIsWrong) {
  auto error = [](std::vector<uint8_t> bytes) {
    absl::StatusOr<ModelMessage> m = DecodeModelMessage(bytes);
    EXPECT_FALSE(m.ok());
    return std::string(m.status().message());
  };
  EXPECT_THAT(error({}), HasSubstr("kind"));
  EXPECT_THAT(error({0x55}), HasSubstr("unknown kind"));
  EXPECT_THAT(error({kHelloKind, 1, 2}), HasSubstr("after the message"));
  EXPECT_THAT(error({kSummaryKind, 0x80}), HasSubstr("reserved"));
  const std::vector<uint8_t> good = EncodeModelMessage(SampleDelta());
  // Every truncation fails cleanly.
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_FALSE(DecodeModelMessage(absl::MakeConstSpan(good.data(), n)).ok()) << n;
  }
  // A huge count is refused before anything is reserved.
  std::vector<uint8_t> huge = {kDeltaKind, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f};
  EXPECT_THAT(error(huge), HasSubstr("more than"));
  // Runs out of order.
  Delta runs{.incarnation = 1};
  runs.writers = {{{1, 1}, ""}};
  runs.dots.push_back(DotsOf{.writer = 0, .seen = {{5, 6}, {6, 9}}});
  EXPECT_THAT(error(EncodeModelMessage(runs)), HasSubstr("out of order"));
  // Live runs beyond the seen ones.
  Delta live{.incarnation = 1};
  live.writers = {{{1, 1}, ""}};
  live.dots.push_back(DotsOf{.writer = 0, .seen = {{5, 6}}, .live = {{6, 7}}});
  EXPECT_THAT(error(EncodeModelMessage(live)), HasSubstr("not within the seen runs"));
  // A writer named twice.
  Delta twice{.incarnation = 1};
  twice.writers = {{{1, 1}, "a"}, {{1, 1}, "b"}};
  EXPECT_THAT(error(EncodeModelMessage(twice)), HasSubstr("named twice"));
  // A bad key.
  Delta key{.incarnation = 1};
  key.writers = {{{1, 1}, ""}};
  key.versions.push_back(WireVersion{.writer = 0, .counter = 1, .key = "a/#"});
  EXPECT_THAT(error(EncodeModelMessage(key)), HasSubstr("key"));
}

TEST(ModelMessageTest, GarbageNeverCrashes) {
  std::mt19937_64 random(42);
  const std::vector<uint8_t> good = EncodeModelMessage(SampleDelta());
  for (int i = 0; i < 20000; ++i) {
    std::vector<uint8_t> bytes = good;
    const int flips = 1 + static_cast<int>(random() % 4);
    for (int f = 0; f < flips; ++f) bytes[random() % bytes.size()] = random() & 0xff;
    (void)DecodeModelMessage(bytes);
    std::vector<uint8_t> noise(random() % 64);
    for (auto& b : noise) b = random() & 0xff;
    if (!noise.empty()) noise[0] = kSummaryKind + static_cast<uint8_t>(random() % 3);
    (void)DecodeModelMessage(noise);
  }
}

}  // namespace
}  // namespace glue::model::internal
