#include "glue/network/address.h"

#include <netdb.h>
#include <sys/socket.h>

#include <charconv>
#include <cstring>
#include <memory>

#include "absl/algorithm/container.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace glue::network {
namespace {

absl::Status Malformed(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("address '", text, "': ", why));
}

absl::StatusOr<unsigned short> ParsePort(absl::string_view text, absl::string_view port) {
  unsigned value = 0;
  const char* end = port.data() + port.size();
  auto [ptr, ec] = std::from_chars(port.data(), end, value);
  if (port.empty() || ec != std::errc() || ptr != end || value > 65535) {
    return Malformed(text, absl::StrCat("port '", port, "' is not a number in 0..65535"));
  }
  return static_cast<unsigned short>(value);
}

}  // namespace

absl::StatusOr<boost::asio::ip::address> ResolveHost(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_ADDRCONFIG;
  addrinfo* raw = nullptr;
  const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &raw);
  if (rc != 0) {
    return absl::NotFoundError(
        absl::StrCat("host '", host, "' does not resolve: ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(raw, &::freeaddrinfo);
  std::optional<boost::asio::ip::address> v6;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
      boost::asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &sin->sin_addr, bytes.size());
      return boost::asio::ip::address_v4(bytes);
    }
    if (ai->ai_family == AF_INET6 && !v6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &sin6->sin6_addr, bytes.size());
      v6 = boost::asio::ip::address_v6(bytes, sin6->sin6_scope_id);
    }
  }
  if (v6) return *v6;
  return absl::NotFoundError(absl::StrCat("host '", host, "' has no IP address"));
}

absl::StatusOr<Address> ParseAddress(absl::string_view text) {
  return ParseAddress(text, ResolveHost);
}

absl::StatusOr<Address> ParseAddress(absl::string_view text,
                                     const HostResolver& resolve) {
  if (text.empty()) return Malformed(text, "empty");
  absl::string_view host;
  absl::string_view port;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == absl::string_view::npos) return Malformed(text, "missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return Malformed(text, "expected ':port' after ']'");
    }
    port = text.substr(close + 2);
    boost::system::error_code ec;
    const auto v6 = boost::asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return Malformed(text, absl::StrCat("'", host, "' is not an IPv6 address"));
    auto parsed_port = ParsePort(text, port);
    if (!parsed_port.ok()) return parsed_port.status();
    return Address(v6, *parsed_port);
  }
  const size_t colon = text.rfind(':');
  if (colon == absl::string_view::npos) return Malformed(text, "expected HOST:PORT");
  host = text.substr(0, colon);
  port = text.substr(colon + 1);
  if (host.empty()) return Malformed(text, "empty host");
  if (host.find(':') != absl::string_view::npos) {
    return Malformed(text, "an IPv6 address must be written in brackets, as [::1]:5");
  }
  auto parsed_port = ParsePort(text, port);
  if (!parsed_port.ok()) return parsed_port.status();
  boost::system::error_code ec;
  const auto v4 = boost::asio::ip::make_address_v4(std::string(host), ec);
  if (!ec) return Address(v4, *parsed_port);
  // Dotted digits that fail to parse are a typo, not a host name to look up.
  if (absl::c_all_of(host, [](char c) { return absl::ascii_isdigit(c) || c == '.'; })) {
    return Malformed(text, absl::StrCat("'", host, "' is not an IPv4 address"));
  }
  auto resolved = resolve(std::string(host));
  if (!resolved.ok()) {
    return absl::Status(
        resolved.status().code(),
        absl::StrCat("address '", text, "': ", resolved.status().message()));
  }
  return Address(*resolved, *parsed_port);
}

absl::StatusOr<std::optional<Address>> ParseOptionalAddress(absl::string_view text) {
  if (text == "0") return std::optional<Address>();
  auto address = ParseAddress(text);
  if (!address.ok()) return address.status();
  return std::optional<Address>(*address);
}

std::string FormatAddress(const Address& address) {
  if (address.address().is_v6()) {
    return absl::StrCat("[", address.address().to_string(), "]:", address.port());
  }
  return absl::StrCat(address.address().to_string(), ":", address.port());
}

absl::Status ValidateInterfaceName(absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("interface name is empty");
  if (name.size() > kMaxInterfaceNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("interface name '", name, "' is ",
                                                   name.size(), " bytes; at most ",
                                                   kMaxInterfaceNameBytes));
  }
  for (char c : name) {
    if (c == '/' || c == ':' || absl::ascii_isspace(c) || !absl::ascii_isprint(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("interface name '", name, "' contains an invalid character"));
    }
  }
  return absl::OkStatus();
}

}  // namespace glue::network
