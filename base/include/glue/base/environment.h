// Typed reading of GLUE_* environment variables, so that every layer treats them alike:
// an unset variable takes its default, a set but malformed one is an error that names
// the variable and quotes the value. Part of glue_base, below every layer.
//
//   const EnvironmentLookup env = ProcessEnvironment();
//   GLUE_ASSIGN_OR_RETURN(uint64_t rate,
//                         GetUint64(env, "GLUE_DISCOVERY_RATE_MILLISECONDS", 1000, 1,
//                         3600000));
//   // GLUE_DISCOVERY_RATE_MILLISECONDS=fast gives kInvalidArgument:
//   //   GLUE_DISCOVERY_RATE_MILLISECONDS='fast': expected an integer in 1..3600000
#ifndef GLUE_BASE_ENVIRONMENT_H_
#define GLUE_BASE_ENVIRONMENT_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glue {

// EnvironmentLookup returns the value of the variable `name`, or std::nullopt when it is
// unset. A variable set to the empty string is set (its value is "").
using EnvironmentLookup =
    std::function<std::optional<std::string>(absl::string_view name)>;

// ProcessEnvironment returns a lookup of the process environment (getenv). It is as
// thread-safe as getenv: safe unless another thread changes the environment.
EnvironmentLookup ProcessEnvironment();

// MapEnvironment returns a lookup of `values` and nothing else: for tests, and for
// programs that configure in code. The lookup owns its copy of the map and is
// thread-safe.
EnvironmentLookup MapEnvironment(absl::flat_hash_map<std::string, std::string> values);

// The readers below share these rules. Unset: the fallback, which is not checked. Set:
// the value must be non-empty and have no leading or trailing whitespace (a value of
// " 5" or "" is an error, never the fallback). Every error is kInvalidArgument with a
// message of the form `NAME='value': what was expected`; characters of the value that
// are not printable are shown escaped. Thread-safe when `env` is.

// GetUint64 reads a decimal integer in min..max: digits only, so no sign, no "0x" and
// no value above 18446744073709551615.
absl::StatusOr<uint64_t> GetUint64(const EnvironmentLookup& env, absl::string_view name,
                                   uint64_t fallback, uint64_t min, uint64_t max);

// GetDouble reads a finite decimal number in min..max, such as `2`, `-0.5` or `1e-3`:
// no leading '+', no hexadecimal, no nan or inf.
absl::StatusOr<double> GetDouble(const EnvironmentLookup& env, absl::string_view name,
                                 double fallback, double min, double max);

// GetString reads any text, for callers that parse it themselves (see VariableError).
absl::StatusOr<std::string> GetString(const EnvironmentLookup& env,
                                      absl::string_view name, std::string fallback);

// GetOptionalString is GetString for callers whose default is not a fixed text: it
// returns std::nullopt when the variable is unset.
absl::StatusOr<std::optional<std::string>> GetOptionalString(const EnvironmentLookup& env,
                                                             absl::string_view name);

// VariableError returns the status of code `code` whose message is
// `NAME='value': why`, quoting the value as the readers above do. For callers that
// parse the text of a variable themselves, e.g. to wrap a parser's error:
//   VariableError(name, text, parsed.status().code(), parsed.status().message())
absl::Status VariableError(absl::string_view name, absl::string_view value,
                           absl::StatusCode code, absl::string_view why);

}  // namespace glue

#endif  // GLUE_BASE_ENVIRONMENT_H_
