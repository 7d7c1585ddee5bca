// Minimal leveled logging to stderr, since Abseil 20220623 has no absl/log. Lines look
// like `I 12:34:56.789012 discovery: peer added name=a`. stdout stays free for the
// programs' own output.
//
//   GLUE_LOG(kWarning, "dropped %d datagrams from %s", n, address);
#ifndef GLUE_BASE_LOG_H_
#define GLUE_BASE_LOG_H_

#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "glue/base/environment.h"

namespace glue {

enum class LogSeverity { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// kLogLevelVariable sets the least severity written.
inline constexpr absl::string_view kLogLevelVariable = "GLUE_LOG_LEVEL";

// LogSeverityFromEnvironment reads GLUE_LOG_LEVEL: debug, info, warning or error, in
// any case; unset, kInfo. Error: kInvalidArgument, as the readers of environment.h
// give it: `GLUE_LOG_LEVEL='loud': expected debug, info, warning or error`. The logger
// reads the process environment so at its first use, where it cannot fail: it takes
// kInfo for a value refused here. So programs check the variable with the rest of
// their configuration (glue::OptionsFromEnvironment does) and stop on the error.
// Thread-safe when `env` is.
absl::StatusOr<LogSeverity> LogSeverityFromEnvironment(
    const EnvironmentLookup& env = ProcessEnvironment());

// SetMinLogSeverity drops messages below `severity` (default: what
// LogSeverityFromEnvironment gives, or kInfo). Thread-safe.
void SetMinLogSeverity(LogSeverity severity);

// LogEnabled reports whether a message of `severity` would be written. Thread-safe.
bool LogEnabled(LogSeverity severity);

// WriteLogLine writes one whole line to stderr in a single write, so lines of
// concurrent threads never interleave. Thread-safe.
void WriteLogLine(LogSeverity severity, absl::string_view message);

}  // namespace glue

// GLUE_LOG formats with absl::StrFormat and writes a line, evaluating the arguments
// only when the severity is enabled.
#define GLUE_LOG(severity, ...)                              \
  do {                                                       \
    if (::glue::LogEnabled(::glue::LogSeverity::severity)) { \
      ::glue::WriteLogLine(::glue::LogSeverity::severity,    \
                           ::absl::StrFormat(__VA_ARGS__));  \
    }                                                        \
  } while (false)

#endif  // GLUE_BASE_LOG_H_
