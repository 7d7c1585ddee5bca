#include "glue/security/sealer.h"

#include <sodium.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_matchers.h"
#include "glue/security/keyring.h"
#include "glue/security/replay_window.h"
#include "glue/security/test_keyring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::security {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using ::testing::ElementsAreArray;

constexpr uint64_t kNetworkId = 7;
constexpr uint64_t kIncarnation = 0x0123456789abcdef;

std::vector<uint8_t> Payload(size_t size) {
  std::vector<uint8_t> payload(size);
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(i * 7 + 1);
  return payload;
}

std::vector<uint8_t> Seal(Sealer& sealer, const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out(payload.size() + sealer.overhead());
  absl::StatusOr<size_t> size = sealer.Seal(payload, absl::MakeSpan(out));
  EXPECT_THAT(size, IsOk());
  if (!size.ok()) return {};
  EXPECT_EQ(*size, out.size());
  return out;
}

// Open reads and opens `datagram`, returning the outcome of the first step that
// refused it, and the payload in `*payload`.
OpenOutcome Open(const Opener& opener, const std::vector<uint8_t>& datagram,
                 std::vector<uint8_t>* payload = nullptr) {
  SealedDatagram sealed;
  const OpenOutcome read = ReadSealedDatagram(datagram, &sealed);
  if (read != OpenOutcome::kOk) return read;
  std::vector<uint8_t> out(sealed.payload_bytes());
  size_t size = 0;
  const OpenOutcome opened = opener.Open(sealed, absl::MakeSpan(out), &size);
  if (opened == OpenOutcome::kOk && payload != nullptr) {
    out.resize(size);
    *payload = out;
  }
  return opened;
}

TEST(Sealer, RoundTripsPayloadsOfEverySize) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  for (size_t size : {0, 1, 15, 16, 17, 64, 1024, 65000}) {
    SCOPED_TRACE(size);
    const std::vector<uint8_t> payload = Payload(size);
    std::vector<uint8_t> opened;
    EXPECT_EQ(Open(opener, Seal(sealer, payload), &opened), OpenOutcome::kOk);
    EXPECT_EQ(opened, payload);
  }
}

TEST(Sealer, WritesTheDocumentedHeader) {
  const Keyring keyring = TestKeyring({"abc"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  EXPECT_EQ(sealer.overhead(), 63u);
  EXPECT_EQ(sealer.header_bytes(), 47u);
  const std::vector<uint8_t> first = Seal(sealer, Payload(10));
  const std::vector<uint8_t> second = Seal(sealer, Payload(10));
  ASSERT_EQ(first.size(), 73u);
  const std::vector<uint8_t> expected_start = {
      0xa7, 1,    0,    3, 'a', 'b', 'c', 0xef, 0xcd, 0xab, 0x89, 0x67,
      0x45, 0x23, 0x01, 1, 0,   0,   0,   0,    0,    0,    0};
  EXPECT_THAT(std::vector<uint8_t>(first.begin(), first.begin() + 23),
              ElementsAreArray(expected_start));
  EXPECT_EQ(second[15], 2);
  EXPECT_EQ(sealer.next_sequence(), 3u);

  SealedDatagram sealed;
  ASSERT_EQ(ReadSealedDatagram(second, &sealed), OpenOutcome::kOk);
  EXPECT_EQ(sealed.key_id, "abc");
  EXPECT_EQ(sealed.incarnation, kIncarnation);
  EXPECT_EQ(sealed.sequence, 2u);
  EXPECT_EQ(sealed.kind, SealedKind::kData);
  EXPECT_EQ(sealed.header.size(), 47u);
  EXPECT_EQ(sealed.payload_bytes(), 10u);
  // The nonce never repeats: the same payload never seals to the same bytes, neither
  // in one Sealer nor in another of the same incarnation at the same sequence (a
  // sender restarted with the same random numbers would be one).
  EXPECT_NE(std::vector<uint8_t>(first.begin() + 23, first.end()),
            std::vector<uint8_t>(second.begin() + 23, second.end()));
  Sealer twin(&keyring, kNetworkId, kIncarnation);
  const std::vector<uint8_t> twin_first = Seal(twin, Payload(10));
  EXPECT_NE(std::vector<uint8_t>(first.begin() + 23, first.begin() + 47),
            std::vector<uint8_t>(twin_first.begin() + 23, twin_first.begin() + 47));
}

// The cipher is libsodium's crypto_aead_xchacha20poly1305_ietf to the bit, whichever
// library does the work: libsodium opens what a Sealer seals, and an Opener what
// libsodium seals, at sizes around the cipher's 64-byte blocks and where the work
// moves from libsodium to OpenSSL (512 bytes).
TEST(Sealer, IsLibsodiumsXChaCha20Poly1305BothWays) {
  const Keyring keyring = TestKeyring({"k1"});
  const Key& key = keyring.sending_key();
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  for (size_t size : {0, 1, 63, 64, 65, 511, 512, 513, 1000, 16384}) {
    SCOPED_TRACE(size);
    const std::vector<uint8_t> payload = Payload(size);
    const std::vector<uint8_t> datagram = Seal(sealer, payload);
    SealedDatagram sealed;
    ASSERT_EQ(ReadSealedDatagram(datagram, &sealed), OpenOutcome::kOk);
    std::vector<uint8_t> ad(sealed.header.begin(), sealed.header.end());
    for (int i = 0; i < 8; ++i) ad.push_back(static_cast<uint8_t>(kNetworkId >> (8 * i)));
    const uint8_t* nonce = sealed.header.data() + sealed.header.size() - kNonceBytes;
    std::vector<uint8_t> opened(size);
    unsigned long long opened_size = 0;
    ASSERT_EQ(
        crypto_aead_xchacha20poly1305_ietf_decrypt(
            opened.data(), &opened_size, nullptr, sealed.ciphertext.data(),
            sealed.ciphertext.size(), ad.data(), ad.size(), nonce, key.bytes.data()),
        0);
    EXPECT_EQ(opened, payload);

    // libsodium seals the same header and payload under a nonce of its own choosing.
    std::vector<uint8_t> theirs(sealed.header.begin(), sealed.header.end());
    randombytes_buf(theirs.data() + theirs.size() - kNonceBytes, kNonceBytes);
    for (size_t i = 0; i < sealed.header.size(); ++i) ad[i] = theirs[i];
    theirs.resize(sealed.header.size() + size + kTagBytes);
    unsigned long long sealed_size = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        theirs.data() + sealed.header.size(), &sealed_size, payload.data(), size,
        ad.data(), ad.size(), nullptr, theirs.data() + sealed.header.size() - kNonceBytes,
        key.bytes.data());
    std::vector<uint8_t> ours;
    EXPECT_EQ(Open(opener, theirs, &ours), OpenOutcome::kOk);
    EXPECT_EQ(ours, payload);
  }
}

TEST(Sealer, TakingOverAnIncarnationGoesOnFromItsNextSequence) {
  const Keyring old_keyring = TestKeyring({"old"});
  const Keyring new_keyring = TestKeyring({"new", "old"});
  Sealer before(&old_keyring, kNetworkId, kIncarnation);
  Seal(before, Payload(4));
  Seal(before, Payload(4));
  Sealer after(&new_keyring, kNetworkId, kIncarnation, before.next_sequence());
  SealedDatagram sealed;
  const std::vector<uint8_t> datagram = Seal(after, Payload(4));
  ASSERT_EQ(ReadSealedDatagram(datagram, &sealed), OpenOutcome::kOk);
  EXPECT_EQ(sealed.key_id, "new");
  EXPECT_EQ(sealed.incarnation, kIncarnation);
  EXPECT_EQ(sealed.sequence, 3u);
}

TEST(Sealer, SealsInPlace) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  const std::vector<uint8_t> payload = Payload(100);
  std::vector<uint8_t> buffer(payload.size() + sealer.overhead());
  std::copy(payload.begin(), payload.end(), buffer.begin() + sealer.header_bytes());
  const absl::Span<uint8_t> in_place =
      absl::MakeSpan(buffer).subspan(sealer.header_bytes(), payload.size());
  ASSERT_THAT(sealer.Seal(in_place, absl::MakeSpan(buffer)), IsOk());

  Opener opener(&keyring, kNetworkId);
  SealedDatagram sealed;
  ASSERT_EQ(ReadSealedDatagram(buffer, &sealed), OpenOutcome::kOk);
  // Opening in place too: into the ciphertext's own bytes.
  size_t size = 0;
  ASSERT_EQ(opener.Open(sealed,
                        absl::MakeSpan(const_cast<uint8_t*>(sealed.ciphertext.data()),
                                       sealed.ciphertext.size()),
                        &size),
            OpenOutcome::kOk);
  EXPECT_EQ(
      std::vector<uint8_t>(sealed.ciphertext.data(), sealed.ciphertext.data() + size),
      payload);
}

TEST(Sealer, RefusesAnOutputBufferTooShort) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  std::vector<uint8_t> out(10 + sealer.overhead() - 1);
  EXPECT_THAT(sealer.Seal(Payload(10), absl::MakeSpan(out)),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(sealer.next_sequence(), 1u);
}

TEST(Opener, RefusesEveryTamperedByte) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  const std::vector<uint8_t> datagram = Seal(sealer, Payload(40));
  for (size_t i = 0; i < datagram.size(); ++i) {
    for (uint8_t flip : {0x01, 0x80, 0xff}) {
      std::vector<uint8_t> tampered = datagram;
      tampered[i] ^= flip;
      const OpenOutcome outcome = Open(opener, tampered);
      EXPECT_NE(outcome, OpenOutcome::kOk) << "byte " << i << " flip " << int{flip};
      // Past the key id, only the tag can tell.
      if (i >= 6) {
        EXPECT_EQ(outcome, OpenOutcome::kTagMismatch) << "byte " << i;
      }
    }
  }
}

TEST(Opener, RefusesTruncatedAndExtendedDatagrams) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  const std::vector<uint8_t> datagram = Seal(sealer, Payload(20));
  for (size_t size = 1; size < datagram.size(); ++size) {
    const std::vector<uint8_t> truncated(datagram.begin(), datagram.begin() + size);
    const OpenOutcome outcome = Open(opener, truncated);
    if (size < SealOverhead(2)) {
      EXPECT_EQ(outcome, OpenOutcome::kTruncated) << size;
    } else {
      EXPECT_EQ(outcome, OpenOutcome::kTagMismatch) << size;
    }
  }
  std::vector<uint8_t> extended = datagram;
  extended.push_back(0);
  EXPECT_EQ(Open(opener, extended), OpenOutcome::kTagMismatch);
}

TEST(Opener, ReadsTheFormOfAHeaderBeforeAnyKey) {
  SealedDatagram sealed;
  const std::vector<uint8_t> empty;
  EXPECT_EQ(ReadSealedDatagram(empty, &sealed), OpenOutcome::kNotSealed);
  // An unsealed datagram: a protobuf message, whose first byte is a field's tag.
  const std::vector<uint8_t> unsealed = {0x0a, 0x03, 'a', 'b', 'c'};
  EXPECT_EQ(ReadSealedDatagram(unsealed, &sealed), OpenOutcome::kNotSealed);
  std::vector<uint8_t> other_version(100, 1);
  other_version[0] = kSealedMagic;
  other_version[1] = kSealedVersion + 1;
  EXPECT_EQ(ReadSealedDatagram(other_version, &sealed), OpenOutcome::kUnsupportedVersion);
  std::vector<uint8_t> bad_id_length(100, 0);
  bad_id_length[0] = kSealedMagic;
  bad_id_length[1] = kSealedVersion;
  EXPECT_EQ(ReadSealedDatagram(bad_id_length, &sealed), OpenOutcome::kTruncated);
  bad_id_length[3] = kMaxKeyIdLength + 1;
  EXPECT_EQ(ReadSealedDatagram(bad_id_length, &sealed), OpenOutcome::kTruncated);
  std::vector<uint8_t> unknown_kind(100, 1);
  unknown_kind[0] = kSealedMagic;
  unknown_kind[1] = kSealedVersion;
  unknown_kind[2] = static_cast<uint8_t>(SealedKind::kResponse) + 1;
  EXPECT_EQ(ReadSealedDatagram(unknown_kind, &sealed), OpenOutcome::kUnsupportedVersion);
}

TEST(Sealer, TheKindIsInTheClearHeaderAndAuthenticated) {
  const Keyring keys = TestKeyring({"key"});
  Sealer sealer(&keys, kNetworkId, kIncarnation);
  const std::vector<uint8_t> payload = Payload(24);
  std::vector<uint8_t> out(payload.size() + sealer.overhead());
  ASSERT_OK_AND_ASSIGN(const size_t n,
                       sealer.Seal(payload, absl::MakeSpan(out), SealedKind::kChallenge));
  ASSERT_EQ(n, out.size());
  SealedDatagram sealed;
  ASSERT_EQ(ReadSealedDatagram(out, &sealed), OpenOutcome::kOk);
  EXPECT_EQ(sealed.kind, SealedKind::kChallenge);
  // A challenge passed off as data fails the tag.
  out[2] = static_cast<uint8_t>(SealedKind::kData);
  EXPECT_EQ(Open(Opener(&keys, kNetworkId), out), OpenOutcome::kTagMismatch);
}

TEST(Opener, RefusesAnUnknownKeyId) {
  const Keyring sender_keys = TestKeyring({"new"});
  const Keyring receiver_keys = TestKeyring({"old"});
  Sealer sealer(&sender_keys, kNetworkId, kIncarnation);
  Opener opener(&receiver_keys, kNetworkId);
  EXPECT_EQ(Open(opener, Seal(sealer, Payload(8))), OpenOutcome::kUnknownKeyId);
}

TEST(Opener, RefusesAnotherKeyUnderTheSameId) {
  // An id is a name, not a proof: the same id with other key bytes fails the tag.
  const Keyring sender_keys = TestKeyring({"k1"});
  absl::StatusOr<Keyring> receiver_keys = ParseKeyring(
      absl::StrCat("k1 ", absl::Base64Escape(std::string(kKeyBytes, 'z'))), "other");
  ASSERT_THAT(receiver_keys, IsOk());
  Sealer sealer(&sender_keys, kNetworkId, kIncarnation);
  Opener opener(&*receiver_keys, kNetworkId);
  EXPECT_EQ(Open(opener, Seal(sealer, Payload(8))), OpenOutcome::kTagMismatch);
}

TEST(Opener, RefusesAnotherNetworkId) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId + 1);
  EXPECT_EQ(Open(opener, Seal(sealer, Payload(8))), OpenOutcome::kTagMismatch);
}

TEST(Opener, AcceptsEveryKeyOfItsKeyringDuringARotation) {
  const Keyring old_sender = TestKeyring({"old"});
  const Keyring new_sender = TestKeyring({"new", "old"});
  const Keyring receiver = TestKeyring({"old", "new"});
  Sealer old_sealer(&old_sender, kNetworkId, 1);
  Sealer new_sealer(&new_sender, kNetworkId, 2);
  Opener opener(&receiver, kNetworkId);
  EXPECT_EQ(Open(opener, Seal(old_sealer, Payload(8))), OpenOutcome::kOk);
  EXPECT_EQ(Open(opener, Seal(new_sealer, Payload(8))), OpenOutcome::kOk);
  const Keyring rotated = TestKeyring({"new"});
  Opener rotated_opener(&rotated, kNetworkId);
  EXPECT_EQ(Open(rotated_opener, Seal(old_sealer, Payload(8))),
            OpenOutcome::kUnknownKeyId);
}

TEST(Opener, RefusesAnOutputBufferTooShort) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  const std::vector<uint8_t> datagram = Seal(sealer, Payload(8));
  SealedDatagram sealed;
  ASSERT_EQ(ReadSealedDatagram(datagram, &sealed), OpenOutcome::kOk);
  std::vector<uint8_t> out(7);
  size_t size = 0;
  EXPECT_EQ(opener.Open(sealed, absl::MakeSpan(out), &size), OpenOutcome::kTruncated);
}

TEST(Opener, WithAReplayWindowRefusesReplaysAndAdvancesOnlyOnAVerifiedTag) {
  const Keyring keyring = TestKeyring({"k1"});
  Sealer sealer(&keyring, kNetworkId, kIncarnation);
  Opener opener(&keyring, kNetworkId);
  ReplayWindow window;
  // Receive as a receiver would: form, window, tag, then advance.
  auto receive = [&](const std::vector<uint8_t>& datagram) -> std::string {
    SealedDatagram sealed;
    if (OpenOutcome read = ReadSealedDatagram(datagram, &sealed);
        read != OpenOutcome::kOk) {
      return std::string(OpenOutcomeName(read));
    }
    if (ReplayCheck check = window.Check(sealed.sequence); check != ReplayCheck::kFresh) {
      return std::string(ReplayCheckName(check));
    }
    std::vector<uint8_t> out(sealed.payload_bytes());
    size_t size = 0;
    if (OpenOutcome opened = opener.Open(sealed, absl::MakeSpan(out), &size);
        opened != OpenOutcome::kOk) {
      return std::string(OpenOutcomeName(opened));
    }
    window.Advance(sealed.sequence);
    return "ok";
  };
  const std::vector<uint8_t> first = Seal(sealer, Payload(8));
  EXPECT_EQ(receive(first), "ok");
  EXPECT_EQ(receive(first), "replay");

  // A forged sequence far ahead fails the tag and does not move the window.
  std::vector<uint8_t> second = Seal(sealer, Payload(8));
  std::vector<uint8_t> forged = second;
  forged[13 + 5] = 0x7f;  // the sequence's sixth byte (after a 2-byte id)
  EXPECT_EQ(receive(forged), "tag mismatch");
  EXPECT_EQ(window.highest(), 1u);
  EXPECT_EQ(receive(second), "ok");

  std::vector<std::vector<uint8_t>> later;
  for (uint64_t i = 0; i <= kReplayWindowSize; ++i)
    later.push_back(Seal(sealer, Payload(1)));
  const std::vector<uint8_t> straggler = later.front();
  EXPECT_EQ(receive(later.back()), "ok");
  EXPECT_EQ(receive(straggler), "too old");
  EXPECT_EQ(receive(later[1]), "ok");
}

TEST(Opener, NamesItsOutcomes) {
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kOk), "ok");
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kNotSealed), "not sealed");
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kUnsupportedVersion), "unsupported version");
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kTruncated), "truncated");
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kUnknownKeyId), "unknown key id");
  EXPECT_EQ(OpenOutcomeName(OpenOutcome::kTagMismatch), "tag mismatch");
}

TEST(Sealer, RandomIncarnationIsNeverZero) {
  EXPECT_NE(RandomIncarnation(), 0u);
  EXPECT_NE(RandomIncarnation(), RandomIncarnation());
}

}  // namespace
}  // namespace glue::security
