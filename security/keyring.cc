#include "glue/security/keyring.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"

namespace glue::security {
namespace {

// Zero overwrites the characters of `s`, which held key material.
void Zero(std::string* s) { sodium_memzero(s->data(), s->size()); }

bool IsIdCharacter(char c) { return absl::ascii_isalnum(c) || c == '-' || c == '_'; }

absl::Status CheckId(absl::string_view id, absl::string_view where) {
  if (id.size() > kMaxKeyIdLength) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s: key id '%s' is %d characters long, more than %d", where,
                        absl::CHexEscape(id.substr(0, kMaxKeyIdLength)) + "...",
                        id.size(), kMaxKeyIdLength));
  }
  for (char c : id) {
    if (!IsIdCharacter(c)) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: key id '%s' has '%s'; an id is letters, digits, '-' and '_'", where,
          absl::CHexEscape(id), absl::CHexEscape(absl::string_view(&c, 1))));
    }
  }
  return absl::OkStatus();
}

// DecodeKey decodes `base64` into `*key`. The errors name the key's id, never its text.
absl::Status DecodeKey(absl::string_view base64, absl::string_view id,
                       absl::string_view where, std::array<uint8_t, kKeyBytes>* key) {
  std::string bytes;
  std::string canonical;
  absl::Status status;
  // absl::Base64Unescape also takes input without padding; re-encoding tells the
  // standard, padded form apart from the others.
  if (!absl::Base64Unescape(base64, &bytes)) {
    status = absl::InvalidArgumentError(absl::StrFormat(
        "%s: the key of '%s' is not base64 (the standard alphabet, with padding)", where,
        id));
  } else if (bytes.size() != kKeyBytes) {
    status = absl::InvalidArgumentError(
        absl::StrFormat("%s: the key of '%s' is %d bytes; a key is %d bytes", where, id,
                        bytes.size(), kKeyBytes));
  } else {
    canonical = absl::Base64Escape(bytes);
    if (canonical != base64) {
      status = absl::InvalidArgumentError(absl::StrFormat(
          "%s: the key of '%s' is not in the standard base64 encoding (with padding)",
          where, id));
    } else {
      std::memcpy(key->data(), bytes.data(), kKeyBytes);
    }
  }
  Zero(&bytes);
  Zero(&canonical);
  return status;
}

}  // namespace

Keyring& Keyring::operator=(Keyring&& other) {
  if (this != &other) {
    Zero();
    keys_ = std::move(other.keys_);
    warning_ = std::move(other.warning_);
  }
  return *this;
}

Keyring::~Keyring() { Zero(); }

void Keyring::Zero() {
  for (Key& key : keys_) sodium_memzero(key.bytes.data(), key.bytes.size());
}

const Key* Keyring::Find(absl::string_view id) const {
  for (const Key& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

absl::StatusOr<Keyring> ParseKeyring(absl::string_view text, absl::string_view name) {
  Keyring keyring;
  // Reserved up front so that no reallocation leaves a copy of a key behind.
  keyring.keys_.reserve(kMaxKeys);
  std::vector<int> first_lines;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string where = absl::StrCat(name, ":", line_number);
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s: expected 'ID BASE64', found %d fields", where, fields.size()));
    }
    const absl::string_view id = fields[0];
    if (absl::Status status = CheckId(id, where); !status.ok()) return status;
    for (size_t i = 0; i < keyring.keys_.size(); ++i) {
      if (keyring.keys_[i].id == id) {
        return absl::InvalidArgumentError(absl::StrFormat(
            "%s: key id '%s' is already used on line %d", where, id, first_lines[i]));
      }
    }
    if (keyring.keys_.size() == kMaxKeys) {
      return absl::ResourceExhaustedError(
          absl::StrFormat("%s: more than %d keys", where, kMaxKeys));
    }
    Key& key = keyring.keys_.emplace_back();
    key.id = std::string(id);
    if (absl::Status status = DecodeKey(fields[1], id, where, &key.bytes); !status.ok()) {
      return status;
    }
    first_lines.push_back(line_number);
  }
  if (keyring.keys_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(name, ": no keys"));
  }
  return keyring;
}

absl::StatusOr<Keyring> ReadKeyringFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int error = errno;
    const std::string message =
        absl::StrFormat("keyring %s: %s", path, std::strerror(error));
    if (error == ENOENT || error == ENOTDIR) return absl::NotFoundError(message);
    if (error == EACCES || error == EPERM) return absl::PermissionDeniedError(message);
    return absl::UnavailableError(message);
  }
  struct stat info;
  if (::fstat(fd, &info) != 0) {
    const int error = errno;
    ::close(fd);
    return absl::UnavailableError(
        absl::StrFormat("keyring %s: %s", path, std::strerror(error)));
  }
  if (!S_ISREG(info.st_mode)) {
    ::close(fd);
    return absl::InvalidArgumentError(
        absl::StrFormat("keyring %s: not a regular file", path));
  }
  // One byte more than the bound tells a file of exactly the bound from a larger one,
  // even when the file grows between fstat and read.
  std::string text(kMaxKeyringFileBytes + 1, '\0');
  size_t size = 0;
  while (size < text.size()) {
    const ssize_t n = ::read(fd, text.data() + size, text.size() - size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      Zero(&text);
      return absl::UnavailableError(
          absl::StrFormat("keyring %s: %s", path, std::strerror(error)));
    }
    if (n == 0) break;
    size += static_cast<size_t>(n);
  }
  ::close(fd);
  if (size > kMaxKeyringFileBytes) {
    Zero(&text);
    return absl::ResourceExhaustedError(
        absl::StrFormat("keyring %s: larger than %d bytes", path, kMaxKeyringFileBytes));
  }
  absl::StatusOr<Keyring> keyring =
      ParseKeyring(absl::string_view(text.data(), size), path);
  Zero(&text);
  if (keyring.ok() && (info.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) != 0) {
    keyring->warning_ = absl::StrFormat(
        "keyring %s: mode %04o lets its group or others read or change the keys; "
        "chmod 600 it",
        path, info.st_mode & 07777);
  }
  return keyring;
}

}  // namespace glue::security
