#include "glue/network/interfaces.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "glue/base/status_macros.h"

namespace glue::network {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<absl::string_view> Fields(absl::string_view line) {
  return absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

}  // namespace

boost::asio::ip::address_v4 Interface::FirstV4() const {
  for (const auto& address : addresses) {
    if (address.is_v4()) return address.to_v4();
  }
  return boost::asio::ip::address_v4::any();
}

namespace {

// Mtu returns the MTU of interface `name`, asked through the socket `fd`, or 0.
unsigned Mtu(int fd, const char* name) {
  if (fd < 0) return 0;
  ifreq request{};
  std::strncpy(request.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(fd, SIOCGIFMTU, &request) != 0 || request.ifr_mtu <= 0) return 0;
  return static_cast<unsigned>(request.ifr_mtu);
}

}  // namespace

absl::StatusOr<std::vector<Interface>> ListInterfaces() {
  // Any socket asks the kernel for an interface's MTU.
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ifaddrs* raw = nullptr;
  if (::getifaddrs(&raw) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    return absl::ErrnoToStatus(error, "getifaddrs");
  }
  std::unique_ptr<ifaddrs, decltype(&::freeifaddrs)> list(raw, &::freeifaddrs);
  std::map<std::string, Interface> by_name;
  for (const ifaddrs* ifa = list.get(); ifa != nullptr; ifa = ifa->ifa_next) {
    Interface& interface = by_name[ifa->ifa_name];
    if (interface.name.empty()) {
      interface.name = ifa->ifa_name;
      interface.index = ::if_nametoindex(ifa->ifa_name);
      interface.up = (ifa->ifa_flags & IFF_UP) != 0;
      interface.loopback = (ifa->ifa_flags & IFF_LOOPBACK) != 0;
      interface.multicast = (ifa->ifa_flags & IFF_MULTICAST) != 0;
      interface.broadcast = (ifa->ifa_flags & IFF_BROADCAST) != 0;
      interface.mtu = Mtu(fd, ifa->ifa_name);
    }
    if (ifa->ifa_addr == nullptr) continue;
    if (ifa->ifa_addr->sa_family == AF_INET) {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(ifa->ifa_addr);
      boost::asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &sin->sin_addr, bytes.size());
      interface.addresses.emplace_back(boost::asio::ip::address_v4(bytes));
    } else if (ifa->ifa_addr->sa_family == AF_INET6) {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ifa->ifa_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &sin6->sin6_addr, bytes.size());
      interface.addresses.emplace_back(
          boost::asio::ip::address_v6(bytes, sin6->sin6_scope_id));
    }
  }
  if (fd >= 0) ::close(fd);
  std::vector<Interface> result;
  result.reserve(by_name.size());
  for (auto& [name, interface] : by_name) {
    std::stable_partition(interface.addresses.begin(), interface.addresses.end(),
                          [](const auto& a) { return a.is_v4(); });
    result.push_back(std::move(interface));
  }
  std::sort(result.begin(), result.end(),
            [](const Interface& a, const Interface& b) { return a.index < b.index; });
  return result;
}

absl::StatusOr<Interface> FindInterface(absl::string_view name) {
  GLUE_RETURN_IF_ERROR(ValidateInterfaceName(name));
  GLUE_ASSIGN_OR_RETURN(std::vector<Interface> interfaces, ListInterfaces());
  for (Interface& interface : interfaces) {
    if (interface.name == name) return std::move(interface);
  }
  return absl::NotFoundError(absl::StrCat("interface '", name, "' does not exist"));
}

std::string ParseDefaultRouteV4(absl::string_view proc_net_route) {
  // Columns: Iface Destination Gateway Flags RefCnt Use Metric Mask ...
  constexpr unsigned kRouteUp = 0x1;
  std::string best;
  uint64_t best_metric = std::numeric_limits<uint64_t>::max();
  for (absl::string_view line : absl::StrSplit(proc_net_route, '\n')) {
    const std::vector<absl::string_view> f = Fields(line);
    if (f.size() < 8 || f[0] == "Iface") continue;
    uint32_t flags = 0;
    uint64_t metric = 0;
    if (f[1] != "00000000" || f[7] != "00000000") continue;
    if (!absl::SimpleHexAtoi(f[3], &flags) || (flags & kRouteUp) == 0) continue;
    if (!absl::SimpleAtoi(f[6], &metric)) continue;
    if (metric < best_metric) {
      best_metric = metric;
      best = std::string(f[0]);
    }
  }
  return best;
}

std::string ParseDefaultRouteV6(absl::string_view proc_net_ipv6_route) {
  // Columns: dest dest_len src src_len next_hop metric refcnt use flags iface
  constexpr uint32_t kRouteUp = 0x1;
  constexpr uint32_t kRouteReject = 0x200;
  std::string best;
  uint64_t best_metric = std::numeric_limits<uint64_t>::max();
  for (absl::string_view line : absl::StrSplit(proc_net_ipv6_route, '\n')) {
    const std::vector<absl::string_view> f = Fields(line);
    if (f.size() < 10) continue;
    if (f[0] != std::string(32, '0') || f[1] != "00") continue;
    uint32_t flags = 0;
    uint64_t metric = 0;
    if (!absl::SimpleHexAtoi(f[8], &flags) || (flags & kRouteUp) == 0 ||
        (flags & kRouteReject) != 0 || f[9] == "lo") {
      continue;
    }
    if (!absl::SimpleHexAtoi(f[5], &metric)) continue;
    if (metric < best_metric) {
      best_metric = metric;
      best = std::string(f[9]);
    }
  }
  return best;
}

absl::StatusOr<std::string> DefaultRouteInterface() {
  std::string name = ParseDefaultRouteV4(ReadFile("/proc/net/route"));
  if (name.empty()) name = ParseDefaultRouteV6(ReadFile("/proc/net/ipv6_route"));
  if (name.empty()) return absl::NotFoundError("this host has no default route");
  return name;
}

absl::StatusOr<boost::asio::ip::address> SourceAddressFor(const Address& destination) {
  const int fd = ::socket(destination.protocol().family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  // Connecting a UDP socket only selects a route and a source address.
  const int rc = ::connect(fd, destination.data(), destination.size());
  const int connect_errno = errno;
  sockaddr_storage local{};
  socklen_t length = sizeof(local);
  const int name_rc =
      rc == 0 ? ::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &length) : -1;
  ::close(fd);
  if (rc != 0) {
    return absl::UnavailableError(absl::StrCat("no route to ", FormatAddress(destination),
                                               ": ", std::strerror(connect_errno)));
  }
  if (name_rc != 0) return absl::InternalError("getsockname failed");
  Address source;
  std::memcpy(source.data(), &local, length);
  return source.address();
}

}  // namespace glue::network
