// Configurations of endpoints on the hosts of a network::testing::SimulatedNetwork:
// host `i` has the address 127.0.1.i, and everyone announces by multicast to one
// group. Nothing here opens a socket. Test code only.
//
//   SimulatedNetwork network(clock, seed);
//   Config a = SimulatedHostConfig(1, /*id=*/11, "a");
//   auto discovery = Discovery::Create(strand, a, {}, clock,
//   network.Host(a.listen_address.address()));
#ifndef GLUE_DISCOVERY_SIMULATED_HOSTS_H_
#define GLUE_DISCOVERY_SIMULATED_HOSTS_H_

#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "glue/discovery/config.h"

namespace glue::discovery::testing {

// SimulatedHostAddress is the address of simulated host `index` (1..254): 127.0.1.index.
inline boost::asio::ip::address SimulatedHostAddress(int index) {
  return boost::asio::ip::address_v4(0x7f000100u | static_cast<uint8_t>(index));
}

// SimulatedHostConfig is an endpoint on host `index`, taking data at a port of its
// own, announcing every `rate` and removed after two silent periods.
inline Config SimulatedHostConfig(int index, uint64_t id, const std::string& name,
                                  absl::Duration rate = absl::Milliseconds(50)) {
  const network::Address group(boost::asio::ip::make_address("239.255.42.1"), 27320);
  Config config;
  config.network_id = 42;
  config.endpoint_id = id;
  config.endpoint_name = name;
  config.listen_address = network::Address(SimulatedHostAddress(index), 0);
  config.listen_interface = "lo";  // unused by the simulated network, asked for by
  config.listen_interface_origin = "simulated";  // multicast configurations
  config.discovery_target = group;
  config.discovery_listen = group;
  config.rate = rate;
  config.rate_timeout_multiplier = 2;
  return config;
}

}  // namespace glue::discovery::testing

#endif  // GLUE_DISCOVERY_SIMULATED_HOSTS_H_
