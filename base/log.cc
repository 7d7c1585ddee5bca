#include "glue/base/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace glue {
namespace {

LogSeverity SeverityFromEnvironment() {
  const char* value = std::getenv("GLUE_LOG_LEVEL");
  if (value == nullptr) return LogSeverity::kInfo;
  const std::string level = absl::AsciiStrToLower(value);
  if (level == "debug") return LogSeverity::kDebug;
  if (level == "warning") return LogSeverity::kWarning;
  if (level == "error") return LogSeverity::kError;
  return LogSeverity::kInfo;
}

std::atomic<int>& MinSeverity() {
  static std::atomic<int> severity{static_cast<int>(SeverityFromEnvironment())};
  return severity;
}

char SeverityLetter(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::kDebug:
      return 'D';
    case LogSeverity::kInfo:
      return 'I';
    case LogSeverity::kWarning:
      return 'W';
    case LogSeverity::kError:
      return 'E';
  }
  return '?';
}

}  // namespace

void SetMinLogSeverity(LogSeverity severity) {
  MinSeverity().store(static_cast<int>(severity), std::memory_order_relaxed);
}

bool LogEnabled(LogSeverity severity) {
  return static_cast<int>(severity) >= MinSeverity().load(std::memory_order_relaxed);
}

void WriteLogLine(LogSeverity severity, absl::string_view message) {
  std::string line = absl::StrFormat(
      "%c %s %s\n", SeverityLetter(severity),
      absl::FormatTime("%H:%M:%E6S", absl::Now(), absl::LocalTimeZone()), message);
  // One write(2) per line: atomic for lines shorter than PIPE_BUF on pipes.
  const char* data = line.data();
  size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, data, left);
    if (n <= 0) return;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace glue
