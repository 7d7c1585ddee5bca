// Garbage on the open path: random bytes, and every kind of sealed datagram damaged at
// random, delivered to a SealingLink with a keyring, refusing or accepting unsealed
// datagrams. Whatever comes in, nothing is handed up that was not sealed under the
// keyring (or, when accepting unsealed datagrams, that was not sealed at all), no
// challenge or response goes out for it, and every refusal is counted.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "glue/base/simulated_clock.h"
#include "glue/base/status_matchers.h"
#include "glue/security/memory_link.h"
#include "glue/security/sealer.h"
#include "glue/security/sealing_link.h"
#include "glue/security/test_keyring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::security {
namespace {

using testing::MemoryLink;
using testing::WireDatagram;

constexpr uint64_t kGarbageNetwork = 5;
constexpr int kRounds = 20000;

struct Receiver {
  MemoryLink* wire = nullptr;
  std::unique_ptr<SealingLink> link;
  std::vector<std::vector<uint8_t>> received;
};

class SealingGarbageTest : public ::testing::Test {
 protected:
  std::unique_ptr<Receiver> MakeReceiver(bool accept_unsealed) {
    auto r = std::make_unique<Receiver>();
    auto inner = std::make_unique<MemoryLink>(
        network::Address(boost::asio::ip::make_address_v4("127.0.2.1"), 7000));
    r->wire = inner.get();
    SealingOptions options;
    options.keyring = std::make_shared<const Keyring>(TestKeyring({"k1", "k2"}));
    options.network_id = kGarbageNetwork;
    options.accept_unsealed = accept_unsealed;
    absl::StatusOr<std::unique_ptr<SealingLink>> link =
        SealingLink::Create(std::move(inner), options, clock_);
    EXPECT_OK(link);
    r->link = *std::move(link);
    Receiver* raw = r.get();
    EXPECT_OK(r->link->Start([raw](const network::ReceivedDatagram& d) {
      raw->received.emplace_back(d.bytes.begin(), d.bytes.end());
    }));
    return r;
  }

  void Deliver(Receiver& r, std::vector<uint8_t> bytes) {
    r.wire->Deliver(WireDatagram{source_, r.link->local_address(), std::move(bytes)});
  }

  std::vector<uint8_t> RandomBytes(size_t max) {
    std::vector<uint8_t> bytes(std::uniform_int_distribution<size_t>(0, max)(random_));
    for (uint8_t& b : bytes) b = static_cast<uint8_t>(random_());
    return bytes;
  }

  void Damage(std::vector<uint8_t>& sealed);

  glue::testing::SimulatedClock clock_;
  std::mt19937_64 random_{20261205};
  const network::Address source_{boost::asio::ip::make_address_v4("127.0.2.2"), 7001};
};

TEST_F(SealingGarbageTest, RandomBytesAreRefusedAndCounted) {
  auto r = MakeReceiver(/*accept_unsealed=*/false);
  for (int i = 0; i < kRounds; ++i) {
    std::vector<uint8_t> bytes = RandomBytes(160);
    // Most rounds look sealed, to get past the first byte, and many past the version
    // and kind.
    if (!bytes.empty() && i % 4 != 0) bytes[0] = kSealedMagic;
    if (bytes.size() > 1 && i % 2 == 0) bytes[1] = kSealedVersion;
    if (bytes.size() > 2 && i % 8 == 2) bytes[2] = static_cast<uint8_t>(i % 3);
    if (bytes.size() > 5 && i % 8 == 2) {
      bytes[3] = 2;
      bytes[4] = 'k';
      bytes[5] = static_cast<uint8_t>('1' + i % 2);
    }
    Deliver(*r, std::move(bytes));
  }
  EXPECT_TRUE(r->received.empty());
  EXPECT_TRUE(r->wire->sent().empty());
  const SealingCounters c = r->link->sealing_counters();
  EXPECT_EQ(c.refused(), uint64_t{kRounds});
  // Each kind of refusal was reached.
  EXPECT_GT(c.not_sealed, 0u);
  EXPECT_GT(c.unsupported_version, 0u);
  EXPECT_GT(c.truncated, 0u);
  EXPECT_GT(c.unknown_key_id, 0u);
  EXPECT_GT(c.tag_mismatch, 0u);
}

TEST_F(SealingGarbageTest, DamagedSealedDatagramsOfEveryKindAreRefused) {
  const Keyring keys = TestKeyring({"k1"});
  Sealer sealer(&keys, kGarbageNetwork, RandomIncarnation());
  auto r = MakeReceiver(/*accept_unsealed=*/true);
  for (int i = 0; i < kRounds; ++i) {
    const auto kind = static_cast<SealedKind>(i % 3);
    const std::vector<uint8_t> payload = RandomBytes(100);
    std::vector<uint8_t> sealed(payload.size() + sealer.overhead());
    ASSERT_OK(sealer.Seal(payload, absl::MakeSpan(sealed), kind).status());
    // Damage: one to three bytes changed, or cut short, or extended; redone when it
    // left the datagram as it was (a change of the first byte only, put back).
    const std::vector<uint8_t> intact = sealed;
    while (sealed == intact) {
      sealed = intact;
      Damage(sealed);
    }
    Deliver(*r, std::move(sealed));
  }
  EXPECT_TRUE(r->received.empty());
  EXPECT_TRUE(r->wire->sent().empty()) << "no challenge or response for a damaged one";
  const SealingCounters c = r->link->sealing_counters();
  EXPECT_EQ(c.refused(), uint64_t{kRounds});
  EXPECT_EQ(c.held + c.accepted_unsealed + c.opened, 0u);
}

void SealingGarbageTest::Damage(std::vector<uint8_t>& sealed) {
  switch (random_() % 3) {
    case 0:
      for (int n = 1 + random_() % 3; n > 0; --n) {
        sealed[random_() % sealed.size()] ^= static_cast<uint8_t>(1 + random_() % 255);
      }
      // The first byte kept: an unsealed datagram is accepted by this receiver.
      sealed[0] = kSealedMagic;
      break;
    case 1:
      sealed.resize(random_() % sealed.size());
      if (sealed.empty()) sealed.push_back(kSealedMagic);
      sealed[0] = kSealedMagic;
      break;
    default:
      sealed.push_back(static_cast<uint8_t>(random_()));
      break;
  }
}

TEST_F(SealingGarbageTest, AcceptingUnsealedHandsUpWhatIsNotSealedUnchanged) {
  auto r = MakeReceiver(/*accept_unsealed=*/true);
  std::vector<std::vector<uint8_t>> unsealed;
  for (int i = 0; i < kRounds; ++i) {
    std::vector<uint8_t> bytes = RandomBytes(160);
    if (!bytes.empty() && i % 2 == 0) bytes[0] = kSealedMagic;
    if (bytes.empty() || bytes[0] != kSealedMagic) unsealed.push_back(bytes);
    Deliver(*r, std::move(bytes));
  }
  EXPECT_EQ(r->received, unsealed);
  const SealingCounters c = r->link->sealing_counters();
  EXPECT_EQ(c.accepted_unsealed, unsealed.size());
  EXPECT_EQ(c.refused(), uint64_t{kRounds} - unsealed.size());
}

}  // namespace
}  // namespace glue::security
