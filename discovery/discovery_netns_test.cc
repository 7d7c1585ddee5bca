// Discovery between hosts: three network namespaces on one Linux bridge, each running
// an endpoint that finds the others by multicast out of its own veth interface, as
// machines of one network segment would. Needs root; skipped otherwise.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <cstdlib>
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
#include "glue/discovery/function_listener.h"
#include "glue/network/private_network.h"

namespace glue::discovery {
namespace {

using ::glue::network::testing::RunInPrivateNetwork;
using ::glue::testing::RunUntil;
using network::Address;

constexpr int kHosts = 3;
constexpr char kBridge[] = "glue-br";

// Host i has the interface glue-h<i>, address 192.0.2.(10+i), in its namespace; the
// other end of its veth pair, glue-b<i>, is a port of the bridge.
std::string HostInterface(int i) { return absl::StrCat("glue-h", i); }
std::string BridgePort(int i) { return absl::StrCat("glue-b", i); }
std::string HostAddress(int i) { return absl::StrCat("192.0.2.", 10 + i); }
std::string HostName(int i) { return absl::StrCat("host", i); }

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
  // the endpoint. Returns nullptr, having said why on stderr, on failure.
  static std::unique_ptr<Host> Start(int index, boost::asio::io_context& observer,
                                     Seen* seen) {
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

    Config config;
    config.endpoint_id = 100 + index;
    config.endpoint_name = HostName(index);
    config.listen_address = Address(boost::asio::ip::address_v4::any(), 0);
    config.listen_interface = interface;
    config.listen_interface_origin = "test";
    config.discovery_target = DefaultDiscoveryAddress();
    config.discovery_listen = DefaultDiscoveryAddress();
    config.rate = absl::Milliseconds(100);
    config.rate_timeout_multiplier = 2;
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

bool ThreeHostsFindEachOtherThenOneSaysGoodbye() {
  // Declared first, so that it outlives the hosts that post to it.
  boost::asio::io_context observer;
  auto observer_work = boost::asio::make_work_guard(observer);
  std::map<std::string, Seen> seen;
  std::vector<std::unique_ptr<Host>> hosts;
  for (int i = 0; i < kHosts; ++i) {
    hosts.push_back(Host::Start(i, observer, &seen[HostName(i)]));
    if (hosts.back() == nullptr) return false;
  }

  const bool joined = RunUntil(
      observer,
      [&] {
        for (const auto& [name, s] : seen) {
          if (s.peers.size() != kHosts - 1) return false;
        }
        return true;
      },
      std::chrono::seconds(5));
  if (!joined) {
    std::fprintf(stderr, "the hosts did not all find each other within 5 s\n");
    PrintSeen(seen, hosts);
    return false;
  }
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
  if (!passed) return false;

  // The last host leaves: the others hear its goodbye long before it could expire.
  const std::string leaver = HostName(kHosts - 1);
  hosts.back()->Stop();
  const bool removed = RunUntil(
      observer,
      [&] {
        for (int i = 0; i < kHosts - 1; ++i) {
          if (seen[HostName(i)].removed.empty()) return false;
        }
        return true;
      },
      std::chrono::seconds(3));
  if (!removed) {
    std::fprintf(stderr, "%s's leaving was not noticed within 3 s\n", leaver.c_str());
    PrintSeen(seen, hosts);
    return false;
  }
  for (int i = 0; i < kHosts - 1; ++i) {
    const auto& removals = seen[HostName(i)].removed;
    if (removals.size() != 1 || removals[0].first != leaver ||
        removals[0].second != RemovalReason::kGoodbye) {
      std::fprintf(stderr, "%s did not see exactly %s's goodbye\n", HostName(i).c_str(),
                   leaver.c_str());
      PrintSeen(seen, hosts);
      return false;
    }
  }
  return true;
}

TEST(DiscoveryAcrossHosts, ThreeHostsOnABridgeFindEachOtherByMulticast) {
  // Snooping off: the bridge floods the group to every port at once, rather than
  // after it has heard the hosts' IGMP reports.
  std::vector<std::string> setup = {
      absl::StrCat("ip link add ", kBridge, " type bridge mcast_snooping 0"),
      absl::StrCat("ip link set ", kBridge, " up")};
  for (int i = 0; i < kHosts; ++i) {
    setup.push_back(absl::StrCat("ip link add ", HostInterface(i),
                                 " type veth peer name ", BridgePort(i)));
    setup.push_back(absl::StrCat("ip link set ", BridgePort(i), " master ", kBridge));
    setup.push_back(absl::StrCat("ip link set ", BridgePort(i), " up"));
  }
  const absl::Status result =
      RunInPrivateNetwork(setup, ThreeHostsFindEachOtherThenOneSaysGoodbye);
  if (absl::IsUnavailable(result)) GLUE_SKIP_UNLESS_CI(result);
  EXPECT_OK(result);
}

}  // namespace
}  // namespace glue::discovery
