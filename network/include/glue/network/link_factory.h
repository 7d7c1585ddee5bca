// LinkFactory: how the layers above open their datagram links, in the manner of
// LevelDB's Env: the real one opens UDP sockets; tests give a simulated network
// (testing/glue/network/simulated_network.h) on which several stacks run in one
// process without sockets. The network layer.
//
//   absl::StatusOr<std::unique_ptr<DatagramLink>> link =
//       SystemLinks().Open(strand, options, {group});
#ifndef GLUE_NETWORK_LINK_FACTORY_H_
#define GLUE_NETWORK_LINK_FACTORY_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/network/link.h"
#include "glue/network/udp_socket.h"

namespace glue::network {

// LinkFactory: any thread may call Open.
class LinkFactory {
 public:
  virtual ~LinkFactory() = default;

  // Open opens a link bound as `options` say, a member of the multicast `groups`,
  // whose receive handler runs on `executor` once started. The factory must outlive
  // the link. Errors: those of UdpSocket::Open and UdpSocket::JoinGroup.
  virtual absl::StatusOr<std::unique_ptr<DatagramLink>> Open(
      const boost::asio::any_io_executor& executor, const UdpSocketOptions& options,
      absl::Span<const boost::asio::ip::address> groups) = 0;
};

// SystemLinks opens UdpSockets. It lives for the whole program.
LinkFactory& SystemLinks();

}  // namespace glue::network

#endif  // GLUE_NETWORK_LINK_FACTORY_H_
