#include "cmd/glue_command.h"

#include <cstdio>
#include <string>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_format.h"

namespace glue::cmd {

std::string Printable(absl::Span<const uint8_t> bytes) {
  const std::string text(bytes.begin(), bytes.end());
  for (unsigned char c : text) {
    if ((c < 0x20 && c != '\t') || c == 0x7f) return absl::CHexEscape(text);
  }
  return text;
}

std::string JsonString(absl::string_view text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

absl::StatusOr<std::unique_ptr<Endpoint>> MakeEndpoint(EndpointOptions options) {
  absl::StatusOr<EndpointOptions> read = OptionsFromEnvironment();
  if (!read.ok()) return read.status();
  read->on_peer_added = std::move(options.on_peer_added);
  read->on_peer_removed = std::move(options.on_peer_removed);
  return Endpoint::Create(*std::move(read));
}

int ConfigurationError(absl::string_view command, const absl::Status& status) {
  std::fprintf(stderr, "glue %s: %s\n", std::string(command).c_str(),
               std::string(status.message()).c_str());
  return kConfigurationError;
}

void ServeUntilStopped(Stopper& stopper, Endpoint& endpoint, absl::string_view command) {
  uint64_t seen = 0, toggles = 0;
  bool partitioned = false;
  while (!stopper.Await(absl::InfiniteFuture(), &seen)) {
    for (const uint64_t usr1 = stopper.usr1(); toggles < usr1; ++toggles) {
      if (absl::Status s = endpoint.SetFaults({.partitioned = !partitioned}); !s.ok()) {
        std::fprintf(stderr, "glue %s: SIGUSR1: %s\n", std::string(command).c_str(),
                     std::string(s.message()).c_str());
        continue;
      }
      partitioned = !partitioned;
      std::printf("%s\n", partitioned ? "partitioned" : "healed");
      std::fflush(stdout);
    }
  }
}

std::string PrintableText(absl::string_view text) {
  return Printable(
      absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace glue::cmd
