// Finding peers through DNS: a blocking lookup of the addresses behind a name (its SRV
// records, or else its A and AAAA records), and the GLUE_DISCOVERY_DNS_* variables that
// configure it. Part of the discovery layer, for its DNS provider; it sends DNS
// queries with c-ares and never touches the network layer's sockets.
//
//   GLUE_ASSIGN_OR_RETURN(std::optional<DnsConfig> config,
//                         DnsConfigFromEnvironment(ProcessEnvironment()));
//   if (config.has_value()) {
//     // On a thread of its own, every config->interval:
//     absl::StatusOr<DnsAnswer> answer = ResolvePeers({
//         .name = config->name,
//         .server = config->server,
//         .default_port = config->port.value_or(own_listen_port),
//     });
//     // kUnavailable: keep the peers of the last answer and try again.
//   }
#ifndef GLUE_DISCOVERY_DNS_RESOLVER_H_
#define GLUE_DISCOVERY_DNS_RESOLVER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/base/environment.h"
#include "glue/network/address.h"

namespace glue::discovery {

// The variables DnsConfigFromEnvironment reads. Error messages name them.
inline constexpr absl::string_view kDnsNameVariable = "GLUE_DISCOVERY_DNS_NAME";
inline constexpr absl::string_view kDnsServerVariable = "GLUE_DISCOVERY_DNS_SERVER";
inline constexpr absl::string_view kDnsPortVariable = "GLUE_DISCOVERY_DNS_PORT";
inline constexpr absl::string_view kDnsIntervalVariable =
    "GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS";

// kDnsSrvPrefix is put before a name to find its SRV records: a Kubernetes service
// gets them for a port named "glue" of protocol UDP.
inline constexpr absl::string_view kDnsSrvPrefix = "_glue._udp.";

// kMaxDnsNameBytes is the longest name ResolvePeers takes, without a final dot: the
// 253 bytes of a DNS name, less the SRV prefix that must still fit before it.
inline constexpr size_t kMaxDnsNameBytes = 253 - kDnsSrvPrefix.size();

// kMaxDnsAddresses bounds DnsAnswer::addresses. Beyond it an answer keeps the first
// kMaxDnsAddresses addresses in their sorted order, so that every endpoint that gets
// the same records keeps the same ones, and says it was truncated.
inline constexpr size_t kMaxDnsAddresses = 1024;

// kMaxDnsSrvTargets bounds the SRV target names whose addresses are looked up (two
// queries each, all under way at once). Beyond it the first kMaxDnsSrvTargets names in
// sorted order are looked up and the answer says it was truncated.
inline constexpr size_t kMaxDnsSrvTargets = 256;

// kDefaultDnsIntervalMilliseconds is how often the DNS provider looks again when
// GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS is unset.
inline constexpr uint64_t kDefaultDnsIntervalMilliseconds = 10'000;
// The bounds of GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS. The floor keeps a fleet of
// endpoints from flooding its DNS server (each endpoint asks at most ten times a
// second); the ceiling is an hour.
inline constexpr uint64_t kMinDnsIntervalMilliseconds = 100;
inline constexpr uint64_t kMaxDnsIntervalMilliseconds = 3'600'000;

// DnsQuery is what ResolvePeers looks up. A plain value.
struct DnsQuery {
  // The name, e.g. `glue.default.svc.cluster.local`: 1..kMaxDnsNameBytes bytes in
  // labels of 1..63 letters, digits, '-' and '_', separated by dots; a final dot
  // makes it absolute (no search domain is tried). See `server` for when search
  // domains apply.
  std::string name;

  // The DNS server to ask, `IP` (port 53) or `IP:PORT` (`[IPv6]:PORT`), an address and
  // not a host name; an IPv6 address with a scope id (`%eth0`) is refused, as c-ares
  // 1.18 cannot send to one. Only that server is asked, and the name is taken as
  // complete: no search domain, no hosts file. std::nullopt: the system's resolver
  // configuration (/etc/resolv.conf: its servers, search domains, ndots and options,
  // and /etc/hosts as /etc/nsswitch.conf orders it), as getaddrinfo would use it.
  std::optional<std::string> server;

  // The port of the addresses of A and AAAA records, which carry none. Used only when
  // the name has no SRV record. 1..65535.
  uint16_t default_port = 0;

  // How long ResolvePeers may take in all, SRV lookup and the lookups of its targets
  // included: positive and finite. A query is sent again when a quarter of it passes
  // without an answer, and again after twice that (to the next server, if several).
  absl::Duration timeout = absl::Seconds(5);
};

// DnsAnswer is what ResolvePeers found. A plain value.
struct DnsAnswer {
  // The peers' addresses: without duplicates, sorted (IPv4 before IPv6, then by
  // address and port), at most kMaxDnsAddresses.
  std::vector<network::Address> addresses;

  // Whether the addresses come from the SRV records of `_glue._udp.<name>` (each
  // target's addresses with the record's port), rather than from the A and AAAA
  // records of the name (with DnsQuery::default_port).
  bool from_srv = false;

  // Whether a bound (kMaxDnsSrvTargets, kMaxDnsAddresses) left addresses out.
  bool truncated = false;

  // The smallest time to live of the A and AAAA records the addresses came from: how
  // long they may be trusted. Zero for addresses from the hosts file. The TTL of the
  // SRV records themselves is not included: c-ares 1.18's SRV parser does not report
  // it.
  absl::Duration address_ttl = absl::ZeroDuration();
};

// ResolvePeers looks up the peers behind `query.name`: first the SRV records of
// `_glue._udp.<name>`; when there are some, the A and AAAA records of each target (a
// target of "." or a record of port 0 is skipped; priority and weight are ignored, as
// every target is a peer); otherwise the A and AAAA records of the name itself. A
// target without addresses is skipped; one whose lookup fails fails the whole call,
// so that an answer never lacks a peer because of a lost packet.
//
// Blocking: it returns once every query is answered or `query.timeout` has passed.
// Call it from a thread of its own, never from the network layer's io_context.
// Thread-safe: concurrent calls share nothing (each uses a c-ares channel of its own).
//
// Errors:
// - kInvalidArgument: the name, the server, the default port or the timeout breaks
//   the rules above (the message quotes the value);
// - kNotFound: the name does not exist (NXDOMAIN), or has neither SRV records nor A
//   or AAAA records, or none of its SRV targets has an address; the message names the
//   name and the servers asked;
// - kUnavailable: no answer within the timeout, a server that refuses connections or
//   answers SERVFAIL or REFUSED, or a reply that does not parse: the same call may
//   succeed later;
// - kResourceExhausted: memory ran out; kInternal: c-ares failed otherwise (e.g. it
//   could not read the system's resolver configuration).
absl::StatusOr<DnsAnswer> ResolvePeers(const DnsQuery& query);

// ValidateDnsName checks `name` against DnsQuery::name's rules, without a lookup.
// Error: kInvalidArgument quoting the name. Thread-safe; pure.
absl::Status ValidateDnsName(absl::string_view name);

// ParseDnsServer parses DnsQuery::server's text (`IP` or `IP:PORT`) without a lookup.
// Error: kInvalidArgument quoting the text. Thread-safe; pure.
absl::StatusOr<network::Address> ParseDnsServer(absl::string_view text);

// DnsConfig is how the DNS provider is configured. A plain value; each field names
// its variable.
struct DnsConfig {
  // GLUE_DISCOVERY_DNS_NAME: the name to look up (DnsQuery::name's rules).
  std::string name;

  // GLUE_DISCOVERY_DNS_SERVER: the server to ask (DnsQuery::server's rules).
  // std::nullopt when unset: the system's resolver configuration.
  std::optional<std::string> server;

  // GLUE_DISCOVERY_DNS_PORT, 1..65535: the port of peers found by A and AAAA records.
  // std::nullopt when unset: the caller uses its own listen port, as peers of one
  // deployment usually listen on the same one.
  std::optional<uint16_t> port;

  // GLUE_DISCOVERY_DNS_INTERVAL_MILLISECONDS, kMinDnsIntervalMilliseconds..
  // kMaxDnsIntervalMilliseconds: how often to look again.
  absl::Duration interval = absl::Milliseconds(kDefaultDnsIntervalMilliseconds);
};

// DnsConfigFromEnvironment reads the variables above. Returns std::nullopt when
// GLUE_DISCOVERY_DNS_NAME is unset (no DNS provider). A set variable must be
// well-formed (see EnvironmentLookup's readers: no empty value, no surrounding
// whitespace); one of the others set while GLUE_DISCOVERY_DNS_NAME is unset is an
// error too, as it would do nothing. Nothing is looked up.
// Error: kInvalidArgument, its message starting with `NAME='value': `.
// Thread-safe when `env` is.
absl::StatusOr<std::optional<DnsConfig>> DnsConfigFromEnvironment(
    const EnvironmentLookup& env);

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_DNS_RESOLVER_H_
