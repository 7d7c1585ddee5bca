#include "glue/discovery/discovery.h"

#include <stdlib.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/run_until.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/dnsmasq.h"
#include "glue/discovery/function_listener.h"
#include "glue/discovery/loopback_network.h"
#include "glue/discovery/peers_file.h"
#include "glue/network/interfaces.h"
#include "glue/network/udp_socket.h"

namespace glue::discovery {
namespace {

using ::glue::testing::RunFor;
using ::glue::testing::RunUntil;
using ::glue::testing::StatusIs;
using network::Address;
using ::testing::AllOf;
using ::testing::HasSubstr;

// What one endpoint under test saw.
struct Seen {
  std::map<std::string, Peer> peers;
  std::vector<std::pair<std::string, RemovalReason>> removed;
};

// A loopback network of discovery endpoints, on a group, port and network id of its
// own so that tests running at the same time never hear each other.
class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<testing::LoopbackNetwork> network =
        testing::LoopbackNetwork::Make(io_);
    if (absl::IsFailedPrecondition(network.status())) {
      GLUE_SKIP_UNLESS_CI(network.status().message());
    }
    ASSERT_OK(network);
    network_ = *network;
    network_id_ = network_.network_id;
    port_ = network_.port;
  }

  Config MulticastConfig(uint64_t id, const std::string& name) {
    return network_.MulticastConfig(id, name);
  }

  // Starts an endpoint whose events go to seen_[name].
  Discovery* Add(const Config& config, Discovery::Options options = {}) {
    Seen* seen = &seen_[config.endpoint_name];
    testing::FunctionListener& callbacks = Listener();
    callbacks.on_added = [seen](const Peer& p) { seen->peers[p.name] = p; };
    callbacks.on_removed = [seen](const Peer& p, RemovalReason why) {
      seen->peers.erase(p.name);
      seen->removed.emplace_back(p.name, why);
    };
    auto discovery =
        Discovery::Create(boost::asio::make_strand(io_), config, std::move(options));
    EXPECT_OK(discovery);
    if (!discovery.ok()) return nullptr;
    EXPECT_OK((*discovery)->Start(&callbacks));
    endpoints_.push_back(*std::move(discovery));
    return endpoints_.back().get();
  }

  // Whether every endpoint sees exactly all the others.
  bool AllSeeAllOthers() {
    for (const auto& endpoint : endpoints_) {
      const Seen& seen = seen_[endpoint->config().endpoint_name];
      if (seen.peers.size() != endpoints_.size() - 1) return false;
    }
    return true;
  }

  // Copy returns the bytes of a datagram an encoder wrote, which the encoder's next
  // call overwrites.
  static std::vector<uint8_t> Copy(
      const absl::StatusOr<absl::Span<const uint8_t>>& datagram) {
    EXPECT_OK(datagram);
    if (!datagram.ok()) return {};
    return std::vector<uint8_t>(datagram->begin(), datagram->end());
  }

  // Sends `bytes` to the discovery group from a socket of its own.
  void SendToGroup(absl::Span<const uint8_t> bytes) {
    network::UdpSocketOptions options;
    options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
    options.interface = "lo";
    auto socket = network::UdpSocket::Open(io_.get_executor(), options);
    ASSERT_OK(socket);
    ASSERT_OK((*socket)->Send(network_.group_address(), bytes));
  }

  // Ghost is an endpoint made by hand, on a socket of its own: it announces when told
  // to, and echoes every challenge it receives until it falls silent.
  struct Ghost {
    std::unique_ptr<network::UdpSocket> socket;
    serialization::DatagramEncoder encoder;
    serialization::DatagramDecoder decoder;
    serialization::DecodedDatagram decoded;
    serialization::Header header;
    std::string name;
    uint32_t rate_milliseconds = 100;
    bool silent = false;
    int received = 0;
    int echoes = 0;

    std::vector<uint8_t> Announcement(uint64_t echo = 0) {
      return Copy(
          encoder.EncodeAnnouncement(header, {.data_address = socket->local_address(),
                                              .rate_milliseconds = rate_milliseconds,
                                              .echo = echo}));
    }
  };

  std::unique_ptr<Ghost> MakeGhost(uint64_t id, const std::string& name) {
    auto encoder = serialization::DatagramEncoder::Create(1472);
    EXPECT_OK(encoder);
    auto ghost = std::unique_ptr<Ghost>(new Ghost{
        .encoder = *std::move(encoder), .decoder = serialization::DatagramDecoder()});
    ghost->name = name;
    ghost->header = {.network_id = network_id_, .endpoint_id = id};
    ghost->header.endpoint_name = ghost->name;
    network::UdpSocketOptions options;
    options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
    options.interface = "lo";
    auto socket = network::UdpSocket::Open(io_.get_executor(), options);
    EXPECT_OK(socket);
    ghost->socket = *std::move(socket);
    Ghost* g = ghost.get();
    EXPECT_OK(g->socket->Start([g](const network::ReceivedDatagram& d) {
      ++g->received;
      if (g->silent || !g->decoder.Decode(d.bytes, &g->decoded).ok()) return;
      if (g->decoded.kind != serialization::DecodedDatagram::Kind::kAnnouncement ||
          g->decoded.announcement.challenge == 0) {
        return;
      }
      ++g->echoes;
      EXPECT_OK(
          g->socket->Send(d.source, g->Announcement(g->decoded.announcement.challenge)));
    }));
    return ghost;
  }

  boost::asio::io_context io_;
  testing::LoopbackNetwork network_;
  uint64_t network_id_ = 0;
  unsigned short port_ = 0;
  std::map<std::string, Seen> seen_;
  // Listeners outlive the endpoints that call them.
  std::vector<std::unique_ptr<testing::FunctionListener>> listeners_;
  std::vector<std::unique_ptr<Discovery>> endpoints_;

  testing::FunctionListener& Listener() {
    return *listeners_.emplace_back(std::make_unique<testing::FunctionListener>());
  }
};

TEST_F(DiscoveryTest, MulticastEndpointsSeeEachOtherWithTheirDataAddresses) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  Discovery* b = Add(MulticastConfig(12, "b"));
  Discovery* c = Add(MulticastConfig(13, "c"));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  EXPECT_EQ(seen_["a"].peers["b"].data_address, b->data_address());
  EXPECT_EQ(seen_["b"].peers["c"].data_address, c->data_address());
  EXPECT_EQ(seen_["c"].peers["a"].id, 11u);
  EXPECT_EQ(a->peers().size(), 2u);
  EXPECT_EQ(a->data_address().address(), boost::asio::ip::make_address("127.0.0.1"));
  EXPECT_GT(a->counters().announcements_sent, 0u);
}

TEST_F(DiscoveryTest, FastJoinMakesPeersKnownLongBeforeAPeriod) {
  Config a = MulticastConfig(11, "a");
  Config b = MulticastConfig(12, "b");
  a.rate = b.rate = absl::Seconds(30);
  Add(a);
  RunFor(io_, std::chrono::milliseconds(20));  // a's first announcement is gone
  Add(b);
  // b announces once at start; a answers by unicast: both know each other although
  // the next periodic announcement is 30 s away.
  ASSERT_TRUE(RunUntil(
      io_, [&] { return AllSeeAllOthers(); }, std::chrono::seconds(5)));
  EXPECT_GT(endpoints_[0]->counters().challenges_sent, 0u);
  EXPECT_GT(endpoints_[0]->counters().verified, 0u);
}

TEST_F(DiscoveryTest, GoodbyeRemovesAtOnce) {
  Config a = MulticastConfig(11, "a");
  Config b = MulticastConfig(12, "b");
  a.rate = b.rate = absl::Seconds(10);  // expiry would take 20 s
  Add(a);
  Add(b);
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  endpoints_[1]->Stop();
  ASSERT_TRUE(RunUntil(
      io_, [&] { return !seen_["a"].removed.empty(); }, std::chrono::seconds(5)));
  EXPECT_EQ(seen_["a"].removed[0],
            std::make_pair(std::string("b"), RemovalReason::kGoodbye));
  EXPECT_GT(endpoints_[1]->counters().goodbyes_sent, 0u);
}

TEST_F(DiscoveryTest, ASilentPeerExpiresAfterItsRateTimesTheMultiplier) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  // An endpoint that announces once, with a 100 ms rate, echoes the challenge, and
  // then falls silent.
  std::unique_ptr<Ghost> ghost = MakeGhost(99, "ghost");
  SendToGroup(ghost->Announcement());
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_["a"].peers.count("ghost") == 1; }));
  ghost->silent = true;
  const auto added = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil(io_, [&] { return !seen_["a"].removed.empty(); }));
  const auto elapsed = std::chrono::steady_clock::now() - added;
  EXPECT_EQ(seen_["a"].removed[0],
            std::make_pair(std::string("ghost"), RemovalReason::kExpired));
  // Silent for 2 periods, then probed over one more: 300 ms, less scheduling slack.
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
  // Probed before it was removed; how often is counted exactly on a simulated clock
  // (DiscoverySimulatedTest), as a loaded machine's scheduler may merge probes here.
  EXPECT_GT(a->counters().probes_sent, 0u);
}

TEST_F(DiscoveryTest, AnAnnouncementNotEchoedAddsNoOne) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  std::unique_ptr<Ghost> ghost = MakeGhost(99, "ghost");
  ghost->silent = true;  // its address does not answer: a forgery, or a dead socket
  for (int i = 0; i < 5; ++i) SendToGroup(ghost->Announcement());
  ASSERT_TRUE(RunUntil(io_, [&] { return a->counters().challenges_sent >= 5; }));
  RunFor(io_, std::chrono::milliseconds(200));
  EXPECT_TRUE(seen_["a"].peers.empty());
  // The challenge was sent again, as under loss, but the address that never answered
  // got at most three datagrams for each it sent, and then no more.
  EXPECT_GT(a->counters().challenges_resent, 0u);
  EXPECT_EQ(ghost->received,
            a->counters().challenges_sent + a->counters().challenges_resent);
  EXPECT_LE(ghost->received, 3 * 5);
  const int received = ghost->received;
  RunFor(io_, std::chrono::milliseconds(300));
  EXPECT_EQ(ghost->received, received);
  // An echo of a challenge that was not ours proves nothing either.
  SendToGroup(ghost->Announcement(/*echo=*/12345));
  RunFor(io_, std::chrono::milliseconds(100));
  EXPECT_TRUE(seen_["a"].peers.empty());
  EXPECT_EQ(a->counters().verified, 0u);
}

TEST_F(DiscoveryTest, AnnouncementsListingThousandsOfInventedPeersCostLittle) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  // A real endpoint (it echoes our challenge) that lies: its own rate is 2^32 - 1 ms,
  // and it lists 4096 endpoints that do not exist, half at one victim's address, half
  // at addresses of their own, each announcing every 2^32 - 1 ms.
  std::unique_ptr<Ghost> liar = MakeGhost(99, "liar");
  liar->rate_milliseconds = 0xffffffff;
  SendToGroup(liar->Announcement());
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_["a"].peers.count("liar") == 1; }));
  EXPECT_EQ(seen_["a"].peers["liar"].rate, absl::Hours(1)) << "clamped";
  std::unique_ptr<Ghost> victim = MakeGhost(98, "victim");
  victim->silent = true;
  ASSERT_OK_AND_ASSIGN(auto encoder, serialization::DatagramEncoder::Create(65507));
  std::vector<std::string> names;
  std::vector<serialization::PeerRecord> records;
  for (int i = 0; i < 4096; ++i) names.push_back(absl::StrCat("invented-", i));
  for (int i = 0; i < 4096; ++i) {
    records.push_back(
        {.endpoint_id = 1000u + i,
         .endpoint_name = names[i],
         .data_address = i % 2 == 0 ? victim->socket->local_address()
                                    : Address(boost::asio::ip::make_address("127.0.0.1"),
                                              static_cast<unsigned short>(20000 + i)),
         .rate_milliseconds = 0xffffffff});
  }
  const uint64_t challenges_before = a->counters().challenges_sent;
  for (int part = 0; part < 5; ++part) {
    const size_t first = records.size() * part / 5;
    const size_t last = records.size() * (part + 1) / 5;
    SendToGroup(Copy(encoder.EncodeAnnouncement(
        liar->header,
        {.data_address = liar->socket->local_address(),
         .rate_milliseconds = liar->rate_milliseconds,
         .known_peers = absl::MakeConstSpan(records.data() + first, last - first)})));
  }
  ASSERT_TRUE(RunUntil(
      io_, [&] { return a->counters().introductions_deferred >= 4096 - 5 * 64; }));
  RunFor(io_, std::chrono::milliseconds(100));  // two of a's periods
  // Nobody was added, named or sent data; a challenged at most 64 addresses per
  // announcement, and the victim's address once per period.
  EXPECT_EQ(seen_["a"].peers.size(), 1u);
  const uint64_t challenges = a->counters().challenges_sent - challenges_before;
  EXPECT_LE(challenges, 5u * 64);
  EXPECT_LE(victim->received, 3);
  EXPECT_GE(a->counters().peers.rates_clamped, 1u);
}

TEST_F(DiscoveryTest, AFloodOfClashingAnnouncementsLogsALinePerPeriodNotPerDatagram) {
  Add(MulticastConfig(11, "a"));
  Discovery* b = Add(MulticastConfig(12, "b"));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  std::unique_ptr<Ghost> forger = MakeGhost(1000, "b");
  ::testing::internal::CaptureStderr();
  for (uint64_t id = 1000; id < 1000 + 4096; ++id) {
    forger->header.endpoint_id = id;  // 4096 ids under b's name
    ASSERT_OK(forger->socket->Send(network_.group_address(), forger->Announcement()));
    if (id % 64 == 0) RunFor(io_, std::chrono::milliseconds(1));  // no kernel drops
  }
  // The kernel may drop some under a slow build (sanitizers): most must come.
  if (!RunUntil(
          io_, [&] { return endpoints_[0]->counters().peers.ignored_name_clash >= 4096; },
          std::chrono::seconds(2))) {
    std::printf("the kernel dropped some of the flood\n");
  }
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_GE(endpoints_[0]->counters().peers.ignored_name_clash, 1000u);
  int lines = 0;
  for (size_t at = log.find("ignoring"); at != std::string::npos;
       at = log.find("ignoring", at + 1)) {
    ++lines;
  }
  EXPECT_LE(lines, 4) << log;  // a line per endpoint (a, b) per 10 s period
  EXPECT_GE(lines, 1) << log;
  EXPECT_EQ(seen_["a"].peers["b"].id, b->config().endpoint_id);
}

TEST_F(DiscoveryTest, AnEndpointOfThePreviousProtocolIsRefusedWithOneLogLinePerPeriod) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  // What a 2.0 endpoint sends: its announcements, well formed but of major version 2.
  std::unique_ptr<Ghost> old = MakeGhost(98, "old");
  old->header.protocol_major = 2;
  ::testing::internal::CaptureStderr();
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(old->socket->Send(network_.group_address(), old->Announcement()));
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return a->counters().other_version >= 100; }));
  const std::string log = ::testing::internal::GetCapturedStderr();
  size_t lines = 0;
  for (size_t at = log.find("protocol major version 2 is not supported");
       at != std::string::npos;
       at = log.find("protocol major version 2 is not supported", at + 1)) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;
  EXPECT_NE(log.find("this endpoint speaks 3.0"), std::string::npos) << log;
  EXPECT_TRUE(seen_["a"].peers.empty());
  EXPECT_EQ(old->received, 0) << "nothing is sent to an endpoint we cannot talk to";
}

TEST_F(DiscoveryTest, AForgedAnnouncementReservesNoName) {
  Add(MulticastConfig(11, "a"));
  // Announcements in the name of an endpoint that has not started yet, from an
  // address that never answers.
  std::unique_ptr<Ghost> forger = MakeGhost(98, "late");
  forger->silent = true;
  for (int i = 0; i < 3; ++i) SendToGroup(forger->Announcement());
  RunFor(io_, std::chrono::milliseconds(50));
  Add(MulticastConfig(12, "late"));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  EXPECT_EQ(seen_["a"].peers["late"].id, 12u);
}

TEST_F(DiscoveryTest, AnnouncementsReplayedAfterAnEndpointDiedDoNotKeepIt) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  // Two endpoints announcing every 100 ms that prove themselves once; then "dead"
  // stops answering, and both have their announcements repeated every 50 ms by
  // whoever heard them.
  std::unique_ptr<Ghost> dead = MakeGhost(98, "dead");
  std::unique_ptr<Ghost> quiet = MakeGhost(99, "quiet");
  SendToGroup(dead->Announcement());
  SendToGroup(quiet->Announcement());
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_["a"].peers.size() == 2; }));
  dead->silent = true;
  const auto died = std::chrono::steady_clock::now();
  const auto give_up = died + std::chrono::seconds(5);
  while (seen_["a"].peers.count("dead") == 1 &&
         std::chrono::steady_clock::now() < give_up) {
    SendToGroup(dead->Announcement());
    SendToGroup(quiet->Announcement());
    RunFor(io_, std::chrono::milliseconds(50));
  }
  // Not proven for 4 x its rate x the multiplier (800 ms), then probed for one more
  // period: removed within about 900 ms of its last proof, however many
  // announcements came meanwhile.
  ASSERT_EQ(seen_["a"].peers.count("dead"), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - died, std::chrono::milliseconds(2500));
  ASSERT_EQ(seen_["a"].removed.size(), 1u);
  EXPECT_EQ(seen_["a"].removed[0].second, RemovalReason::kExpired);
  // The one that still answers was probed as well, and stays.
  for (int i = 0; i < 6; ++i) {
    SendToGroup(quiet->Announcement());
    RunFor(io_, std::chrono::milliseconds(50));
  }
  EXPECT_EQ(seen_["a"].peers.count("quiet"), 1u);
  EXPECT_GT(quiet->echoes, 1);
  EXPECT_GE(a->counters().peers.suspicions_refuted, 1u);
}

TEST_F(DiscoveryTest, EndpointsOfAnotherNetworkIdAreIgnoredAndCounted) {
  Add(MulticastConfig(11, "a"));
  Config other = MulticastConfig(12, "b");
  other.network_id = network_id_ + 1;
  Add(other);
  Add(MulticastConfig(13, "c"));
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_["a"].peers.count("c") == 1; }));
  ASSERT_TRUE(RunUntil(
      io_, [&] { return endpoints_[0]->counters().peers.ignored_foreign_network > 0; }));
  EXPECT_EQ(seen_["a"].peers.count("b"), 0u);
  EXPECT_TRUE(seen_["b"].peers.empty());
}

TEST_F(DiscoveryTest, ANewcomerWithALiveNameIsIgnored) {
  Add(MulticastConfig(11, "a"));
  Add(MulticastConfig(12, "b"));
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  Config clash = MulticastConfig(13, "b");  // a second "b" under another id
  auto newcomer = Discovery::Create(boost::asio::make_strand(io_), clash, {});
  ASSERT_OK(newcomer);
  ASSERT_OK((*newcomer)->Start(nullptr));
  ASSERT_TRUE(RunUntil(
      io_, [&] { return endpoints_[0]->counters().peers.ignored_name_clash > 0; }));
  EXPECT_EQ(seen_["a"].peers["b"].id, 12u);
}

TEST_F(DiscoveryTest, CorruptMalformedAndForeignDatagramsAreCountedApart) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  ASSERT_OK_AND_ASSIGN(auto encoder, serialization::DatagramEncoder::Create(1472));
  std::unique_ptr<Ghost> ghost = MakeGhost(12, "ghost");
  const std::vector<uint8_t> announcement = ghost->Announcement();
  // Corrupt: bytes without a checksum, and an announcement with one bit flipped
  // (here in the port), which must never add a peer at a wrong address.
  const uint8_t garbage[] = {0xff, 0x00, 0x13, 0x37};
  SendToGroup(garbage);
  std::vector<uint8_t> flipped = announcement;
  flipped[flipped.size() - 8] ^= 0x01;
  SendToGroup(flipped);
  // Malformed: a name longer than the protocol allows, under a valid checksum (an
  // encoder with a higher limit writes it).
  ASSERT_OK_AND_ASSIGN(auto lax_encoder, serialization::DatagramEncoder::Create(
                                             1472, {.max_name_bytes = 256}));
  const std::string long_name(256, 'n');
  SendToGroup(
      Copy(lax_encoder.EncodeGoodbye({.endpoint_id = 12, .endpoint_name = long_name})));
  // Another major version, well formed.
  SendToGroup(Copy(encoder.EncodeGoodbye(
      {.protocol_major = 9, .endpoint_id = 12, .endpoint_name = "x"})));
  ASSERT_TRUE(RunUntil(io_, [&] {
    const DiscoveryCounters c = a->counters();
    return c.corrupt >= 2 && c.malformed >= 1 && c.other_version >= 1;
  }));
  EXPECT_TRUE(seen_["a"].peers.empty());
  const DiscoveryCounters c = a->counters();
  EXPECT_EQ(c.corrupt, 2u);
  EXPECT_EQ(c.malformed, 1u);
  EXPECT_EQ(c.other_version, 1u);
  // The announcement itself is fine.
  SendToGroup(announcement);
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_["a"].peers.count("ghost") == 1; }));
  EXPECT_EQ(seen_["a"].peers["ghost"].data_address, ghost->socket->local_address());
}

TEST_F(DiscoveryTest, DatagramsCorruptedOnTheWayAreCountedAndDropped) {
  // Every datagram "garbled" sends has one bit flipped (as GLUE_FAULT_CORRUPT=1 asks):
  // the others never see it, and count what they drop.
  Discovery::Options garbling;
  garbling.data_faults = network::FaultOptions{.corrupt = 1.0};
  auto garbled = Discovery::Create(boost::asio::make_strand(io_),
                                   MulticastConfig(11, "garbled"), garbling);
  ASSERT_OK(garbled);
  ASSERT_OK((*garbled)->Start(nullptr));
  Discovery* b = Add(MulticastConfig(12, "b"));
  ASSERT_TRUE(RunUntil(io_, [&] { return b->counters().corrupt >= 3; }));
  EXPECT_TRUE(seen_["b"].peers.empty());
  EXPECT_EQ(b->counters().malformed, 0u);
  // What it receives is intact: it hears b and challenges it, but b never gets the
  // challenge whole, so neither adds the other.
  ASSERT_TRUE(RunUntil(io_, [&] { return (*garbled)->counters().challenges_sent > 0; }));
  EXPECT_TRUE((*garbled)->peers().empty());
}

TEST_F(DiscoveryTest, EndpointsFindEachOtherThroughARendezvous) {
  Config rendezvous = MulticastConfig(10, "rendezvous");
  rendezvous.discovery_target.reset();
  Add(rendezvous);
  for (uint64_t id = 11; id <= 13; ++id) {
    Config client = MulticastConfig(id, absl::StrCat("client", id));
    client.discovery_target = Address(boost::asio::ip::make_address("127.0.0.1"), port_);
    Add(client);
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  EXPECT_EQ(seen_["client11"].peers.count("rendezvous"), 1u);
  EXPECT_EQ(seen_["client11"].peers.count("client13"), 1u);
  EXPECT_GT(endpoints_[0]->counters().answers_sent, 0u);
  EXPECT_EQ(endpoints_[0]->counters().announcements_sent, 0u);
  // A client that leaves says goodbye to everyone it knows.
  endpoints_[3]->Stop();
  ASSERT_TRUE(RunUntil(io_, [&] {
    return seen_["client11"].peers.count("client13") == 0 &&
           seen_["rendezvous"].peers.count("client13") == 0;
  }));
  EXPECT_EQ(seen_["client11"].removed.back().second, RemovalReason::kGoodbye);
}

// KnowEachOtherThroughDns says whether each of `endpoints` has exactly the others as
// peers, each known through the DNS provider alone.
bool KnowEachOtherThroughDns(const std::vector<Discovery*>& endpoints) {
  for (const Discovery* endpoint : endpoints) {
    const std::vector<Peer> peers = endpoint->peers();
    if (peers.size() != endpoints.size() - 1) return false;
    for (const Peer& peer : peers) {
      if (peer.providers != std::vector<std::string>{std::string(kDnsProvider)}) {
        return false;
      }
    }
  }
  return true;
}

TEST_F(DiscoveryTest, WithMulticastOffEndpointsFollowTheDnsRecordsOfTheirName) {
  if (std::string why = testing::WhyNotOnlyLoopback(); !why.empty()) {
    GLUE_SKIP_UNLESS_CI(why);
  }
  absl::StatusOr<std::unique_ptr<testing::Dnsmasq>> dnsmasq = testing::Dnsmasq::Create();
  if (absl::IsFailedPrecondition(dnsmasq.status())) {
    GLUE_SKIP_UNLESS_CI(dnsmasq.status().message());
  }
  ASSERT_OK(dnsmasq);
  testing::Dnsmasq& dns = **dnsmasq;
  // Endpoint i takes data at 127.0.0.(11+i), all on one port, as the A records of
  // peers.test, which carry no port, say.
  auto address = [](int i) { return absl::StrCat("127.0.0.", 11 + i); };
  auto hosts = [&](const std::vector<int>& listed) {
    std::string lines;
    for (int i : listed) absl::StrAppend(&lines, address(i), " peers.test\n");
    return lines;
  };
  ASSERT_OK(dns.WriteHosts(hosts({0, 1, 2})));
  ASSERT_OK(dns.Start("127.0.0.1", 0, {}));
  auto config = [&](int i) {
    Config config = MulticastConfig(11 + i, absl::StrCat("e", i));
    config.rate = absl::Milliseconds(100);
    config.providers = {std::string(kDnsProvider)};
    config.listen_address = Address(boost::asio::ip::make_address(address(i)), port_);
    config.dns = DnsConfig{.name = "peers.test",
                           .server = dns.server(),
                           .port = port_,
                           .interval = absl::Milliseconds(200)};
    return config;
  };
  // Endpoint 1 can be cut off from the network later, as if it died.
  Discovery::Options mortal;
  mortal.data_faults = network::FaultOptions{};
  std::vector<Discovery*> endpoints = {Add(config(0)), Add(config(1), mortal),
                                       Add(config(2))};
  ASSERT_TRUE(RunUntil(
      io_, [&] { return KnowEachOtherThroughDns(endpoints); }, std::chrono::seconds(5)));

  // A fourth address in the records: the others come to know it through DNS.
  ASSERT_OK(dns.WriteHosts(hosts({0, 1, 2, 3})));
  ASSERT_OK(dns.Reload());
  endpoints.push_back(Add(config(3)));
  ASSERT_TRUE(RunUntil(
      io_, [&] { return KnowEachOtherThroughDns(endpoints); }, std::chrono::seconds(5)));

  // Endpoint 1's record goes; once the others' DNS provider no longer lists it, it
  // dies without a goodbye, and expires from them.
  ASSERT_OK(dns.WriteHosts(hosts({0, 2, 3})));
  ASSERT_OK(dns.Reload());
  Discovery* dead = endpoints[1];
  endpoints.erase(endpoints.begin() + 1);
  ASSERT_TRUE(RunUntil(
      io_,
      [&] {
        for (const Discovery* endpoint : endpoints) {
          const std::optional<Peer> peer = endpoint->Find(dead->config().endpoint_id);
          if (peer.has_value() && !peer->providers.empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(5)));
  ASSERT_OK(dead->SetDataFaults({.partitioned = true}));
  ASSERT_TRUE(RunUntil(
      io_, [&] { return KnowEachOtherThroughDns(endpoints); }, std::chrono::seconds(5)));
  for (const Discovery* endpoint : endpoints) {
    const Seen& seen = seen_[endpoint->config().endpoint_name];
    ASSERT_FALSE(seen.removed.empty()) << endpoint->config().endpoint_name;
    EXPECT_EQ(seen.removed.back(),
              std::make_pair(std::string("e1"), RemovalReason::kExpired))
        << endpoint->config().endpoint_name;
  }
  // Neither the records nor the peer table name it any more: nothing is sent to it,
  // neither announcements nor probes, over several periods.
  const uint64_t received = dead->counters().data_link.datagrams_received;
  RunFor(io_, std::chrono::seconds(1));
  EXPECT_EQ(dead->counters().data_link.datagrams_received, received);
  EXPECT_TRUE(KnowEachOtherThroughDns(endpoints));
}

TEST_F(DiscoveryTest, AClientStartedBeforeItsRendezvousJoinsLongBeforeAPeriod) {
  Config client = MulticastConfig(11, "client");
  client.discovery_target = Address(boost::asio::ip::make_address("127.0.0.1"), port_);
  client.rate = absl::Seconds(30);
  Add(client);
  RunFor(io_, std::chrono::milliseconds(30));  // its first announcement found no one
  Config rendezvous = MulticastConfig(10, "rendezvous");
  rendezvous.discovery_target.reset();
  Add(rendezvous);
  // The announcements that follow the first come quickly, so the next one finds the
  // rendezvous although the period is 30 s.
  ASSERT_TRUE(RunUntil(
      io_, [&] { return AllSeeAllOthers(); }, std::chrono::seconds(5)));
}

TEST_F(DiscoveryTest, PeersThroughARendezvousDoNotFlapWhenTheirPacesDiffer) {
  Config rendezvous = MulticastConfig(10, "rendezvous");
  rendezvous.discovery_target.reset();
  rendezvous.rate = absl::Milliseconds(20);
  Add(rendezvous);
  for (uint64_t id = 11; id <= 12; ++id) {
    Config client = MulticastConfig(id, absl::StrCat("client", id));
    client.discovery_target = Address(boost::asio::ip::make_address("127.0.0.1"), port_);
    client.rate = absl::Milliseconds(id == 11 ? 150 : 20);  // one slow, one fast
    Add(client);
  }
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  // Several of the slow client's periods: nobody may expire anybody.
  RunFor(io_, std::chrono::milliseconds(900));
  for (const auto& [name, seen] : seen_) {
    EXPECT_TRUE(seen.removed.empty()) << name << " removed " << seen.removed[0].first;
  }
  EXPECT_TRUE(AllSeeAllOthers());
}

TEST_F(DiscoveryTest, FiftyEndpointsOnLoopbackAllSeeEachOther) {
  for (uint64_t id = 1; id <= 50; ++id) {
    Config config = MulticastConfig(100 + id, absl::StrCat("e", id));
    config.rate = absl::Milliseconds(200);
    Add(config);
  }
  ASSERT_TRUE(RunUntil(
      io_, [&] { return AllSeeAllOthers(); }, std::chrono::seconds(20)));
  for (const auto& endpoint : endpoints_) EXPECT_EQ(endpoint->peers().size(), 49u);
}

TEST_F(DiscoveryTest, FaultsUnderTheDataSocketReachWhatItSends) {
  // An endpoint whose every outgoing datagram is lost is never seen, and adds no one:
  // its challenges are lost too.
  Discovery::Options lossy;
  lossy.data_faults = network::FaultOptions{.drop = 1.0};
  Seen* seen = &seen_["mute"];
  testing::FunctionListener& callbacks = Listener();
  callbacks.on_added = [seen](const Peer& p) { seen->peers[p.name] = p; };
  auto mute = Discovery::Create(boost::asio::make_strand(io_),
                                MulticastConfig(11, "mute"), lossy);
  ASSERT_OK(mute);
  ASSERT_OK((*mute)->Start(&callbacks));
  Add(MulticastConfig(12, "b"));
  ASSERT_TRUE(RunUntil(io_, [&] { return (*mute)->counters().challenges_sent > 0; }));
  RunFor(io_, std::chrono::milliseconds(200));  // four of b's periods
  EXPECT_TRUE(seen_["b"].peers.empty());
  EXPECT_TRUE(seen_["mute"].peers.empty());
  EXPECT_GT((*mute)->counters().announcements_sent, 0u);
  EXPECT_EQ((*mute)->counters().data_link.datagrams_sent, 0u);
}

TEST_F(DiscoveryTest, StartTwiceOrAfterStopFails) {
  Discovery* a = Add(MulticastConfig(11, "a"));
  EXPECT_THAT(a->Start(nullptr), StatusIs(absl::StatusCode::kFailedPrecondition));
  a->Stop();
  a->Stop();
  EXPECT_THAT(a->Start(nullptr), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(a->SendTo(12, {}), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DiscoveryTest, ADataAddressInUseIsAnErrorNamingGlueListenAddress) {
  network::UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  auto taken = network::UdpSocket::Open(io_.get_executor(), options);
  ASSERT_OK(taken);
  const std::string where = network::FormatAddress((*taken)->local_address());
  Config config = MulticastConfig(11, "a");
  config.listen_address = (*taken)->local_address();
  auto discovery = Discovery::Create(boost::asio::make_strand(io_), config, {});
  ASSERT_OK(discovery);
  EXPECT_THAT((*discovery)->Start(nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("GLUE_LISTEN_ADDRESS='" + where + "'"),
                             HasSubstr("data socket"), HasSubstr("in use"))));
}

TEST_F(DiscoveryTest, ADataAddressNotOfThisHostIsAnErrorNamingGlueListenAddress) {
  Config config = MulticastConfig(11, "a");
  // TEST-NET-1 (RFC 5737): no host has it. Binding sends nothing.
  config.listen_address = Address(boost::asio::ip::make_address("192.0.2.1"), 0);
  auto discovery = Discovery::Create(boost::asio::make_strand(io_), config, {});
  ASSERT_OK(discovery);
  EXPECT_THAT((*discovery)->Start(nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("GLUE_LISTEN_ADDRESS='192.0.2.1:0'"),
                             HasSubstr("not an address of this host"))));
}

TEST_F(DiscoveryTest, ADiscoveryAddressInUseIsAnErrorNamingGlueDiscoveryListenAddress) {
  network::UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  auto taken = network::UdpSocket::Open(io_.get_executor(), options);
  ASSERT_OK(taken);
  const std::string where = network::FormatAddress((*taken)->local_address());
  Config config = MulticastConfig(11, "rendezvous");
  config.discovery_target = std::nullopt;
  config.discovery_listen = (*taken)->local_address();
  auto discovery = Discovery::Create(boost::asio::make_strand(io_), config, {});
  ASSERT_OK(discovery);
  EXPECT_THAT((*discovery)->Start(nullptr),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       AllOf(HasSubstr("GLUE_DISCOVERY_LISTEN_ADDRESS='" + where + "'"),
                             HasSubstr("discovery socket"), HasSubstr("in use"))));
}

TEST_F(DiscoveryTest, RefusesAnInvalidConfiguration) {
  Config config = MulticastConfig(0, "a");  // id 0 is not an id
  EXPECT_THAT(Discovery::Create(boost::asio::make_strand(io_), config, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// FreePort is a UDP port of 127.0.0.1 that nothing was bound to a moment ago (the
// test's namespace holds nothing else).
uint16_t FreePort(boost::asio::io_context& io) {
  network::UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  auto socket = network::UdpSocket::Open(io.get_executor(), options);
  EXPECT_OK(socket);
  return socket.ok() ? (*socket)->local_address().port() : 0;
}

// WithPeersFile is `config` with multicast off, finding peers through the peers file
// at `path` (kept current when `write`), and taking data at a free port of 127.0.0.1,
// which such a file can list.
Config WithPeersFile(Config config, boost::asio::io_context& io, const std::string& path,
                     bool write = false) {
  config.listen_address =
      Address(boost::asio::ip::make_address("127.0.0.1"), FreePort(io));
  config.providers = {"peers"};
  config.peers = {.path = path,
                  .variable = "GLUE_PEERS_PATH",
                  .value = path,
                  .origin = "GLUE_PEERS_PATH",
                  .write = write};
  return config;
}

TEST_F(DiscoveryTest,
       WithMulticastOffEndpointsFindEachOtherThroughAPeersFileAndItsChanges) {
  std::string dir =
      (std::filesystem::path(::testing::TempDir()) / "discovery_peers_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string path = dir + "/peers.json";
  std::vector<PeersFileEntry> entries;
  std::vector<Config> configs;
  for (uint64_t i = 1; i <= 4; ++i) {
    const Config config =
        WithPeersFile(MulticastConfig(i, absl::StrCat("p", i)), io_, path);
    configs.push_back(config);
    entries.push_back({.address = config.listen_address, .name = config.endpoint_name});
  }
  // The file lists the first three; the fourth is added while they run.
  ASSERT_OK(
      WritePeersFile(path, absl::MakeConstSpan(entries).subspan(0, 3), absl::Now()));
  for (int i = 0; i < 3; ++i) Add(configs[i]);
  ASSERT_TRUE(RunUntil(io_, [&] { return AllSeeAllOthers(); }));
  for (const auto& endpoint : endpoints_) {
    for (const Peer& peer : endpoint->peers()) {
      EXPECT_EQ(peer.providers, std::vector<std::string>{"peers"}) << peer.name;
    }
    // No discovery socket: nothing joined, nothing sent to a group.
    EXPECT_EQ(endpoint->counters().discovery_link.datagrams_received, 0u);
  }
  ASSERT_OK(WritePeersFile(path, entries, absl::Now()));
  Add(configs[3]);
  // The file is read again within a second; the fourth is announced to at once.
  ASSERT_TRUE(RunUntil(
      io_, [&] { return AllSeeAllOthers(); }, std::chrono::seconds(10)));

  // A file that is not there fails Start, naming the variable and the file.
  Config missing = configs[0];
  missing.listen_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  missing.endpoint_id = 9;
  missing.endpoint_name = "missing";
  missing.peers.path = missing.peers.value = dir + "/none.json";
  auto discovery = Discovery::Create(boost::asio::make_strand(io_), missing, {});
  ASSERT_OK(discovery);
  EXPECT_THAT((*discovery)->Start(nullptr),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("GLUE_PEERS_PATH='"), HasSubstr("none.json"))));
  (*discovery)->Stop();
  for (auto& endpoint : endpoints_) endpoint->Stop();
  std::filesystem::remove_all(dir);
}

// A peers file kept current (GLUE_PEERS_WRITE=1): rewritten, as the JSON form, to list
// the endpoint itself and the peers it sees, whoever told it of them, and without a
// peer that left; every read of it meanwhile finds a whole file.
TEST_F(DiscoveryTest, APeersFileKeptCurrentListsThePeersSeenAndDropsOneThatLeft) {
  std::string dir =
      (std::filesystem::path(::testing::TempDir()) / "discovery_write_XXXXXX").string();
  ASSERT_NE(::mkdtemp(dir.data()), nullptr);
  const std::string kept = dir + "/kept.txt";    // a's, written by a
  const std::string seeds = dir + "/seeds.txt";  // b's and c's, read only
  std::vector<Config> configs;
  for (uint64_t i = 1; i <= 3; ++i) {
    configs.push_back(WithPeersFile(MulticastConfig(i, absl::StrCat("w", i)), io_,
                                    i == 1 ? kept : seeds, /*write=*/i == 1));
  }
  // a's file lists b alone, in the plain form; c finds a through its own file.
  std::ofstream(kept) << network::FormatAddress(configs[1].listen_address) << "\n";
  std::ofstream(seeds) << network::FormatAddress(configs[0].listen_address) << "\n";
  Discovery* a = Add(configs[0]);
  Discovery* b = Add(configs[1]);
  Discovery* c = Add(configs[2]);
  ASSERT_NE(c, nullptr);

  // Reads the file at every turn of the loop while the endpoints run, until it lists
  // `want` (name, address), counting the reads that fail.
  int reads = 0;
  int failed_reads = 0;
  std::string first_failure;
  std::vector<std::pair<std::string, Address>> listed;
  auto lists = [&](std::vector<std::pair<std::string, Address>> want) {
    std::sort(want.begin(), want.end(),
              [](const auto& x, const auto& y) { return x.second < y.second; });
    return RunUntil(
        io_,
        [&] {
          ++reads;
          absl::StatusOr<std::vector<PeersFileEntry>> entries = ReadPeersFile(kept);
          if (!entries.ok()) {
            if (failed_reads++ == 0) first_failure = entries.status().ToString();
            return false;
          }
          listed.clear();
          for (const PeersFileEntry& e : *entries) listed.emplace_back(e.name, e.address);
          return listed == want;
        },
        std::chrono::seconds(10));
  };
  const std::pair<std::string, Address> in_a{"w1", a->config().listen_address},
      in_b{"w2", b->config().listen_address}, in_c{"w3", c->config().listen_address};
  EXPECT_TRUE(lists({in_a, in_b, in_c})) << ::testing::PrintToString(listed);
  c->Stop();
  EXPECT_TRUE(lists({in_a, in_b})) << ::testing::PrintToString(listed);
  EXPECT_EQ(failed_reads, 0) << "of " << reads << " reads; the first: " << first_failure;
  EXPECT_GT(reads, 10);
  for (auto& endpoint : endpoints_) endpoint->Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace glue::discovery
