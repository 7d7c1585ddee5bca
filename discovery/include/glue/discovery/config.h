// The configuration of an endpoint's discovery: who it is (network, id, name), where it
// takes data, and how it announces itself and hears others. Read from the GLUE_*
// environment variables (README, Configuration), or built in code and checked.
//
//   absl::StatusOr<Config> config = ConfigFromEnvironment();
//   if (!config.ok()) { print config.status(): it names the variable and its value }
//
//   // In code: every default, then changes, checked again.
//   GLUE_ASSIGN_OR_RETURN(Config config, ConfigFromEnvironment(MapEnvironment({})));
//   config.listen_interface = "lo";
//   GLUE_RETURN_IF_ERROR(ValidateConfig(config));
#ifndef GLUE_DISCOVERY_CONFIG_H_
#define GLUE_DISCOVERY_CONFIG_H_

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
#include "glue/discovery/dns_resolver.h"
#include "glue/discovery/peers_file.h"
#include "glue/network/address.h"

namespace glue::discovery {

// The variables ConfigFromEnvironment reads. Error messages name them, also those of
// ValidateConfig about a Config built in code.
inline constexpr absl::string_view kNetworkIdVariable = "GLUE_NETWORK_ID";
inline constexpr absl::string_view kEndpointIdVariable = "GLUE_ENDPOINT_ID";
inline constexpr absl::string_view kEndpointNameVariable = "GLUE_ENDPOINT_NAME";
inline constexpr absl::string_view kListenAddressVariable = "GLUE_LISTEN_ADDRESS";
inline constexpr absl::string_view kListenInterfaceVariable = "GLUE_LISTEN_INTERFACE";
inline constexpr absl::string_view kDiscoveryTargetAddressVariable =
    "GLUE_DISCOVERY_TARGET_ADDRESS";
inline constexpr absl::string_view kDiscoveryListenAddressVariable =
    "GLUE_DISCOVERY_LISTEN_ADDRESS";
inline constexpr absl::string_view kDiscoveryRateVariable =
    "GLUE_DISCOVERY_RATE_MILLISECONDS";
inline constexpr absl::string_view kDiscoveryRateTimeoutMultiplierVariable =
    "GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER";

// kDefaultDiscoveryAddress is where announcements go and are heard by default: a group
// of the IPv4 organization-local multicast scope (RFC 2365).
inline constexpr absl::string_view kDiscoveryProvidersVariable =
    "GLUE_DISCOVERY_PROVIDERS";

inline constexpr absl::string_view kDefaultDiscoveryAddress = "239.192.137.1:27320";

// DefaultDiscoveryAddress returns kDefaultDiscoveryAddress as an address.
network::Address DefaultDiscoveryAddress();

// kMaxEndpointNameBytes is the longest endpoint name, the wire's limit.
inline constexpr size_t kMaxEndpointNameBytes = 255;
// kMaxRateMilliseconds bounds the announcement period (one hour).
inline constexpr uint64_t kMaxRateMilliseconds = 3'600'000;
// kMaxRateTimeoutMultiplier bounds Config::rate_timeout_multiplier.
inline constexpr uint32_t kMaxRateTimeoutMultiplier = 1000;

// The values of Config::listen_interface_origin that ConfigFromEnvironment sets.
inline constexpr absl::string_view kInterfaceFromVariable = kListenInterfaceVariable;
inline constexpr absl::string_view kInterfaceFromDefaultRoute = "the default route";
inline constexpr absl::string_view kInterfaceFromLoopback =
    "loopback: this host has no default route";

// Config is everything discovery needs to know about the endpoint. A plain value: copy
// it freely. Each field names its variable and the default ConfigFromEnvironment gives
// it; the member initializers are those defaults where they are fixed, so a Config built
// in code must still set endpoint_id, endpoint_name and (for multicast discovery)
// listen_interface.
struct Config {
  // GLUE_NETWORK_ID, any value: endpoints talk only within one network id. Default 1.
  uint64_t network_id = 1;

  // GLUE_ENDPOINT_ID, 1..2^64-1: the stable id of a service role. Default: random and
  // non-zero, different in each process.
  uint64_t endpoint_id = 0;

  // GLUE_ENDPOINT_NAME: the name of this instance, 1..255 bytes of printable ASCII
  // without spaces ('!' to '~'). The wire would carry any UTF-8, but names go into log
  // lines and command lines, where spaces, control characters and look-alike letters
  // mislead. Default: when the id is random, the id as 16 lower-case hex digits; when
  // GLUE_ENDPOINT_ID is set, `<id in decimal>-<6 random hex digits>`, so that two
  // instances of one role have different names.
  std::string endpoint_name;

  // GLUE_LISTEN_ADDRESS: where this endpoint takes data, typically unicast. Port 0
  // asks for a free port. Default: all addresses and a free port, 0.0.0.0:0, or [::]:0
  // when discovery_listen is IPv6.
  network::Address listen_address;

  // GLUE_LISTEN_INTERFACE: the interface to bind to and to join and send multicast
  // on. From the environment it must exist. Default: the interface of the default
  // route, or "lo" when the host has none (a namespace with only loopback).
  std::string listen_interface;

  // Why listen_interface is what it is, for discovery to log once at start: one of
  // the kInterfaceFrom* texts above. Empty in a Config built in code.
  std::string listen_interface_origin;

  // GLUE_DISCOVERY_TARGET_ADDRESS: where announcements go (multicast, unicast or
  // broadcast). std::nullopt (the text "0") sends none: the endpoint is a rendezvous
  // that only answers. Default kDefaultDiscoveryAddress.
  std::optional<network::Address> discovery_target = DefaultDiscoveryAddress();

  // GLUE_DISCOVERY_LISTEN_ADDRESS: where announcements are heard; its port must not
  // be 0. Default kDefaultDiscoveryAddress.
  network::Address discovery_listen = DefaultDiscoveryAddress();

  // GLUE_DISCOVERY_RATE_MILLISECONDS: the announcement period, a whole number of
  // milliseconds in 1..kMaxRateMilliseconds (announcements carry it in milliseconds).
  absl::Duration rate = absl::Milliseconds(1000);

  // GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER, 1..kMaxRateTimeoutMultiplier: a peer
  // silent for peer_timeout() is removed.
  uint32_t rate_timeout_multiplier = 2;

  // The built-in providers in use, by name (GLUE_DISCOVERY_PROVIDERS, comma-separated):
  // "multicast" (announcing to discovery_target, a group), "rendezvous" (to
  // discovery_target, an endpoint's address), "peers" (the peers file), "dns" (the
  // DNS name's records), or "none" alone. Empty: the default, ProvidersInUse.
  // Providers given in code (Discovery::Options::providers) run besides these.
  std::vector<std::string> providers;

  // The peers file (GLUE_PEERS_PATH, PEERS_PATH, GLUE_PEERS_WRITE); path empty: none.
  PeersPath peers;

  // The DNS name whose records list peers (GLUE_DISCOVERY_DNS_*); unset: none. Its
  // port, unset, is that of listen_address, which must then name one.
  std::optional<DnsConfig> dns;

  absl::Duration peer_timeout() const { return rate * rate_timeout_multiplier; }
};

// ConfigFromEnvironment reads every variable above: an unset one takes its default; a
// set one must be well-formed (see EnvironmentLookup's readers: no empty value, no
// surrounding whitespace), and is never replaced by the default. It then checks the
// whole as ValidateConfig does. Every error message starts with `NAME='value': `.
// Errors: kInvalidArgument for a malformed or out-of-range value, an address that
// does not parse ("0" disables GLUE_DISCOVERY_TARGET_ADDRESS only; elsewhere it is an
// error) or addresses that do not fit together; kNotFound for an interface that does
// not exist or a host name that does not resolve (an address may name a host, which is
// then looked up with getaddrinfo). Other errors of the system (listing interfaces,
// finding the default route) pass through with their codes.
// Thread-safe when `env` is; reads the host's interfaces and routing table.
absl::StatusOr<Config> ConfigFromEnvironment(
    const EnvironmentLookup& env = ProcessEnvironment());

// ValidateConfig checks a Config built in code against the rules ConfigFromEnvironment
// applies: the ranges above; discovery_target, when set, neither port 0 nor the
// unspecified address; listen_interface well-formed when set, and set when a discovery
// address is multicast; listen_address, discovery_target and discovery_listen of one
// family (IPv4 or IPv6). Whether listen_interface exists is not asked here: binding
// finds out. Messages name the variable that corresponds to the field.
// Error: kInvalidArgument. Thread-safe; pure.
absl::Status ValidateConfig(const Config& config);

// ProvidersInUse is config.providers, or when it is empty the default: "multicast"
// when discovery_target is a group, "rendezvous" when it is an address, none when it
// is unset (this endpoint is a rendezvous); then "peers" when a peers file is named
// and "dns" when a DNS name is set.
std::vector<std::string> ProvidersInUse(const Config& config);

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_CONFIG_H_
