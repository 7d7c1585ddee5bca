// ChildProcess: a program that a test or a benchmark runs beside itself (a DNS server,
// an MQTT broker), its standard output and error appended to a log file, stopped and
// reaped by Stop or the destructor. Test and benchmark code only.
//
//   glue::testing::ChildProcess broker;
//   GLUE_RETURN_IF_ERROR(broker.Spawn({FindProgram("mosquitto"), "-c", conf}, log));
//   ...
//   broker.Stop();  // SIGTERM, SIGKILL if it is still there after 5 s
#ifndef GLUE_BASE_CHILD_PROCESS_H_
#define GLUE_BASE_CHILD_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace glue::testing {

// FindProgram returns the path of the executable `name` in $PATH or in the system
// directories that a user's PATH may lack (/usr/sbin, /sbin, /usr/local/sbin), or ""
// when there is none.
std::string FindProgram(absl::string_view name);

// ChildProcess owns at most one process at a time. Not thread-safe: one thread drives
// it.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess() { Stop(); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Spawn runs argv[0] (a path) with `argv`, standard input from /dev/null and its
  // output appended to `log_path`, in the calling thread's network namespace.
  // Errors: kFailedPrecondition when one runs already; kInternal when it cannot be
  // spawned.
  absl::Status Spawn(const std::vector<std::string>& argv, const std::string& log_path);

  // Exited says whether the process has ended (reaping it), or none runs.
  bool Exited();

  // Signal sends `signal` to the process. Error: kFailedPrecondition when none runs.
  absl::Status Signal(int signal);

  // Stop ends the process and reaps it: SIGTERM, then SIGKILL if it is still there
  // after 5 s. Idempotent.
  void Stop();

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }  // -1 when none runs

 private:
  pid_t pid_ = -1;
};

}  // namespace glue::testing

#endif  // GLUE_BASE_CHILD_PROCESS_H_
