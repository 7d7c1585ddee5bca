#include "transport/peer_session.h"

#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace glue::transport::internal {
namespace {

discovery::Peer PeerNamed(uint64_t id) { return {.id = id, .name = "peer"}; }

TEST(NextSessionNumber, GrowsWithEveryCallAndStartsFromTheClock) {
  const uint64_t before = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  const uint64_t first = NextSessionNumber();
  const uint64_t second = NextSessionNumber();
  EXPECT_GE(first, before);
  EXPECT_GT(second, first);
}

TEST(PeerSession, NumbersEachNewSessionAboveTheLast) {
  PeerSession a(PeerNamed(1), SessionOptions());
  PeerSession b(PeerNamed(1), SessionOptions());
  EXPECT_GT(b.number, a.number);
  EXPECT_EQ(a.peer_number, 0u);
}

TEST(PeerSession, TakesThePeersFirstNumberAsCurrent) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  EXPECT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kCurrent);
  EXPECT_EQ(ps.peer_number, 7u);
  EXPECT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kCurrent);
}

TEST(PeerSession, CallsZeroStaleAndAnyOtherNumberUnprovenAndKeepsTheLast) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  EXPECT_EQ(ps.HearPeerNumber(0, 0), PeerNumber::kStale);
  EXPECT_EQ(ps.peer_number, 0u);
  ASSERT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kCurrent);
  // Lower (an older session, or a forgery) or higher (a restart, or a forgery): only
  // an echo tells.
  EXPECT_EQ(ps.HearPeerNumber(6, 0), PeerNumber::kUnverified);
  EXPECT_EQ(ps.HearPeerNumber(~uint64_t{0}, 0), PeerNumber::kUnverified);
  EXPECT_EQ(ps.HearPeerNumber(0, 0), PeerNumber::kStale);
  EXPECT_EQ(ps.peer_number, 7u);
}

TEST(PeerSession, TakesANewNumberOnlyWithTheEchoOfItsChallenge) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  ASSERT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kCurrent);
  EXPECT_EQ(ps.HearPeerNumber(9, 0), PeerNumber::kUnverified);
  ASSERT_TRUE(ps.Challenge(0xc0ffee));
  EXPECT_FALSE(ps.Challenge(0xbeef)) << "one challenge at a time";
  EXPECT_EQ(ps.HearPeerNumber(9, 0xbeef), PeerNumber::kUnverified);
  EXPECT_EQ(ps.peer_number, 7u);
  EXPECT_EQ(ps.HearPeerNumber(9, 0xc0ffee), PeerNumber::kRestarted);
  EXPECT_EQ(ps.peer_number, 9u);
  EXPECT_EQ(ps.challenge, 0u);
  EXPECT_EQ(ps.HearPeerNumber(9, 0), PeerNumber::kCurrent);
}

TEST(PeerSession, AnEchoWithTheKnownNumberRefutesAForgedOne) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  ASSERT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kCurrent);
  EXPECT_EQ(ps.HearPeerNumber(~uint64_t{0}, 0), PeerNumber::kUnverified);
  ASSERT_TRUE(ps.Challenge(42));
  // The real peer answers under its own number: nothing changes.
  EXPECT_EQ(ps.HearPeerNumber(7, 42), PeerNumber::kCurrent);
  EXPECT_EQ(ps.peer_number, 7u);
  EXPECT_EQ(ps.challenge, 0u);
}

TEST(PeerSession, AnEchoCorrectsAForgedFirstNumber) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  ASSERT_TRUE(ps.Challenge(42));  // made when the peer was added
  ASSERT_EQ(ps.HearPeerNumber(~uint64_t{0}, 0), PeerNumber::kCurrent);  // forged first
  EXPECT_EQ(ps.HearPeerNumber(7, 0), PeerNumber::kUnverified);
  EXPECT_EQ(ps.HearPeerNumber(7, 42), PeerNumber::kRestarted);
  EXPECT_EQ(ps.peer_number, 7u);
}

TEST(PeerSession, AcceptsDatagramsForThisSessionOrForNoneYet) {
  PeerSession ps(PeerNamed(1), SessionOptions());
  EXPECT_TRUE(ps.ForThisSession(ps.number));
  EXPECT_TRUE(ps.ForThisSession(0));
  EXPECT_FALSE(ps.ForThisSession(ps.number - 1));
}

}  // namespace
}  // namespace glue::transport::internal
