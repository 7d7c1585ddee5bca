#include "glue/base/environment.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "glue/base/status_macros.h"

namespace glue {
namespace {

// ReadText looks `name` up and checks the rules every value obeys; `expected` says
// what the caller wanted, for the message.
absl::StatusOr<std::optional<std::string>> ReadText(const EnvironmentLookup& env,
                                                    absl::string_view name,
                                                    absl::string_view expected) {
  std::optional<std::string> value = env(name);
  if (!value.has_value()) return std::nullopt;
  if (value->empty()) {
    return VariableError(name, *value, absl::StatusCode::kInvalidArgument,
                         absl::StrCat("empty; expected ", expected));
  }
  if (absl::ascii_isspace(static_cast<unsigned char>(value->front())) ||
      absl::ascii_isspace(static_cast<unsigned char>(value->back()))) {
    return VariableError(
        name, *value, absl::StatusCode::kInvalidArgument,
        absl::StrCat("leading or trailing whitespace; expected ", expected));
  }
  return value;
}

}  // namespace

EnvironmentLookup ProcessEnvironment() {
  return [](absl::string_view name) -> std::optional<std::string> {
    const char* value = std::getenv(std::string(name).c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

EnvironmentLookup MapEnvironment(absl::flat_hash_map<std::string, std::string> values) {
  // Shared, so that copies of the lookup do not copy the map.
  auto map = std::make_shared<const absl::flat_hash_map<std::string, std::string>>(
      std::move(values));
  return [map](absl::string_view name) -> std::optional<std::string> {
    auto it = map->find(name);
    if (it == map->end()) return std::nullopt;
    return it->second;
  };
}

absl::StatusOr<uint64_t> GetUint64(const EnvironmentLookup& env, absl::string_view name,
                                   uint64_t fallback, uint64_t min, uint64_t max) {
  const std::string expected = absl::StrCat("an integer in ", min, "..", max);
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadText(env, name, expected));
  if (!text.has_value()) return fallback;
  // from_chars takes no sign, no prefix and no whitespace for an unsigned type, and
  // reports overflow.
  uint64_t value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value, 10);
  if (ec != std::errc() || ptr != end || value < min || value > max) {
    return VariableError(name, *text, absl::StatusCode::kInvalidArgument,
                         absl::StrCat("expected ", expected));
  }
  return value;
}

absl::StatusOr<double> GetDouble(const EnvironmentLookup& env, absl::string_view name,
                                 double fallback, double min, double max) {
  const std::string expected = absl::StrCat("a finite number in ", min, "..", max);
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> text, ReadText(env, name, expected));
  if (!text.has_value()) return fallback;
  double value = 0;
  const char* end = text->data() + text->size();
  auto [ptr, ec] = std::from_chars(text->data(), end, value, std::chars_format::general);
  if (ec != std::errc() || ptr != end || !std::isfinite(value) || value < min ||
      value > max) {
    return VariableError(name, *text, absl::StatusCode::kInvalidArgument,
                         absl::StrCat("expected ", expected));
  }
  return value;
}

absl::StatusOr<std::string> GetString(const EnvironmentLookup& env,
                                      absl::string_view name, std::string fallback) {
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> text, GetOptionalString(env, name));
  if (!text.has_value()) return fallback;
  return *std::move(text);
}

absl::StatusOr<std::optional<std::string>> GetOptionalString(const EnvironmentLookup& env,
                                                             absl::string_view name) {
  return ReadText(env, name, "a non-empty value");
}

absl::Status VariableError(absl::string_view name, absl::string_view value,
                           absl::StatusCode code, absl::string_view why) {
  return absl::Status(code,
                      absl::StrCat(name, "='", absl::CHexEscape(value), "': ", why));
}

}  // namespace glue
