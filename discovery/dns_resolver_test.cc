// ResolvePeers against a real DNS server: each test of DnsResolverTest starts dnsmasq
// on 127.0.0.1 and a free port, answering for the domain `test` from a hosts file and
// from SRV records on its command line, and forwarding nothing (--no-resolv, no
// upstream server). It needs dnsmasq and a network namespace with nothing but loopback
// (scripts/isolated.sh), so that no query can leave the machine; without them it skips,
// or fails when CI is set. The parsers of the query and of the environment need
// neither.
#include "glue/discovery/dns_resolver.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/dnsmasq.h"
#include "glue/discovery/loopback_network.h"

namespace glue::discovery {
namespace {

using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr uint16_t kDefaultPort = 7000;
// Long enough for a loaded machine; every test that expects an answer gets one long
// before, and those that expect none set their own.
constexpr absl::Duration kTimeout = absl::Seconds(5);
constexpr auto kReadyWithin = std::chrono::seconds(10);

network::Address Addr(absl::string_view text) {
  absl::StatusOr<network::Address> address = network::ParseAddress(text);
  EXPECT_OK(address);
  return address.value_or(network::Address());
}

// A UDP port of 127.0.0.1 that was free a moment ago.
uint16_t FreePort() {
  boost::asio::io_context io;
  return testing::LoopbackNetwork::FreePort(io);
}

class DnsResolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = testing::WhyNotOnlyLoopback(); !why.empty()) {
      GLUE_SKIP_UNLESS_CI(why);
    }
    absl::StatusOr<std::unique_ptr<testing::Dnsmasq>> dnsmasq =
        testing::Dnsmasq::Create();
    if (absl::IsFailedPrecondition(dnsmasq.status())) {
      GLUE_SKIP_UNLESS_CI(dnsmasq.status().message());
    }
    ASSERT_OK(dnsmasq);
    dnsmasq_ = *std::move(dnsmasq);
  }

  // WriteHosts replaces the hosts file dnsmasq answers A and AAAA queries from with
  // `lines` (`ADDRESS NAME...`).
  void WriteHosts(absl::string_view lines) { ASSERT_OK(dnsmasq_->WriteHosts(lines)); }

  // StartDnsmasq starts dnsmasq on 127.0.0.1 with the hosts file and `srv_records`,
  // each the value of a --srv-host option (`_glue._udp.NAME,TARGET,PORT`), on the
  // port of the last run, or a free one the first time; and waits until it answers.
  void StartDnsmasq(const std::vector<std::string>& srv_records) {
    ASSERT_OK(dnsmasq_->Start("127.0.0.1", 0, srv_records));
  }

  // ReloadHosts has dnsmasq read the hosts file again (SIGHUP).
  void ReloadHosts() { ASSERT_OK(dnsmasq_->Reload()); }

  void StopDnsmasq() { dnsmasq_->Stop(); }

  std::string server() const { return dnsmasq_->server(); }

  DnsQuery Query(std::string name) const {
    return DnsQuery{.name = std::move(name),
                    .server = server(),
                    .default_port = kDefaultPort,
                    .timeout = kTimeout};
  }

  // ResolveUntil asks for `name` until `done` holds for the result, or a few seconds
  // have passed, and returns the last result: dnsmasq takes a reload at its own pace.
  absl::StatusOr<DnsAnswer> ResolveUntil(
      const std::string& name,
      const std::function<bool(const absl::StatusOr<DnsAnswer>&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kReadyWithin;
    absl::StatusOr<DnsAnswer> answer = ResolvePeers(Query(name));
    while (!done(answer) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      answer = ResolvePeers(Query(name));
    }
    return answer;
  }

  // EventuallyResolves says whether `name` comes to have the addresses `expected`.
  ::testing::AssertionResult EventuallyResolves(
      const std::string& name, const std::vector<network::Address>& expected) {
    const absl::StatusOr<DnsAnswer> answer =
        ResolveUntil(name, [&](const absl::StatusOr<DnsAnswer>& answer) {
          return answer.ok() && answer->addresses == expected;
        });
    if (!answer.ok()) {
      return ::testing::AssertionFailure() << name << " still gives " << answer.status();
    }
    if (answer->addresses != expected) {
      std::string seen;
      for (const network::Address& address : answer->addresses) {
        absl::StrAppend(&seen, " ", network::FormatAddress(address));
      }
      return ::testing::AssertionFailure() << name << " still resolves to" << seen;
    }
    return ::testing::AssertionSuccess();
  }

 private:
  std::unique_ptr<testing::Dnsmasq> dnsmasq_;
};

TEST_F(DnsResolverTest, WithoutSrvRecordsGivesTheAAndAaaaRecordsWithTheDefaultPort) {
  WriteHosts(
      "192.0.2.2 peers.test\n"
      "192.0.2.1 peers.test\n"
      "2001:db8::1 peers.test\n"
      "192.0.2.9 other.test\n");
  StartDnsmasq({});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(answer.addresses,
              ElementsAre(Addr("192.0.2.1:7000"), Addr("192.0.2.2:7000"),
                          Addr("[2001:db8::1]:7000")));
  EXPECT_FALSE(answer.from_srv);
  EXPECT_FALSE(answer.truncated);
  EXPECT_EQ(answer.address_ttl, absl::Seconds(60));
}

TEST_F(DnsResolverTest, ANameWithAFinalDotIsTheSameName) {
  WriteHosts("192.0.2.1 peers.test\n");
  StartDnsmasq({});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test.")));
  EXPECT_THAT(answer.addresses, ElementsAre(Addr("192.0.2.1:7000")));
}

TEST_F(DnsResolverTest, SrvRecordsGiveTheirTargetsAddressesWithTheRecordsPorts) {
  WriteHosts(
      "192.0.2.1 peers.test\n"  // the name's own address, not used with SRV records
      "192.0.2.11 a.test\n"
      "2001:db8::11 a.test\n"
      "192.0.2.12 b.test\n");
  StartDnsmasq(
      {"_glue._udp.peers.test,a.test,7001", "_glue._udp.peers.test,b.test,7002"});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(answer.addresses,
              ElementsAre(Addr("192.0.2.11:7001"), Addr("192.0.2.12:7002"),
                          Addr("[2001:db8::11]:7001")));
  EXPECT_TRUE(answer.from_srv);
  EXPECT_FALSE(answer.truncated);
  EXPECT_EQ(answer.address_ttl, absl::Seconds(60));
}

TEST_F(DnsResolverTest, ATargetGivenTwoPortsGivesBothAndSharedAddressesOnce) {
  // Two endpoints on a.test; b.test is another name for the same host.
  WriteHosts("192.0.2.11 a.test b.test\n");
  StartDnsmasq({"_glue._udp.peers.test,a.test,7001", "_glue._udp.peers.test,a.test,7002",
                "_glue._udp.peers.test,B.test,7001"});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(answer.addresses,
              ElementsAre(Addr("192.0.2.11:7001"), Addr("192.0.2.11:7002")));
}

TEST_F(DnsResolverTest, ATargetWithoutAddressesIsSkipped) {
  WriteHosts("192.0.2.11 a.test\n");
  StartDnsmasq(
      {"_glue._udp.peers.test,a.test,7001", "_glue._udp.peers.test,gone.test,7002"});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(answer.addresses, ElementsAre(Addr("192.0.2.11:7001")));
  EXPECT_TRUE(answer.from_srv);
}

TEST_F(DnsResolverTest, SrvTargetsWithoutAnyAddressAreNotFound) {
  WriteHosts("192.0.2.1 peers.test\n");
  StartDnsmasq({"_glue._udp.peers.test,gone.test,7001"});
  EXPECT_THAT(ResolvePeers(Query("peers.test")),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("'_glue._udp.peers.test'"), HasSubstr(server()),
                             HasSubstr("none of its 1 SRV targets"))));
}

TEST_F(DnsResolverTest, ASrvRecordSayingTheServiceIsAbsentIsNotFound) {
  // A --srv-host without a target is the record of target "." (RFC 2782: "decidedly
  // not available"), which must not fall back to the name's own addresses.
  WriteHosts("192.0.2.1 peers.test\n");
  StartDnsmasq({"_glue._udp.peers.test"});
  EXPECT_THAT(ResolvePeers(Query("peers.test")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("none with a target")));
}

TEST_F(DnsResolverTest, ANameThatDoesNotExistIsNotFoundNamingItAndTheServer) {
  StartDnsmasq({});
  EXPECT_THAT(ResolvePeers(Query("missing.test")),
              StatusIs(absl::StatusCode::kNotFound,
                       AllOf(HasSubstr("'missing.test'"), HasSubstr(server()),
                             HasSubstr("no SRV record"))));
}

TEST_F(DnsResolverTest, ARefusingServerIsUnavailableRatherThanNotFound) {
  // dnsmasq refuses names outside `test`, having no upstream server to ask.
  StartDnsmasq({});
  EXPECT_THAT(ResolvePeers(Query("peers.example")),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("'_glue._udp.peers.example'"), HasSubstr(server()),
                             HasSubstr("refused"))));
}

TEST_F(DnsResolverTest, SeesTheHostsFileChangeAfterAReload) {
  WriteHosts("192.0.2.1 peers.test\n");
  StartDnsmasq({});
  ASSERT_TRUE(EventuallyResolves("peers.test", {Addr("192.0.2.1:7000")}));

  WriteHosts("192.0.2.1 peers.test\n192.0.2.2 peers.test\n2001:db8::2 peers.test\n");
  ReloadHosts();
  EXPECT_TRUE(EventuallyResolves(
      "peers.test",
      {Addr("192.0.2.1:7000"), Addr("192.0.2.2:7000"), Addr("[2001:db8::2]:7000")}));

  WriteHosts("2001:db8::2 peers.test\n");
  ReloadHosts();
  EXPECT_TRUE(EventuallyResolves("peers.test", {Addr("[2001:db8::2]:7000")}));

  WriteHosts("");
  ReloadHosts();
  EXPECT_THAT(
      ResolveUntil("peers.test",
                   [](const absl::StatusOr<DnsAnswer>& answer) { return !answer.ok(); }),
      StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(DnsResolverTest, SeesSrvRecordsChangeAfterARestart) {
  WriteHosts("192.0.2.1 peers.test\n192.0.2.11 a.test\n192.0.2.12 b.test\n");
  StartDnsmasq({"_glue._udp.peers.test,a.test,7001"});
  ASSERT_OK_AND_ASSIGN(DnsAnswer first, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(first.addresses, ElementsAre(Addr("192.0.2.11:7001")));

  StopDnsmasq();
  StartDnsmasq(
      {"_glue._udp.peers.test,a.test,7001", "_glue._udp.peers.test,b.test,7002"});
  ASSERT_OK_AND_ASSIGN(DnsAnswer second, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(second.addresses,
              ElementsAre(Addr("192.0.2.11:7001"), Addr("192.0.2.12:7002")));

  // Without SRV records the name's own addresses are the peers again.
  StopDnsmasq();
  StartDnsmasq({});
  ASSERT_OK_AND_ASSIGN(DnsAnswer third, ResolvePeers(Query("peers.test")));
  EXPECT_THAT(third.addresses, ElementsAre(Addr("192.0.2.1:7000")));
  EXPECT_FALSE(third.from_srv);
}

TEST_F(DnsResolverTest, CallsOnSeveralThreadsAtOnceEachGetTheirAnswer) {
  WriteHosts("192.0.2.1 peers.test\n192.0.2.11 a.test\n");
  StartDnsmasq({"_glue._udp.srv.test,a.test,7001"});
  constexpr int kThreads = 8;
  std::vector<absl::StatusOr<DnsAnswer>> answers(kThreads);
  {
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([this, i, &answers] {
        answers[i] = ResolvePeers(Query(i % 2 == 0 ? "peers.test" : "srv.test"));
      });
    }
    for (std::thread& thread : threads) thread.join();
  }
  for (int i = 0; i < kThreads; ++i) {
    SCOPED_TRACE(i);
    ASSERT_OK(answers[i]);
    EXPECT_THAT(answers[i]->addresses, ElementsAre(i % 2 == 0 ? Addr("192.0.2.1:7000")
                                                              : Addr("192.0.2.11:7001")));
  }
}

TEST_F(DnsResolverTest, BeyondTheBoundKeepsTheFirstAddressesInOrder) {
  // More A records than kMaxDnsAddresses: too many for UDP, so c-ares asks again
  // over TCP.
  std::string hosts;
  const int count = static_cast<int>(kMaxDnsAddresses) + 10;
  for (int i = 0; i < count; ++i) {
    absl::StrAppend(&hosts, "10.0.", i / 256, ".", i % 256, " many.test\n");
  }
  WriteHosts(hosts);
  StartDnsmasq({});
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("many.test")));
  ASSERT_EQ(answer.addresses.size(), kMaxDnsAddresses);
  EXPECT_TRUE(answer.truncated);
  EXPECT_EQ(answer.addresses.front(), Addr("10.0.0.0:7000"));
  EXPECT_EQ(answer.addresses.back(), Addr("10.0.3.255:7000"));
}

TEST_F(DnsResolverTest, BeyondTheTargetBoundLooksUpTheFirstTargetsByName) {
  std::string hosts;
  std::vector<std::string> records;
  const int count = static_cast<int>(kMaxDnsSrvTargets) + 4;
  for (int i = 0; i < count; ++i) {
    // t000.test .. t259.test: sorted by name, the first kMaxDnsSrvTargets are kept.
    const std::string target = absl::StrCat("t", i / 100, (i / 10) % 10, i % 10, ".test");
    absl::StrAppend(&hosts, "10.1.", i / 256, ".", i % 256, " ", target, "\n");
    records.push_back(absl::StrCat("_glue._udp.peers.test,", target, ",7001"));
  }
  WriteHosts(hosts);
  StartDnsmasq(records);
  ASSERT_OK_AND_ASSIGN(DnsAnswer answer, ResolvePeers(Query("peers.test")));
  ASSERT_EQ(answer.addresses.size(), kMaxDnsSrvTargets);
  EXPECT_TRUE(answer.truncated);
  EXPECT_EQ(answer.addresses.back(), Addr("10.1.0.255:7001"));
}

// The servers below answer nothing, so no dnsmasq is needed; they are ports of
// 127.0.0.1.

TEST(DnsResolverWithoutServer, APortNobodyListensOnIsUnavailable) {
  const std::string server = absl::StrCat("127.0.0.1:", FreePort());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ResolvePeers({.name = "peers.test",
                            .server = server,
                            .default_port = kDefaultPort,
                            .timeout = absl::Seconds(2)}),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr("'_glue._udp.peers.test'"), HasSubstr(server))));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
}

TEST(DnsResolverWithoutServer, AServerThatNeverAnswersIsUnavailableAfterTheTimeout) {
  // A socket that is never read: queries reach it and no answer comes back.
  boost::asio::io_context io;
  boost::asio::ip::udp::socket silent(
      io, boost::asio::ip::udp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  const std::string server = absl::StrCat("127.0.0.1:", silent.local_endpoint().port());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_THAT(ResolvePeers({.name = "peers.test",
                            .server = server,
                            .default_port = kDefaultPort,
                            .timeout = absl::Milliseconds(300)}),
              StatusIs(absl::StatusCode::kUnavailable,
                       AllOf(HasSubstr(server), HasSubstr("within 300ms"))));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, std::chrono::milliseconds(300));
  EXPECT_LT(elapsed, std::chrono::milliseconds(1300));
}

TEST(DnsResolverWithoutServer, RefusesAQueryThatBreaksTheRules) {
  const DnsQuery valid{.name = "peers.test",
                       .server = "127.0.0.1:1",
                       .default_port = kDefaultPort,
                       .timeout = absl::Seconds(1)};
  struct Case {
    std::string label;
    DnsQuery query;
    std::string message;
  };
  std::vector<Case> cases;
  auto add = [&](std::string label, auto change, std::string message) {
    DnsQuery query = valid;
    change(query);
    cases.push_back({std::move(label), std::move(query), std::move(message)});
  };
  add(
      "empty name", [](DnsQuery& q) { q.name = ""; }, "DNS name '': empty");
  add(
      "bad name", [](DnsQuery& q) { q.name = "a..b"; }, "empty label");
  add(
      "bad server", [](DnsQuery& q) { q.server = "dns.example"; }, "'dns.example'");
  add(
      "default port 0", [](DnsQuery& q) { q.default_port = 0; }, "default port 0");
  add(
      "no timeout", [](DnsQuery& q) { q.timeout = absl::ZeroDuration(); }, "timeout 0");
  add(
      "endless timeout", [](DnsQuery& q) { q.timeout = absl::InfiniteDuration(); },
      "timeout inf");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.label);
    EXPECT_THAT(ResolvePeers(c.query),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

// NameOfBytes returns a valid name of `size` bytes: labels of 60 letters.
std::string NameOfBytes(size_t size) {
  std::string name(size, 'a');
  for (size_t dot = 60; dot + 1 < size; dot += 61) name[dot] = '.';
  return name;
}

TEST(ValidateDnsName, TakesNamesOfLettersDigitsHyphensAndUnderscores) {
  for (const std::string& name : std::vector<std::string>{
           "a", "glue.default.svc.cluster.local", "glue.default.svc.cluster.local.",
           "my_service-1.Example.COM", std::string(63, 'a') + ".test",
           NameOfBytes(kMaxDnsNameBytes), NameOfBytes(kMaxDnsNameBytes) + "."}) {
    SCOPED_TRACE(name);
    EXPECT_OK(ValidateDnsName(name));
  }
}

TEST(ValidateDnsName, RefusesMalformedNamesQuotingThem) {
  for (const std::string& name : std::vector<std::string>{
           "", ".", ".a", "a..b", "a..", std::string(64, 'a') + ".test",
           NameOfBytes(kMaxDnsNameBytes + 1), "a b.test", "a/b.test", "a\n.test",
           "caf\xc3\xa9.test", std::string("a\0b", 3)}) {
    SCOPED_TRACE(absl::CHexEscape(name));
    EXPECT_THAT(
        ValidateDnsName(name),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 StartsWith(absl::StrCat("DNS name '", absl::CHexEscape(name), "': "))));
  }
}

TEST(ParseDnsServer, TakesAnAddressWithOrWithoutAPort) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"127.0.0.1", "127.0.0.1:53"},
      {"127.0.0.1:5353", "127.0.0.1:5353"},
      {"::1", "[::1]:53"},
      {"[::1]:5353", "[::1]:5353"},
      {"10.96.0.10", "10.96.0.10:53"},
      {"[2001:db8::53]:53", "[2001:db8::53]:53"},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE(text);
    ASSERT_OK_AND_ASSIGN(network::Address server, ParseDnsServer(text));
    EXPECT_EQ(network::FormatAddress(server), expected);
  }
}

TEST(ParseDnsServer, RefusesWhatIsNotTheAddressOfOneServer) {
  for (const std::string text :
       {"", " 127.0.0.1", "127.0.0.1 ", "dns.example", "dns.example:53", "127.0.0.1:0",
        "127.0.0.1:65536", "127.0.0.1:x", "127.0.0", "0.0.0.0", "::", "[::]:53",
        "224.0.0.251:5353", "[::1]", "[fe80::1%1]:53", "fe80::1%1"}) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ParseDnsServer(text),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith(absl::StrCat("DNS server '", text, "': "))));
  }
}

TEST(DnsConfigFromEnvironment, WithoutANameThereIsNoDnsProvider) {
  ASSERT_OK_AND_ASSIGN(std::optional<DnsConfig> config,
                       DnsConfigFromEnvironment(MapEnvironment({})));
  EXPECT_FALSE(config.has_value());
}

TEST(DnsConfigFromEnvironment, ANameAloneTakesTheDefaults) {
  ASSERT_OK_AND_ASSIGN(std::optional<DnsConfig> config,
                       DnsConfigFromEnvironment(
                           MapEnvironment({{"GLUE_DISCOVERY_DNS_NAME", "glue.test"}})));
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->name, "glue.test");
  EXPECT_EQ(config->server, std::nullopt);
  EXPECT_EQ(config->port, std::nullopt);
  EXPECT_EQ(config->interval, absl::Seconds(10));
}

TEST(DnsConfigFromEnvironment, ReadsEveryVariable) {
  ASSERT_OK_AND_ASSIGN(std::optional<DnsConfig> config,
                       DnsConfigFromEnvironment(MapEnvironment({
                           {"GLUE_DISCOVERY_DNS_NAME", "glue.default.svc.cluster.local"},
                           {"GLUE_DISCOVERY_DNS_SERVER", "10.96.0.10:53"},
                           {"GLUE_DISCOVERY_DNS_PORT", "27321"},
                           {"GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS", "2500"},
                       })));
  ASSERT_TRUE(config.has_value());
  EXPECT_EQ(config->name, "glue.default.svc.cluster.local");
  EXPECT_EQ(config->server, "10.96.0.10:53");
  EXPECT_EQ(config->port, 27321);
  EXPECT_EQ(config->interval, absl::Milliseconds(2500));
}

TEST(DnsConfigFromEnvironment, RefusesMalformedValuesNamingTheVariable) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"GLUE_DISCOVERY_DNS_NAME", ""},
      {"GLUE_DISCOVERY_DNS_NAME", "a..b"},
      {"GLUE_DISCOVERY_DNS_NAME", " glue.test"},
      {"GLUE_DISCOVERY_DNS_SERVER", "dns.example"},
      {"GLUE_DISCOVERY_DNS_SERVER", "127.0.0.1:0"},
      {"GLUE_DISCOVERY_DNS_PORT", "0"},
      {"GLUE_DISCOVERY_DNS_PORT", "65536"},
      {"GLUE_DISCOVERY_DNS_PORT", "http"},
      {"GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS", "99"},
      {"GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS", "3600001"},
      {"GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS", "10s"},
  };
  for (const auto& [variable, value] : cases) {
    SCOPED_TRACE(absl::StrCat(variable, "='", value, "'"));
    absl::flat_hash_map<std::string, std::string> values = {
        {"GLUE_DISCOVERY_DNS_NAME", "glue.test"}};
    values[variable] = value;
    EXPECT_THAT(DnsConfigFromEnvironment(MapEnvironment(values)),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith(absl::StrCat(variable, "='", value, "': "))));
  }
}

TEST(DnsConfigFromEnvironment, RefusesAVariableSetWithoutAName) {
  for (const std::string variable :
       {"GLUE_DISCOVERY_DNS_SERVER", "GLUE_DISCOVERY_DNS_PORT",
        "GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS"}) {
    SCOPED_TRACE(variable);
    EXPECT_THAT(DnsConfigFromEnvironment(MapEnvironment({{variable, "53"}})),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith(absl::StrCat(variable, "='53': ")),
                               HasSubstr("GLUE_DISCOVERY_DNS_NAME is unset"))));
  }
}

}  // namespace
}  // namespace glue::discovery
