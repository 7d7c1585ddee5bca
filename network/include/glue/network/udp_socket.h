// UdpSocket: the real DatagramLink, a UDP socket on Boost.Asio. It receives in batches
// with recvmmsg(2) and sends batches with sendmmsg(2), so that small datagrams do not
// cost a system call each. The only code in glue that touches sockets.
//
//   boost::asio::io_context io;
//   UdpSocketOptions options;
//   options.bind_address = *ParseAddress("0.0.0.0:27320");
//   options.interface = "lo";
//   options.reuse_address = true;
//   auto socket = UdpSocket::Open(io.get_executor(), options);
//   (*socket)->JoinGroup(boost::asio::ip::make_address("239.192.137.1"));
//   (*socket)->Start([](const ReceivedDatagram& d) { ... });
#ifndef GLUE_NETWORK_UDP_SOCKET_H_
#define GLUE_NETWORK_UDP_SOCKET_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <memory>
#include <string>

#include "glue/network/link.h"

namespace glue::network {
namespace internal {
struct UdpSocketState;  // shared with pending Asio handlers, which may outlive the socket
}  // namespace internal

// UdpSocketOptions says how a UdpSocket is opened.
struct UdpSocketOptions {
  // Where to bind. Port 0 takes a free port; the unspecified address (0.0.0.0 or ::)
  // receives on every interface. The family of this address is the socket's family.
  Address bind_address{boost::asio::ip::address_v4::any(), 0};
  // The interface multicast is sent from and groups are joined on; empty lets the
  // kernel choose by its routes.
  std::string interface;
  // Restrict the socket to `interface` with SO_BINDTODEVICE (needs CAP_NET_RAW).
  bool bind_to_device = false;
  // Let other sockets bind the same address and port (SO_REUSEADDR). Every such
  // socket gets each multicast and broadcast datagram, but a unicast datagram to the
  // port reaches only one of them.
  bool reuse_address = false;
  // Allow sending to broadcast addresses (SO_BROADCAST).
  bool broadcast = false;
  // Deliver our own multicast to listeners on this host (so endpoints on one host hear
  // each other), and how many routers multicast may cross (1: this segment only).
  bool multicast_loopback = true;
  int multicast_hops = 1;
  // Datagrams taken per recvmmsg(2) call; 1 receives one per recvmsg(2) call.
  size_t receive_batch = 32;
  // The largest datagram received whole; longer ones are dropped and counted as
  // truncated. The receive buffer is receive_batch * max_datagram_bytes.
  size_t max_datagram_bytes = 65536;
  // UDP segmentation offload: SendBatch passes a run of equal-size datagrams to one
  // destination to the kernel as a single UDP_SEGMENT buffer, and the socket accepts
  // such runs coalesced on receive (UDP_GRO) and splits them again. Every datagram
  // is still its own UDP datagram on the wire; the stack is crossed once per run
  // instead of once per datagram. Receiving coalesced runs needs max_datagram_bytes
  // of 65536 and is off otherwise. When the kernel refuses offload on a path, the
  // socket falls back to plain sends.
  bool segmentation_offload = true;
  // SO_RCVBUF and SO_SNDBUF; 0 keeps the system default.
  int receive_buffer_bytes = 0;
  int send_buffer_bytes = 0;
};

// UdpSocket is a bound UDP socket. See DatagramLink for the threading contract; its
// receive handler runs on the executor given to Open. Not copyable.
class UdpSocket final : public DatagramLink {
 public:
  // Open creates and binds a socket. The socket does not receive until Start.
  // Errors: kInvalidArgument for options out of range or an address that is not one
  // of this host's; kNotFound when the interface does not exist; kAlreadyExists when
  // the address is in use (and reuse_address is off); kPermissionDenied when the
  // system refuses an option; others as the system reports them. Every message names
  // the address or interface.
  static absl::StatusOr<std::unique_ptr<UdpSocket>> Open(
      const boost::asio::any_io_executor& executor, const UdpSocketOptions& options);

  // Stops the socket (see Stop) and closes it.
  ~UdpSocket() override;

  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  // JoinGroup joins the multicast `group` on the options' interface (or the kernel's
  // choice when none was given). Any thread.
  // Errors: kInvalidArgument when `group` is not multicast or not of the socket's
  // family; kAlreadyExists when already joined; others as the system reports them.
  absl::Status JoinGroup(const boost::asio::ip::address& group);

  // LeaveGroup leaves a group joined with JoinGroup. Any thread.
  // Errors: kInvalidArgument as for JoinGroup; kNotFound when not joined.
  absl::Status LeaveGroup(const boost::asio::ip::address& group);

  // DatagramLink.
  absl::Status Start(ReceiveHandler handler) override;
  void Stop() override;
  absl::Status Send(const Address& destination, absl::Span<const uint8_t> bytes) override;
  absl::StatusOr<size_t> SendBatch(absl::Span<const OutgoingDatagram> datagrams) override;
  Address local_address() const override;
  LinkCounters counters() const override;

  // The options the socket was opened with, and the index of their interface (0 when
  // none was named).
  const UdpSocketOptions& options() const;
  unsigned interface_index() const;

 private:
  explicit UdpSocket(std::shared_ptr<internal::UdpSocketState> state);

  std::shared_ptr<internal::UdpSocketState> state_;
};

}  // namespace glue::network

#endif  // GLUE_NETWORK_UDP_SOCKET_H_
