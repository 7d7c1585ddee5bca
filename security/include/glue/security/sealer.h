// Sealed datagrams: XChaCha20-Poly1305 (libsodium's bytes; the bulk work by OpenSSL 3
// from 512 bytes) over a datagram's bytes, with a clear header authenticated alongside.
// In glue_security, beneath discovery: a datagram is sealed just before it is sent and
// opened just after it is received.
//
//   Sealer sealer(&keyring, network_id, RandomIncarnation());
//   std::vector<uint8_t> out(payload.size() + sealer.overhead());
//   GLUE_ASSIGN_OR_RETURN(size_t n, sealer.Seal(payload, absl::MakeSpan(out)));
//
//   Opener opener(&keyring, network_id);
//   SealedDatagram sealed;
//   if (ReadSealedDatagram(datagram, &sealed) != OpenOutcome::kOk) ...;
//   // Check the sender incarnation's ReplayWindow here, before the costly part.
//   size_t payload_bytes;
//   if (opener.Open(sealed, absl::MakeSpan(buffer), &payload_bytes) != OpenOutcome::kOk)
//   ...;
//
// The wire format (version 1); integers little-endian, as elsewhere in glue:
//
//   offset        bytes  field
//   0             1      magic 0xA7
//   1             1      format version, 1
//   2             1      kind: 0 data, 1 challenge, 2 response (sealing_link.h)
//   3             1      L, the length of the key id (1..32)
//   4             L      key id, the keyring's ID text
//   4+L           8      sender incarnation (random, chosen at the sender's start)
//   12+L          8      sequence (1, 2, ... per incarnation; never 0)
//   20+L          24     nonce (16 random bytes per Sealer, then the sequence)
//   44+L          n      ciphertext of the n payload bytes
//   44+L+n        16     Poly1305 tag
//
// The associated data is the clear header (bytes 0 to 44+L) followed by the network id
// as 8 little-endian bytes, which is not sent: a datagram of another network fails
// like a forged one. Bytes added per datagram: 60 + L (63 with a 3-character id).
//
// Why these choices: the magic byte's low three bits are protobuf wire type 7, which
// no protobuf message (an unsealed datagram) can start with, so sealed and unsealed
// datagrams tell apart by their first byte. The key id travels as its text, not a
// hash: ids are short, a receiver finds the key with no hash table, and a refusal can
// name the id it did not know. The nonce is 24 bytes long: a prefix of 16 random bytes
// drawn when a Sealer is made, then the datagram's sequence, so no two senders under
// one key need to coordinate (two Sealers share a prefix with a chance of 2^-128 per
// pair) and no datagram draws random bytes from the system. Receivers take the nonce
// as it comes and do not rely on its structure. The incarnation and sequence are for the
// receiver's replay window (replay_window.h); they are authenticated but not secret.
#ifndef GLUE_SECURITY_SEALER_H_
#define GLUE_SECURITY_SEALER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "glue/security/keyring.h"

namespace glue::security {
namespace internal {
struct SealContext;  // the cipher's context, OpenSSL's
}  // namespace internal

inline constexpr uint8_t kSealedMagic = 0xA7;
inline constexpr uint8_t kSealedVersion = 1;
inline constexpr size_t kNonceBytes = 24;
inline constexpr size_t kTagBytes = 16;

// SealedHeaderBytes returns the length of the clear header for a key id of
// `key_id_length` characters.
constexpr size_t SealedHeaderBytes(size_t key_id_length) {
  return 4 + key_id_length + 8 + 8 + kNonceBytes;
}

// SealedKind says what a sealed datagram carries: a datagram of the layers above, or
// one of the two halves of a freshness challenge (sealing_link.h).
enum class SealedKind : uint8_t {
  kData = 0,
  kChallenge = 1,
  kResponse = 2,
};
// SealOverhead returns the bytes sealing adds to a datagram under a key id of
// `key_id_length` characters: the header and the tag.
constexpr size_t SealOverhead(size_t key_id_length) {
  return SealedHeaderBytes(key_id_length) + kTagBytes;
}

// RandomIncarnation returns a random 64-bit sender incarnation, never 0, from the
// operating system's random source. Any thread.
uint64_t RandomIncarnation();

// Sealer seals the datagrams of one sender incarnation under the keyring's sending
// key. Not thread-safe: one thread (or strand) seals, as the sequence is its state.
class Sealer {
 public:
  // `keyring` must outlive the Sealer. `incarnation` identifies this sender's run to
  // receivers' replay windows: a fresh RandomIncarnation() each start.
  // `next_sequence` is 1 for a new incarnation; a Sealer that takes over from another
  // of the same incarnation (under a new keyring, at a rotation) goes on from that
  // one's next_sequence(), so that receivers' windows see no sequence twice.
  Sealer(const Keyring* keyring, uint64_t network_id, uint64_t incarnation,
         uint64_t next_sequence = 1);
  ~Sealer();  // zeroes the subkey
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // overhead returns the bytes Seal adds to a payload: SealOverhead of the sending
  // key's id.
  size_t overhead() const;
  // header_bytes returns where in `out` Seal writes the ciphertext: a caller that
  // places the payload there already (out.subspan(header_bytes())) seals in place,
  // with no copy.
  size_t header_bytes() const;

  // Seal writes the sealed datagram of `payload` to the start of `out` and returns its
  // length, payload.size() + overhead(). `payload` must not overlap `out` except by
  // starting exactly at out.data() + header_bytes(). Errors: kResourceExhausted when
  // `out` is too short, or when the sequence would wrap (after 2^64 - 1 datagrams, a
  // new incarnation must start); nothing is written then.
  absl::StatusOr<size_t> Seal(absl::Span<const uint8_t> payload, absl::Span<uint8_t> out,
                              SealedKind kind = SealedKind::kData);

  uint64_t incarnation() const { return incarnation_; }
  // next_sequence returns the sequence the next Seal uses.
  uint64_t next_sequence() const { return next_sequence_; }

 private:
  const Keyring* const keyring_;
  const uint64_t network_id_;
  const uint64_t incarnation_;
  uint64_t next_sequence_;
  std::array<uint8_t, kNonceBytes - 8> nonce_prefix_;
  // HChaCha20 of the sending key and nonce_prefix_: every datagram's ChaCha20 key.
  std::array<uint8_t, kKeyBytes> subkey_;
  std::unique_ptr<internal::SealContext> context_;
};

// OpenOutcome is what reading or opening a datagram came to; every value but kOk is a
// reason to refuse it.
enum class OpenOutcome : uint8_t {
  kOk,
  // The first byte is not kSealedMagic: an unsealed datagram (or noise).
  kNotSealed,
  // The magic is right but the format version is not one this build reads (a peer of
  // another version), or the kind is not one it knows.
  kUnsupportedVersion,
  // Shorter than its header and tag, or a key id length of 0 or above kMaxKeyIdLength.
  kTruncated,
  // The keyring holds no key with the datagram's key id.
  kUnknownKeyId,
  // The tag does not verify: the datagram was changed, forged, sealed under another
  // key of the same id, or under another network id (which is not on the wire, so
  // these cannot be told apart).
  kTagMismatch,
};

// OpenOutcomeName returns a short lower-case name of `outcome` for logs and counters:
// "ok", "not sealed", "unsupported version", "truncated", "unknown key id",
// "tag mismatch".
absl::string_view OpenOutcomeName(OpenOutcome outcome);

// SealedDatagram is a sealed datagram's clear header, read but not yet authenticated,
// and views into the datagram, which must outlive it.
struct SealedDatagram {
  SealedKind kind = SealedKind::kData;
  absl::string_view key_id;
  uint64_t incarnation = 0;
  uint64_t sequence = 0;
  // The clear header, nonce included: the associated data without the network id.
  absl::Span<const uint8_t> header;
  // The ciphertext followed by the tag.
  absl::Span<const uint8_t> ciphertext;

  // payload_bytes returns the length of the payload Open writes.
  size_t payload_bytes() const { return ciphertext.size() - kTagBytes; }
};

// ReadSealedDatagram reads the clear header of `datagram` into `*out`, checking only
// its form: kOk, kNotSealed, kUnsupportedVersion or kTruncated. Cheap (no
// cryptography), so a receiver checks it, then its replay window, before Open. Any
// thread.
OpenOutcome ReadSealedDatagram(absl::Span<const uint8_t> datagram, SealedDatagram* out);

// Opener opens datagrams sealed under any key of a keyring. Stateless beyond its
// keyring: any thread may call Open at once.
class Opener {
 public:
  // `keyring` must outlive the Opener.
  Opener(const Keyring* keyring, uint64_t network_id);

  // Open authenticates `sealed` (from ReadSealedDatagram) and decrypts its payload to
  // the start of `out`, setting `*payload_bytes`: kOk, kUnknownKeyId or kTagMismatch,
  // or kTruncated when `out` is shorter than sealed.payload_bytes(). `out` must not
  // overlap the datagram, except by starting exactly at sealed.ciphertext.data()
  // (decryption in place). On any outcome but kOk, `out` holds nothing of the payload.
  OpenOutcome Open(const SealedDatagram& sealed, absl::Span<uint8_t> out,
                   size_t* payload_bytes) const;

 private:
  const Keyring* const keyring_;
  const uint64_t network_id_;
};

}  // namespace glue::security

#endif  // GLUE_SECURITY_SEALER_H_
