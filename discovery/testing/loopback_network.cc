#include "glue/discovery/loopback_network.h"

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "glue/network/interfaces.h"
#include "glue/network/udp_socket.h"

namespace glue::discovery::testing {

absl::StatusOr<LoopbackNetwork> LoopbackNetwork::Make(boost::asio::io_context& io) {
  absl::StatusOr<network::Interface> lo = network::FindInterface("lo");
  if (!lo.ok()) return lo.status();
  if (!lo->multicast) {
    return absl::FailedPreconditionError(
        "loopback has no MULTICAST flag; run inside scripts/test.sh or "
        "scripts/isolated.sh");
  }
  std::random_device random;
  const unsigned seed = random();
  std::printf("loopback network seed: %u\n", seed);
  std::mt19937 generator(seed);
  LoopbackNetwork network;
  network.network_id = 1000 + generator() % 1000000;
  network.group =
      absl::StrCat("239.255.", 1 + generator() % 250, ".", 1 + generator() % 250);
  network.port = FreePort(io);
  if (network.port == 0) return absl::UnavailableError("no free UDP port on loopback");
  return network;
}

unsigned short LoopbackNetwork::FreePort(boost::asio::io_context& io) {
  network::UdpSocketOptions options;
  options.bind_address = network::Address(boost::asio::ip::address_v4::any(), 0);
  auto probe = network::UdpSocket::Open(io.get_executor(), options);
  return probe.ok() ? (*probe)->local_address().port() : 0;
}

network::Address LoopbackNetwork::group_address() const {
  return network::Address(boost::asio::ip::make_address(group), port);
}

Config LoopbackNetwork::MulticastConfig(uint64_t id, const std::string& name,
                                        absl::Duration rate) const {
  Config config;
  config.network_id = network_id;
  config.endpoint_id = id;
  config.endpoint_name = name;
  config.listen_address = network::Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  config.listen_interface = "lo";
  config.listen_interface_origin = "test";
  config.discovery_target = group_address();
  config.discovery_listen = group_address();
  config.rate = rate;
  config.rate_timeout_multiplier = 2;
  return config;
}

}  // namespace glue::discovery::testing
