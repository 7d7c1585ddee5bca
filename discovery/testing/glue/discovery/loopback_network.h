// LoopbackNetwork: a multicast discovery group, port and network id of a test's own on
// the loopback interface, so that tests running at the same time never hear each
// other. Test code only.
//
//   absl::StatusOr<LoopbackNetwork> network = LoopbackNetwork::Make(io);
//   if (absl::IsFailedPrecondition(network.status())) GLUE_SKIP_UNLESS_CI(...);
//   Config config = network->MulticastConfig(7, "seven");
#ifndef GLUE_DISCOVERY_LOOPBACK_NETWORK_H_
#define GLUE_DISCOVERY_LOOPBACK_NETWORK_H_

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/discovery/config.h"
#include "glue/network/address.h"

namespace glue::discovery::testing {

struct LoopbackNetwork {
  // Make draws a random group, network id and a free port (the seed is printed).
  // Error: kFailedPrecondition when loopback has no MULTICAST flag (outside
  // scripts/isolated.sh), which tests turn into a skip (a failure under CI).
  static absl::StatusOr<LoopbackNetwork> Make(boost::asio::io_context& io);

  // FreePort returns a UDP port nobody on loopback uses right now, or 0.
  static unsigned short FreePort(boost::asio::io_context& io);

  // MulticastConfig is an endpoint on this network: data on 127.0.0.1, interface lo,
  // announcing every `rate` to the group, removed after two silent periods.
  Config MulticastConfig(uint64_t id, const std::string& name,
                         absl::Duration rate = absl::Milliseconds(50)) const;

  network::Address group_address() const;

  uint64_t network_id = 0;
  std::string group;
  unsigned short port = 0;
};

}  // namespace glue::discovery::testing

#endif  // GLUE_DISCOVERY_LOOPBACK_NETWORK_H_
