#include "glue/security/keyring.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::security {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// KeyText returns the base64 of a key whose 32 bytes are all `fill`.
std::string KeyText(char fill) {
  return absl::Base64Escape(std::string(kKeyBytes, fill));
}

TEST(Keyring, ParsesKeysInOrderWithCommentsAndBlankLines) {
  const std::string text =
      absl::StrCat("# the site's keys\n\n  new\t", KeyText('b'),
                   "  \r\n# old, still accepted\nold ", KeyText('a'), "\n");
  absl::StatusOr<Keyring> keyring = ParseKeyring(text, "keys");
  ASSERT_THAT(keyring, IsOk());
  ASSERT_EQ(keyring->keys().size(), 2u);
  EXPECT_EQ(keyring->sending_key().id, "new");
  EXPECT_EQ(keyring->sending_key().bytes[0], 'b');
  ASSERT_NE(keyring->Find("old"), nullptr);
  EXPECT_EQ(keyring->Find("old")->bytes[31], 'a');
  EXPECT_EQ(keyring->Find("older"), nullptr);
  EXPECT_TRUE(keyring->warning().empty());
}

TEST(Keyring, AcceptsIdsOfEveryAllowedCharacterUpToTheLimit) {
  const std::string id(kMaxKeyIdLength, 'Z');
  EXPECT_THAT(
      ParseKeyring(absl::StrCat("a-Z_09 ", KeyText('x'), "\n", id, " ", KeyText('y')),
                   "keys"),
      IsOk());
}

TEST(Keyring, RefusesMalformedLinesNamingFileAndLine) {
  struct Case {
    std::string text;
    std::string message;
  };
  const std::string key = KeyText('k');
  const Case cases[] = {
      {"", "keys: no keys"},
      {"# only a comment\n\n", "keys: no keys"},
      {absl::StrCat("\nk1 ", key, " extra"), "keys:2: expected 'ID BASE64', found 3"},
      {"k1\n", "keys:1: expected 'ID BASE64', found 1"},
      {absl::StrCat("k1 ", key, " # note"), "keys:1: expected 'ID BASE64'"},
      {absl::StrCat("k.1 ", key), "keys:1: key id 'k.1' has '.'"},
      {absl::StrCat(std::string(kMaxKeyIdLength + 1, 'a'), " ", key),
       "keys:1: key id 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...' is 33 characters"},
      {"k1 not*base64!", "keys:1: the key of 'k1' is not base64"},
      {absl::StrCat("k1 ", absl::Base64Escape(std::string(31, 'k'))),
       "keys:1: the key of 'k1' is 31 bytes; a key is 32 bytes"},
      {absl::StrCat("k1 ", absl::Base64Escape(std::string(33, 'k'))),
       "keys:1: the key of 'k1' is 33 bytes"},
      {absl::StrCat("k1 ", key.substr(0, key.size() - 1)),
       "keys:1: the key of 'k1' is not in the standard base64 encoding"},
      {absl::StrCat("k1 ", absl::WebSafeBase64Escape(std::string(kKeyBytes, '\xff'))),
       "keys:1: the key of 'k1' is not"},
      {absl::StrCat("k1 ", key, "\n# c\nk2 ", key, "\nk1 ", key),
       "keys:4: key id 'k1' is already used on line 1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_THAT(ParseKeyring(c.text, "keys"),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST(Keyring, ErrorsNeverShowTheKey) {
  const std::string key = KeyText('s');
  absl::StatusOr<Keyring> keyring =
      ParseKeyring(absl::StrCat("k1 ", key, "\nk1 ", key), "keys");
  EXPECT_THAT(keyring, StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr(key))));
}

TEST(Keyring, RefusesMoreThanTheMaximumNumberOfKeys) {
  std::string text;
  for (size_t i = 0; i <= kMaxKeys; ++i) {
    absl::StrAppend(&text, "k", i, " ", KeyText('k'), "\n");
  }
  EXPECT_THAT(ParseKeyring(text, "keys"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr(absl::StrCat("keys:", kMaxKeys + 1, ": more than"))));
}

TEST(Keyring, MovedKeyringKeepsItsKeys) {
  absl::StatusOr<Keyring> parsed = ParseKeyring(absl::StrCat("k ", KeyText('m')), "keys");
  ASSERT_THAT(parsed, IsOk());
  Keyring moved = std::move(*parsed);
  EXPECT_EQ(moved.sending_key().id, "k");
  EXPECT_EQ(moved.sending_key().bytes[5], 'm');
}

class KeyringFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/keyring_test.XXXXXX";
    ASSERT_NE(::mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::remove(Path().c_str());
    ::rmdir(dir_.c_str());
  }
  std::string Path() const { return dir_ + "/keyring"; }
  void Write(const std::string& text, mode_t mode) {
    std::ofstream(Path()) << text;
    ASSERT_EQ(::chmod(Path().c_str(), mode), 0);
  }

  std::string dir_;
};

TEST_F(KeyringFileTest, ReadsAPrivateFileWithoutWarning) {
  Write(absl::StrCat("k ", KeyText('f'), "\n"), 0600);
  absl::StatusOr<Keyring> keyring = ReadKeyringFile(Path());
  ASSERT_THAT(keyring, IsOk());
  EXPECT_EQ(keyring->sending_key().id, "k");
  EXPECT_EQ(keyring->warning(), "");
}

TEST_F(KeyringFileTest, WarnsWhenGroupOrOthersMayReadIt) {
  Write(absl::StrCat("k ", KeyText('f'), "\n"), 0644);
  absl::StatusOr<Keyring> keyring = ReadKeyringFile(Path());
  ASSERT_THAT(keyring, IsOk());
  EXPECT_THAT(keyring->warning(),
              HasSubstr(absl::StrCat("keyring ", Path(), ": mode 0644")));
}

TEST_F(KeyringFileTest, DoesNotWarnAboutExecuteBitsAlone) {
  Write(absl::StrCat("k ", KeyText('f'), "\n"), 0711);
  absl::StatusOr<Keyring> keyring = ReadKeyringFile(Path());
  ASSERT_THAT(keyring, IsOk());
  EXPECT_EQ(keyring->warning(), "");
}

TEST_F(KeyringFileTest, ErrorsNameThePathAndLine) {
  Write(absl::StrCat("k ", KeyText('f'), "\nk ", KeyText('g'), "\n"), 0600);
  EXPECT_THAT(
      ReadKeyringFile(Path()),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr(absl::StrCat(Path(), ":2: key id 'k' is already used"))));
}

TEST_F(KeyringFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(ReadKeyringFile(Path()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(Path())));
}

TEST_F(KeyringFileTest, DirectoryIsRefused) {
  EXPECT_THAT(ReadKeyringFile(dir_), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("not a regular file")));
}

TEST_F(KeyringFileTest, FileLargerThanTheBoundIsRefused) {
  Write(absl::StrCat("k ", KeyText('f'), "\n", std::string(kMaxKeyringFileBytes, '\n')),
        0600);
  EXPECT_THAT(ReadKeyringFile(Path()),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("larger than")));
}

TEST_F(KeyringFileTest, FileOfExactlyTheBoundIsRead) {
  const std::string line = absl::StrCat("k ", KeyText('f'), "\n");
  Write(line + std::string(kMaxKeyringFileBytes - line.size(), '\n'), 0600);
  EXPECT_THAT(ReadKeyringFile(Path()), IsOk());
}

}  // namespace
}  // namespace glue::security
