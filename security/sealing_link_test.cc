#include "glue/security/sealing_link.h"

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/mutex.h"
#include "glue/base/simulated_clock.h"
#include "glue/base/status_matchers.h"
#include "glue/security/keyring.h"
#include "glue/security/sealer.h"
#include "glue/security/memory_link.h"
#include "glue/security/test_keyring.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::security {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using network::Address;
using network::DatagramLink;
using network::OutgoingDatagram;
using network::ReceivedDatagram;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

using testing::MemoryLink;
using testing::WireDatagram;

constexpr uint64_t kNetwork = 11;

// SharedKeyring is TestKeyring(ids), to share with a SealingLink.
std::shared_ptr<const Keyring> SharedKeyring(std::initializer_list<std::string> ids) {
  return std::make_shared<const Keyring>(TestKeyring(ids));
}

absl::Span<const uint8_t> AsBytes(absl::string_view text) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// Peer is one SealingLink over a MemoryLink, with what it handed up.
struct Peer {
  MemoryLink* wire = nullptr;  // owned by `link`
  std::unique_ptr<SealingLink> link;
  std::vector<std::string> received;
  std::vector<Address> sources;
};

class SealingLinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Peer> MakePeer(int host, SealingOptions options) {
    auto peer = std::make_unique<Peer>();
    const Address self(boost::asio::ip::make_address_v4(0x7f000100u + host), 5000);
    auto inner = std::make_unique<MemoryLink>(self);
    peer->wire = inner.get();
    absl::StatusOr<std::unique_ptr<SealingLink>> link =
        SealingLink::Create(std::move(inner), std::move(options), clock_);
    EXPECT_THAT(link, IsOk());
    peer->link = std::move(*link);
    Peer* p = peer.get();
    EXPECT_THAT(peer->link->Start([p](const ReceivedDatagram& d) {
      p->received.emplace_back(d.bytes.begin(), d.bytes.end());
      p->sources.push_back(d.source);
    }),
                IsOk());
    return peer;
  }

  static SealingOptions Options(std::shared_ptr<const Keyring> keyring,
                                uint64_t network_id = kNetwork) {
    SealingOptions options;
    options.keyring = std::move(keyring);
    options.network_id = network_id;
    return options;
  }

  // CarryOnce delivers everything `from` sent (and has not carried yet) to `to`.
  static void CarryOnce(Peer& from, Peer& to) {
    const std::vector<WireDatagram> sent = from.wire->sent();
    from.wire->ClearSent();
    for (const WireDatagram& d : sent) to.wire->Deliver(d);
  }
  // Carry is CarryOnce, then carries what each sends the other in answer (challenges
  // and responses) until neither sends more.
  static void Carry(Peer& from, Peer& to) {
    CarryOnce(from, to);
    while (!to.wire->sent().empty() || !from.wire->sent().empty()) {
      CarryOnce(to, from);
      CarryOnce(from, to);
    }
  }

  static void Send(Peer& from, const Peer& to, absl::string_view text) {
    EXPECT_THAT(from.link->Send(to.link->local_address(), AsBytes(text)), IsOk());
  }

  glue::testing::SimulatedClock clock_;
};

TEST_F(SealingLinkTest, ExchangesSealedDatagramsBothWays) {
  auto a = MakePeer(1, Options(SharedKeyring({"abc"})));
  auto b = MakePeer(2, Options(SharedKeyring({"abc"})));
  EXPECT_EQ(a->link->overhead(), 63u);
  Send(*a, *b, "hello");
  ASSERT_EQ(a->wire->sent().size(), 1u);
  const std::vector<uint8_t> on_wire = a->wire->sent()[0].bytes;
  EXPECT_EQ(on_wire.size(), 5u + 63u);
  EXPECT_EQ(on_wire[0], kSealedMagic);
  EXPECT_EQ(std::string(on_wire.begin(), on_wire.end()).find("hello"), std::string::npos);
  Carry(*a, *b);
  Send(*b, *a, "world");
  Carry(*b, *a);
  EXPECT_THAT(b->received, ElementsAre("hello"));
  EXPECT_THAT(b->sources, ElementsAre(a->link->local_address()));
  EXPECT_THAT(a->received, ElementsAre("world"));
  EXPECT_EQ(a->link->sealing_counters().sealed, 1u);
  EXPECT_EQ(a->link->sealing_counters().opened, 1u);
  EXPECT_EQ(b->link->sealing_counters().windows, 1u);
  // The inner link's: "hello", then the response to b's challenge, and a's own
  // challenge to b's "world".
  EXPECT_EQ(a->link->counters().datagrams_sent, 3u);
}

TEST_F(SealingLinkTest, SendBatchSealsEveryDatagram) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  const std::string one = "one", two = "two";
  const OutgoingDatagram batch[] = {{b->link->local_address(), AsBytes(one)},
                                    {b->link->local_address(), AsBytes(two)}};
  EXPECT_THAT(a->link->SendBatch(batch), ::glue::testing::IsOkAndHolds(2u));
  // A smaller batch after a larger one (the thread's buffers are reused), and none.
  EXPECT_THAT(a->link->SendBatch(absl::MakeConstSpan(batch).first(1)),
              ::glue::testing::IsOkAndHolds(1u));
  EXPECT_THAT(a->link->SendBatch({}), ::glue::testing::IsOkAndHolds(0u));
  Carry(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("one", "two", "one"));
}

TEST_F(SealingLinkTest, RefusesUnsealedDatagramsAndCountsThem) {
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  const std::string text = "plain";
  b->wire->Deliver({Address(), b->link->local_address(), {text.begin(), text.end()}});
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(b->link->sealing_counters().not_sealed, 1u);
  EXPECT_EQ(b->link->sealing_counters().refused(), 1u);
}

TEST_F(SealingLinkTest, LogsRefusalsOncePerPeriodWithTheNumberRefused) {
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  const WireDatagram plain{Address(), b->link->local_address(), {'p'}};
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) b->wire->Deliver(plain);
  const std::string flood = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(flood.begin(), flood.end(), '\n'), 1) << flood;
  EXPECT_THAT(flood, HasSubstr("refused 1 datagram(s) (not sealed)"));
  clock_.AdvanceBy(absl::Seconds(10));
  ::testing::internal::CaptureStderr();
  b->wire->Deliver(plain);
  const std::string later = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(later.begin(), later.end(), '\n'), 1) << later;
  EXPECT_THAT(later, HasSubstr("refused 100 datagram(s) (not sealed)"));
  EXPECT_EQ(b->link->sealing_counters().not_sealed, 101u);
}

TEST_F(SealingLinkTest, AcceptsUnsealedDatagramsWhenToldToForMigration) {
  SealingOptions options = Options(SharedKeyring({"k"}));
  options.accept_unsealed = true;
  auto b = MakePeer(2, options);
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  const std::string text = "plain";
  b->wire->Deliver({Address(), b->link->local_address(), {text.begin(), text.end()}});
  Send(*a, *b, "sealed");
  Carry(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("plain", "sealed"));
  EXPECT_EQ(b->link->sealing_counters().accepted_unsealed, 1u);
  EXPECT_EQ(b->link->sealing_counters().opened, 1u);
}

TEST_F(SealingLinkTest, SendsUnsealedWhenToldToAndStillOpensSealedDatagrams) {
  SealingOptions options = Options(SharedKeyring({"k"}));
  options.send_unsealed = true;
  auto a = MakePeer(1, options);
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  EXPECT_EQ(a->link->overhead(), 0u);
  Send(*a, *b, "plain");
  const std::vector<WireDatagram> sent = a->wire->sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(std::string(sent[0].bytes.begin(), sent[0].bytes.end()), "plain");
  EXPECT_EQ(a->link->sealing_counters().sent_unsealed, 1u);
  Send(*b, *a, "sealed");
  Carry(*b, *a);
  EXPECT_THAT(a->received, ElementsAre("sealed"));
}

TEST_F(SealingLinkTest, RefusesUnknownKeyIdsAndAnotherNetworkId) {
  auto b = MakePeer(2, Options(SharedKeyring({"k1"})));
  auto other_id = MakePeer(3, Options(SharedKeyring({"k2"})));
  // The same key bytes as "k1" (SharedKeyring), under an id b does not know.
  auto longer_id = MakePeer(4, Options(SharedKeyring({"k1x"})));
  auto other_network = MakePeer(5, Options(SharedKeyring({"k1"}), kNetwork + 1));
  Send(*other_id, *b, "x");
  Send(*longer_id, *b, "x");
  Send(*other_network, *b, "x");
  Carry(*other_id, *b);
  Carry(*longer_id, *b);
  Carry(*other_network, *b);
  EXPECT_TRUE(b->received.empty());
  const SealingCounters counters = b->link->sealing_counters();
  EXPECT_EQ(counters.unknown_key_id, 2u);  // "k2" and "k1x"
  EXPECT_EQ(counters.tag_mismatch, 1u);
  EXPECT_EQ(counters.windows, 0u);  // no window for a sender that did not verify
}

TEST_F(SealingLinkTest, RefusesADatagramSealedUnderAnotherKeyOfTheSameId) {
  auto b = MakePeer(2, Options(SharedKeyring({"key"})));
  auto forger = MakePeer(3, Options(SharedKeyring({"zey"})));
  Send(*forger, *b, "x");
  ASSERT_EQ(forger->wire->sent().size(), 1u);
  WireDatagram forged = forger->wire->sent()[0];
  forged.bytes[4] = 'k';  // "zey" becomes "key": the id b knows, the wrong key
  b->wire->Deliver(forged);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(b->link->sealing_counters().tag_mismatch, 1u);
}

TEST_F(SealingLinkTest, RefusesMalformedSealedDatagramsByReason) {
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  b->wire->Deliver({Address(), Address(), {kSealedMagic, kSealedVersion, 1, 'k'}});
  b->wire->Deliver({Address(), Address(), {kSealedMagic, kSealedVersion + 1, 1, 'k'}});
  const SealingCounters counters = b->link->sealing_counters();
  EXPECT_EQ(counters.truncated, 1u);
  EXPECT_EQ(counters.unsupported_version, 1u);
  EXPECT_TRUE(b->received.empty());
}

TEST_F(SealingLinkTest, RefusesAReplayedDatagram) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "once");
  const WireDatagram captured = a->wire->sent()[0];
  Carry(*a, *b);
  b->wire->Deliver(captured);
  EXPECT_THAT(b->received, ElementsAre("once"));
  EXPECT_EQ(b->link->sealing_counters().replay, 1u);
}

TEST_F(SealingLinkTest, RefusesADatagramOlderThanTheWindow) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  for (uint64_t i = 0; i <= kReplayWindowSize; ++i) Send(*a, *b, "x");
  const std::vector<WireDatagram> sent = a->wire->sent();
  a->wire->ClearSent();
  b->wire->Deliver(sent.back());
  Carry(*b, *a);  // b's challenge and a's response
  b->wire->Deliver(sent.front());
  EXPECT_EQ(b->received.size(), 1u);
  EXPECT_EQ(b->link->sealing_counters().too_old, 1u);
}

TEST_F(SealingLinkTest, RotatesKeysWithoutLosingADatagram) {
  auto a = MakePeer(1, Options(SharedKeyring({"old"})));
  auto b = MakePeer(2, Options(SharedKeyring({"old"})));
  std::vector<std::string> expected_at_a, expected_at_b;
  int n = 0;
  // Each step sends both ways; a datagram sent before a step is carried after it.
  auto exchange = [&] {
    const std::string text = absl::StrCat("m", n++);
    Send(*a, *b, text);
    Send(*b, *a, text);
    expected_at_a.push_back(text);
    expected_at_b.push_back(text);
  };
  exchange();
  // Add the new key everywhere, a first, b later.
  ASSERT_THAT(a->link->SetKeyring(SharedKeyring({"old", "new"})), IsOk());
  exchange();
  ASSERT_THAT(b->link->SetKeyring(SharedKeyring({"old", "new"})), IsOk());
  Carry(*a, *b);
  Carry(*b, *a);
  exchange();
  // Make it the sending key, one side at a time.
  ASSERT_THAT(a->link->SetKeyring(SharedKeyring({"new", "old"})), IsOk());
  exchange();
  ASSERT_THAT(b->link->SetKeyring(SharedKeyring({"new", "old"})), IsOk());
  exchange();
  Carry(*a, *b);
  Carry(*b, *a);
  // Remove the old key once nothing sealed under it is in flight.
  ASSERT_THAT(a->link->SetKeyring(SharedKeyring({"new"})), IsOk());
  ASSERT_THAT(b->link->SetKeyring(SharedKeyring({"new"})), IsOk());
  exchange();
  Carry(*a, *b);
  Carry(*b, *a);
  EXPECT_EQ(a->received, expected_at_a);
  EXPECT_EQ(b->received, expected_at_b);
  EXPECT_EQ(a->link->sealing_counters().refused(), 0u);
  EXPECT_EQ(b->link->sealing_counters().refused(), 0u);
  // One incarnation throughout: the sequence went on across the swaps.
  EXPECT_EQ(b->link->sealing_counters().windows, 1u);
}

TEST_F(SealingLinkTest, SealsFromSeveralThreadsWhileTheKeyringIsSwapped) {
  auto a = MakePeer(1, Options(SharedKeyring({"old", "new"})));
  auto b = MakePeer(2, Options(SharedKeyring({"old", "new"})));
  constexpr int kThreads = 4;
  constexpr int kEach = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) Send(*a, *b, absl::StrCat(t, ".", i));
    });
  }
  threads.emplace_back([&] {
    for (int i = 0; i < 100; ++i) {
      EXPECT_THAT(a->link->SetKeyring(i % 2 == 0 ? SharedKeyring({"new", "old"})
                                                 : SharedKeyring({"old", "new"})),
                  IsOk());
    }
  });
  for (std::thread& thread : threads) thread.join();
  // The first kMaxHeldPerSender wait for a's answer to b's challenge, then go up; the
  // rest go up as they come.
  std::vector<WireDatagram> sent = a->wire->sent();
  a->wire->ClearSent();
  ASSERT_GT(sent.size(), kMaxHeldPerSender);
  for (size_t i = 0; i < kMaxHeldPerSender; ++i) b->wire->Deliver(sent[i]);
  Carry(*b, *a);
  for (size_t i = kMaxHeldPerSender; i < sent.size(); ++i) b->wire->Deliver(sent[i]);
  EXPECT_EQ(b->received.size(), size_t{kThreads * kEach});
  EXPECT_EQ(b->link->sealing_counters().refused(), 0u);
  EXPECT_EQ(a->link->sealing_counters().sealed, uint64_t{kThreads * kEach});
}

// The first datagram of a sender incarnation the receiver has no window for is held,
// and goes up once the sender answers the receiver's challenge.
TEST_F(SealingLinkTest, ANewSendersDatagramsWaitForTheAnswerToAChallenge) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "first");
  Send(*a, *b, "second");
  CarryOnce(*a, *b);
  EXPECT_TRUE(b->received.empty());
  // One challenge for both, to where they came from.
  const std::vector<WireDatagram> challenges = b->wire->sent();
  ASSERT_EQ(challenges.size(), 1u);
  EXPECT_EQ(challenges[0].destination, a->link->local_address());
  EXPECT_EQ(b->link->sealing_counters().held, 2u);
  EXPECT_EQ(b->link->sealing_counters().pending, 1u);
  CarryOnce(*b, *a);  // a answers
  EXPECT_TRUE(a->received.empty()) << "a challenge is not handed up";
  CarryOnce(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("first", "second"));
  const SealingCounters at_b = b->link->sealing_counters();
  EXPECT_EQ(at_b.challenges_sent, 1u);
  EXPECT_EQ(at_b.senders_verified, 1u);
  EXPECT_EQ(at_b.pending, 0u);
  EXPECT_EQ(a->link->sealing_counters().responses_sent, 1u);
  // From now on a's datagrams go up at once.
  Send(*a, *b, "third");
  CarryOnce(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("first", "second", "third"));
  EXPECT_TRUE(b->wire->sent().empty());
}

// A receiver restarted (a new link, no windows) cannot be fed a datagram captured
// before its restart: the sender's answer puts the window past it.
TEST_F(SealingLinkTest, ADatagramCapturedBeforeARestartIsNotTakenAfterIt) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "old");
  const WireDatagram captured = a->wire->sent()[0];
  Carry(*a, *b);
  ASSERT_THAT(b->received, ElementsAre("old"));
  // a goes on sending (to b and others) past the window's span; b restarts.
  for (uint64_t i = 0; i < kReplayWindowSize; ++i) Send(*a, *b, "later");
  a->wire->ClearSent();
  b = MakePeer(2, Options(SharedKeyring({"k"})));
  b->wire->Deliver(captured);
  Carry(*b, *a);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(b->link->sealing_counters().too_old, 1u);
  EXPECT_EQ(b->link->sealing_counters().senders_verified, 1u);
  // a's next datagram is fresh.
  Send(*a, *b, "new");
  CarryOnce(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("new"));
}

// A datagram of an incarnation that no longer runs is never taken: nobody answers
// the challenge (it is sent again while such datagrams come), and after
// kChallengeTimeout the held datagrams are dropped.
TEST_F(SealingLinkTest, ADatagramOfAnIncarnationNoLongerRunningIsNeverTaken) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "from a dead run");
  const WireDatagram captured = a->wire->sent()[0];
  a = MakePeer(1, Options(SharedKeyring({"k"})));  // a restarted: a new incarnation
  b->wire->Deliver(captured);
  Carry(*b, *a);  // a's new incarnation does not answer for the old one
  EXPECT_EQ(a->link->sealing_counters().responses_sent, 0u);
  clock_.AdvanceBy(kChallengeResendInterval);
  b->wire->Deliver(captured);  // a replay: held again? No: challenged again
  EXPECT_EQ(b->link->sealing_counters().challenges_sent, 2u);
  clock_.AdvanceBy(kChallengeTimeout);
  // The next datagram of anyone makes b give up on the old incarnation.
  Send(*a, *b, "from the new run");
  Carry(*a, *b);
  EXPECT_THAT(b->received, ElementsAre("from the new run"));
  const SealingCounters at_b = b->link->sealing_counters();
  EXPECT_EQ(at_b.unanswered, 1u);
  EXPECT_EQ(at_b.held_dropped, 2u);
  EXPECT_EQ(at_b.pending, 0u);
}

// Held datagrams are bounded per incarnation: those beyond are dropped and counted.
TEST_F(SealingLinkTest, HoldsAtMostTheBoundPerSenderAwaitingAnAnswer) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  for (size_t i = 0; i < kMaxHeldPerSender + 5; ++i) Send(*a, *b, absl::StrCat(i));
  CarryOnce(*a, *b);
  EXPECT_EQ(b->link->sealing_counters().held, kMaxHeldPerSender);
  EXPECT_EQ(b->link->sealing_counters().held_dropped, 5u);
  Carry(*b, *a);
  EXPECT_EQ(b->received.size(), kMaxHeldPerSender);
  EXPECT_EQ(b->received.back(), absl::StrCat(kMaxHeldPerSender - 1));
}

// Challenges and responses are sealed too: an outsider can neither ask for nor give
// an answer, and a response that matches no challenge verifies nobody.
TEST_F(SealingLinkTest, AForgedOrReplayedResponseVerifiesNobody) {
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  auto b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "one");
  CarryOnce(*a, *b);
  CarryOnce(*b, *a);
  const WireDatagram response = a->wire->sent()[0];
  a->wire->ClearSent();
  WireDatagram tampered = response;
  tampered.bytes.back() ^= 1;
  b->wire->Deliver(tampered);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(b->link->sealing_counters().tag_mismatch, 1u);
  b->wire->Deliver(response);
  EXPECT_THAT(b->received, ElementsAre("one"));
  // The same response again, for a second challenge of a's (after b restarted), is
  // stale: its nonce is the first challenge's.
  b = MakePeer(2, Options(SharedKeyring({"k"})));
  Send(*a, *b, "two");
  CarryOnce(*a, *b);
  b->wire->ClearSent();  // the challenge is lost
  b->wire->Deliver(response);
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(b->link->sealing_counters().senders_verified, 0u);
}

TEST_F(SealingLinkTest, EvictsTheLeastRecentlyVerifiedSenderAtTheBound) {
  SealingOptions options = Options(SharedKeyring({"k"}));
  options.max_senders = 2;
  auto b = MakePeer(2, options);
  auto s1 = MakePeer(11, Options(SharedKeyring({"k"})));
  auto s2 = MakePeer(12, Options(SharedKeyring({"k"})));
  auto s3 = MakePeer(13, Options(SharedKeyring({"k"})));
  Send(*s1, *b, "1");
  Carry(*s1, *b);
  Send(*s2, *b, "2");
  Carry(*s2, *b);
  Send(*s1, *b, "1 again");  // s1 is now the most recent; s2 the least
  Carry(*s1, *b);
  Send(*s3, *b, "3");
  const WireDatagram from_s3 = s3->wire->sent()[0];
  Carry(*s3, *b);
  SealingCounters counters = b->link->sealing_counters();
  EXPECT_EQ(counters.windows, 2u);
  EXPECT_EQ(counters.windows_evicted, 1u);
  // s1 kept its window: a replay of its traffic is still refused. s3's too.
  b->wire->Deliver(from_s3);
  EXPECT_EQ(b->link->sealing_counters().replay, 1u);
  // s2 was evicted: its next datagram starts a window again, evicting s1.
  Send(*s2, *b, "2 again");
  Carry(*s2, *b);
  counters = b->link->sealing_counters();
  EXPECT_EQ(counters.windows, 2u);
  EXPECT_EQ(counters.windows_evicted, 2u);
  EXPECT_THAT(b->received, ElementsAre("1", "2", "1 again", "3", "2 again"));
}

TEST_F(SealingLinkTest, RefusesADatagramThatNoLongerFitsUdpOnceSealed) {
  auto a = MakePeer(1, Options(SharedKeyring({"abc"})));
  const Address to(boost::asio::ip::make_address_v4("127.0.1.2"), 5000);
  const std::vector<uint8_t> fits(65507 - a->link->overhead());
  const std::vector<uint8_t> does_not(fits.size() + 1);
  EXPECT_THAT(a->link->Send(to, fits), IsOk());
  EXPECT_THAT(a->link->Send(to, does_not), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a->link->sealing_counters().too_large, 1u);
  EXPECT_EQ(a->wire->sent().size(), 1u);
}

TEST_F(SealingLinkTest, CreateRefusesMissingPartsAndABoundOfZero) {
  const Address self(boost::asio::ip::make_address_v4("127.0.1.1"), 5000);
  EXPECT_THAT(
      SealingLink::Create(std::make_unique<MemoryLink>(self), SealingOptions{}, clock_),
      StatusIs(absl::StatusCode::kInvalidArgument));
  SealingOptions options = Options(SharedKeyring({"k"}));
  EXPECT_THAT(SealingLink::Create(nullptr, options, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  options.max_senders = 0;
  EXPECT_THAT(SealingLink::Create(std::make_unique<MemoryLink>(self), options, clock_),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto a = MakePeer(1, Options(SharedKeyring({"k"})));
  EXPECT_THAT(a->link->SetKeyring(nullptr), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace glue::security
