// Dnsmasq: a real DNS server for tests of the DNS provider, a dnsmasq child process
// answering for the domain `test` from a hosts file of the test's own and from SRV
// records on its command line, and forwarding nothing (no upstream server). Test code
// only; run it only where no query can leave the machine (a network namespace of the
// test's own).
//
//   absl::StatusOr<std::unique_ptr<Dnsmasq>> dns = Dnsmasq::Create();
//   if (absl::IsFailedPrecondition(dns.status())) GLUE_SKIP_UNLESS_CI(dns.status());
//   ASSERT_OK((*dns)->WriteHosts("127.0.0.11 peers.test\n"));
//   ASSERT_OK((*dns)->Start("127.0.0.1", 0, {}));   // answers at (*dns)->server()
//   ASSERT_OK((*dns)->WriteHosts("127.0.0.12 peers.test\n"));
//   ASSERT_OK((*dns)->Reload());                    // dnsmasq reads the file again
#ifndef GLUE_DISCOVERY_DNSMASQ_H_
#define GLUE_DISCOVERY_DNSMASQ_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "glue/base/child_process.h"

namespace glue::discovery::testing {

// FindDnsmasq returns the path of dnsmasq, or "" when it is not installed. It lives
// in /usr/sbin, which a user's PATH may lack.
std::string FindDnsmasq();

// WhyNotOnlyLoopback says why the calling thread's network namespace is not one where
// nothing can leave the machine (an interface besides loopback, or loopback down), or
// returns "" when it is.
std::string WhyNotOnlyLoopback();

// Dnsmasq owns at most one dnsmasq process at a time and a temporary directory for
// its hosts file and log. The process runs in the network namespace of the thread
// that starts it. Not thread-safe: one thread drives it.
class Dnsmasq {
 public:
  // The name the readiness probe asks for; every hosts file answers it.
  static constexpr absl::string_view kReadyName = "ready.test";

  // Create finds dnsmasq and makes the directory; nothing runs yet.
  // Errors: kFailedPrecondition when dnsmasq is not installed (tests skip, or fail
  // under CI); kInternal when the directory cannot be made.
  static absl::StatusOr<std::unique_ptr<Dnsmasq>> Create();

  // Stops dnsmasq and removes the directory.
  ~Dnsmasq();
  Dnsmasq(const Dnsmasq&) = delete;
  Dnsmasq& operator=(const Dnsmasq&) = delete;

  // WriteHosts replaces the hosts file that A and AAAA queries are answered from with
  // `lines` (`ADDRESS NAME...` each), and kReadyName. Written aside and renamed, so
  // that dnsmasq never reads half of it; dnsmasq reads it at Start and Reload.
  // Error: kInternal when it cannot be written.
  absl::Status WriteHosts(absl::string_view lines);

  // Start runs dnsmasq on `listen_address` (an IPv4 address of this namespace) and
  // `port`, with the hosts file (an empty one when none was written) and
  // `srv_records`, each the value of a --srv-host option
  // (`_glue._udp.NAME,TARGET,PORT`), and waits until it answers. Port 0: the port of
  // the last run, or a free one the first time (another that a test running at the
  // same time took first is given up for the next). Call Stop before starting again.
  // Errors: kFailedPrecondition when running; kUnavailable when it exited or did not
  // answer within 10 s, with its log; kInternal when it could not be spawned.
  absl::Status Start(absl::string_view listen_address, uint16_t port,
                     const std::vector<std::string>& srv_records);

  // Reload has dnsmasq read the hosts file again (SIGHUP); it does so at its own pace,
  // soon after. Error: kFailedPrecondition when it is not running.
  absl::Status Reload();

  // Stop ends dnsmasq and reaps it: SIGTERM, then SIGKILL if it is still there after
  // a few seconds. Idempotent.
  void Stop();

  // server is where dnsmasq answers, `IP:PORT` (DnsQuery::server's form), after Start.
  std::string server() const;
  uint16_t port() const { return port_; }

  // log returns what dnsmasq wrote, for a failure message.
  std::string log() const;

 private:
  enum class Readiness { kReady, kExited, kTimedOut };

  Dnsmasq(std::string program, std::filesystem::path dir)
      : program_(std::move(program)), dir_(std::move(dir)) {}

  absl::Status Spawn(const std::vector<std::string>& srv_records);
  Readiness WaitUntilReady();

  const std::string program_;
  const std::filesystem::path dir_;
  std::string listen_address_;
  uint16_t port_ = 0;
  glue::testing::ChildProcess process_;
};

}  // namespace glue::discovery::testing

#endif  // GLUE_DISCOVERY_DNSMASQ_H_
