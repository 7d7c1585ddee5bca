#include "glue/base/log.h"

#include <unistd.h>

#include <atomic>
#include <optional>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "glue/base/status_macros.h"

namespace glue {
namespace {

std::atomic<int>& MinSeverity() {
  static std::atomic<int> severity{
      static_cast<int>(LogSeverityFromEnvironment().value_or(LogSeverity::kInfo))};
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

absl::StatusOr<LogSeverity> LogSeverityFromEnvironment(const EnvironmentLookup& env) {
  GLUE_ASSIGN_OR_RETURN(const std::optional<std::string> text,
                        GetOptionalString(env, kLogLevelVariable));
  if (!text.has_value()) return LogSeverity::kInfo;
  const std::string level = absl::AsciiStrToLower(*text);
  if (level == "debug") return LogSeverity::kDebug;
  if (level == "info") return LogSeverity::kInfo;
  if (level == "warning") return LogSeverity::kWarning;
  if (level == "error") return LogSeverity::kError;
  return VariableError(kLogLevelVariable, *text, absl::StatusCode::kInvalidArgument,
                       "expected debug, info, warning or error");
}

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
