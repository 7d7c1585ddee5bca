// UDP addresses for the network layer: parsing and formatting of `IP:port` text and
// checks of interface names. The bottom of the stack; every layer above addresses
// peers through these until discovery maps them to endpoint ids.
//
//   absl::StatusOr<Address> a = ParseAddress("239.192.137.1:27320");
//   absl::StatusOr<std::optional<Address>> t = ParseOptionalAddress("0");  // disabled
#ifndef GLUE_NETWORK_ADDRESS_H_
#define GLUE_NETWORK_ADDRESS_H_

#include <boost/asio/ip/udp.hpp>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace glue::network {

// Address is an IPv4 or IPv6 address with a UDP port.
using Address = boost::asio::ip::udp::endpoint;

// ParseAddress parses `192.0.2.4:5`, `[::1]:5`, `[fe80::1%lo]:5` or `host:port`. A host
// name is resolved with getaddrinfo (IPv4 preferred), so only names the system can
// resolve locally should be used where no lookup may leave the machine. The port is
// 0..65535 (0 asks for a free port where the address is bound). Thread-safe.
// Errors: kInvalidArgument for text that does not parse (the message quotes it),
// kNotFound for a host name that does not resolve.
absl::StatusOr<Address> ParseAddress(absl::string_view text);

// HostResolver turns a host name into an address, or returns kNotFound.
using HostResolver =
    std::function<absl::StatusOr<boost::asio::ip::address>(const std::string& host)>;

// ParseAddress with another resolver than getaddrinfo (tests, or a caller that must
// not look names up at all).
absl::StatusOr<Address> ParseAddress(absl::string_view text, const HostResolver& resolve);

// ResolveHost is the default HostResolver: getaddrinfo, IPv4 preferred. Thread-safe.
absl::StatusOr<boost::asio::ip::address> ResolveHost(const std::string& host);

// ParseOptionalAddress is ParseAddress, except that the text `0` means "disabled" and
// yields std::nullopt (as GLUE_DISCOVERY_TARGET_ADDRESS=0 does). Thread-safe.
absl::StatusOr<std::optional<Address>> ParseOptionalAddress(absl::string_view text);

// FormatAddress returns `192.0.2.4:5` or `[::1]:5`: the text ParseAddress reads back.
std::string FormatAddress(const Address& address);

// kMaxInterfaceNameBytes is the longest interface name Linux accepts (IFNAMSIZ - 1).
inline constexpr size_t kMaxInterfaceNameBytes = 15;

// ValidateInterfaceName checks the form of an interface name (1..15 bytes, no '/',
// ':' or whitespace) without asking whether such an interface exists (see
// FindInterface for that). Error: kInvalidArgument naming the value.
absl::Status ValidateInterfaceName(absl::string_view name);

}  // namespace glue::network

#endif  // GLUE_NETWORK_ADDRESS_H_
