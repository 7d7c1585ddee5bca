#include "cmd/simple_endpoint_flags.h"

#include <string>
#include <vector>

#include "glue/base/status_matchers.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

absl::StatusOr<SimpleEndpointFlags> Parse(std::vector<const char*> args) {
  args.insert(args.begin(), "simple_endpoint");
  return ParseSimpleEndpointFlags(static_cast<int>(args.size()), args.data());
}

TEST(ParseSimpleEndpointFlags, NoFlagsGiveTheDefaults) {
  ASSERT_OK_AND_ASSIGN(SimpleEndpointFlags flags, Parse({}));
  EXPECT_FALSE(flags.help);
  EXPECT_FALSE(flags.send_messages);
  EXPECT_EQ(flags.topic, "some_topic");
  EXPECT_EQ(flags.payload_size, 65536u);
  EXPECT_EQ(flags.rate, 20u);
  EXPECT_EQ(flags.expiry_ms, 1000u);
  EXPECT_EQ(flags.duration_s, 0u);
  EXPECT_EQ(flags.model, "");
}

TEST(ParseSimpleEndpointFlags, ReadsEveryFlagWithOneOrTwoDashesAndEitherValueForm) {
  ASSERT_OK_AND_ASSIGN(SimpleEndpointFlags flags,
                       Parse({"-sendMessages", "--topicName", "t", "-payloadSize=100",
                              "--rate=5", "-expiry", "250", "-duration", "3"}));
  EXPECT_TRUE(flags.send_messages);
  EXPECT_EQ(flags.topic, "t");
  EXPECT_EQ(flags.payload_size, 100u);
  EXPECT_EQ(flags.rate, 5u);
  EXPECT_EQ(flags.expiry_ms, 250u);
  EXPECT_EQ(flags.duration_s, 3u);
  ASSERT_OK_AND_ASSIGN(flags, Parse({"-sendMessages=false"}));
  EXPECT_FALSE(flags.send_messages);
}

TEST(ParseSimpleEndpointFlags, ModelNamesTheModelInEitherValueForm) {
  ASSERT_OK_AND_ASSIGN(SimpleEndpointFlags flags, Parse({"-model", "demo"}));
  EXPECT_EQ(flags.model, "demo");
  ASSERT_OK_AND_ASSIGN(flags, Parse({"--model=app.config-2_b", "-duration", "3"}));
  EXPECT_EQ(flags.model, "app.config-2_b");
  EXPECT_EQ(flags.duration_s, 3u);
}

TEST(ParseSimpleEndpointFlags, RefusesABadModelNameSayingWhy) {
  EXPECT_THAT(Parse({"-model", "a/b"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "-model a/b: model name 'a/b' may hold only letters, digits, "
                       "'-', '_' and '.'"));
  EXPECT_THAT(Parse({"-model="}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "-model : model name '' must have 1 to 64 bytes"));
  const std::string long_name(65, 'm');
  EXPECT_THAT(
      Parse({"-model", long_name.c_str()}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must have 1 to 64 bytes")));
}

TEST(ParseSimpleEndpointFlags, RefusesAModelWithSendMessagesInEitherOrder) {
  for (const std::vector<const char*>& args : std::vector<std::vector<const char*>>{
           {"-model", "demo", "-sendMessages"}, {"-sendMessages", "-model=demo"}}) {
    SCOPED_TRACE(args.front());
    EXPECT_THAT(Parse(args), StatusIs(absl::StatusCode::kInvalidArgument,
                                      "-model and -sendMessages do not go together"));
  }
  EXPECT_OK(Parse({"-model", "demo", "-sendMessages=false"}));
}

TEST(ParseSimpleEndpointFlags, HelpAsksForTheUsage) {
  for (const char* help : {"-h", "-help", "--help"}) {
    SCOPED_TRACE(help);
    ASSERT_OK_AND_ASSIGN(SimpleEndpointFlags flags, Parse({help}));
    EXPECT_TRUE(flags.help);
  }
}

TEST(ParseSimpleEndpointFlags, AnUnknownFlagIsUnknownWhereverItIsAndListsTheFlags) {
  for (const std::vector<const char*>& args : std::vector<std::vector<const char*>>{
           {"-bogus"}, {"-bogus", "5"}, {"--bogus=5"}, {"-rate", "5", "-bogus"}}) {
    SCOPED_TRACE(args.front());
    EXPECT_THAT(Parse(args),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("unknown flag -bogus (the flags: -sendMessages, "
                                   "-topicName, -payloadSize, -rate, -expiry, "
                                   "-duration, -model, -help)")));
  }
}

TEST(ParseSimpleEndpointFlags, AKnownFlagWithoutItsValueSaysSo) {
  for (const char* name :
       {"topicName", "payloadSize", "rate", "expiry", "duration", "model"}) {
    SCOPED_TRACE(name);
    const std::string flag = std::string("-") + name;
    EXPECT_THAT(Parse({flag.c_str()}), StatusIs(absl::StatusCode::kInvalidArgument,
                                                "flag " + flag + " needs a value"));
  }
}

TEST(ParseSimpleEndpointFlags, RefusesValuesOutOfRangeAndStrayArguments) {
  EXPECT_THAT(Parse({"-rate", "fast"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "-rate fast: must be an integer in 1..100000"));
  EXPECT_THAT(Parse({"-rate=0"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in 1..100000")));
  EXPECT_THAT(Parse({"-payloadSize", "11"}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("in 12..")));
  EXPECT_THAT(Parse({"-sendMessages=yes"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "-sendMessages=yes: must be true or false"));
  for (const char* stray : {"publish", "-", "--", "-=5"}) {
    SCOPED_TRACE(stray);
    EXPECT_THAT(Parse({stray}),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         std::string("unexpected argument '") + stray + "'"));
  }
}

}  // namespace
}  // namespace glue
