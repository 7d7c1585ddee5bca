// The security layer: what sealing a datagram costs, beside the speed of the AEAD
// ciphers it could be built on. Every benchmark runs at payloads of 64 B, 1 KiB,
// 16 KiB and 65000 B (about the largest UDP datagram) and reports bytes of payload
// per second; no networking, one fixed key.
//
//   build-release/bench/security_bench
//
// What each figure is for:
// - BM_SodiumXChaCha20Poly1305{Encrypt,Decrypt}: libsodium's own speed for the cipher
//   glue seals with, with no associated data and a fixed nonce: the floor under
//   Seal and Open.
// - BM_SodiumChaCha20Poly1305Ietf, BM_SodiumAes256Gcm, BM_OpenSslChaCha20Poly1305,
//   BM_OpenSslAes256Gcm: the alternatives with 12-byte nonces, encrypting only, to
//   show what choosing XChaCha20-Poly1305 costs or saves. The OpenSSL context is made
//   once and given only a new nonce per datagram, as a sender would.
// - BM_Seal, BM_Open: glue's Sealer::Seal into a reused buffer (a random nonce, the
//   clear header, the header and network id as associated data), and the receive
//   path, ReadSealedDatagram then Opener::Open. Against the raw figures, they give the
//   cost per byte and per datagram of sealing; the counter overhead_bytes is the bytes
//   sealing adds to each datagram.
// - BM_SealingLink: a SealingLink sends to another over an in-memory link that hands
//   each datagram straight to the receiver, which opens it, checks its replay window
//   and hands it up: the whole per-datagram cost the layer adds to a send and a
//   receive, on one thread.
#include <openssl/evp.h>
#include <sodium.h>

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "glue/network/address.h"
#include "glue/network/link.h"
#include "glue/security/keyring.h"
#include "glue/security/sealer.h"
#include "glue/security/sealing_link.h"

namespace glue::security {
namespace {

using network::Address;
using network::DatagramLink;
using network::OutgoingDatagram;
using network::ReceivedDatagram;

constexpr uint64_t kNetwork = 7;
// A 3-character key id, as in the figures of BENCHMARKS.md.
constexpr char kKeyId[] = "abc";
constexpr uint8_t kKeyByte = 0x42;

void PayloadSizes(benchmark::internal::Benchmark* b) {
  b->Arg(64)->Arg(1024)->Arg(16384)->Arg(65000);
}

std::array<uint8_t, kKeyBytes> FixedKey() {
  std::array<uint8_t, kKeyBytes> key;
  key.fill(kKeyByte);
  return key;
}

std::vector<uint8_t> Payload(benchmark::State& state) {
  return std::vector<uint8_t>(static_cast<size_t>(state.range(0)), 0x5a);
}

// Keyring of kKeyId with FixedKey().
Keyring FixedKeyring() {
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  const std::string text =
      absl::StrCat(kKeyId, " ",
                   absl::Base64Escape(absl::string_view(
                       reinterpret_cast<const char*>(key.data()), key.size())),
                   "\n");
  return *ParseKeyring(text, "security_bench");
}

void SetBytes(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

// True, after SkipWithError, when libsodium cannot start.
bool SodiumFails(benchmark::State& state) {
  if (sodium_init() >= 0) return false;
  state.SkipWithError("sodium_init failed");
  return true;
}

void BM_SodiumXChaCha20Poly1305Encrypt(benchmark::State& state) {
  if (SodiumFails(state)) return;
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  const std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> out(payload.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  for (auto _ : state) {
    unsigned long long out_size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &out_size, payload.data(),
                                               payload.size(), nullptr, 0, nullptr,
                                               nonce.data(), key.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}
BENCHMARK(BM_SodiumXChaCha20Poly1305Encrypt)->Apply(PayloadSizes);

void BM_SodiumXChaCha20Poly1305Decrypt(benchmark::State& state) {
  if (SodiumFails(state)) return;
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  const std::array<uint8_t, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES> nonce{};
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> sealed(payload.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES);
  unsigned long long sealed_size = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(sealed.data(), &sealed_size, payload.data(),
                                             payload.size(), nullptr, 0, nullptr,
                                             nonce.data(), key.data());
  std::vector<uint8_t> out(payload.size());
  for (auto _ : state) {
    unsigned long long out_size = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &out_size, nullptr,
                                                   sealed.data(), sealed_size, nullptr, 0,
                                                   nonce.data(), key.data()) != 0) {
      state.SkipWithError("the tag did not verify");
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}
BENCHMARK(BM_SodiumXChaCha20Poly1305Decrypt)->Apply(PayloadSizes);

void BM_SodiumChaCha20Poly1305Ietf(benchmark::State& state) {
  if (SodiumFails(state)) return;
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  const std::array<uint8_t, crypto_aead_chacha20poly1305_ietf_NPUBBYTES> nonce{};
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> out(payload.size() + crypto_aead_chacha20poly1305_ietf_ABYTES);
  for (auto _ : state) {
    unsigned long long out_size = 0;
    crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &out_size, payload.data(),
                                              payload.size(), nullptr, 0, nullptr,
                                              nonce.data(), key.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}
BENCHMARK(BM_SodiumChaCha20Poly1305Ietf)->Apply(PayloadSizes);

void BM_SodiumAes256Gcm(benchmark::State& state) {
  if (SodiumFails(state)) return;
  if (crypto_aead_aes256gcm_is_available() == 0) {
    state.SkipWithError(
        "crypto_aead_aes256gcm_is_available() is 0: libsodium has AES-256-GCM only on "
        "CPUs with AES-NI and PCLMULQDQ");
    return;
  }
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  const std::array<uint8_t, crypto_aead_aes256gcm_NPUBBYTES> nonce{};
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> out(payload.size() + crypto_aead_aes256gcm_ABYTES);
  for (auto _ : state) {
    unsigned long long out_size = 0;
    crypto_aead_aes256gcm_encrypt(out.data(), &out_size, payload.data(), payload.size(),
                                  nullptr, 0, nullptr, nonce.data(), key.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}
BENCHMARK(BM_SodiumAes256Gcm)->Apply(PayloadSizes);

// OpenSslEncrypt encrypts with OpenSSL's `cipher_name` (an AEAD with a 12-byte nonce
// and a 16-byte tag), the key set once and the nonce per datagram.
void OpenSslEncrypt(benchmark::State& state, const char* cipher_name) {
  std::unique_ptr<EVP_CIPHER, decltype(&EVP_CIPHER_free)> cipher(
      EVP_CIPHER_fetch(nullptr, cipher_name, nullptr), &EVP_CIPHER_free);
  std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)> ctx(
      EVP_CIPHER_CTX_new(), &EVP_CIPHER_CTX_free);
  const std::array<uint8_t, kKeyBytes> key = FixedKey();
  if (cipher == nullptr || ctx == nullptr ||
      EVP_EncryptInit_ex2(ctx.get(), cipher.get(), key.data(), nullptr, nullptr) != 1) {
    state.SkipWithError(absl::StrCat("OpenSSL has no ", cipher_name).c_str());
    return;
  }
  const std::array<uint8_t, 12> nonce{};
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> out(payload.size() + 16);
  for (auto _ : state) {
    int n = 0, last = 0;
    if (EVP_EncryptInit_ex2(ctx.get(), nullptr, nullptr, nonce.data(), nullptr) != 1 ||
        EVP_EncryptUpdate(ctx.get(), out.data(), &n, payload.data(),
                          static_cast<int>(payload.size())) != 1 ||
        EVP_EncryptFinal_ex(ctx.get(), out.data() + n, &last) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, 16,
                            out.data() + payload.size()) != 1) {
      state.SkipWithError(absl::StrCat(cipher_name, " failed").c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
}

void BM_OpenSslChaCha20Poly1305(benchmark::State& state) {
  OpenSslEncrypt(state, "ChaCha20-Poly1305");
}
BENCHMARK(BM_OpenSslChaCha20Poly1305)->Apply(PayloadSizes);

void BM_OpenSslAes256Gcm(benchmark::State& state) {
  OpenSslEncrypt(state, "AES-256-GCM");
}
BENCHMARK(BM_OpenSslAes256Gcm)->Apply(PayloadSizes);

void BM_Seal(benchmark::State& state) {
  const Keyring keyring = FixedKeyring();
  Sealer sealer(&keyring, kNetwork, RandomIncarnation());
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> out(payload.size() + sealer.overhead());
  for (auto _ : state) {
    absl::StatusOr<size_t> n = sealer.Seal(payload, absl::MakeSpan(out));
    if (!n.ok()) {
      state.SkipWithError(n.status().ToString().c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
  state.counters["overhead_bytes"] = static_cast<double>(sealer.overhead());
}
BENCHMARK(BM_Seal)->Apply(PayloadSizes);

void BM_Open(benchmark::State& state) {
  const Keyring keyring = FixedKeyring();
  Sealer sealer(&keyring, kNetwork, RandomIncarnation());
  const Opener opener(&keyring, kNetwork);
  const std::vector<uint8_t> payload = Payload(state);
  std::vector<uint8_t> datagram(payload.size() + sealer.overhead());
  if (!sealer.Seal(payload, absl::MakeSpan(datagram)).ok()) {
    state.SkipWithError("Seal failed");
    return;
  }
  std::vector<uint8_t> out(payload.size());
  for (auto _ : state) {
    SealedDatagram sealed;
    size_t payload_bytes = 0;
    OpenOutcome outcome = ReadSealedDatagram(datagram, &sealed);
    if (outcome == OpenOutcome::kOk) {
      outcome = opener.Open(sealed, absl::MakeSpan(out), &payload_bytes);
    }
    if (outcome != OpenOutcome::kOk) {
      state.SkipWithError(std::string(OpenOutcomeName(outcome)).c_str());
      return;
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  SetBytes(state);
  state.counters["overhead_bytes"] = static_cast<double>(sealer.overhead());
}
BENCHMARK(BM_Open)->Apply(PayloadSizes);

// PipeLink is a DatagramLink with no network: Send hands the bytes, on the caller's
// thread, straight to the receive handler of the PipeLink it is connected to.
class PipeLink final : public DatagramLink {
 public:
  explicit PipeLink(Address self) : self_(self) {}

  // ConnectTo makes `peer` (which must outlive this link) receive what this one sends.
  void ConnectTo(PipeLink* peer) { peer_ = peer; }

  absl::Status Start(ReceiveHandler handler) override {
    handler_ = std::move(handler);
    return absl::OkStatus();
  }
  void Stop() override { handler_ = nullptr; }
  absl::Status Send(const Address& destination,
                    absl::Span<const uint8_t> bytes) override {
    if (peer_ != nullptr && peer_->handler_) {
      peer_->handler_(ReceivedDatagram{self_, destination, bytes});
    }
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> SendBatch(
      absl::Span<const OutgoingDatagram> datagrams) override {
    for (const OutgoingDatagram& d : datagrams) (void)Send(d.destination, d.bytes);
    return datagrams.size();
  }
  Address local_address() const override { return self_; }
  network::LinkCounters counters() const override { return {}; }

 private:
  const Address self_;
  PipeLink* peer_ = nullptr;
  ReceiveHandler handler_;
};

void BM_SealingLink(benchmark::State& state) {
  auto keyring = std::make_shared<const Keyring>(FixedKeyring());
  const Address a_address(boost::asio::ip::make_address_v4(0x7f000001u), 5001);
  const Address b_address(boost::asio::ip::make_address_v4(0x7f000001u), 5002);
  auto a_pipe = std::make_unique<PipeLink>(a_address);
  auto b_pipe = std::make_unique<PipeLink>(b_address);
  // Both ways: b's challenge of a's incarnation, and a's response.
  a_pipe->ConnectTo(b_pipe.get());
  b_pipe->ConnectTo(a_pipe.get());
  SealingOptions options;
  options.keyring = keyring;
  options.network_id = kNetwork;
  absl::StatusOr<std::unique_ptr<SealingLink>> a =
      SealingLink::Create(std::move(a_pipe), options);
  absl::StatusOr<std::unique_ptr<SealingLink>> b =
      SealingLink::Create(std::move(b_pipe), options);
  if (!a.ok() || !b.ok()) {
    state.SkipWithError("SealingLink::Create failed");
    return;
  }
  uint64_t received_bytes = 0;
  if (!(*a)->Start([](const ReceivedDatagram&) {}).ok() ||
      !(*b)->Start([&](const ReceivedDatagram& d) { received_bytes += d.bytes.size(); })
           .ok()) {
    state.SkipWithError("SealingLink::Start failed");
    return;
  }
  const std::vector<uint8_t> payload = Payload(state);
  // The first datagram waits for the challenge's round trip: outside the timing.
  if (!(*a)->Send(b_address, payload).ok() || received_bytes != payload.size()) {
    state.SkipWithError("the first datagram did not arrive");
    return;
  }
  received_bytes = 0;
  for (auto _ : state) {
    if (const absl::Status status = (*a)->Send(b_address, payload); !status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  (*a)->Stop();
  (*b)->Stop();
  if (state.error_occurred()) return;
  if (received_bytes != state.iterations() * payload.size()) {
    state.SkipWithError(absl::StrCat("received ", received_bytes, " bytes, expected ",
                                     state.iterations() * payload.size())
                            .c_str());
    return;
  }
  SetBytes(state);
  state.counters["overhead_bytes"] = static_cast<double>((*a)->overhead());
}
BENCHMARK(BM_SealingLink)->Apply(PayloadSizes);

}  // namespace
}  // namespace glue::security

BENCHMARK_MAIN();
