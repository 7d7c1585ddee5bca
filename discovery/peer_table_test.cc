#include "glue/discovery/peer_table.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;

constexpr uint64_t kNetwork = 1;
const absl::Time kStart = absl::FromUnixSeconds(1000);
const absl::Duration kRate = absl::Milliseconds(100);

network::Address At(unsigned short port) {
  return network::Address(boost::asio::ip::make_address("127.0.0.1"), port);
}

Sender From(uint64_t id, std::string_view name, unsigned short port = 5000,
            uint64_t network_id = kNetwork) {
  return Sender{network_id, id, name, At(port), kRate};
}

PeerTable::Options Ours() {
  return {
      .network_id = kNetwork, .own_id = 1, .own_name = "self", .timeout_multiplier = 2};
}

auto AddedNamed(absl::string_view name) {
  return AllOf(Field(&PeerEvent::kind, PeerEvent::Kind::kAdded),
               Field(&PeerEvent::peer, Field(&Peer::name, std::string(name))));
}

auto RemovedNamed(absl::string_view name, RemovalReason reason) {
  return AllOf(Field(&PeerEvent::kind, PeerEvent::Kind::kRemoved),
               Field(&PeerEvent::peer, Field(&Peer::name, std::string(name))),
               Field(&PeerEvent::reason, reason));
}

TEST(PeerTable, AddsOnTheFirstAnnouncementAndRefreshesOnLaterOnes) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  EXPECT_EQ(table.OnAnnouncement(From(2, "two"), kStart, &events), Verdict::kAdded);
  EXPECT_THAT(events, ElementsAre(AddedNamed("two")));
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(2, "two"), kStart + kRate, &events),
            Verdict::kRefreshed);
  EXPECT_THAT(events, IsEmpty());
  ASSERT_NE(table.Find(2), nullptr);
  EXPECT_EQ(table.Find(2)->last_heard, kStart + kRate);
  EXPECT_EQ(table.Find(2)->data_address, At(5000));
  EXPECT_EQ(table.counters().added, 1u);
  EXPECT_EQ(table.counters().refreshed, 1u);
}

// Expire, with the probes it asks for appended to `probes`.
void ExpireAt(PeerTable& table, absl::Time now, std::vector<PeerEvent>* events,
              std::vector<Peer>* probes = nullptr) {
  std::vector<Peer> ignored;
  table.Expire(now, events, probes ? probes : &ignored);
}

TEST(PeerTable, SuspectsAPeerSilentForItsRateTimesTheMultiplierAndRemovesItAPeriodLater) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  Sender slow = From(3, "three", 5001);
  slow.rate = 5 * kRate;
  table.OnAnnouncement(slow, kStart, &events);
  events.clear();
  EXPECT_EQ(table.NextExpiry(), kStart + 2 * kRate);
  std::vector<Peer> probes;
  ExpireAt(table, kStart + 2 * kRate - absl::Nanoseconds(1), &events, &probes);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_THAT(probes, IsEmpty());
  // Silent for two periods: probed at once, then probes_per_period times over one
  // more period.
  const int per_period = PeerTable::Options{}.probes_per_period;
  ExpireAt(table, kStart + 2 * kRate, &events, &probes);
  EXPECT_THAT(events, IsEmpty());
  ASSERT_EQ(probes.size(), 1u);
  EXPECT_EQ(probes[0].name, "two");
  EXPECT_TRUE(table.Suspected(2));
  EXPECT_EQ(table.NextExpiry(), kStart + 2 * kRate + kRate / per_period);
  for (absl::Time t = kStart + 2 * kRate + kRate / per_period; t < kStart + 3 * kRate;
       t += kRate / per_period) {
    ExpireAt(table, t, &events, &probes);
  }
  EXPECT_EQ(probes.size(), static_cast<size_t>(per_period));
  EXPECT_THAT(events, IsEmpty());
  ExpireAt(table, kStart + 3 * kRate, &events, &probes);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kExpired)));
  // The slow peer is judged by its own rate, not ours.
  EXPECT_EQ(table.NextExpiry(), kStart + 10 * kRate);
  events.clear();
  ExpireAt(table, kStart + 10 * kRate, &events);
  ExpireAt(table, kStart + 15 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("three", RemovalReason::kExpired)));
  EXPECT_EQ(table.NextExpiry(), std::nullopt);
  EXPECT_EQ(table.counters().removed_expired, 2u);
  EXPECT_EQ(table.counters().suspected, 2u);
}

TEST(PeerTable, ASignOfLifeClearsASuspicion) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  events.clear();
  ExpireAt(table, kStart + 2 * kRate, &events);
  ASSERT_TRUE(table.Suspected(2));
  // An answer to a probe, or frames of a live session.
  table.OnSignOfLife(2, kStart + 2 * kRate + kRate / 2);
  EXPECT_FALSE(table.Suspected(2));
  ExpireAt(table, kStart + 3 * kRate, &events);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.NextExpiry(), kStart + 4 * kRate + kRate / 2);
  EXPECT_EQ(table.counters().suspicions_refuted, 1u);
}

TEST(PeerTable, ARefreshPostponesExpiry) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  EXPECT_EQ(table.Refresh(From(2, "two"), kStart + kRate), Verdict::kRefreshed);
  events.clear();
  ExpireAt(table, kStart + 2 * kRate, &events);
  EXPECT_FALSE(table.Suspected(2));
  ExpireAt(table, kStart + 3 * kRate, &events);
  EXPECT_TRUE(table.Suspected(2));
  ExpireAt(table, kStart + 4 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kExpired)));
}

TEST(PeerTable, WordsAnyoneCanRepeatKeepAPeerOnlySoLongWithoutAProof) {
  PeerTable table(Ours());  // multiplier 2, unproven_periods 4: proofs every 8 periods
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  table.OnAnnouncement(From(3, "three", 5001), kStart, &events);
  events.clear();
  // Announcements not proven, and records, every half period: not silent, but
  // unproven since kStart.
  absl::Time now = kStart;
  std::vector<Peer> probes;
  for (; now < kStart + 8 * kRate; now += kRate / 2) {
    EXPECT_EQ(table.Refresh(From(2, "two"), now), Verdict::kRefreshed);
    EXPECT_EQ(table.Refresh(From(3, "three", 5001), now), Verdict::kRefreshed);
    ExpireAt(table, now, &events, &probes);
  }
  EXPECT_FALSE(table.Suspected(2));
  EXPECT_EQ(table.NextExpiry(), kStart + 8 * kRate);
  ExpireAt(table, now, &events, &probes);
  ASSERT_TRUE(table.Suspected(2));
  EXPECT_EQ(probes.size(), 2u);
  // Three answers a probe: proven, it is kept for eight more periods; two does not,
  // and what is said in its name does not save it.
  table.OnSignOfLife(3, now + absl::Milliseconds(1));
  for (const absl::Time end = now + kRate; now <= end; now += kRate / 4) {
    EXPECT_EQ(table.Refresh(From(2, "two"), now), Verdict::kRefreshed);
    ExpireAt(table, now, &events, &probes);
  }
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kExpired)));
  EXPECT_FALSE(table.Suspected(3));
  EXPECT_EQ(table.Find(3)->last_proven, kStart + 8 * kRate + absl::Milliseconds(1));
}

TEST(PeerTable, AnAnnouncementNotProvenNeitherAddsNorReplaces) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  EXPECT_EQ(table.Refresh(From(2, "two"), kStart), Verdict::kUnverified);
  EXPECT_EQ(table.size(), 0u);
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  EXPECT_EQ(table.Refresh(From(2, "two", 6000), kStart), Verdict::kUnverified);
  EXPECT_EQ(table.Refresh(From(2, "two-b"), kStart), Verdict::kUnverified);
  EXPECT_EQ(table.Find(2)->data_address, At(5000));
  EXPECT_EQ(table.Find(2)->name, "two");
  EXPECT_THAT(events, ElementsAre(AddedNamed("two")));
}

TEST(PeerTable, ClampsAnnouncedRatesToTheConfiguredRange) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  Sender forever = From(2, "two");
  forever.rate = absl::Milliseconds(uint64_t{0xffffffff});
  table.OnAnnouncement(forever, kStart, &events);
  EXPECT_EQ(table.Find(2)->rate, absl::Hours(1));
  Sender restless = From(3, "three", 5001);
  restless.rate = absl::Milliseconds(1);
  table.OnAnnouncement(restless, kStart, &events);
  EXPECT_EQ(table.Find(3)->rate, absl::Milliseconds(10));
  EXPECT_EQ(table.counters().rates_clamped, 2u);
}

TEST(PeerTable, AGoodbyeHasThePeerProbedAndRemovesItOnlyWhenItStaysSilent) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  events.clear();
  EXPECT_FALSE(table.OnGoodbye(kNetwork, 2, "impostor", kStart));
  EXPECT_FALSE(table.OnGoodbye(kNetwork + 1, 2, "two", kStart));
  EXPECT_FALSE(table.OnGoodbye(kNetwork, 9, "nine", kStart));
  EXPECT_FALSE(table.Suspected(2));
  // A forged goodbye: the peer answers the probe and stays.
  ASSERT_TRUE(table.OnGoodbye(kNetwork, 2, "two", kStart));
  std::vector<Peer> probes;
  ExpireAt(table, kStart, &events, &probes);
  EXPECT_EQ(probes.size(), 1u);
  table.OnSignOfLife(2, kStart + absl::Milliseconds(1));
  ExpireAt(table, kStart + kRate, &events);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.counters().goodbyes_refuted, 1u);
  // A real one: removed once the window (at most the peer's rate) has passed.
  ASSERT_TRUE(table.OnGoodbye(kNetwork, 2, "two", kStart + kRate));
  ExpireAt(table, kStart + 2 * kRate - absl::Nanoseconds(1), &events);
  EXPECT_THAT(events, IsEmpty());
  ExpireAt(table, kStart + 2 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kGoodbye)));
  EXPECT_EQ(table.size(), 0u);
  EXPECT_EQ(table.counters().removed_goodbye, 1u);
}

TEST(PeerTable, IgnoresAndCountsAnotherNetworkAndItself) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  EXPECT_EQ(table.OnAnnouncement(From(2, "two", 5000, kNetwork + 1), kStart, &events),
            Verdict::kIgnoredForeignNetwork);
  EXPECT_EQ(table.OnAnnouncement(From(1, "self"), kStart, &events), Verdict::kIgnoredOwn);
  EXPECT_EQ(table.OnAnnouncement(From(1, "other-instance"), kStart, &events),
            Verdict::kIgnoredOwnIdClash);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.counters().ignored_foreign_network, 1u);
  EXPECT_EQ(table.counters().ignored_own, 1u);
  EXPECT_EQ(table.counters().ignored_own_id_clash, 1u);
}

TEST(PeerTable, ANewcomerWithALiveNameIsIgnoredUntilTheOwnerLeaves) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(3, "two", 5001), kStart, &events),
            Verdict::kIgnoredNameClash);
  EXPECT_EQ(table.OnAnnouncement(From(4, "self", 5002), kStart, &events),
            Verdict::kIgnoredNameClash);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.Find(2)->data_address, At(5000));
  EXPECT_EQ(table.counters().ignored_name_clash, 2u);
  table.OnGoodbye(kNetwork, 2, "two", kStart);
  ExpireAt(table, kStart + kRate, &events);
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(3, "two", 5001), kStart + kRate, &events),
            Verdict::kAdded);
  EXPECT_THAT(events, ElementsAre(AddedNamed("two")));
  EXPECT_EQ(table.Find(3)->data_address, At(5001));
}

TEST(PeerTable, AFloodOfForgedIdsWithALiveNameOrOursChangesNothingAndIsCounted) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  // 5000 ids, more than max_peers (4096), and 5000 names under our id.
  for (uint64_t i = 0; i < 5000; ++i) {
    table.OnAnnouncement(From(1000 + i, "two"), kStart + absl::Milliseconds(i), &events);
    table.OnAnnouncement(From(1, absl::StrCat("forged-", i)), kStart, &events);
  }
  EXPECT_EQ(table.counters().ignored_name_clash, 5000u);
  EXPECT_EQ(table.counters().ignored_own_id_clash, 5000u);
  EXPECT_EQ(table.size(), 1u);
  EXPECT_THAT(events, ElementsAre(AddedNamed("two")));
}

TEST(PeerTable, ARestartWithTheSameIdAtANewAddressReplacesTheOldEntry) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(2, "two", 6000), kStart + kRate, &events),
            Verdict::kReplaced);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kReplaced),
                                  AddedNamed("two")));
  EXPECT_EQ(table.Find(2)->data_address, At(6000));
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(2, "two-b", 6000), kStart + 2 * kRate, &events),
            Verdict::kReplaced);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kReplaced),
                                  AddedNamed("two-b")));
  EXPECT_EQ(table.counters().removed_replaced, 2u);
}

TEST(PeerTable, OneAddressHoldsOneEntryWhateverIdsProveIt) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  ASSERT_EQ(table.OnAnnouncement(From(2, "two"), kStart, &events), Verdict::kAdded);
  // An endpoint restarted under a new id at the same address, or one socket answering
  // for many ids: each replaces the last.
  for (uint64_t id = 3; id < 5000; ++id) {
    ASSERT_EQ(table.OnAnnouncement(From(id, absl::StrCat("n", id)), kStart, &events),
              Verdict::kReplaced);
  }
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.Peers()[0].id, 4999u);
  EXPECT_EQ(table.counters().removed_replaced, 4997u);
  EXPECT_EQ(table.counters().ignored_table_full, 0u);
}

TEST(PeerTable, RendezvousRecordsNeverMoveTimeBackNorReplace) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  // A record of an endpoint we do not know is for the caller to verify.
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart), Verdict::kUnverified);
  EXPECT_EQ(table.size(), 0u);
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart - kRate), Verdict::kIgnoredStale);
  EXPECT_EQ(table.Find(2)->last_heard, kStart);
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart + kRate), Verdict::kRefreshed);
  EXPECT_EQ(table.Find(2)->last_heard, kStart + kRate);
  events.clear();
  EXPECT_EQ(table.OnPeerRecord(From(2, "two", 7000), kStart + 2 * kRate),
            Verdict::kIgnoredStale);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.Find(2)->data_address, At(5000));
}

TEST(PeerTable, APeerKnownFromRecordsIsJudgedAtOurOwnPaceWhenSlower) {
  PeerTable::Options options = Ours();
  options.own_rate = 10 * kRate;  // records come only this often
  PeerTable table(options);
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart - kRate, &events);
  table.OnPeerRecord(From(2, "two"), kStart);
  EXPECT_EQ(table.Find(2)->rate, 10 * kRate);
  EXPECT_EQ(table.NextExpiry(), kStart + 20 * kRate);
  // Heard directly, it is judged by its own rate again.
  table.OnAnnouncement(From(2, "two"), kStart + kRate, &events);
  EXPECT_EQ(table.NextExpiry(), kStart + 3 * kRate);
}

TEST(PeerTable, HoldsAtMostMaxPeersAndCountsTheRest) {
  PeerTable::Options options = Ours();
  options.max_peers = 2;
  PeerTable table(options);
  std::vector<PeerEvent> events;
  EXPECT_EQ(table.OnAnnouncement(From(2, "two"), kStart, &events), Verdict::kAdded);
  EXPECT_EQ(table.OnAnnouncement(From(3, "three", 5003), kStart, &events),
            Verdict::kAdded);
  EXPECT_EQ(table.OnAnnouncement(From(4, "four", 5004), kStart, &events),
            Verdict::kIgnoredTableFull);
  EXPECT_EQ(table.OnAnnouncement(From(2, "two"), kStart, &events), Verdict::kRefreshed);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.counters().ignored_table_full, 1u);
}

TEST(PeerTable, ListsPeersByIdAndNamesEveryRemovalReason) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(9, "nine", 5009), kStart, &events);
  table.OnAnnouncement(From(3, "three", 5003), kStart, &events);
  const std::vector<Peer> peers = table.Peers();
  ASSERT_EQ(peers.size(), 2u);
  EXPECT_EQ(peers[0].id, 3u);
  EXPECT_EQ(peers[1].id, 9u);
  EXPECT_EQ(RemovalReasonName(RemovalReason::kExpired), "expired");
  EXPECT_EQ(RemovalReasonName(RemovalReason::kGoodbye), "goodbye");
  EXPECT_EQ(RemovalReasonName(RemovalReason::kReplaced), "replaced");
}

}  // namespace
}  // namespace glue::discovery
