#include "discovery/builtin_providers.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glue/base/environment.h"
#include "glue/base/log.h"
#include "glue/base/status_macros.h"
#include "glue/discovery/dns_resolver.h"

namespace glue::discovery::internal {
namespace {

std::vector<network::Address> AddressesOf(const std::vector<PeersFileEntry>& entries) {
  std::vector<network::Address> addresses;
  addresses.reserve(entries.size());
  for (const PeersFileEntry& e : entries) addresses.push_back(e.address);
  return addresses;
}

// What the peers file provider keeps between polls, on its thread.
struct PeersFileState {
  explicit PeersFileState(std::string path) : watcher(std::move(path)) {}
  PeersFileWatcher watcher;
  std::vector<network::Address> addresses;
  std::vector<PeersFileEntry> written;
  bool first = true;
};

}  // namespace

std::shared_ptr<Provider> MakePeersFileProvider(
    const Config& config, std::function<std::vector<PeersFileEntry>()> seen,
    Clock& clock) {
  auto state = std::make_shared<PeersFileState>(config.peers.path);
  const PeersPath where = config.peers;
  const network::Address listen = config.listen_address;
  PollFunction poll = [state, where, listen, seen = std::move(seen),
                       &clock]() -> absl::StatusOr<std::vector<network::Address>> {
    const bool first = std::exchange(state->first, false);
    absl::StatusOr<std::optional<std::vector<PeersFileEntry>>> polled =
        state->watcher.Poll();
    if (!polled.ok()) {
      if (!first) return polled.status();
      return VariableError(where.variable, where.value, polled.status().code(),
                           polled.status().message());
    }
    if (polled->has_value()) {
      if (first) {
        if (absl::Status family = CheckPeersFamily(**polled, listen, where.path);
            !family.ok()) {
          return VariableError(where.variable, where.value, family.code(),
                               family.message());
        }
        GLUE_LOG(kInfo, "discovery: provider peers: %s (%s): %d peer(s)%s", where.path,
                 where.origin, (*polled)->size(),
                 where.write ? "; kept current with the peers seen" : "");
      } else {
        GLUE_LOG(kInfo, "discovery: provider peers: %s changed: %d peer(s)", where.path,
                 (*polled)->size());
      }
      state->addresses = AddressesOf(**polled);
    }
    if (where.write && !first) {
      std::vector<PeersFileEntry> now = seen();
      std::sort(now.begin(), now.end(),
                [](const auto& a, const auto& b) { return a.address < b.address; });
      if (now != state->written) {
        GLUE_RETURN_IF_ERROR(state->watcher.Write(now, clock.Now()));
        state->written = std::move(now);
      }
    }
    return state->addresses;
  };
  return MakePollingProvider(std::string(kPeersFileProvider), kPeersFilePollInterval,
                             std::move(poll), /*fail_at_start=*/true, clock);
}

std::shared_ptr<Provider> MakeDnsProvider(const Config& config, Clock& clock) {
  const DnsConfig& dns = *config.dns;
  DnsQuery query{.name = dns.name,
                 .server = dns.server,
                 .default_port = dns.port.value_or(config.listen_address.port()),
                 .timeout = std::min(absl::Seconds(5), dns.interval)};
  auto first = std::make_shared<bool>(true);
  PollFunction poll =
      [query, first,
       interval = dns.interval]() -> absl::StatusOr<std::vector<network::Address>> {
    absl::StatusOr<DnsAnswer> answer = ResolvePeers(query);
    const bool at_start = std::exchange(*first, false);
    if (!answer.ok()) {
      if (!at_start) return answer.status();
      return VariableError(kDnsNameVariable, query.name, answer.status().code(),
                           answer.status().message());
    }
    if (at_start) {
      GLUE_LOG(kInfo, "discovery: provider dns: %s%s%s, every %s: %d address(es)%s",
               query.name, query.server ? " at " : "", query.server.value_or(""),
               absl::FormatDuration(interval), answer->addresses.size(),
               answer->from_srv ? " from SRV records" : "");
    }
    return std::move(answer->addresses);
  };
  return MakePollingProvider(std::string(kDnsProvider), dns.interval, std::move(poll),
                             /*fail_at_start=*/true, clock);
}

}  // namespace glue::discovery::internal
