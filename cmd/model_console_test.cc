#include "cmd/model_console.h"

#include <memory>
#include <string>

#include "glue/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

model::Entry EntryOf(const std::string& key, const std::string& value,
                     const std::string& writer, size_t siblings = 0) {
  return model::Entry{.key = key,
                      .value = model::Value(value),
                      .writer_name = writer,
                      .siblings = siblings};
}

TEST(ParseModelCommand, ReadsEachCommand) {
  ASSERT_OK_AND_ASSIGN(ModelCommand put, ParseModelCommand("put color blue"));
  EXPECT_EQ(put.kind, ModelCommand::Kind::kPut);
  EXPECT_EQ(put.key, "color");
  EXPECT_EQ(put.value, "blue");
  ASSERT_OK_AND_ASSIGN(ModelCommand del, ParseModelCommand("del color"));
  EXPECT_EQ(del.kind, ModelCommand::Kind::kDelete);
  EXPECT_EQ(del.key, "color");
  ASSERT_OK_AND_ASSIGN(ModelCommand dump, ParseModelCommand("dump"));
  EXPECT_EQ(dump.kind, ModelCommand::Kind::kDump);
  ASSERT_OK_AND_ASSIGN(ModelCommand sync, ParseModelCommand("sync"));
  EXPECT_EQ(sync.kind, ModelCommand::Kind::kSync);
}

TEST(ParseModelCommand, PutsValueIsTheRestOfTheLineSpacesIncluded) {
  ASSERT_OK_AND_ASSIGN(ModelCommand put,
                       ParseModelCommand(" \tput  app/web/title \t Hello, world.  "));
  EXPECT_EQ(put.key, "app/web/title");
  EXPECT_EQ(put.value, "Hello, world.  ");
}

TEST(ParseModelCommand, BlanksAroundWordsDoNotCount) {
  ASSERT_OK_AND_ASSIGN(ModelCommand del, ParseModelCommand("\tdel   color  "));
  EXPECT_EQ(del.key, "color");
  EXPECT_OK(ParseModelCommand("  dump\t"));
  EXPECT_OK(ParseModelCommand("sync "));
}

TEST(ParseModelCommand, RefusesCommandsCutShortOrWithMoreThanTheyTake) {
  for (const char* line : {"put", "put ", "put color", "put color  \t"}) {
    SCOPED_TRACE(line);
    EXPECT_THAT(ParseModelCommand(line), StatusIs(absl::StatusCode::kInvalidArgument,
                                                  "put needs a KEY and a VALUE"));
  }
  for (const char* line : {"del", "del  ", "del color shape"}) {
    SCOPED_TRACE(line);
    EXPECT_THAT(ParseModelCommand(line),
                StatusIs(absl::StatusCode::kInvalidArgument, "del needs one KEY"));
  }
  EXPECT_THAT(
      ParseModelCommand("dump color"),
      StatusIs(absl::StatusCode::kInvalidArgument, "dump takes nothing after it"));
  EXPECT_THAT(ParseModelCommand("sync now"), StatusIs(absl::StatusCode::kInvalidArgument,
                                                      "sync takes nothing after it"));
}

TEST(ParseModelCommand, AnUnknownOrMissingCommandListsTheCommands) {
  EXPECT_THAT(ParseModelCommand("get color"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unknown command 'get' (the commands: put KEY VALUE, del KEY, "
                       "dump, sync)"));
  EXPECT_THAT(
      ParseModelCommand("PUT color blue"),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown command 'PUT'")));
  EXPECT_THAT(ParseModelCommand(std::string("\x01\xff", 2)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown command '\\x01\\xff'")));
  for (const char* line : {"", " \t "}) {
    SCOPED_TRACE(line);
    EXPECT_THAT(
        ParseModelCommand(line),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 "no command (the commands: put KEY VALUE, del KEY, dump, sync)"));
  }
}

TEST(FormatModelEvent, SaysWhatChangedAndWhoWroteIt) {
  EXPECT_EQ(FormatModelEvent("demo", {.kind = model::WatchEvent::Kind::kPut,
                                      .key = "color",
                                      .new_entry = EntryOf("color", "blue", "one")}),
            "model demo: put color=blue by one\n");
  EXPECT_EQ(FormatModelEvent("demo", {.kind = model::WatchEvent::Kind::kDelete,
                                      .key = "shape",
                                      .old_entry = EntryOf("shape", "circle", "two")}),
            "model demo: delete shape (was circle by two)\n");
  EXPECT_EQ(FormatModelEvent("demo", {.kind = model::WatchEvent::Kind::kExpire,
                                      .key = "lease",
                                      .old_entry = EntryOf("lease", "held", "three")}),
            "model demo: expire lease (was held by three)\n");
  EXPECT_EQ(FormatModelEvent("demo", {.kind = model::WatchEvent::Kind::kOverflow}),
            "model demo: watch overflowed: changes are no longer printed\n");
}

TEST(FormatModelEvent, EscapesSoThatEachEventStaysOnItsLine) {
  EXPECT_EQ(FormatModelEvent("demo", {.kind = model::WatchEvent::Kind::kPut,
                                      .key = "a\nb",
                                      .new_entry = EntryOf("a\nb", "x\ny", "w\n")}),
            "model demo: put a\\nb=x\\ny by w\\n\n");
}

TEST(FormatModelState, ListsTheKeysInOrderWithTheirConcurrentValuesCounted) {
  const model::ModelSnapshot snapshot{
      .entries = {EntryOf("color", "green", "three", 1),
                  EntryOf("size", "large", "three"), EntryOf("x\ty", "1\n2", "one")},
      .revision = 9};
  EXPECT_EQ(FormatModelState("demo", snapshot),
            "state demo keys=3\n"
            "  color=green (+1 concurrent)\n"
            "  size=large\n"
            "  x\\ty=1\\n2\n");
  EXPECT_EQ(FormatModelState("demo", {}), "state demo keys=0\n");
}

}  // namespace
}  // namespace glue
