// What the host's network looks like: its interfaces and their addresses, the
// interface of the default route, and the local address that reaches a destination.
// Part of the network layer; discovery uses it to choose where to announce.
#ifndef GLUE_NETWORK_INTERFACES_H_
#define GLUE_NETWORK_INTERFACES_H_

#include <boost/asio/ip/address.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "glue/network/address.h"

namespace glue::network {

// Interface is one network interface as the kernel reports it.
struct Interface {
  std::string name;
  unsigned index = 0;  // if_nametoindex; what IPv6 scope ids and multicast joins use
  bool up = false;
  bool loopback = false;
  bool multicast = false;
  bool broadcast = false;
  unsigned mtu = 0;  // the largest IP packet it carries, in bytes; 0 when unknown
  std::vector<boost::asio::ip::address> addresses;  // IPv4 first, then IPv6

  // FirstV4 returns the first IPv4 address, or the unspecified address if none.
  boost::asio::ip::address_v4 FirstV4() const;
};

// ListInterfaces returns every interface with its addresses, ordered by index.
// Thread-safe. Error: kInternal when the kernel cannot be asked.
absl::StatusOr<std::vector<Interface>> ListInterfaces();

// FindInterface returns the interface called `name`. Thread-safe.
// Errors: kInvalidArgument for a malformed name, kNotFound when no such interface
// exists (both messages quote the name).
absl::StatusOr<Interface> FindInterface(absl::string_view name);

// DefaultRouteInterface returns the name of the interface that carries the IPv4
// default route (the one with the lowest metric), else that of the IPv6 default
// route. Thread-safe. Error: kNotFound when the host has no default route, as in a
// namespace with only loopback.
absl::StatusOr<std::string> DefaultRouteInterface();

// ParseDefaultRouteV4 reads the text of /proc/net/route and returns the interface of
// the default route with the lowest metric, or "" when there is none. Exposed so that
// the parsing can be tested on tables of any shape.
std::string ParseDefaultRouteV4(absl::string_view proc_net_route);

// ParseDefaultRouteV6 does the same for the text of /proc/net/ipv6_route.
std::string ParseDefaultRouteV6(absl::string_view proc_net_ipv6_route);

// SourceAddressFor returns the local address the kernel would send from to reach
// `destination`, found by connecting a UDP socket: no packet is sent. The port of
// the result is meaningless. Thread-safe. Error: kUnavailable when no route reaches
// `destination` (the message names it).
absl::StatusOr<boost::asio::ip::address> SourceAddressFor(const Address& destination);

}  // namespace glue::network

#endif  // GLUE_NETWORK_INTERFACES_H_
