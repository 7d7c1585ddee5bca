#include "glue/discovery/peer_table.h"

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace glue::discovery {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
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

TEST(PeerTable, ExpiresAPeerSilentForItsRateTimesTheMultiplier) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  Sender slow = From(3, "three", 5001);
  slow.rate = 5 * kRate;
  table.OnAnnouncement(slow, kStart, &events);
  events.clear();
  EXPECT_EQ(table.NextExpiry(), kStart + 2 * kRate);
  table.Expire(kStart + 2 * kRate - absl::Nanoseconds(1), &events);
  EXPECT_THAT(events, IsEmpty());
  table.Expire(kStart + 2 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kExpired)));
  // The slow peer is judged by its own rate, not ours.
  EXPECT_EQ(table.NextExpiry(), kStart + 10 * kRate);
  events.clear();
  table.Expire(kStart + 10 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("three", RemovalReason::kExpired)));
  EXPECT_EQ(table.NextExpiry(), std::nullopt);
  EXPECT_EQ(table.counters().removed_expired, 2u);
}

TEST(PeerTable, ARefreshPostponesExpiry) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  table.OnAnnouncement(From(2, "two"), kStart + kRate, &events);
  events.clear();
  table.Expire(kStart + 2 * kRate, &events);
  EXPECT_THAT(events, IsEmpty());
  table.Expire(kStart + 3 * kRate, &events);
  EXPECT_THAT(events, ElementsAre(RemovedNamed("two", RemovalReason::kExpired)));
}

TEST(PeerTable, GoodbyeRemovesAtOnceButOnlyFromTheNamedPeer) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  events.clear();
  EXPECT_FALSE(table.OnGoodbye(kNetwork, 2, "impostor", &events));
  EXPECT_FALSE(table.OnGoodbye(kNetwork + 1, 2, "two", &events));
  EXPECT_FALSE(table.OnGoodbye(kNetwork, 9, "nine", &events));
  EXPECT_THAT(events, IsEmpty());
  EXPECT_TRUE(table.OnGoodbye(kNetwork, 2, "two", &events));
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
  table.OnGoodbye(kNetwork, 2, "two", &events);
  events.clear();
  EXPECT_EQ(table.OnAnnouncement(From(3, "two", 5001), kStart + kRate, &events),
            Verdict::kAdded);
  EXPECT_THAT(events, ElementsAre(AddedNamed("two")));
  EXPECT_EQ(table.Find(3)->data_address, At(5001));
}

// Warnings returns the lines of `log` that contain `text`.
std::vector<std::string> Warnings(const std::string& log, absl::string_view text) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(log, '\n')) {
    if (absl::StrContains(line, text)) lines.emplace_back(line);
  }
  return lines;
}

TEST(PeerTable, AFloodOfForgedIdsWithALiveNameGivesALinePerPeriodNotPerId) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  table.OnAnnouncement(From(2, "two"), kStart, &events);
  ::testing::internal::CaptureStderr();
  // 5000 ids in 5 s, more than max_peers (4096).
  for (uint64_t i = 0; i < 5000; ++i) {
    table.OnAnnouncement(From(1000 + i, "two"), kStart + absl::Milliseconds(i), &events);
  }
  table.OnAnnouncement(From(9999, "two"), kStart + absl::Seconds(11), &events);
  const std::vector<std::string> lines =
      Warnings(::testing::internal::GetCapturedStderr(), "belongs to live endpoint id 2");
  EXPECT_EQ(table.counters().ignored_name_clash, 5001u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_THAT(lines[0], HasSubstr("endpoint id 1000 "));
  EXPECT_THAT(lines[0], HasSubstr("; 1 such announcements"));
  EXPECT_THAT(lines[1], HasSubstr("endpoint id 9999 "));
  EXPECT_THAT(lines[1], HasSubstr("; 5000 such announcements"));
}

TEST(PeerTable, AFloodUsingOurIdGivesALinePerPeriod) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 5000; ++i) {
    table.OnAnnouncement(From(1, absl::StrCat("forged-", i)),
                         kStart + absl::Milliseconds(i), &events);
  }
  const std::vector<std::string> lines =
      Warnings(::testing::internal::GetCapturedStderr(), "uses our endpoint id 1");
  EXPECT_EQ(table.counters().ignored_own_id_clash, 5000u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("'forged-0'"));
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

TEST(PeerTable, RendezvousRecordsNeverMoveTimeBackNorReplace) {
  PeerTable table(Ours());
  std::vector<PeerEvent> events;
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart, &events), Verdict::kAdded);
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart - kRate, &events),
            Verdict::kIgnoredStale);
  EXPECT_EQ(table.Find(2)->last_heard, kStart);
  EXPECT_EQ(table.OnPeerRecord(From(2, "two"), kStart + kRate, &events),
            Verdict::kRefreshed);
  EXPECT_EQ(table.Find(2)->last_heard, kStart + kRate);
  events.clear();
  EXPECT_EQ(table.OnPeerRecord(From(2, "two", 7000), kStart + 2 * kRate, &events),
            Verdict::kIgnoredStale);
  EXPECT_THAT(events, IsEmpty());
  EXPECT_EQ(table.Find(2)->data_address, At(5000));
}

TEST(PeerTable, APeerKnownFromRecordsIsJudgedAtOurOwnPaceWhenSlower) {
  PeerTable::Options options = Ours();
  options.own_rate = 10 * kRate;  // records come only this often
  PeerTable table(options);
  std::vector<PeerEvent> events;
  table.OnPeerRecord(From(2, "two"), kStart, &events);
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
  EXPECT_EQ(table.OnAnnouncement(From(3, "three"), kStart, &events), Verdict::kAdded);
  EXPECT_EQ(table.OnAnnouncement(From(4, "four"), kStart, &events),
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
