#include "glue/security/sealer.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "glue/base/byte_reader.h"

namespace glue::security {
namespace {

constexpr size_t kMaxHeaderBytes = SealedHeaderBytes(kMaxKeyIdLength);
constexpr size_t kNetworkIdBytes = 8;

// AssociatedData holds a header followed by the network id: what the tag covers
// besides the ciphertext. On the stack; the header is at most kMaxHeaderBytes.
class AssociatedData {
 public:
  AssociatedData(absl::Span<const uint8_t> header, uint64_t network_id)
      : size_(header.size() + kNetworkIdBytes) {
    std::memcpy(bytes_.data(), header.data(), header.size());
    PutFixed64(network_id, bytes_.data() + header.size());
  }
  const uint8_t* data() const { return bytes_.data(); }
  unsigned long long size() const { return size_; }

 private:
  std::array<uint8_t, kMaxHeaderBytes + kNetworkIdBytes> bytes_;
  size_t size_;
};

// The Sealer and Opener constructors need libsodium initialised. sodium_init fails only
// when the system has no random source; it runs once, as it takes a lock each call and
// an Opener is made per datagram received.
void InitSodium() {
  static const bool initialised = [] {
    if (sodium_init() < 0) {
      std::fputs("glue: libsodium failed to initialise\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)initialised;
}

// XChaCha20-Poly1305 as libsodium's crypto_aead_xchacha20poly1305_ietf defines it
// (draft-irtf-cfrg-xchacha-03): HChaCha20 of the key and the nonce's first 16 bytes
// gives a subkey, under which ChaCha20-Poly1305 (RFC 8439) runs with the 12-byte nonce
// 0 0 0 0 followed by the nonce's last 8 bytes. libsodium derives the subkey; OpenSSL
// does the bulk work from kOpenSslFromBytes, two to three times as fast as libsodium on
// CPUs with AVX-512 (BENCHMARKS.md, "Sealing"). The bytes are libsodium's to the bit
// (sealer_test checks it both ways).
constexpr size_t kSubkeyNoncePart = 16;
// Below this many payload bytes libsodium's ChaCha20-Poly1305 does the work too: it
// needs no context set up, which for small datagrams costs more than the cipher
// (BENCHMARKS.md, "Sealing").
constexpr size_t kOpenSslFromBytes = 512;
constexpr size_t kIetfNonceBytes = 12;

std::array<uint8_t, kIetfNonceBytes> IetfNonce(const uint8_t* nonce) {
  std::array<uint8_t, kIetfNonceBytes> iv{};
  std::memcpy(iv.data() + 4, nonce + kSubkeyNoncePart, kNonceBytes - kSubkeyNoncePart);
  return iv;
}

void DeriveSubkey(const std::array<uint8_t, kKeyBytes>& key, const uint8_t* nonce,
                  std::array<uint8_t, kKeyBytes>* subkey) {
  crypto_core_hchacha20(subkey->data(), nonce, key.data(), nullptr);
}

// ChaChaContext is an OpenSSL cipher context for one direction, set up once.
class ChaChaContext {
 public:
  explicit ChaChaContext(bool encrypt) : ctx_(EVP_CIPHER_CTX_new()), encrypt_(encrypt) {
    if (ctx_ == nullptr || EVP_CipherInit_ex(ctx_, EVP_chacha20_poly1305(), nullptr,
                                             nullptr, nullptr, encrypt ? 1 : 0) != 1) {
      std::fputs("glue: OpenSSL's ChaCha20-Poly1305 is not available\n", stderr);
      std::abort();
    }
  }
  ~ChaChaContext() { EVP_CIPHER_CTX_free(ctx_); }
  ChaChaContext(const ChaChaContext&) = delete;
  ChaChaContext& operator=(const ChaChaContext&) = delete;

  // Run encrypts `in` to `out` and writes the tag to `tag`, or decrypts `in` to `out`
  // and checks `tag`: false when it does not verify. `in` and `out` may be the same.
  bool Run(const std::array<uint8_t, kKeyBytes>& subkey, const uint8_t* iv,
           const AssociatedData& ad, const uint8_t* in, size_t size, uint8_t* out,
           uint8_t* tag) {
    int n = 0;
    if (EVP_CipherInit_ex(ctx_, nullptr, nullptr, subkey.data(), iv, encrypt_ ? 1 : 0) !=
            1 ||
        EVP_CipherUpdate(ctx_, nullptr, &n, ad.data(), static_cast<int>(ad.size())) !=
            1) {
      return false;
    }
    // EVP_CipherUpdate takes an int length: a datagram is far below 2^31 bytes.
    if (size > 0 && EVP_CipherUpdate(ctx_, out, &n, in, static_cast<int>(size)) != 1) {
      return false;
    }
    if (!encrypt_ &&
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kTagBytes, tag) != 1) {
      return false;
    }
    if (EVP_CipherFinal_ex(ctx_, out + size, &n) != 1) return false;
    return !encrypt_ ||
           EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTagBytes, tag) == 1;
  }

 private:
  EVP_CIPHER_CTX* const ctx_;
  const bool encrypt_;
};

// Opening is stateless for callers, any thread at once: each thread has a context.
ChaChaContext& ThreadDecryptContext() {
  thread_local ChaChaContext context(/*encrypt=*/false);
  return context;
}

}  // namespace

namespace internal {
struct SealContext {
  ChaChaContext encrypt{/*encrypt=*/true};
};
}  // namespace internal

uint64_t RandomIncarnation() {
  InitSodium();
  uint64_t incarnation = 0;
  while (incarnation == 0) randombytes_buf(&incarnation, sizeof incarnation);
  return incarnation;
}

Sealer::Sealer(const Keyring* keyring, uint64_t network_id, uint64_t incarnation,
               uint64_t next_sequence)
    : keyring_(keyring),
      network_id_(network_id),
      incarnation_(incarnation),
      next_sequence_(next_sequence) {
  InitSodium();
  randombytes_buf(nonce_prefix_.data(), nonce_prefix_.size());
  // The prefix is the HChaCha20 input: one subkey serves every datagram of this Sealer.
  static_assert(std::tuple_size_v<decltype(nonce_prefix_)> == kSubkeyNoncePart);
  DeriveSubkey(keyring_->sending_key().bytes, nonce_prefix_.data(), &subkey_);
  context_ = std::make_unique<internal::SealContext>();
}

Sealer::~Sealer() { sodium_memzero(subkey_.data(), subkey_.size()); }

size_t Sealer::overhead() const {
  return SealOverhead(keyring_->sending_key().id.size());
}

size_t Sealer::header_bytes() const {
  return SealedHeaderBytes(keyring_->sending_key().id.size());
}

absl::StatusOr<size_t> Sealer::Seal(absl::Span<const uint8_t> payload,
                                    absl::Span<uint8_t> out, SealedKind kind) {
  const Key& key = keyring_->sending_key();
  const size_t header_size = header_bytes();
  const size_t sealed_size = payload.size() + overhead();
  if (out.size() < sealed_size) {
    return absl::ResourceExhaustedError(
        absl::StrFormat("sealing %d bytes needs %d bytes of room, not %d", payload.size(),
                        sealed_size, out.size()));
  }
  if (next_sequence_ == 0) {
    return absl::ResourceExhaustedError(
        "the sealing sequence is spent; start a new incarnation");
  }
  uint8_t* p = out.data();
  p[0] = kSealedMagic;
  p[1] = kSealedVersion;
  p[2] = static_cast<uint8_t>(kind);
  p[3] = static_cast<uint8_t>(key.id.size());
  std::memcpy(p + 4, key.id.data(), key.id.size());
  p += 4 + key.id.size();
  PutFixed64(incarnation_, p);
  PutFixed64(next_sequence_, p + 8);
  // The nonce: this Sealer's random prefix, then the sequence, which no other datagram
  // of this Sealer has. No system call per datagram, as drawing 24 random bytes each
  // time would cost (about a microsecond, more than the cipher for small datagrams).
  uint8_t* nonce = p + 16;
  std::memcpy(nonce, nonce_prefix_.data(), nonce_prefix_.size());
  PutFixed64(next_sequence_, nonce + nonce_prefix_.size());
  const AssociatedData ad(out.first(header_size), network_id_);
  uint8_t* ciphertext = out.data() + header_size;
  const std::array<uint8_t, kIetfNonceBytes> iv = IetfNonce(nonce);
  if (payload.size() < kOpenSslFromBytes) {
    crypto_aead_chacha20poly1305_ietf_encrypt_detached(
        ciphertext, ciphertext + payload.size(), nullptr, payload.data(), payload.size(),
        ad.data(), ad.size(), nullptr, iv.data(), subkey_.data());
  } else if (!context_->encrypt.Run(subkey_, iv.data(), ad, payload.data(),
                                    payload.size(), ciphertext,
                                    ciphertext + payload.size())) {
    return absl::InternalError("OpenSSL's ChaCha20-Poly1305 failed to seal");
  }
  ++next_sequence_;
  return sealed_size;
}

absl::string_view OpenOutcomeName(OpenOutcome outcome) {
  switch (outcome) {
    case OpenOutcome::kOk:
      return "ok";
    case OpenOutcome::kNotSealed:
      return "not sealed";
    case OpenOutcome::kUnsupportedVersion:
      return "unsupported version";
    case OpenOutcome::kTruncated:
      return "truncated";
    case OpenOutcome::kUnknownKeyId:
      return "unknown key id";
    case OpenOutcome::kTagMismatch:
      return "tag mismatch";
  }
  return "?";
}

OpenOutcome ReadSealedDatagram(absl::Span<const uint8_t> datagram, SealedDatagram* out) {
  if (datagram.empty() || datagram[0] != kSealedMagic) return OpenOutcome::kNotSealed;
  if (datagram.size() < 2) return OpenOutcome::kTruncated;
  if (datagram[1] != kSealedVersion) return OpenOutcome::kUnsupportedVersion;
  if (datagram.size() < 3) return OpenOutcome::kTruncated;
  if (datagram[2] > static_cast<uint8_t>(SealedKind::kResponse)) {
    return OpenOutcome::kUnsupportedVersion;
  }
  if (datagram.size() < 4) return OpenOutcome::kTruncated;
  const size_t id_size = datagram[3];
  if (id_size == 0 || id_size > kMaxKeyIdLength ||
      datagram.size() < SealOverhead(id_size)) {
    return OpenOutcome::kTruncated;
  }
  out->kind = static_cast<SealedKind>(datagram[2]);
  const uint8_t* p = datagram.data() + 4;
  out->key_id = absl::string_view(reinterpret_cast<const char*>(p), id_size);
  p += id_size;
  out->incarnation = LoadFixed64(p);
  out->sequence = LoadFixed64(p + 8);
  const size_t header_size = SealedHeaderBytes(id_size);
  out->header = datagram.first(header_size);
  out->ciphertext = datagram.subspan(header_size);
  return OpenOutcome::kOk;
}

Opener::Opener(const Keyring* keyring, uint64_t network_id)
    : keyring_(keyring), network_id_(network_id) {
  InitSodium();
}

OpenOutcome Opener::Open(const SealedDatagram& sealed, absl::Span<uint8_t> out,
                         size_t* payload_bytes) const {
  const Key* key = keyring_->Find(sealed.key_id);
  if (key == nullptr) return OpenOutcome::kUnknownKeyId;
  if (out.size() < sealed.payload_bytes()) return OpenOutcome::kTruncated;
  const uint8_t* nonce = sealed.header.data() + sealed.header.size() - kNonceBytes;
  const AssociatedData ad(sealed.header, network_id_);
  std::array<uint8_t, kKeyBytes> subkey;
  DeriveSubkey(key->bytes, nonce, &subkey);
  // The tag is copied out first: decryption in place overwrites nothing of it, but the
  // context reads it only after the ciphertext.
  std::array<uint8_t, kTagBytes> tag;
  const size_t size = sealed.payload_bytes();
  std::memcpy(tag.data(), sealed.ciphertext.data() + size, kTagBytes);
  const std::array<uint8_t, kIetfNonceBytes> iv = IetfNonce(nonce);
  const bool verified =
      size < kOpenSslFromBytes
          ? crypto_aead_chacha20poly1305_ietf_decrypt_detached(
                out.data(), nullptr, sealed.ciphertext.data(), size, tag.data(),
                ad.data(), ad.size(), iv.data(), subkey.data()) == 0
          : ThreadDecryptContext().Run(subkey, iv.data(), ad, sealed.ciphertext.data(),
                                       size, out.data(), tag.data());
  sodium_memzero(subkey.data(), subkey.size());
  if (!verified) {
    // Nothing of a forgery's plaintext is left for a caller to misuse.
    sodium_memzero(out.data(), size);
    return OpenOutcome::kTagMismatch;
  }
  *payload_bytes = size;
  return OpenOutcome::kOk;
}

}  // namespace glue::security
