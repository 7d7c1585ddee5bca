// Discovery between hosts: four network namespaces on one Linux bridge, each running
// an endpoint that finds the others out of its own veth interface, as machines of one
// network segment would: by multicast, or with multicast off through a peers file, DNS
// (a dnsmasq on the bridge's address) or a rendezvous that is then cut off. Needs root
// (and dnsmasq for DNS); skipped otherwise.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/run_until.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/discovery/discovery.h"
#include "glue/discovery/dnsmasq.h"
#include "glue/discovery/function_listener.h"
#include "glue/network/private_network.h"

namespace glue::discovery {
namespace {

using ::glue::network::testing::RunInPrivateNetwork;
using ::glue::testing::RunFor;
using ::glue::testing::RunUntil;
using network::Address;

constexpr int kHosts = 4;
constexpr char kBridge[] = "glue-br";
// The bridge's own address, in the test's namespace: where the DNS server answers.
constexpr char kBridgeAddress[] = "192.0.2.1";
// With multicast off, every endpoint takes data at this port of its host, as the
// peers file and the DNS records (A records carry no port) say.
constexpr uint16_t kDataPort = 7400;
constexpr uint16_t kRendezvousPort = 27320;
constexpr char kDnsName[] = "peers.test";

// How the hosts find each other: a parameter of the test.
enum class Finding { kMulticast, kPeersFile, kDns, kRendezvous };

// The provider through which each endpoint comes to know the others.
absl::string_view ProviderOf(Finding how) {
  switch (how) {
    case Finding::kMulticast:
      return kMulticastProvider;
    case Finding::kPeersFile:
      return kPeersFileProvider;
    case Finding::kDns:
      return kDnsProvider;
    case Finding::kRendezvous:
      return kRendezvousProvider;
  }
  return "";
}

// Host i has the interface glue-h<i>, address 192.0.2.(10+i), in its namespace; the
// other end of its veth pair, glue-b<i>, is a port of the bridge.
std::string HostInterface(int i) { return absl::StrCat("glue-h", i); }
std::string BridgePort(int i) { return absl::StrCat("glue-b", i); }
std::string HostAddress(int i) { return absl::StrCat("192.0.2.", 10 + i); }
std::string HostName(int i) { return absl::StrCat("host", i); }
std::string DataAddress(int i) { return absl::StrCat(HostAddress(i), ":", kDataPort); }

// With a rendezvous, host 0 is the rendezvous and the others its clients.
constexpr int kRendezvousHost = 0;

// HostConfig is host i's endpoint when hosts find each other `how`; `peers_path` and
// `dns_server` are the peers file and the DNS server's address, for those ways.
Config HostConfig(int i, Finding how, const std::string& peers_path,
                  const std::string& dns_server) {
  Config config;
  config.endpoint_id = 100 + i;
  config.endpoint_name = HostName(i);
  config.listen_address = Address(boost::asio::ip::address_v4::any(), 0);
  config.listen_interface = HostInterface(i);
  config.listen_interface_origin = "test";
  config.discovery_target = DefaultDiscoveryAddress();
  config.discovery_listen = DefaultDiscoveryAddress();
  config.rate = absl::Milliseconds(100);
  config.rate_timeout_multiplier = 2;
  const Address rendezvous(boost::asio::ip::make_address(HostAddress(kRendezvousHost)),
                           kRendezvousPort);
  switch (how) {
    case Finding::kMulticast:
      break;
    case Finding::kPeersFile:
      config.providers = {std::string(kPeersFileProvider)};
      config.listen_address.port(kDataPort);
      config.peers.path = peers_path;
      break;
    case Finding::kDns:
      config.providers = {std::string(kDnsProvider)};
      config.listen_address.port(kDataPort);
      config.dns = DnsConfig{.name = kDnsName,
                             .server = dns_server,
                             .port = kDataPort,
                             .interval = absl::Milliseconds(200)};
      break;
    case Finding::kRendezvous:
      config.discovery_listen =
          Address(boost::asio::ip::make_address(HostAddress(i)), kRendezvousPort);
      if (i == kRendezvousHost) {
        config.discovery_target.reset();
      } else {
        config.discovery_target = rendezvous;
      }
      break;
  }
  return config;
}

bool Run(const std::string& command) {
  if (std::system(command.c_str()) == 0) return true;
  std::fprintf(stderr, "'%s' failed\n", command.c_str());
  return false;
}

// The network namespace of the calling thread, as a file descriptor (-1 on failure).
int OpenCurrentNamespace() {
  return ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
}

// While alive, the calling thread is in the network namespace `target` (sockets it
// opens, and commands it runs, belong there); the destructor takes it back.
class NamespaceScope {
 public:
  explicit NamespaceScope(int target) : home_(OpenCurrentNamespace()) {
    entered_ = home_ >= 0 && ::setns(target, CLONE_NEWNET) == 0;
    if (!entered_) std::perror("entering a host's network namespace");
  }
  ~NamespaceScope() {
    // A thread stranded in a host's namespace would make the rest of the test lie.
    if (entered_ && ::setns(home_, CLONE_NEWNET) != 0) std::abort();
    if (home_ >= 0) ::close(home_);
  }
  NamespaceScope(const NamespaceScope&) = delete;
  NamespaceScope& operator=(const NamespaceScope&) = delete;

  bool entered() const { return entered_; }

 private:
  const int home_;
  bool entered_ = false;
};

// A new, empty network namespace held by a file descriptor (-1 on failure); the
// calling thread stays where it was.
int NewNamespace() {
  const int home = OpenCurrentNamespace();
  if (home < 0) return -1;
  int created = -1;
  if (::unshare(CLONE_NEWNET) == 0) {
    created = OpenCurrentNamespace();
    if (::setns(home, CLONE_NEWNET) != 0) std::abort();
  }
  ::close(home);
  return created;
}

// What the test saw of one host's peers. Touched on the test's thread only: the
// hosts' callbacks post their events to it.
struct Seen {
  std::map<std::string, Peer> peers;
  std::vector<std::pair<std::string, RemovalReason>> removed;
};

// A host: a network namespace of its own with one end of a veth pair, and an
// endpoint whose sockets live there, run by a thread with its own io_context.
//
// The namespace is not named under /run/netns (`ip netns add`), which would be state
// of the whole machine that a crash could leave behind. It is made with unshare() by
// this process and held only by a file descriptor (`ip link set` accepts its
// /proc/PID/fd path) and by what runs in it, the host's thread and sockets: when the
// host is destroyed, or the process dies however it dies, the namespace goes, and its
// veth end with it, which deletes the other end too. The bridge lives in
// RunInPrivateNetwork's namespace and goes with it. One thread switches into each
// namespace in turn to configure it, open the endpoint's sockets and start the thread
// that runs it, so no process needs to be forked and synchronised per host, and the
// test reads every host's events in one place.
class Host {
 public:
  // Makes the namespace, moves HostInterface(index) into it, configures it and starts
  // the endpoint of `config`. Returns nullptr, having said why on stderr, on failure.
  static std::unique_ptr<Host> Start(int index, const Config& config,
                                     boost::asio::io_context& observer, Seen* seen) {
    std::unique_ptr<Host> host(new Host());
    if (host->namespace_ < 0) {
      std::perror("making a host's network namespace");
      return nullptr;
    }
    const std::string interface = HostInterface(index);
    if (!Run(absl::StrCat("ip link set ", interface, " netns /proc/", ::getpid(), "/fd/",
                          host->namespace_))) {
      return nullptr;
    }
    NamespaceScope scope(host->namespace_);
    if (!scope.entered() ||
        !Run(absl::StrCat("ip addr add ", HostAddress(index), "/24 dev ", interface)) ||
        !Run(absl::StrCat("ip link set ", interface, " up")) ||
        !Run(absl::StrCat("ip route add 224.0.0.0/4 dev ", interface))) {
      return nullptr;
    }

    testing::FunctionListener& callbacks = host->listener_;
    callbacks.on_added = [&observer, seen](const Peer& p) {
      boost::asio::post(observer, [seen, p] { seen->peers[p.name] = p; });
    };
    callbacks.on_removed = [&observer, seen](const Peer& p, RemovalReason why) {
      boost::asio::post(observer, [seen, p, why] {
        seen->peers.erase(p.name);
        seen->removed.emplace_back(p.name, why);
      });
    };
    auto discovery = Discovery::Create(boost::asio::make_strand(host->io_), config, {});
    if (!discovery.ok()) {
      std::fprintf(stderr, "%s: %s\n", config.endpoint_name.c_str(),
                   discovery.status().ToString().c_str());
      return nullptr;
    }
    host->discovery_ = *std::move(discovery);
    if (absl::Status started = host->discovery_->Start(&callbacks); !started.ok()) {
      std::fprintf(stderr, "%s: %s\n", config.endpoint_name.c_str(),
                   started.ToString().c_str());
      return nullptr;
    }
    // Made while this thread is in the namespace, the host's thread lives there too.
    host->thread_ = std::thread([io = &host->io_] { io->run(); });
    return host;
  }

  ~Host() {
    Stop();
    if (thread_.joinable()) thread_.join();
    discovery_.reset();
    if (namespace_ >= 0) ::close(namespace_);
  }
  Host(const Host&) = delete;
  Host& operator=(const Host&) = delete;

  // Stop says goodbye and lets the host's thread finish. Idempotent.
  void Stop() {
    if (discovery_ != nullptr) discovery_->Stop();
    work_.reset();
  }

  const Discovery& discovery() const { return *discovery_; }

 private:
  Host() : namespace_(NewNamespace()) {}

  const int namespace_;
  boost::asio::io_context io_;
  testing::FunctionListener listener_;  // outlives discovery_
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::unique_ptr<Discovery> discovery_;
  std::thread thread_;
};

// Prints what each host saw, for a failed wait.
void PrintSeen(const std::map<std::string, Seen>& seen,
               const std::vector<std::unique_ptr<Host>>& hosts) {
  for (const auto& [name, s] : seen) {
    std::string line = absl::StrCat(name, " sees:");
    for (const auto& [peer, p] : s.peers) {
      absl::StrAppend(&line, " ", peer, "@", network::FormatAddress(p.data_address));
    }
    absl::StrAppend(&line, "; removed:");
    for (const auto& [peer, why] : s.removed) {
      absl::StrAppend(&line, " ", peer, "(", RemovalReasonName(why), ")");
    }
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  for (const auto& host : hosts) {
    const DiscoveryCounters c = host->discovery().counters();
    std::fprintf(stderr,
                 "%s: data at %s; announcements_sent=%llu answers_sent=%llu "
                 "datagrams_received=%llu corrupt=%llu malformed=%llu "
                 "send_failures=%llu\n",
                 host->discovery().config().endpoint_name.c_str(),
                 network::FormatAddress(host->discovery().data_address()).c_str(),
                 static_cast<unsigned long long>(c.announcements_sent),
                 static_cast<unsigned long long>(c.answers_sent),
                 static_cast<unsigned long long>(c.datagrams_received),
                 static_cast<unsigned long long>(c.corrupt),
                 static_cast<unsigned long long>(c.malformed),
                 static_cast<unsigned long long>(c.send_failures));
  }
}

// KnowEachOther says whether each host of `members` sees exactly the others of
// `members`, through the provider of `how` (as far as a rendezvous's clients are
// concerned: the rendezvous itself has no provider).
bool KnowEachOther(const std::vector<int>& members, Finding how,
                   std::map<std::string, Seen>& seen,
                   const std::vector<std::unique_ptr<Host>>& hosts) {
  for (int i : members) {
    const Seen& s = seen[HostName(i)];
    if (s.peers.size() != members.size() - 1) return false;
    for (int j : members) {
      if (j != i && !s.peers.contains(HostName(j))) return false;
    }
    if (how == Finding::kRendezvous && i == kRendezvousHost) continue;
    for (const Peer& peer : hosts[i]->discovery().peers()) {
      if (peer.providers != std::vector<std::string>{std::string(ProviderOf(how))}) {
        return false;
      }
    }
  }
  return true;
}

// Each host i sees each other host j as id 100 + j at j's address and data port.
bool SeeTheRightAddresses(std::map<std::string, Seen>& seen,
                          const std::vector<std::unique_ptr<Host>>& hosts) {
  bool passed = true;
  for (int i = 0; i < kHosts; ++i) {
    for (int j = 0; j < kHosts; ++j) {
      if (i == j) continue;
      const Peer& peer = seen[HostName(i)].peers[HostName(j)];
      const Address expected(boost::asio::ip::make_address(HostAddress(j)),
                             hosts[j]->discovery().data_address().port());
      if (peer.id != 100u + j || peer.data_address != expected) {
        std::fprintf(stderr, "%s sees %s as id %llu at %s; expected id %d at %s\n",
                     HostName(i).c_str(), HostName(j).c_str(),
                     static_cast<unsigned long long>(peer.id),
                     network::FormatAddress(peer.data_address).c_str(), 100 + j,
                     network::FormatAddress(expected).c_str());
        passed = false;
      }
    }
  }
  return passed;
}

// HostsLines are the lines of a hosts file giving kDnsName the addresses of `hosts`.
std::string HostsLines(const std::vector<int>& hosts) {
  std::string lines;
  for (int i : hosts) absl::StrAppend(&lines, HostAddress(i), " ", kDnsName, "\n");
  return lines;
}

// Removes a file when it goes out of scope.
struct TemporaryFile {
  ~TemporaryFile() {
    std::error_code ignored;
    if (!path.empty()) std::filesystem::remove(path, ignored);
  }
  std::string path;
};

// Three hosts start and find each other `how`; a fourth joins them (in DNS, its
// record is added first). Then, with multicast, the fourth says goodbye, which the
// others hear at once. Otherwise one host is cut off from the bridge without a goodbye
// (with a rendezvous, the rendezvous; in DNS, after its record was removed): it
// expires from the others, who keep each other for several expiry periods.
bool FourHostsFindEachOtherThenOneLeaves(Finding how) {
  // Declared first, so that they outlive the hosts that use them.
  std::unique_ptr<testing::Dnsmasq> dns;
  TemporaryFile peers_file;
  boost::asio::io_context observer;
  auto observer_work = boost::asio::make_work_guard(observer);
  std::map<std::string, Seen> seen;
  std::vector<std::unique_ptr<Host>> hosts;

  std::string dns_server;
  if (how == Finding::kDns) {
    absl::StatusOr<std::unique_ptr<testing::Dnsmasq>> made = testing::Dnsmasq::Create();
    absl::Status status = made.status();
    if (made.ok()) {
      dns = *std::move(made);
      status = dns->WriteHosts(HostsLines({0, 1, 2}));
      if (status.ok()) status = dns->Start(kBridgeAddress, 0, {});
    }
    if (!status.ok()) {
      std::fprintf(stderr, "dnsmasq: %s\n", status.ToString().c_str());
      return false;
    }
    dns_server = dns->server();
  }
  if (how == Finding::kPeersFile) {
    peers_file.path =
        (std::filesystem::temp_directory_path() / "glue-peers-XXXXXX").string();
    const int fd = ::mkstemp(peers_file.path.data());
    if (fd < 0) {
      std::perror("mkstemp");
      peers_file.path.clear();
      return false;
    }
    ::close(fd);
    std::ofstream out(peers_file.path);
    for (int i = 0; i < kHosts; ++i) out << DataAddress(i) << "\n";
  }
  // With DNS, has the records list `members` (while the hosts run).
  auto publish = [&](const std::vector<int>& members) {
    if (dns == nullptr) return true;
    absl::Status status = dns->WriteHosts(HostsLines(members));
    if (status.ok()) status = dns->Reload();
    if (!status.ok()) std::fprintf(stderr, "dnsmasq: %s\n", status.ToString().c_str());
    return status.ok();
  };
  auto start = [&](int i) {
    hosts.push_back(Host::Start(i, HostConfig(i, how, peers_file.path, dns_server),
                                observer, &seen[HostName(i)]));
    return hosts.back() != nullptr;
  };
  auto wait = [&](const std::vector<int>& members, const std::string& what) {
    if (RunUntil(
            observer, [&] { return KnowEachOther(members, how, seen, hosts); },
            std::chrono::seconds(5))) {
      return true;
    }
    std::fprintf(stderr, "%s within 5 s\n", what.c_str());
    PrintSeen(seen, hosts);
    return false;
  };

  for (int i = 0; i < kHosts - 1; ++i) {
    if (!start(i)) return false;
  }
  if (!wait({0, 1, 2}, "the first three hosts did not all find each other")) {
    return false;
  }
  if (!publish({0, 1, 2, 3}) || !start(kHosts - 1)) return false;
  if (!wait({0, 1, 2, 3}, "the fourth host did not join the others") ||
      !SeeTheRightAddresses(seen, hosts)) {
    return false;
  }

  const int leaver = how == Finding::kRendezvous ? kRendezvousHost : kHosts - 1;
  std::vector<int> stayers;
  for (int i = 0; i < kHosts; ++i) {
    if (i != leaver) stayers.push_back(i);
  }
  const RemovalReason expected_reason =
      how == Finding::kMulticast ? RemovalReason::kGoodbye : RemovalReason::kExpired;
  if (how == Finding::kMulticast) {
    // The others hear the goodbye long before the leaver could expire.
    hosts[leaver]->Stop();
  } else {
    if (!publish(stayers)) return false;
    // Deleting the bridge's end of the veth pair deletes the host's too: what the
    // host sends from now on, a goodbye included, goes nowhere.
    if (!Run(absl::StrCat("ip link del ", BridgePort(leaver)))) return false;
  }
  const bool removed = RunUntil(
      observer,
      [&] {
        for (int i : stayers) {
          if (seen[HostName(i)].removed.empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(3));
  if (!removed) {
    std::fprintf(stderr, "%s's leaving was not noticed within 3 s\n",
                 HostName(leaver).c_str());
    PrintSeen(seen, hosts);
    return false;
  }
  if (how != Finding::kMulticast) {
    // Five expiry periods (announcements every 100 ms, two silent periods expire).
    RunFor(observer, std::chrono::seconds(1));
  }
  const std::pair<std::string, RemovalReason> expected_removal(HostName(leaver),
                                                               expected_reason);
  for (int i : stayers) {
    const auto& removals = seen[HostName(i)].removed;
    if (removals.size() != 1 || removals[0] != expected_removal) {
      std::fprintf(stderr, "%s did not see exactly %s's leaving (%s)\n",
                   HostName(i).c_str(), HostName(leaver).c_str(),
                   RemovalReasonName(expected_reason).data());
      PrintSeen(seen, hosts);
      return false;
    }
  }
  if (how != Finding::kMulticast && !KnowEachOther(stayers, how, seen, hosts)) {
    std::fprintf(stderr, "the hosts left did not keep each other\n");
    PrintSeen(seen, hosts);
    return false;
  }
  return true;
}

class DiscoveryAcrossHosts : public ::testing::TestWithParam<Finding> {};

TEST_P(DiscoveryAcrossHosts, FourHostsOnABridgeFindEachOtherThenOneLeaves) {
  if (GetParam() == Finding::kDns) {
    const absl::Status dnsmasq = testing::Dnsmasq::Create().status();
    if (absl::IsFailedPrecondition(dnsmasq)) GLUE_SKIP_UNLESS_CI(dnsmasq.message());
  }
  // Snooping off: the bridge floods the group to every port at once, rather than
  // after it has heard the hosts' IGMP reports.
  std::vector<std::string> setup = {
      absl::StrCat("ip link add ", kBridge, " type bridge mcast_snooping 0"),
      absl::StrCat("ip addr add ", kBridgeAddress, "/24 dev ", kBridge),
      absl::StrCat("ip link set ", kBridge, " up")};
  for (int i = 0; i < kHosts; ++i) {
    setup.push_back(absl::StrCat("ip link add ", HostInterface(i),
                                 " type veth peer name ", BridgePort(i)));
    setup.push_back(absl::StrCat("ip link set ", BridgePort(i), " master ", kBridge));
    setup.push_back(absl::StrCat("ip link set ", BridgePort(i), " up"));
  }
  const Finding how = GetParam();
  const absl::Status result = RunInPrivateNetwork(
      setup, [how] { return FourHostsFindEachOtherThenOneLeaves(how); });
  if (absl::IsUnavailable(result)) GLUE_SKIP_UNLESS_CI(result);
  EXPECT_OK(result);
}

INSTANTIATE_TEST_SUITE_P(Ways, DiscoveryAcrossHosts,
                         ::testing::Values(Finding::kMulticast, Finding::kPeersFile,
                                           Finding::kDns, Finding::kRendezvous),
                         [](const ::testing::TestParamInfo<Finding>& info) {
                           return std::string(ProviderOf(info.param));
                         });

}  // namespace
}  // namespace glue::discovery
