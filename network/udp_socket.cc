#include "glue/network/udp_socket.h"

#include <net/if.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/ip/udp.hpp>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/handler_gate.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/network/interfaces.h"

namespace glue::network {
namespace {

// The largest UDP payload: 65535 minus the IP and UDP headers.
constexpr size_t kMaxUdpPayloadV4 = 65507;
constexpr size_t kMaxUdpPayloadV6 = 65527;
// recvmmsg calls made per readiness event before yielding to other handlers.
constexpr int kMaxReceiveCallsPerWakeup = 8;
// Messages per sendmmsg call, and datagrams per call (each takes an iovec).
constexpr size_t kSendMessages = 64;
constexpr size_t kSendDatagrams = 256;
// Datagrams in one UDP_SEGMENT run; the kernel's own limit is 64 or more.
constexpr size_t kMaxSegments = 64;
// Room for IP_PKTINFO or IPV6_PKTINFO, SO_RXQ_OVFL and UDP_GRO.
constexpr size_t kControlBytes = CMSG_SPACE(sizeof(in6_pktinfo)) +
                                 CMSG_SPACE(sizeof(uint32_t)) + CMSG_SPACE(sizeof(int)) +
                                 16;

absl::Status SetOption(int fd, int level, int name, const void* value, socklen_t size,
                       absl::string_view what) {
  if (::setsockopt(fd, level, name, value, size) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("setsockopt ", what));
  }
  return absl::OkStatus();
}

absl::Status SetIntOption(int fd, int level, int name, int value,
                          absl::string_view what) {
  return SetOption(fd, level, name, &value, sizeof(value), what);
}

Address FromSockaddr(const sockaddr_storage& storage, socklen_t length) {
  Address address;
  if (length > 0 && length <= sizeof(storage)) {
    std::memcpy(address.data(), &storage, length);
  }
  return address;
}

struct alignas(cmsghdr) ControlBuffer {
  unsigned char bytes[kControlBytes];
};

}  // namespace

namespace internal {

struct UdpSocketState {
  UdpSocketState(const boost::asio::any_io_executor& executor,
                 const UdpSocketOptions& opts)
      : socket(executor), options(opts) {}

  boost::asio::ip::udp::socket socket;
  const UdpSocketOptions options;
  int fd = -1;  // kept apart from `socket` so that senders never touch the Asio object
  unsigned interface_index = 0;
  Address local;
  bool v6 = false;
  // Cleared, once and for all, when the kernel refuses a segmented send.
  std::atomic<bool> send_offload{false};

  // Receive slots, touched only by the one handler that runs at a time.
  std::vector<uint8_t> buffers;
  std::vector<mmsghdr> headers;
  std::vector<iovec> iovecs;
  std::vector<sockaddr_storage> sources;
  std::vector<ControlBuffer> controls;
  DatagramLink::ReceiveHandler handler;
  uint32_t kernel_drops_seen = 0;

  Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  // Guards the socket object between the handler that re-arms it and Stop.
  HandlerGate gate;
  // Set by Stop: what senders and the delivery loop check without a lock.
  std::atomic<bool> stop_requested{false};

  std::atomic<uint64_t> datagrams_sent{0}, bytes_sent{0}, send_calls{0}, send_errors{0},
      send_would_block{0}, datagrams_received{0}, bytes_received{0}, receive_calls{0},
      receive_errors{0}, truncated{0}, dropped_by_kernel{0};
};

}  // namespace internal

namespace {

using State = internal::UdpSocketState;

void ArmWait(const std::shared_ptr<State>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu);

// Hands one received datagram to the handler, unless it was truncated.
void Deliver(State& s, const mmsghdr& header, size_t slot) {
  const msghdr& msg = header.msg_hdr;
  if ((msg.msg_flags & MSG_TRUNC) != 0) {
    s.truncated.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ReceivedDatagram datagram;
  int segment_size = 0;  // set when the kernel coalesced a run of datagrams
  datagram.source = FromSockaddr(s.sources[slot], msg.msg_namelen);
  datagram.destination =
      Address(s.v6 ? boost::asio::ip::address(boost::asio::ip::address_v6::any())
                   : boost::asio::ip::address(boost::asio::ip::address_v4::any()),
              s.local.port());
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
       c = CMSG_NXTHDR(const_cast<msghdr*>(&msg), c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      boost::asio::ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &info.ipi_addr, bytes.size());
      datagram.destination.address(boost::asio::ip::address_v4(bytes));
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof(info));
      boost::asio::ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &info.ipi6_addr, bytes.size());
      datagram.destination.address(boost::asio::ip::address_v6(bytes));
    } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
      std::memcpy(&segment_size, CMSG_DATA(c), sizeof(segment_size));
    } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
      uint32_t drops;
      std::memcpy(&drops, CMSG_DATA(c), sizeof(drops));
      // The kernel reports a running total; count what is new since the last report.
      if (drops != s.kernel_drops_seen) {
        s.dropped_by_kernel.fetch_add(drops - s.kernel_drops_seen,
                                      std::memory_order_relaxed);
        s.kernel_drops_seen = drops;
      }
    }
  }
  const absl::Span<const uint8_t> all = absl::MakeConstSpan(
      s.buffers.data() + slot * s.options.max_datagram_bytes, header.msg_len);
  const size_t step = segment_size > 0 ? static_cast<size_t>(segment_size) : all.size();
  size_t offset = 0;
  do {
    datagram.bytes = all.subspan(offset, step);
    offset += datagram.bytes.size();
    s.datagrams_received.fetch_add(1, std::memory_order_relaxed);
    s.bytes_received.fetch_add(datagram.bytes.size(), std::memory_order_relaxed);
    s.handler(datagram);
  } while (offset < all.size() && !s.stop_requested.load(std::memory_order_relaxed));
}

void PrepareSlot(State& s, size_t slot) {
  msghdr& msg = s.headers[slot].msg_hdr;
  msg.msg_name = &s.sources[slot];
  msg.msg_namelen = sizeof(sockaddr_storage);
  msg.msg_iov = &s.iovecs[slot];
  msg.msg_iovlen = 1;
  msg.msg_control = s.controls[slot].bytes;
  msg.msg_controllen = sizeof(ControlBuffer::bytes);
  msg.msg_flags = 0;
}

// Receives what is waiting, in batches, and hands it up. Returns when the socket is
// drained, after kMaxReceiveCallsPerWakeup calls, or when Stop was requested.
void Drain(State& s) {
  const size_t batch = s.options.receive_batch;
  for (int call = 0; call < kMaxReceiveCallsPerWakeup; ++call) {
    int received;
    for (size_t i = 0; i < batch; ++i) PrepareSlot(s, i);
    if (batch == 1) {
      const ssize_t n = ::recvmsg(s.fd, &s.headers[0].msg_hdr, MSG_DONTWAIT);
      if (n >= 0) s.headers[0].msg_len = static_cast<unsigned>(n);
      received = n >= 0 ? 1 : -1;
    } else {
      received = ::recvmmsg(s.fd, s.headers.data(), static_cast<unsigned>(batch),
                            MSG_DONTWAIT, nullptr);
    }
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        s.receive_errors.fetch_add(1, std::memory_order_relaxed);
        GLUE_LOG(kWarning, "network: receive on %s failed: %s", FormatAddress(s.local),
                 std::strerror(errno));
      }
      return;
    }
    s.receive_calls.fetch_add(1, std::memory_order_relaxed);
    for (int i = 0; i < received; ++i) {
      if (s.stop_requested.load(std::memory_order_relaxed)) return;
      Deliver(s, s.headers[i], static_cast<size_t>(i));
    }
    if (static_cast<size_t>(received) < batch) return;
  }
}

void OnReadable(const std::shared_ptr<State>& state,
                const boost::system::error_code& ec) {
  State& s = *state;
  HandlerGate::Pass pass(&s.gate);
  // Another error is the socket's pending one, which the peek took: receiving goes on.
  if (ec == boost::asio::error::operation_aborted ||
      ec == boost::asio::error::bad_descriptor || !pass) {
    return;
  }
  Drain(s);
  MutexLock lock(&s.mu);
  if (!s.stop_requested.load(std::memory_order_relaxed)) ArmWait(state);
}

// ArmWait waits for a datagram with a receive of no bytes that only peeks, rather than
// async_wait: Asio re-registers the descriptor with epoll (a system call) for every
// async_wait, but tries a receive first and keeps the registration as it is. When a
// datagram is waiting already, the peek finds it at once.
void ArmWait(const std::shared_ptr<State>& state) {
  state->socket.async_receive(
      boost::asio::mutable_buffer(), boost::asio::socket_base::message_peek,
      [state](const boost::system::error_code& ec, size_t) { OnReadable(state, ec); });
}

absl::Status CheckDestination(const State& s, const Address& destination, size_t size) {
  if (destination.address().is_v6() != s.v6) {
    return absl::InvalidArgumentError(
        absl::StrCat("destination ", FormatAddress(destination), " is IPv",
                     s.v6 ? "4" : "6", " but the socket bound to ",
                     FormatAddress(s.local), " is IPv", s.v6 ? "6" : "4"));
  }
  const size_t limit = s.v6 ? kMaxUdpPayloadV6 : kMaxUdpPayloadV4;
  if (size > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat("datagram of ", size, " bytes to ", FormatAddress(destination),
                     " is larger than the UDP limit of ", limit, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status SendError(State& s, int error, const Address& destination) {
  if (error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS) {
    s.send_would_block.fetch_add(1, std::memory_order_relaxed);
    return absl::UnavailableError(absl::StrCat("send to ", FormatAddress(destination),
                                               ": socket buffer full; retry later"));
  }
  s.send_errors.fetch_add(1, std::memory_order_relaxed);
  if (error == EACCES) {
    return absl::PermissionDeniedError(absl::StrCat(
        "send to ", FormatAddress(destination),
        " refused: a broadcast address needs a socket opened with broadcast = true"));
  }
  if (error == ENETUNREACH || error == EHOSTUNREACH) {
    return absl::UnavailableError(
        absl::StrCat("no route to ", FormatAddress(destination)));
  }
  if (error == EMSGSIZE) {
    return absl::InvalidArgumentError(absl::StrCat(
        "datagram to ", FormatAddress(destination), " is larger than the path allows"));
  }
  return absl::ErrnoToStatus(error, absl::StrCat("send to ", FormatAddress(destination)));
}

absl::Status MembershipOption(State& s, const boost::asio::ip::address& group,
                              bool join) {
  if (!group.is_multicast()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", group.to_string(), "' is not a multicast address"));
  }
  if (group.is_v6() != s.v6) {
    return absl::InvalidArgumentError(absl::StrCat("group ", group.to_string(),
                                                   " is not of the family of the socket ",
                                                   "bound to ", FormatAddress(s.local)));
  }
  int rc;
  if (s.v6) {
    ipv6_mreq request{};
    const auto bytes = group.to_v6().to_bytes();
    std::memcpy(&request.ipv6mr_multiaddr, bytes.data(), bytes.size());
    request.ipv6mr_interface = s.interface_index;
    rc = ::setsockopt(s.fd, IPPROTO_IPV6, join ? IPV6_JOIN_GROUP : IPV6_LEAVE_GROUP,
                      &request, sizeof(request));
  } else {
    ip_mreqn request{};
    const auto bytes = group.to_v4().to_bytes();
    std::memcpy(&request.imr_multiaddr, bytes.data(), bytes.size());
    request.imr_ifindex = static_cast<int>(s.interface_index);
    rc = ::setsockopt(s.fd, IPPROTO_IP, join ? IP_ADD_MEMBERSHIP : IP_DROP_MEMBERSHIP,
                      &request, sizeof(request));
  }
  if (rc == 0) return absl::OkStatus();
  const int error = errno;
  const std::string where =
      absl::StrCat("group ", group.to_string(), " on interface '",
                   s.options.interface.empty() ? "(default)" : s.options.interface, "'");
  if (join && error == EADDRINUSE) {
    return absl::AlreadyExistsError(absl::StrCat("already joined ", where));
  }
  if (!join && error == EADDRNOTAVAIL) {
    return absl::NotFoundError(absl::StrCat("not a member of ", where));
  }
  return absl::ErrnoToStatus(error, absl::StrCat(join ? "join " : "leave ", where));
}

absl::Status Configure(State& s) {
  const UdpSocketOptions& o = s.options;
  const int fd = s.fd;
  if (o.reuse_address) {
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"));
  }
  if (o.broadcast) {
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"));
  }
  GLUE_RETURN_IF_ERROR(SetIntOption(fd, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL"));
  if (o.segmentation_offload) {
    s.send_offload = true;
    // Coalesced runs can be up to 64 KiB: only sockets whose slots hold that take them.
    if (o.max_datagram_bytes >= 65536 &&
        !SetIntOption(fd, SOL_UDP, UDP_GRO, 1, "UDP_GRO").ok()) {
      GLUE_LOG(kDebug, "network: UDP_GRO unavailable; receiving datagrams one by one");
    }
  }
  if (o.receive_buffer_bytes > 0) {
    GLUE_RETURN_IF_ERROR(
        SetIntOption(fd, SOL_SOCKET, SO_RCVBUF, o.receive_buffer_bytes, "SO_RCVBUF"));
  }
  if (o.send_buffer_bytes > 0) {
    GLUE_RETURN_IF_ERROR(
        SetIntOption(fd, SOL_SOCKET, SO_SNDBUF, o.send_buffer_bytes, "SO_SNDBUF"));
  }
  if (!o.interface.empty()) {
    GLUE_ASSIGN_OR_RETURN(Interface interface, FindInterface(o.interface));
    s.interface_index = interface.index;
    if (o.bind_to_device) {
      GLUE_RETURN_IF_ERROR(SetOption(fd, SOL_SOCKET, SO_BINDTODEVICE, o.interface.data(),
                                     static_cast<socklen_t>(o.interface.size()),
                                     absl::StrCat("SO_BINDTODEVICE ", o.interface)));
    }
  } else if (o.bind_to_device) {
    return absl::InvalidArgumentError("bind_to_device needs an interface name");
  }
  if (s.v6) {
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY"));
    GLUE_RETURN_IF_ERROR(
        SetIntOption(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO"));
    // Hear only the groups this socket joined, not those of every socket on the host.
    GLUE_RETURN_IF_ERROR(
        SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0, "IPV6_MULTICAST_ALL"));
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP,
                                      o.multicast_loopback ? 1 : 0,
                                      "IPV6_MULTICAST_LOOP"));
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS,
                                      o.multicast_hops, "IPV6_MULTICAST_HOPS"));
    if (s.interface_index != 0) {
      GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF,
                                        static_cast<int>(s.interface_index),
                                        "IPV6_MULTICAST_IF"));
    }
  } else {
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO"));
    // Linux otherwise delivers a group joined by any socket to every socket bound to
    // the port, which would mix networks that share a port but not a group.
    GLUE_RETURN_IF_ERROR(
        SetIntOption(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, "IP_MULTICAST_ALL"));
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IP, IP_MULTICAST_LOOP,
                                      o.multicast_loopback ? 1 : 0, "IP_MULTICAST_LOOP"));
    GLUE_RETURN_IF_ERROR(SetIntOption(fd, IPPROTO_IP, IP_MULTICAST_TTL, o.multicast_hops,
                                      "IP_MULTICAST_TTL"));
    if (s.interface_index != 0) {
      ip_mreqn request{};
      request.imr_ifindex = static_cast<int>(s.interface_index);
      GLUE_RETURN_IF_ERROR(SetOption(fd, IPPROTO_IP, IP_MULTICAST_IF, &request,
                                     sizeof(request), "IP_MULTICAST_IF"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<UdpSocket>> UdpSocket::Open(
    const boost::asio::any_io_executor& executor, const UdpSocketOptions& options) {
  if (options.receive_batch < 1 || options.receive_batch > 1024) {
    return absl::InvalidArgumentError(
        absl::StrCat("receive_batch ", options.receive_batch, " is outside 1..1024"));
  }
  if (options.max_datagram_bytes < 1 || options.max_datagram_bytes > 65536) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_datagram_bytes ", options.max_datagram_bytes, " is outside 1..65536"));
  }
  if (options.multicast_hops < 0 || options.multicast_hops > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("multicast_hops ", options.multicast_hops, " is outside 0..255"));
  }
  if (!options.interface.empty()) {
    GLUE_RETURN_IF_ERROR(ValidateInterfaceName(options.interface));
  }
  auto state = std::make_shared<State>(executor, options);
  State& s = *state;
  s.v6 = options.bind_address.address().is_v6();
  boost::system::error_code ec;
  s.socket.open(options.bind_address.protocol(), ec);
  if (ec) {
    return absl::ErrnoToStatus(
        ec.value(),
        absl::StrCat("open a UDP socket for ", FormatAddress(options.bind_address)));
  }
  s.fd = s.socket.native_handle();
  GLUE_RETURN_IF_ERROR(Configure(s));
  s.socket.bind(options.bind_address, ec);
  if (ec) {
    const std::string where = FormatAddress(options.bind_address);
    if (ec.value() == EADDRINUSE) {
      return absl::AlreadyExistsError(absl::StrCat("address ", where, " is in use"));
    }
    if (ec.value() == EADDRNOTAVAIL) {
      return absl::InvalidArgumentError(
          absl::StrCat("address ", where, " is not an address of this host"));
    }
    return absl::ErrnoToStatus(ec.value(), absl::StrCat("bind to ", where));
  }
  s.socket.non_blocking(true, ec);
  if (ec) return absl::ErrnoToStatus(ec.value(), "set non-blocking");
  s.local = s.socket.local_endpoint(ec);
  if (ec) return absl::ErrnoToStatus(ec.value(), "getsockname");

  const size_t batch = options.receive_batch;
  s.buffers.resize(batch * options.max_datagram_bytes);
  s.headers.resize(batch);
  s.iovecs.resize(batch);
  s.sources.resize(batch);
  s.controls.resize(batch);
  for (size_t i = 0; i < batch; ++i) {
    s.iovecs[i].iov_base = s.buffers.data() + i * options.max_datagram_bytes;
    s.iovecs[i].iov_len = options.max_datagram_bytes;
  }
  return std::unique_ptr<UdpSocket>(new UdpSocket(std::move(state)));
}

UdpSocket::UdpSocket(std::shared_ptr<State> state) : state_(std::move(state)) {}

UdpSocket::~UdpSocket() { Stop(); }

absl::Status UdpSocket::JoinGroup(const boost::asio::ip::address& group) {
  return MembershipOption(*state_, group, true);
}

absl::Status UdpSocket::LeaveGroup(const boost::asio::ip::address& group) {
  return MembershipOption(*state_, group, false);
}

absl::Status UdpSocket::Start(ReceiveHandler handler) {
  State& s = *state_;
  MutexLock lock(&s.mu);
  const bool stopped = s.stop_requested.load(std::memory_order_relaxed);
  if (s.started || stopped) {
    return absl::FailedPreconditionError(absl::StrCat(
        "socket ", FormatAddress(s.local), stopped ? " is stopped" : " already started"));
  }
  s.started = true;
  s.handler = std::move(handler);
  ArmWait(state_);
  return absl::OkStatus();
}

void UdpSocket::Stop() {
  State& s = *state_;
  s.stop_requested.store(true, std::memory_order_relaxed);
  s.gate.Close();  // a running handler finishes, and does not re-arm
  MutexLock lock(&s.mu);
  boost::system::error_code ignored;
  s.socket.cancel(ignored);
}

absl::Status UdpSocket::Send(const Address& destination,
                             absl::Span<const uint8_t> bytes) {
  State& s = *state_;
  if (s.stop_requested.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket ", FormatAddress(s.local), " is stopped"));
  }
  GLUE_RETURN_IF_ERROR(CheckDestination(s, destination, bytes.size()));
  iovec iov{const_cast<uint8_t*>(bytes.data()), bytes.size()};
  msghdr msg{};
  msg.msg_name = const_cast<sockaddr*>(destination.data());
  msg.msg_namelen = static_cast<socklen_t>(destination.size());
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  ssize_t n;
  do {
    n = ::sendmsg(s.fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return SendError(s, errno, destination);
  s.send_calls.fetch_add(1, std::memory_order_relaxed);
  s.datagrams_sent.fetch_add(1, std::memory_order_relaxed);
  s.bytes_sent.fetch_add(bytes.size(), std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::StatusOr<size_t> UdpSocket::SendBatch(
    absl::Span<const OutgoingDatagram> datagrams) {
  State& s = *state_;
  if (s.stop_requested.load(std::memory_order_relaxed)) {
    return absl::FailedPreconditionError(
        absl::StrCat("socket ", FormatAddress(s.local), " is stopped"));
  }
  if (datagrams.empty()) return 0;
  // Only what precedes an invalid datagram is sent; the invalid one reports itself
  // when it reaches the front.
  size_t valid = 0;
  for (; valid < datagrams.size(); ++valid) {
    absl::Status status =
        CheckDestination(s, datagrams[valid].destination, datagrams[valid].bytes.size());
    if (!status.ok()) {
      if (valid == 0) return status;
      break;
    }
  }
  const size_t limit = s.v6 ? kMaxUdpPayloadV6 : kMaxUdpPayloadV4;
  mmsghdr headers[kSendMessages];
  iovec iovecs[kSendDatagrams];
  size_t counts[kSendMessages];  // datagrams carried by each message
  struct alignas(cmsghdr) SegmentControl {
    unsigned char bytes[CMSG_SPACE(sizeof(uint16_t))];
  } controls[kSendMessages];

  size_t sent_total = 0;
  while (sent_total < valid) {
    const bool offload = s.send_offload.load(std::memory_order_relaxed);
    size_t messages = 0;
    size_t used = 0;  // iovecs
    size_t next = sent_total;
    while (next < valid && messages < kSendMessages && used < kSendDatagrams) {
      // A run: datagrams to one destination, all of the first one's size but the last,
      // which may be shorter, within the UDP size limit.
      const OutgoingDatagram& first = datagrams[next];
      const size_t size = first.bytes.size();
      size_t run = 1;
      size_t run_bytes = size;
      if (offload && size > 0) {
        while (next + run < valid && run < kMaxSegments && used + run < kSendDatagrams) {
          const OutgoingDatagram& d = datagrams[next + run];
          // An empty datagram cannot be a segment: it would add no bytes and vanish.
          if (d.bytes.empty() || d.bytes.size() > size ||
              run_bytes + d.bytes.size() > limit ||
              !(d.destination == first.destination)) {
            break;
          }
          run_bytes += d.bytes.size();
          ++run;
          if (d.bytes.size() < size) break;
        }
      }
      for (size_t i = 0; i < run; ++i) {
        const OutgoingDatagram& d = datagrams[next + i];
        iovecs[used + i] = iovec{const_cast<uint8_t*>(d.bytes.data()), d.bytes.size()};
      }
      msghdr& msg = headers[messages].msg_hdr;
      msg = msghdr{};
      msg.msg_name = const_cast<sockaddr*>(first.destination.data());
      msg.msg_namelen = static_cast<socklen_t>(first.destination.size());
      msg.msg_iov = &iovecs[used];
      msg.msg_iovlen = run;
      if (run > 1) {
        msg.msg_control = controls[messages].bytes;
        msg.msg_controllen = sizeof(controls[messages].bytes);
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        const uint16_t segment = static_cast<uint16_t>(size);
        std::memcpy(CMSG_DATA(c), &segment, sizeof(segment));
      }
      counts[messages++] = run;
      used += run;
      next += run;
    }
    int n;
    do {
      n = ::sendmmsg(s.fd, headers, static_cast<unsigned>(messages),
                     MSG_DONTWAIT | MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      const int error = errno;
      // A device without checksum offload refuses segmented sends (EIO); so may an
      // older kernel (EINVAL). Fall back to plain sends for good and try again.
      if (offload && used > messages && (error == EIO || error == EINVAL)) {
        s.send_offload = false;
        GLUE_LOG(kInfo,
                 "network: segmentation offload refused (%s); sending datagrams one "
                 "by one from %s",
                 std::strerror(error), FormatAddress(s.local));
        continue;
      }
      absl::Status status = SendError(s, error, datagrams[sent_total].destination);
      if (sent_total == 0) return status;
      break;
    }
    s.send_calls.fetch_add(1, std::memory_order_relaxed);
    size_t sent_datagrams = 0;
    uint64_t bytes = 0;
    for (int i = 0; i < n; ++i) {
      sent_datagrams += counts[i];
      bytes += headers[i].msg_len;
    }
    s.datagrams_sent.fetch_add(sent_datagrams, std::memory_order_relaxed);
    s.bytes_sent.fetch_add(bytes, std::memory_order_relaxed);
    sent_total += sent_datagrams;
    if (static_cast<size_t>(n) < messages) break;
  }
  return sent_total;
}

Address UdpSocket::local_address() const { return state_->local; }

LinkCounters UdpSocket::counters() const {
  const State& s = *state_;
  auto get = [](const std::atomic<uint64_t>& v) {
    return v.load(std::memory_order_relaxed);
  };
  LinkCounters c;
  c.datagrams_sent = get(s.datagrams_sent);
  c.bytes_sent = get(s.bytes_sent);
  c.send_calls = get(s.send_calls);
  c.send_errors = get(s.send_errors);
  c.send_would_block = get(s.send_would_block);
  c.datagrams_received = get(s.datagrams_received);
  c.bytes_received = get(s.bytes_received);
  c.receive_calls = get(s.receive_calls);
  c.receive_errors = get(s.receive_errors);
  c.truncated = get(s.truncated);
  c.dropped_by_kernel = get(s.dropped_by_kernel);
  return c;
}

const UdpSocketOptions& UdpSocket::options() const { return state_->options; }

unsigned UdpSocket::interface_index() const { return state_->interface_index; }

}  // namespace glue::network
