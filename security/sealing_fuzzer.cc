// libFuzzer target for the security layer's open path (built with GLUE_FUZZ=ON and
// clang): a SealingLink with a keyring receives each input, and either refuses it
// (counted) or hands up what was sealed under its keyring. Without a key of the ring
// a mutated input stops at the tag, so the first byte of an input chooses how it
// arrives:
//   0..63    as it is, to a link refusing unsealed datagrams;
//   64..127  as it is, to a link accepting them (GLUE_KEYRING_ACCEPT_UNSEALED);
//   128..255 sealed under a key of the ring as data, a challenge or a response (the
//            second byte's low bits say which), so that what lies past the tag is
//            fuzzed too; the link answers challenges and holds data for its own.
// A broken property aborts, which libFuzzer reports.
//
//   sealing_fuzzer -max_total_time=60 corpus_dir/
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

#include "glue/base/simulated_clock.h"
#include "glue/security/memory_link.h"
#include "glue/security/sealer.h"
#include "glue/security/sealing_link.h"
#include "glue/security/test_keyring.h"

namespace glue::security {
namespace {

constexpr uint64_t kFuzzNetwork = 3;

[[noreturn]] void Fail(const char* what) {
  std::fprintf(stderr, "sealing_fuzzer: %s\n", what);
  std::abort();
}

struct Receiver {
  explicit Receiver(bool accept_unsealed) {
    auto inner = std::make_unique<testing::MemoryLink>(
        network::Address(boost::asio::ip::make_address_v4("127.0.3.1"), 7000));
    wire = inner.get();
    SealingOptions options;
    options.keyring = std::make_shared<const Keyring>(TestKeyring({"k1", "k2"}));
    options.network_id = kFuzzNetwork;
    options.accept_unsealed = accept_unsealed;
    options.max_senders = 64;  // evictions too
    link = *SealingLink::Create(std::move(inner), options, clock);
    if (!link->Start([this](const network::ReceivedDatagram& d) {
               ++handed_up;
               last_size = d.bytes.size();
             })
             .ok()) {
      Fail("start");
    }
  }

  glue::testing::SimulatedClock clock;
  testing::MemoryLink* wire = nullptr;
  std::unique_ptr<SealingLink> link;
  uint64_t handed_up = 0;
  size_t last_size = 0;
};

void CheckOne(const uint8_t* data, size_t size) {
  static Receiver refusing(/*accept_unsealed=*/false);
  static Receiver accepting(/*accept_unsealed=*/true);
  static const Keyring keys = TestKeyring({"k2"});
  static Sealer sealer(&keys, kFuzzNetwork, RandomIncarnation());
  if (size == 0) return;
  const uint8_t mode = data[0];
  std::vector<uint8_t> bytes(data + 1, data + size);
  Receiver& r = mode < 128 && mode >= 64 ? accepting : refusing;
  if (mode >= 128) {
    const auto kind = static_cast<SealedKind>(bytes.empty() ? 0 : bytes[0] % 3);
    std::vector<uint8_t> sealed(bytes.size() + sealer.overhead());
    if (!sealer.Seal(bytes, absl::MakeSpan(sealed), kind).ok()) Fail("seal");
    bytes = std::move(sealed);
  }
  const SealingCounters before = r.link->sealing_counters();
  const uint64_t handed_before = r.handed_up;
  r.wire->Deliver(testing::WireDatagram{
      network::Address(boost::asio::ip::make_address_v4("127.0.3.2"), 7001),
      r.link->local_address(), bytes});
  const SealingCounters after = r.link->sealing_counters();
  const uint64_t handed = r.handed_up - handed_before;
  const uint64_t refused = after.refused() - before.refused();
  if (handed + refused > 1) Fail("one datagram handed up or refused more than once");
  if (mode < 128) {
    const bool sealed_looking = !bytes.empty() && bytes[0] == kSealedMagic;
    if (!sealed_looking && &r == &accepting &&
        (handed != 1 || r.last_size != bytes.size())) {
      Fail("an unsealed datagram was not handed up as it was, accepting unsealed");
    }
    if (!sealed_looking && &r == &refusing && refused != 1) {
      Fail("an unsealed datagram was not refused");
    }
  }
  // Our own challenges and responses go out; nothing else does. They are dropped.
  r.wire->ClearSent();
  // Time passes, so that challenges are given up and sent again.
  r.clock.AdvanceBy(absl::Milliseconds(50));
}

}  // namespace
}  // namespace glue::security

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  glue::security::CheckOne(data, size);
  return 0;
}
