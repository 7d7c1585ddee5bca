// DatagramLink: what the network layer offers the layers above, a way to send UDP
// datagrams to an address and to be handed the ones that arrive. UdpSocket is the
// real one; FaultInjectingLink wraps any link to lose, duplicate, reorder, delay and
// corrupt datagrams, so that anything written against this interface can be tested
// under loss.
#ifndef GLUE_NETWORK_LINK_H_
#define GLUE_NETWORK_LINK_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/network/address.h"

namespace glue::network {

// ReceivedDatagram is one datagram as it arrived. `bytes` points into the link's
// receive buffer and is valid only until the receive handler returns: copy what must
// outlive it.
struct ReceivedDatagram {
  Address source;
  // The address the datagram was sent to: a multicast group, a broadcast address or
  // one of ours, with the local port. Unspecified when the link cannot tell.
  Address destination;
  absl::Span<const uint8_t> bytes;
};

// OutgoingDatagram is one datagram to send; `bytes` need live only during the call.
struct OutgoingDatagram {
  Address destination;
  absl::Span<const uint8_t> bytes;
};

// LinkCounters is a snapshot of what a link did since it was opened.
struct LinkCounters {
  uint64_t datagrams_sent = 0;
  uint64_t bytes_sent = 0;
  uint64_t send_calls = 0;   // system calls that sent; less than datagrams when batched
  uint64_t send_errors = 0;  // datagrams refused by the kernel (not would-block)
  uint64_t send_would_block = 0;  // sends refused because the socket buffer was full
  uint64_t datagrams_received = 0;
  uint64_t bytes_received = 0;
  uint64_t receive_calls = 0;  // system calls that returned datagrams
  uint64_t receive_errors = 0;
  uint64_t truncated = 0;          // larger than the receive slot; dropped
  uint64_t dropped_by_kernel = 0;  // receive buffer overflows the kernel reported
};

// DatagramLink is a bound datagram socket or something that behaves as one.
//
// Threading: Send, SendBatch, local_address and counters may be called from any
// thread at any time. The receive handler runs on the link's executor, never
// concurrently with itself. Stop may be called from any thread, including from inside
// the receive handler.
class DatagramLink {
 public:
  using ReceiveHandler = std::function<void(const ReceivedDatagram&)>;

  virtual ~DatagramLink() = default;

  // Start begins handing received datagrams to `handler`. Call at most once.
  // Error: kFailedPrecondition when already started or stopped.
  virtual absl::Status Start(ReceiveHandler handler) = 0;

  // Stop stops receiving. When it returns, the handler is not running and will not
  // run again (unless Stop was called from inside the handler, in which case the
  // handler is not called again after it returns). Sends fail afterwards with
  // kFailedPrecondition. Idempotent.
  virtual void Stop() = 0;

  // Send sends one datagram without blocking.
  // Errors: kFailedPrecondition after Stop; kInvalidArgument for a destination of the
  // wrong address family or a datagram too large for UDP; kUnavailable when the socket
  // buffer is full (retry later) or no route reaches the destination;
  // kPermissionDenied for a broadcast address on a link without broadcast enabled.
  virtual absl::Status Send(const Address& destination,
                            absl::Span<const uint8_t> bytes) = 0;

  // SendBatch sends datagrams from the front of `datagrams` in as few system calls as
  // it can and returns how many were sent, which may be fewer than asked (like
  // write(2)); it returns an error only when it sent none. Errors as for Send.
  virtual absl::StatusOr<size_t> SendBatch(
      absl::Span<const OutgoingDatagram> datagrams) = 0;

  // local_address is the address the link is bound to, with the port the system
  // chose when port 0 was asked for.
  virtual Address local_address() const = 0;

  // counters returns a snapshot of the link's counters.
  virtual LinkCounters counters() const = 0;
};

}  // namespace glue::network

#endif  // GLUE_NETWORK_LINK_H_
