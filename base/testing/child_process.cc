#include "glue/base/child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace glue::testing {

std::string FindProgram(absl::string_view name) {
  std::vector<std::string> directories;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    for (absl::string_view directory : absl::StrSplit(path, ':', absl::SkipEmpty())) {
      directories.emplace_back(directory);
    }
  }
  for (const char* directory : {"/usr/sbin", "/sbin", "/usr/local/sbin"}) {
    directories.emplace_back(directory);
  }
  for (const std::string& directory : directories) {
    const std::string candidate = absl::StrCat(directory, "/", name);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

absl::Status ChildProcess::Spawn(const std::vector<std::string>& argv,
                                 const std::string& log_path) {
  if (pid_ > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(argv.front(), ": one runs already"));
  }
  std::vector<std::string> args = argv;
  std::vector<char*> pointers;
  for (std::string& arg : args) pointers.push_back(arg.data());
  pointers.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  const int error = ::posix_spawn(&pid_, args.front().c_str(), &actions, nullptr,
                                  pointers.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) {
    pid_ = -1;
    return absl::InternalError(
        absl::StrCat("posix_spawn ", args.front(), ": ", std::strerror(error)));
  }
  return absl::OkStatus();
}

bool ChildProcess::Exited() {
  if (pid_ <= 0) return true;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
  pid_ = -1;
  return true;
}

absl::Status ChildProcess::Signal(int signal) {
  if (pid_ <= 0) return absl::FailedPreconditionError("no process runs");
  if (::kill(pid_, signal) != 0) {
    return absl::InternalError(
        absl::StrCat("kill ", pid_, " signal ", signal, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
}

}  // namespace glue::testing
