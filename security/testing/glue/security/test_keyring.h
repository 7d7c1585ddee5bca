// TestKeyring: keyrings for the tests of glue_security, whose keys are known by their
// ids. Test code only.
#ifndef GLUE_SECURITY_TEST_KEYRING_H_
#define GLUE_SECURITY_TEST_KEYRING_H_

#include <initializer_list>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"
#include "glue/security/keyring.h"
#include "gtest/gtest.h"

namespace glue::security {

// TestKeyring returns a keyring of `ids`, in order; the key of each id is 32 copies
// of its first character, so that equal first characters make equal keys.
inline Keyring TestKeyring(std::initializer_list<std::string> ids) {
  std::string text;
  for (const std::string& id : ids) {
    absl::StrAppend(&text, id, " ", absl::Base64Escape(std::string(kKeyBytes, id[0])),
                    "\n");
  }
  absl::StatusOr<Keyring> keyring = ParseKeyring(text, "test");
  EXPECT_THAT(keyring, ::glue::testing::IsOk());
  return std::move(*keyring);
}

}  // namespace glue::security

#endif  // GLUE_SECURITY_TEST_KEYRING_H_
