// A keyring: the named 32-byte keys that seal and open datagrams (sealer.h), read
// from a file of `ID BASE64` lines. In glue_security, beneath discovery; no I/O but
// reading the file.
//
//   GLUE_ASSIGN_OR_RETURN(Keyring keyring, ReadKeyringFile("/etc/glue/keyring"));
//   if (!keyring.warning().empty()) GLUE_LOG(kWarning) << keyring.warning();
//   const Key& key = keyring.sending_key();
//
// The file format, one key a line:
//
//   # comment
//   site-2026 aS1puzRBT/L/B9FC2XBEdvAMrM1VxKlRnPqx18FEjzo=
//
// ID: 1 to 32 letters, digits, '-' or '_'. BASE64: the standard encoding (RFC 4648
// section 4, with padding) of exactly 32 bytes. Fields are separated by spaces or tabs;
// blank lines and lines whose first non-blank character is '#' are skipped (a '#'
// after a key is an error, not a comment). The first key is the one to send with;
// every key is accepted on receipt, so a rotation adds the new key, moves it first,
// then removes the old one. scripts/make_key.sh prints a new line.
#ifndef GLUE_SECURITY_KEYRING_H_
#define GLUE_SECURITY_KEYRING_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glue::security {

// kKeyBytes is the length of every key: XChaCha20-Poly1305's key.
inline constexpr size_t kKeyBytes = 32;
// kMaxKeyIdLength bounds a key's id, which every sealed datagram carries.
inline constexpr size_t kMaxKeyIdLength = 32;
// kMaxKeyringFileBytes bounds the file ReadKeyringFile reads (64 keys of the longest
// id, with comments, fit many times over); a larger file is refused, not truncated.
inline constexpr size_t kMaxKeyringFileBytes = 64 * 1024;
// kMaxKeys bounds the keys of one keyring: the linear search of Find stays short, and
// a rotation needs two or three.
inline constexpr size_t kMaxKeys = 64;

// Key is one named key. Its bytes are secret; the Keyring that holds it zeroes them
// when it is destroyed.
struct Key {
  std::string id;
  std::array<uint8_t, kKeyBytes> bytes;
};

// Keyring holds the keys of one file, in the file's order. Move-only: a copy would
// leave key bytes behind that nobody zeroes. Immutable once made, so any thread may
// read it; a re-read file makes a new Keyring.
class Keyring {
 public:
  Keyring(Keyring&&) = default;
  Keyring& operator=(Keyring&& other);
  Keyring(const Keyring&) = delete;
  Keyring& operator=(const Keyring&) = delete;
  // Zeroes the key bytes (sodium_memzero, which the compiler may not elide).
  ~Keyring();

  // sending_key returns the first key of the file, the one datagrams are sealed with.
  const Key& sending_key() const { return keys_.front(); }
  // Find returns the key whose id is `id`, or nullptr when there is none. The pointer
  // lives as long as the Keyring.
  const Key* Find(absl::string_view id) const;
  // keys returns every key, the sending key first. Never empty.
  const std::vector<Key>& keys() const { return keys_; }
  // warning is empty, or a sentence to log: the file is readable or writable by its
  // group or by others, who could then read or replace the keys.
  const std::string& warning() const { return warning_; }

 private:
  friend absl::StatusOr<Keyring> ParseKeyring(absl::string_view text,
                                              absl::string_view name);
  friend absl::StatusOr<Keyring> ReadKeyringFile(const std::string& path);
  Keyring() = default;
  void Zero();

  std::vector<Key> keys_;
  std::string warning_;
};

// ParseKeyring parses `text`, the contents of a keyring file; `name` (a path) heads
// every error message, as "<name>:<line>: <why>". Errors, all kInvalidArgument: an id
// or a key that does not parse (naming the id, never the key), a key that is not 32
// bytes, an id seen on an earlier line (naming both lines), no key at all;
// kResourceExhausted: more than kMaxKeys keys. Any thread.
absl::StatusOr<Keyring> ParseKeyring(absl::string_view text, absl::string_view name);

// ReadKeyringFile reads and parses the file at `path`, zeroing its copy of the text
// afterwards. Errors: kNotFound (no such file), kPermissionDenied (not readable),
// kInvalidArgument (not a regular file, or as ParseKeyring), kResourceExhausted (larger
// than kMaxKeyringFileBytes), kUnavailable (another read error); each names the path.
// A file whose mode lets its group or others read or write it parses, with a
// warning(). Any thread; blocks on the file system.
absl::StatusOr<Keyring> ReadKeyringFile(const std::string& path);

}  // namespace glue::security

#endif  // GLUE_SECURITY_KEYRING_H_
