// Endpoints with a shared keyring (security/sealing_links.h), on the simulated network:
// who sees whom, forgeries refused beneath discovery, and a rotation under traffic.
#include <stdlib.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "endpoint/endpoint_test_fixture.h"
#include "glue/discovery/simulated_hosts.h"
#include "glue/security/keyring.h"
#include "glue/security/sealer.h"
#include "glue/serialization/datagram_encoder.h"
#include "gmock/gmock.h"

namespace glue {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// KeyLine is a keyring file's line for key `id`, whose 32 bytes are all `fill`.
std::string KeyLine(const std::string& id, char fill) {
  return absl::StrCat(id, " ", absl::Base64Escape(std::string(32, fill)), "\n");
}

std::vector<std::string> PeerNames(const Endpoint& endpoint) {
  std::vector<std::string> names;
  for (const discovery::Peer& peer : endpoint.peers()) names.push_back(peer.name);
  return names;
}

class EndpointSecurityTest : public EndpointTest {
 protected:
  void SetUp() override {
    EndpointTest::SetUp();
    dir_ = (std::filesystem::path(::testing::TempDir()) / "keyring_XXXXXX").string();
    ASSERT_NE(::mkdtemp(dir_.data()), nullptr);
    // Endpoints whose id has a file below get a keyring; the others none.
    customize_ = [this](uint64_t id, EndpointOptions& options) {
      const auto it = files_.find(id);
      if (it == files_.end()) return;
      options.security.keyring_file = it->second;
      options.security.reread_interval = absl::Milliseconds(20);
    };
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // WriteKeyring gives endpoint `id` a keyring file of `text`, replacing the one it
  // has by a rename, as an operator's careful edit would.
  void WriteKeyring(uint64_t id, const std::string& text) {
    const std::string path = absl::StrCat(dir_, "/keyring-", id);
    const std::string temporary = path + ".new";
    {
      std::ofstream out(temporary);
      out << text;
    }
    std::filesystem::permissions(temporary, std::filesystem::perms::owner_read |
                                                std::filesystem::perms::owner_write);
    std::filesystem::rename(temporary, path);
    files_[id] = path;
  }

  std::string dir_;
  std::map<uint64_t, std::string> files_;
};

TEST_F(EndpointSecurityTest, OnlyEndpointsWithTheKeySeeEachOtherAndTheirMessages) {
  WriteKeyring(1, KeyLine("k1", 'a'));
  WriteKeyring(2, KeyLine("k1", 'a'));
  Inbox peers_a, peers_b, peers_c, got_b, got_c;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  std::unique_ptr<Endpoint> c = Make(3, &peers_c);  // no keyring
  ASSERT_TRUE(a && b && c);
  for (auto [endpoint, inbox] :
       {std::pair{b.get(), &got_b}, std::pair{c.get(), &got_c}}) {
    ASSERT_OK(endpoint->Subscribe("news", "text", [inbox](const Message& m) {
      inbox->Add(std::string(m.payload.begin(), m.payload.end()));
    }));
  }
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  const std::vector<uint8_t> text = {'h', 'i'};
  while (!got_b.WaitFor(1, kRetry)) {
    ASSERT_OK(a->Publish("news", "text", absl::Seconds(30), text));
  }
  // Each side has heard the other's announcements several times, and could make
  // nothing of them: c's are refused as unsealed, a's and b's fail c's checksum.
  ASSERT_TRUE(Eventually([&] {
    const discovery::DiscoveryCounters& of_c =
        c->counters().topics.messages.transport.discovery;
    return a->counters().sealing.links.not_sealed >= 3 &&
           of_c.corrupt + of_c.malformed >= 3;
  }));
  EXPECT_THAT(PeerNames(*a), ElementsAre("endpoint-2"));
  EXPECT_THAT(PeerNames(*b), ElementsAre("endpoint-1"));
  EXPECT_THAT(PeerNames(*c), IsEmpty());
  EXPECT_THAT(got_c.payloads(), IsEmpty());
  const security::SealingLinks::Counters sealing = a->counters().sealing;
  EXPECT_GT(sealing.links.sealed, 0u);
  EXPECT_GT(sealing.links.opened, 0u);
  EXPECT_EQ(sealing.links.tag_mismatch + sealing.links.unknown_key_id, 0u);
  // a took b's datagrams once b had answered a's challenge.
  EXPECT_GE(sealing.links.challenges_sent, 1u);
  EXPECT_GE(sealing.links.senders_verified, 1u);
  EXPECT_GE(sealing.links.responses_sent, 1u);
  EXPECT_EQ(c->counters().sealing.links.sealed, 0u);
}

class EndpointSecurityLoopbackTest : public EndpointSecurityTest {
 protected:
  EndpointSecurityLoopbackTest() { simulated_ = false; }
};

// On real sockets, three endpoints of one host share the multicast port: each one's
// challenges go from its own unicast port, so the answers reach the endpoint that
// asked, and all three find each other and exchange messages.
TEST_F(EndpointSecurityLoopbackTest,
       EndpointsSharingAHostAndItsMulticastPortFindEachOther) {
  Inbox peers[3], got;
  std::vector<std::unique_ptr<Endpoint>> endpoints;
  for (uint64_t id = 1; id <= 3; ++id) {
    WriteKeyring(id, KeyLine("site", 's'));
    endpoints.push_back(Make(id, &peers[id - 1]));
    ASSERT_TRUE(endpoints.back());
  }
  for (Inbox& inbox : peers) ASSERT_TRUE(inbox.WaitFor(2));
  ASSERT_OK(endpoints[2]->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  const std::vector<uint8_t> text = {'h', 'i'};
  while (!got.WaitFor(1, kRetry)) {
    ASSERT_OK(endpoints[0]->Publish("news", "text", absl::Seconds(30), text));
  }
  for (const auto& endpoint : endpoints) {
    const security::SealingCounters c = endpoint->counters().sealing.links;
    EXPECT_GE(c.senders_verified, 2u);
    EXPECT_EQ(c.tag_mismatch + c.unknown_key_id + c.not_sealed, 0u);
  }
}

// What an outsider sends in the name of a live peer: a goodbye and an announcement
// that would take its data elsewhere, each unsealed, sealed under a key of another id
// and under another key of the same id. None reaches discovery; the peer stays, at its
// own address.
TEST_F(EndpointSecurityTest, AForgedGoodbyeAndAnImpersonationAreRefusedAndThePeerStays) {
  WriteKeyring(1, KeyLine("k1", 'a'));
  WriteKeyring(2, KeyLine("k1", 'a'));
  Inbox peers_a, peers_b, removed_a;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a, absl::Seconds(2), 0, &removed_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));

  boost::asio::io_context io;
  network::UdpSocketOptions bind;
  bind.bind_address = network::Address(discovery::testing::SimulatedHostAddress(9), 0);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<network::DatagramLink> outsider,
                       simulated_network_.Host(bind.bind_address.address())
                           .Open(io.get_executor(), bind, {}));
  ASSERT_OK_AND_ASSIGN(auto encoder, serialization::DatagramEncoder::Create(1400));
  const discovery::Config& of_b = b->config();
  ASSERT_OK_AND_ASSIGN(absl::Span<const uint8_t> goodbye,
                       encoder.EncodeGoodbye({.network_id = of_b.network_id,
                                              .endpoint_id = of_b.endpoint_id,
                                              .endpoint_name = of_b.endpoint_name}));
  const std::vector<uint8_t> forged_goodbye(goodbye.begin(), goodbye.end());
  // And an announcement in b's name that gives the outsider's address for b's data.
  ASSERT_OK_AND_ASSIGN(
      absl::Span<const uint8_t> announcement,
      encoder.EncodeAnnouncement(
          {.network_id = of_b.network_id,
           .endpoint_id = of_b.endpoint_id,
           .endpoint_name = of_b.endpoint_name},
          {.data_address = outsider->local_address(), .rate_milliseconds = 50}));
  const std::vector<uint8_t> forged_announcement(announcement.begin(),
                                                 announcement.end());
  ASSERT_TRUE(of_b.discovery_target.has_value());
  const network::Address group = *of_b.discovery_target;
  for (const std::vector<uint8_t>& plain : {forged_goodbye, forged_announcement}) {
    ASSERT_OK(outsider->Send(group, plain));
    for (const std::string& line : {KeyLine("k2", 'a'), KeyLine("k1", 'z')}) {
      ASSERT_OK_AND_ASSIGN(security::Keyring keys,
                           security::ParseKeyring(line, "forger"));
      security::Sealer sealer(&keys, of_b.network_id, security::RandomIncarnation());
      std::vector<uint8_t> sealed(plain.size() + sealer.overhead());
      ASSERT_OK(sealer.Seal(plain, absl::MakeSpan(sealed)).status());
      ASSERT_OK(outsider->Send(group, sealed));
    }
  }
  ASSERT_TRUE(Eventually([&] {
    const security::SealingCounters c = a->counters().sealing.links;
    return c.not_sealed >= 2 && c.unknown_key_id >= 2 && c.tag_mismatch >= 2;
  }));
  // b goes on announcing; a keeps it through more than its removal time (two periods
  // of 50 ms), which a goodbye taken would have cut short.
  const uint64_t opened = a->counters().sealing.links.opened;
  ASSERT_TRUE(
      Eventually([&] { return a->counters().sealing.links.opened >= opened + 10; }));
  EXPECT_THAT(PeerNames(*a), ElementsAre("endpoint-2"));
  EXPECT_THAT(removed_a.payloads(), IsEmpty());
  // b's data still goes to b.
  const std::vector<discovery::Peer> peers = a->peers();
  ASSERT_EQ(peers.size(), 1u);
  EXPECT_NE(peers[0].data_address, outsider->local_address());
  EXPECT_EQ(peers[0].data_address.address(), of_b.listen_address.address());
}

// A rotation in three steps, each endpoint's file edited in turn while a publishes
// reliably: add k2 (second), make it first, remove k1. Every message arrives once and
// in order, and no datagram is refused for its key before the last step. (Datagrams
// sealed under k1 still on their way when k1 goes are refused and sent again: an
// operator leaves a second between the steps; this test does not wait.)
// Describe says what an endpoint's sealing and its session with `peer` did: for the
// message of a failure.
std::string Describe(const Endpoint& e, uint64_t peer) {
  const EndpointCounters c = e.counters();
  const security::SealingCounters& s = c.sealing.links;
  std::string out = absl::StrCat(
      "peers=", e.peers().size(), " sealed=", s.sealed, " opened=", s.opened,
      " unknown_key_id=", s.unknown_key_id, " tag_mismatch=", s.tag_mismatch,
      " replay=", s.replay, " too_old=", s.too_old,
      " challenges_sent=", s.challenges_sent, " responses_sent=", s.responses_sent,
      " verified=", s.senders_verified, " held=", s.held,
      " held_dropped=", s.held_dropped, " unanswered=", s.unanswered,
      " pending=", s.pending, " rereads=", c.sealing.rereads,
      " bytes_queued=", c.topics.messages.bytes_queued,
      " | topics: published=", c.topics.published, " sent=", c.topics.sent,
      " refused_queue_full=", c.topics.refused_queue_full,
      " received=", c.topics.received, " delivered=", c.topics.delivered,
      " duplicates=", c.topics.duplicates, " unwanted=", c.topics.unwanted,
      " interests_received=", c.topics.interests_received,
      " interests_sent=", c.topics.interests_sent,
      " before_interest=", c.topics.publications_before_interest,
      " slow_drops=", c.topics.slow_subscriber_drops,
      " | transport: peers_added=", c.topics.messages.transport.peers_added,
      " peers_removed=", c.topics.messages.transport.peers_removed,
      " session_restarts=", c.topics.messages.transport.session_restarts,
      " stale=", c.topics.messages.transport.stale_datagrams,
      " unverified=", c.topics.messages.transport.unverified_datagrams,
      " challenges=", c.topics.messages.transport.challenges_sent);
  if (std::optional<transport::PeerCounters> p = e.peer_counters(peer)) {
    const transport::SessionCounters& t = p->session;
    absl::StrAppend(
        &out, " | session: data_sent=", t.data_sent, " resent=", t.data_resent,
        " timeouts=", t.timeouts, " acked=", t.acked, " acks_sent=", t.acks_sent,
        " delivered=", t.delivered, " duplicates=", t.duplicates,
        " beyond_window=", t.beyond_window, " unacknowledged=", p->bytes_unacknowledged,
        " rto=", absl::FormatDuration(t.rto));
  } else {
    absl::StrAppend(&out, " | no session");
  }
  return out;
}

TEST_F(EndpointSecurityTest, ARotationUnderTrafficLosesAndDuplicatesNothing) {
  const std::string k1 = KeyLine("k1", 'a');
  const std::string k2 = KeyLine("k2", 'b');
  WriteKeyring(1, k1);
  WriteKeyring(2, k1);
  Inbox peers_a, peers_b, got;
  std::unique_ptr<Endpoint> a = Make(1, &peers_a);
  std::unique_ptr<Endpoint> b = Make(2, &peers_b);
  ASSERT_TRUE(a && b);
  ASSERT_OK(b->Subscribe("news", "text", [&got](const Message& m) {
    got.Add(std::string(m.payload.begin(), m.payload.end()));
  }));
  ASSERT_TRUE(peers_a.WaitFor(1) && peers_b.WaitFor(1));
  // Until a knows that b wants "news": b subscribed after both started, so its first
  // interests may name nothing, and what a published before the one naming "news"
  // arrived would go nowhere (nobody wanted it).
  ASSERT_TRUE(Eventually([&] { return !a->Subscribers("news", "text").empty(); }));

  std::atomic<bool> done = false;
  std::atomic<int> published = 0;
  std::thread publisher([&] {
    for (int i = 0; !done.load(); ++i) {
      // At most 200 on their way, so that what is sent meanwhile stays bounded however
      // slowly the machine runs b.
      if (i >= 200 && !got.WaitFor(i - 200)) break;
      const std::string text = "m" + std::to_string(i);
      if (!a->Publish("news", "text", absl::Minutes(1),
                      std::vector<uint8_t>(text.begin(), text.end()),
                      {.max_blocking = absl::Seconds(10)})
               .ok()) {
        break;
      }
      published = i + 1;
    }
  });
  // Each step waits for both endpoints to have read their files, and for more
  // messages to have arrived under the new keys.
  const std::vector<std::string> steps = {k1 + k2, k2 + k1, k2};
  for (size_t step = 0; step < steps.size(); ++step) {
    SCOPED_TRACE(step);
    for (Endpoint* endpoint : {a.get(), b.get()}) {
      const security::SealingCounters c = endpoint->counters().sealing.links;
      EXPECT_EQ(c.unknown_key_id + c.tag_mismatch + c.not_sealed, 0u);
    }
    WriteKeyring(1, steps[step]);
    WriteKeyring(2, steps[step]);
    ASSERT_TRUE(Eventually([&] {
      return a->counters().sealing.rereads >= step + 1 &&
             b->counters().sealing.rereads >= step + 1;
    }));
    const size_t before = got.payloads().size();
    ASSERT_TRUE(got.WaitFor(before + 100));
  }
  EXPECT_EQ(a->counters().sealing.reread_failures, 0u);
  done = true;
  publisher.join();
  ASSERT_GT(published.load(), 300);
  ASSERT_TRUE(got.WaitFor(published.load()))
      << got.payloads().size() << " of " << published.load()
      << " arrived\na: " << Describe(*a, 2) << "\nb: " << Describe(*b, 1);
  const std::vector<std::string> payloads = got.payloads();
  ASSERT_EQ(payloads.size(), static_cast<size_t>(published.load()));
  for (int i = 0; i < published.load(); ++i) {
    ASSERT_EQ(payloads[i], "m" + std::to_string(i));
  }
  for (Endpoint* endpoint : {a.get(), b.get()}) {
    const security::SealingCounters c = endpoint->counters().sealing.links;
    EXPECT_EQ(c.tag_mismatch + c.not_sealed, 0u);
  }
}

TEST(EndpointSecurityOptions, AKeyringThatDoesNotReadStopsCreateWithItsFileAndLine) {
  const std::string dir =
      (std::filesystem::path(::testing::TempDir()) / "keyring_bad").string();
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/keyring";
  {
    std::ofstream out(path);
    out << "# ours\nk1 not-base64\n";
  }
  EndpointOptions options;
  options.discovery = discovery::testing::SimulatedHostConfig(1, 1, "a");
  options.security.keyring_file = path;
  EXPECT_THAT(Endpoint::Create(options),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr(path + ":2:")));
  options.security.keyring_file = dir + "/missing";
  EXPECT_THAT(Endpoint::Create(options),
              testing::StatusIs(absl::StatusCode::kNotFound,
                                ::testing::HasSubstr(dir + "/missing")));
  std::filesystem::remove_all(dir);
}

TEST(EndpointSecurityOptions, ReadsTheKeyringVariables) {
  ASSERT_OK_AND_ASSIGN(
      EndpointOptions options,
      OptionsFromEnvironment(MapEnvironment({{"GLUE_LISTEN_INTERFACE", "lo"},
                                             {"GLUE_KEYRING_FILE", "/etc/glue/keyring"},
                                             {"GLUE_KEYRING_ACCEPT_UNSEALED", "1"}})));
  EXPECT_EQ(options.security.keyring_file, "/etc/glue/keyring");
  EXPECT_TRUE(options.security.accept_unsealed);
  EXPECT_FALSE(options.security.send_unsealed);
  EXPECT_THAT(
      OptionsFromEnvironment(MapEnvironment(
          {{"GLUE_LISTEN_INTERFACE", "lo"}, {"GLUE_KEYRING_SEND_UNSEALED", "1"}})),
      testing::StatusIs(absl::StatusCode::kInvalidArgument,
                        ::testing::HasSubstr("GLUE_KEYRING_FILE")));
  EXPECT_THAT(
      OptionsFromEnvironment(MapEnvironment({{"GLUE_LISTEN_INTERFACE", "lo"},
                                             {"GLUE_KEYRING_FILE", "k"},
                                             {"GLUE_KEYRING_ACCEPT_UNSEALED", "yes"}})),
      testing::StatusIs(absl::StatusCode::kInvalidArgument,
                        ::testing::HasSubstr("GLUE_KEYRING_ACCEPT_UNSEALED='yes'")));
  // No room for the seal in the smallest datagrams.
  options.transport.max_datagram_bytes = transport::kMinDatagramBytes;
  options.security.keyring_file = "/etc/glue/keyring";
  EXPECT_THAT(Endpoint::Create(options),
              testing::StatusIs(absl::StatusCode::kInvalidArgument,
                                ::testing::HasSubstr("no room for sealing")));
}

}  // namespace
}  // namespace glue
