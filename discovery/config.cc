#include "glue/discovery/config.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/algorithm/container.h"
#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "glue/base/status_macros.h"
#include "glue/discovery/provider.h"
#include "glue/network/interfaces.h"
#include "glue/serialization/codec.h"

namespace glue::discovery {
namespace {

static_assert(kMaxEndpointNameBytes <= serialization::CodecLimits{}.max_name_bytes,
              "every valid endpoint name must fit on the wire");

constexpr uint64_t kMaxUint64 = std::numeric_limits<uint64_t>::max();

absl::Status Invalid(absl::string_view variable, absl::string_view value,
                     absl::string_view why) {
  return VariableError(variable, value, absl::StatusCode::kInvalidArgument, why);
}

// Prefixed returns `status` with its code and a message that starts with
// `variable='value': `.
absl::Status Prefixed(absl::string_view variable, absl::string_view value,
                      const absl::Status& status) {
  return VariableError(variable, value, status.code(), status.message());
}

absl::string_view Family(const network::Address& address) {
  return address.address().is_v4() ? "IPv4" : "IPv6";
}

// The checks of single fields, shared by ConfigFromEnvironment (which quotes what the
// variable says) and ValidateConfig (which quotes the field formatted). `text` is the
// value as the message shows it.

absl::Status CheckEndpointName(absl::string_view text) {
  const bool printable = absl::c_all_of(
      text, [](char c) { return absl::ascii_isgraph(static_cast<unsigned char>(c)); });
  if (text.empty() || text.size() > kMaxEndpointNameBytes || !printable) {
    return Invalid(kEndpointNameVariable, text,
                   absl::StrCat("expected 1..", kMaxEndpointNameBytes,
                                " bytes of printable ASCII without spaces"));
  }
  return absl::OkStatus();
}

absl::Status CheckListenInterface(absl::string_view text) {
  if (absl::Status valid = network::ValidateInterfaceName(text); !valid.ok()) {
    return Prefixed(kListenInterfaceVariable, text, valid);
  }
  return absl::OkStatus();
}

absl::Status CheckDiscoveryTarget(absl::string_view text,
                                  const network::Address& target) {
  if (target.port() == 0) {
    return Invalid(kDiscoveryTargetAddressVariable, text,
                   "the port must not be 0 (announcements cannot be sent to port 0)");
  }
  if (target.address().is_unspecified()) {
    return Invalid(kDiscoveryTargetAddressVariable, text,
                   "the unspecified address is not a destination (set '0' to send "
                   "no announcements)");
  }
  return absl::OkStatus();
}

absl::Status CheckDiscoveryListen(absl::string_view text,
                                  const network::Address& listen) {
  if (listen.port() == 0) {
    return Invalid(kDiscoveryListenAddressVariable, text,
                   "the port must not be 0 (peers announce to a known port)");
  }
  return absl::OkStatus();
}

// The checks that relate fields to each other.
absl::Status CheckAgreement(const Config& config) {
  const std::string listen = network::FormatAddress(config.discovery_listen);
  if (config.listen_address.protocol() != config.discovery_listen.protocol()) {
    return Invalid(kListenAddressVariable, network::FormatAddress(config.listen_address),
                   absl::StrCat("an ", Family(config.listen_address), " address, but ",
                                kDiscoveryListenAddressVariable, "='", listen, "' is ",
                                Family(config.discovery_listen),
                                "; the addresses must be of one family"));
  }
  if (config.discovery_target.has_value() &&
      config.discovery_target->protocol() != config.discovery_listen.protocol()) {
    return Invalid(kDiscoveryTargetAddressVariable,
                   network::FormatAddress(*config.discovery_target),
                   absl::StrCat("an ", Family(*config.discovery_target), " address, but ",
                                kDiscoveryListenAddressVariable, "='", listen, "' is ",
                                Family(config.discovery_listen),
                                "; the addresses must be of one family"));
  }
  if (config.listen_interface.empty()) {
    if (config.discovery_listen.address().is_multicast()) {
      return Invalid(kDiscoveryListenAddressVariable, listen,
                     absl::StrCat("a multicast group is joined on an interface, but "
                                  "listen_interface (",
                                  kListenInterfaceVariable, ") is empty"));
    }
    if (config.discovery_target.has_value() &&
        config.discovery_target->address().is_multicast()) {
      return Invalid(kDiscoveryTargetAddressVariable,
                     network::FormatAddress(*config.discovery_target),
                     absl::StrCat("multicast is sent on an interface, but "
                                  "listen_interface (",
                                  kListenInterfaceVariable, ") is empty"));
    }
  }
  return absl::OkStatus();
}

// CheckProviders checks the providers named: built-in ones, each once, each with what
// it needs.
absl::Status CheckProviders(const Config& config) {
  const std::string list = absl::StrJoin(config.providers, ",");
  for (size_t i = 0; i < config.providers.size(); ++i) {
    const std::string& name = config.providers[i];
    if (std::find(config.providers.begin(), config.providers.begin() + i, name) !=
        config.providers.begin() + i) {
      return Invalid(kDiscoveryProvidersVariable, list,
                     absl::StrCat("'", name, "' is named twice"));
    }
    const bool group = config.discovery_target.has_value() &&
                       config.discovery_target->address().is_multicast();
    if (name == kMulticastProvider) {
      if (!group) {
        return Invalid(
            kDiscoveryProvidersVariable, list,
            absl::StrCat(
                "multicast announces to a group, but ", kDiscoveryTargetAddressVariable,
                " is ",
                config.discovery_target
                    ? absl::StrCat("'", network::FormatAddress(*config.discovery_target),
                                   "', not a group")
                    : std::string("0 (this endpoint is a rendezvous)")));
      }
    } else if (name == kRendezvousProvider) {
      if (!config.discovery_target.has_value() || group) {
        return Invalid(kDiscoveryProvidersVariable, list,
                       absl::StrCat("rendezvous announces to a rendezvous's address, "
                                    "which ",
                                    kDiscoveryTargetAddressVariable,
                                    " names (IP:PORT, not a group)"));
      }
    } else if (name == kPeersFileProvider) {
      if (config.peers.path.empty()) {
        return Invalid(
            kDiscoveryProvidersVariable, list,
            absl::StrCat("peers reads a peers file, but neither ", kPeersPathVariable,
                         " nor ", kGoPeersPathVariable, " names one"));
      }
    } else if (name == kDnsProvider) {
      if (!config.dns.has_value()) {
        return Invalid(
            kDiscoveryProvidersVariable, list,
            absl::StrCat("dns looks a name up, but ", kDnsNameVariable, " is not set"));
      }
    } else if (name == kNoProvider) {
      if (config.providers.size() > 1) {
        return Invalid(kDiscoveryProvidersVariable, list,
                       "'none' (no built-in provider) names no other");
      }
    } else {
      return Invalid(
          kDiscoveryProvidersVariable, list,
          absl::StrCat("unknown provider '", name, "': expected ", kMulticastProvider,
                       ", ", kRendezvousProvider, ", ", kPeersFileProvider, ", ",
                       kDnsProvider, " or ", kNoProvider));
    }
  }
  return absl::OkStatus();
}

// Parsed returns `parsed`, its error prefixed with `variable='text': `.
template <typename T>
absl::StatusOr<T> Parsed(absl::string_view variable, absl::string_view text,
                         absl::StatusOr<T> parsed) {
  if (!parsed.ok()) return Prefixed(variable, text, parsed.status());
  return parsed;
}

// ReadAddresses reads the three addresses. The listen address, when unset, follows
// the family of the discovery listen address.
absl::Status ReadAddresses(const EnvironmentLookup& env, Config* config) {
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> listen,
                        GetOptionalString(env, kDiscoveryListenAddressVariable));
  if (listen.has_value()) {
    GLUE_ASSIGN_OR_RETURN(
        config->discovery_listen,
        Parsed(kDiscoveryListenAddressVariable, *listen, network::ParseAddress(*listen)));
    GLUE_RETURN_IF_ERROR(CheckDiscoveryListen(*listen, config->discovery_listen));
  }

  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> target,
                        GetOptionalString(env, kDiscoveryTargetAddressVariable));
  if (target.has_value()) {
    GLUE_ASSIGN_OR_RETURN(config->discovery_target,
                          Parsed(kDiscoveryTargetAddressVariable, *target,
                                 network::ParseOptionalAddress(*target)));
    if (config->discovery_target.has_value()) {
      GLUE_RETURN_IF_ERROR(CheckDiscoveryTarget(*target, *config->discovery_target));
    }
  }

  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> data,
                        GetOptionalString(env, kListenAddressVariable));
  if (data.has_value()) {
    GLUE_ASSIGN_OR_RETURN(config->listen_address, Parsed(kListenAddressVariable, *data,
                                                         network::ParseAddress(*data)));
  } else {
    config->listen_address = network::Address(config->discovery_listen.protocol(), 0);
  }
  return absl::OkStatus();
}

// ReadListenInterface chooses the interface and says why.
absl::Status ReadListenInterface(const EnvironmentLookup& env, Config* config) {
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> name,
                        GetOptionalString(env, kListenInterfaceVariable));
  if (name.has_value()) {
    GLUE_RETURN_IF_ERROR(CheckListenInterface(*name));
    if (absl::StatusOr<network::Interface> found = network::FindInterface(*name);
        !found.ok()) {
      return Prefixed(kListenInterfaceVariable, *name, found.status());
    }
    config->listen_interface = *std::move(name);
    config->listen_interface_origin = std::string(kInterfaceFromVariable);
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> route = network::DefaultRouteInterface();
  if (route.ok()) {
    config->listen_interface = *std::move(route);
    config->listen_interface_origin = std::string(kInterfaceFromDefaultRoute);
  } else if (absl::IsNotFound(route.status())) {
    config->listen_interface = "lo";
    config->listen_interface_origin = std::string(kInterfaceFromLoopback);
  } else {
    return absl::Status(
        route.status().code(),
        absl::StrCat(kListenInterfaceVariable,
                     " is unset and the interface of the default route cannot be found: ",
                     route.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace

network::Address DefaultDiscoveryAddress() {
  return network::Address(boost::asio::ip::make_address_v4("239.192.137.1"), 27320);
}

absl::StatusOr<Config> ConfigFromEnvironment(const EnvironmentLookup& env) {
  Config config;
  absl::BitGen random;

  GLUE_ASSIGN_OR_RETURN(config.network_id,
                        GetUint64(env, kNetworkIdVariable, 1, 0, kMaxUint64));

  const bool id_is_set = env(kEndpointIdVariable).has_value();
  const uint64_t random_id =
      absl::Uniform(absl::IntervalClosed, random, uint64_t{1}, kMaxUint64);
  GLUE_ASSIGN_OR_RETURN(config.endpoint_id,
                        GetUint64(env, kEndpointIdVariable, random_id, 1, kMaxUint64));

  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> name,
                        GetOptionalString(env, kEndpointNameVariable));
  if (name.has_value()) {
    GLUE_RETURN_IF_ERROR(CheckEndpointName(*name));
    config.endpoint_name = *std::move(name);
  } else if (id_is_set) {
    config.endpoint_name = absl::StrFormat("%d-%06x", config.endpoint_id,
                                           absl::Uniform<uint32_t>(random, 0, 1u << 24));
  } else {
    config.endpoint_name = absl::StrFormat("%016x", config.endpoint_id);
  }

  GLUE_RETURN_IF_ERROR(ReadAddresses(env, &config));

  GLUE_ASSIGN_OR_RETURN(
      uint64_t rate_milliseconds,
      GetUint64(env, kDiscoveryRateVariable, 1000, 1, kMaxRateMilliseconds));
  config.rate = absl::Milliseconds(rate_milliseconds);
  GLUE_ASSIGN_OR_RETURN(uint64_t multiplier,
                        GetUint64(env, kDiscoveryRateTimeoutMultiplierVariable, 2, 1,
                                  kMaxRateTimeoutMultiplier));
  config.rate_timeout_multiplier = static_cast<uint32_t>(multiplier);

  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> providers,
                        GetOptionalString(env, kDiscoveryProvidersVariable));
  if (providers.has_value()) {
    for (absl::string_view name : absl::StrSplit(*providers, ',')) {
      name = absl::StripAsciiWhitespace(name);
      if (name.empty()) {
        return Invalid(kDiscoveryProvidersVariable, *providers,
                       "expected a comma-separated list of providers, none empty");
      }
      config.providers.emplace_back(name);
    }
  }

  GLUE_ASSIGN_OR_RETURN(config.peers, ResolvePeersPath(env));
  GLUE_ASSIGN_OR_RETURN(config.dns, DnsConfigFromEnvironment(env));

  // Last, because it asks the system; malformed text is reported without that.
  GLUE_RETURN_IF_ERROR(ReadListenInterface(env, &config));

  GLUE_RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

absl::Status ValidateConfig(const Config& config) {
  if (config.endpoint_id == 0) {
    return Invalid(kEndpointIdVariable, "0",
                   absl::StrCat("expected an integer in 1..", kMaxUint64));
  }
  GLUE_RETURN_IF_ERROR(CheckEndpointName(config.endpoint_name));
  if (!config.listen_interface.empty()) {
    GLUE_RETURN_IF_ERROR(CheckListenInterface(config.listen_interface));
  }
  if (config.discovery_target.has_value()) {
    GLUE_RETURN_IF_ERROR(CheckDiscoveryTarget(
        network::FormatAddress(*config.discovery_target), *config.discovery_target));
  }
  GLUE_RETURN_IF_ERROR(CheckDiscoveryListen(
      network::FormatAddress(config.discovery_listen), config.discovery_listen));
  if (config.rate < absl::Milliseconds(1) ||
      config.rate > absl::Milliseconds(kMaxRateMilliseconds) ||
      config.rate % absl::Milliseconds(1) != absl::ZeroDuration()) {
    // Quoted in milliseconds, as the variable is written.
    return Invalid(kDiscoveryRateVariable,
                   absl::StrFormat("%.15g", absl::ToDoubleMilliseconds(config.rate)),
                   absl::StrCat("expected a whole number of milliseconds in 1..",
                                kMaxRateMilliseconds));
  }
  if (config.rate_timeout_multiplier < 1 ||
      config.rate_timeout_multiplier > kMaxRateTimeoutMultiplier) {
    return Invalid(kDiscoveryRateTimeoutMultiplierVariable,
                   absl::StrCat(config.rate_timeout_multiplier),
                   absl::StrCat("expected an integer in 1..", kMaxRateTimeoutMultiplier));
  }
  GLUE_RETURN_IF_ERROR(CheckProviders(config));
  if (config.dns.has_value() && !config.dns->port.has_value() &&
      config.listen_address.port() == 0) {
    return Invalid(
        kDnsNameVariable, config.dns->name,
        absl::StrCat("the peers it lists are reached at a port, which neither ",
                     kDnsPortVariable, " nor ", kListenAddressVariable,
                     " (a free port when unset) names: set one of them, the "
                     "same on every endpoint"));
  }
  return CheckAgreement(config);
}

std::vector<std::string> ProvidersInUse(const Config& config) {
  if (config.providers.size() == 1 && config.providers[0] == kNoProvider) return {};
  if (!config.providers.empty()) return config.providers;
  std::vector<std::string> providers;
  if (config.discovery_target.has_value()) {
    providers.emplace_back(config.discovery_target->address().is_multicast()
                               ? kMulticastProvider
                               : kRendezvousProvider);
  }
  if (!config.peers.path.empty()) providers.emplace_back(kPeersFileProvider);
  if (config.dns.has_value()) providers.emplace_back(kDnsProvider);
  return providers;
}

}  // namespace glue::discovery
