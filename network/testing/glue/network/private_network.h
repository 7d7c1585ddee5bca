// RunInPrivateNetwork runs a check in a child process inside a network namespace of
// its own, after shell commands that build that namespace's links (veth pairs,
// bridges, more namespaces). What the check sends cannot leave the namespace, and
// whatever it creates vanishes with the child. Needs root; test code only.
//
//   absl::Status result = RunInPrivateNetwork(
//       {"ip link add veth0 type veth peer name veth1", "ip link set veth0 up", ...},
//       [] { return CheckSomething(); });
//   if (absl::IsUnavailable(result)) GLUE_SKIP_UNLESS_CI(result);
//   ASSERT_OK(result);
#ifndef GLUE_NETWORK_PRIVATE_NETWORK_H_
#define GLUE_NETWORK_PRIVATE_NETWORK_H_

#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace glue::network::testing {

// RunInPrivateNetwork forks; the child unshares its network namespace, brings
// loopback up with multicast, turns off IPv6 duplicate address detection (so that
// link-local addresses are usable at once), runs `setup` with /bin/sh, then `check`,
// which reports its failures on stderr and returns whether it passed. The parent waits.
// Returns OK when the check passed; kUnavailable when the namespace could not be made
// (not root: the caller skips, or fails under CI, with GLUE_SKIP_UNLESS_CI); kInternal
// when setup or the check failed.
inline absl::Status RunInPrivateNetwork(const std::vector<std::string>& setup,
                                        const std::function<bool()>& check) {
  std::fflush(nullptr);
  const pid_t child = ::fork();
  if (child < 0) return absl::InternalError("fork failed");
  if (child == 0) {
    if (::unshare(CLONE_NEWNET) != 0) ::_exit(77);
    std::vector<std::string> commands = {"ip link set lo up",
                                         "ip link set lo multicast on",
                                         "sysctl -qw net.ipv6.conf.all.accept_dad=0",
                                         "sysctl -qw net.ipv6.conf.default.accept_dad=0"};
    commands.insert(commands.end(), setup.begin(), setup.end());
    for (const std::string& command : commands) {
      if (std::system(command.c_str()) != 0) {
        std::fprintf(stderr, "private network: '%s' failed\n", command.c_str());
        ::_exit(78);
      }
    }
    const bool passed = check();
    std::fflush(nullptr);
    ::_exit(passed ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(child, &status, 0) < 0) {
  }
  if (!WIFEXITED(status)) {
    return absl::InternalError(absl::StrCat("the check died with signal ",
                                            WIFSIGNALED(status) ? WTERMSIG(status) : 0));
  }
  switch (WEXITSTATUS(status)) {
    case 0:
      return absl::OkStatus();
    case 77:
      return absl::UnavailableError("cannot create a network namespace (needs root)");
    case 78:
      return absl::InternalError("setting up the private network failed (see stderr)");
    default:
      return absl::InternalError("the check failed (see stderr)");
  }
}

}  // namespace glue::network::testing

#endif  // GLUE_NETWORK_PRIVATE_NETWORK_H_
