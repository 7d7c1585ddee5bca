// Discovery: endpoints find each other without knowing addresses. Each announces
// itself (by multicast, or by unicast to a rendezvous), listens for the others, and
// keeps a PeerTable of who is there. The discovery layer, on the serialization layer;
// above it peers are addressed by endpoint id.
//
//   auto config = ConfigFromEnvironment();
//   auto discovery = Discovery::Create(boost::asio::make_strand(io), *config, {});
//   (*discovery)->Start(&listener);  // a Discovery::Listener: peers and their frames
//
// Announcements go to the target address at Start, then after 20, 40, 80... ms,
// doubling until the rate, and every rate after that. A new peer is
// challenged at once by unicast at its data address, and added when it echoes the
// challenge (fast join), so that both sides know each other within two round trips and
// no forged announcement adds anyone. A silent or departing peer is probed before it
// is removed. With no target (GLUE_DISCOVERY_TARGET_ADDRESS=0) the
// endpoint is a rendezvous: it sends no announcements, and answers each one it hears
// with what it knows of the others, so that endpoints on networks without multicast
// learn each other through it.
#ifndef GLUE_DISCOVERY_DISCOVERY_H_
#define GLUE_DISCOVERY_DISCOVERY_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/discovery/config.h"
#include "glue/discovery/peer_table.h"
#include "glue/discovery/provider.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/link.h"
#include "glue/network/link_factory.h"
#include "glue/serialization/codec.h"

namespace glue::discovery {
namespace internal {
struct DiscoveryState;
}  // namespace internal

// DiscoveryCounters is a snapshot of what discovery did.
struct DiscoveryCounters {
  PeerTableCounters peers;
  uint64_t announcements_sent = 0;  // periodic, to the providers' addresses
  // Periodic, by unicast to peers that a provider other than multicast told us of, so
  // that they keep each other when that provider (a rendezvous) is gone.
  uint64_t direct_announcements_sent = 0;
  // Peers not announced to directly in a period, over Options::max_direct_peers.
  uint64_t direct_announcements_deferred = 0;
  // Addresses of providers left out: over kMaxProviderAddresses in one provider, of
  // another family than ours, or our own.
  uint64_t provider_addresses_dropped = 0;
  // Our own multicast announcements heard back (IP_MULTICAST_LOOP): none after several
  // sent says that something (a firewall) drops multicast.
  uint64_t own_multicast_heard = 0;
  uint64_t answers_sent = 0;  // unicast: rendezvous answers
  uint64_t goodbyes_sent = 0;
  uint64_t send_failures = 0;
  uint64_t datagrams_received = 0;
  uint64_t corrupt = 0;              // dropped: failed its checksum
  uint64_t malformed = 0;            // dropped: did not decode
  uint64_t other_version = 0;        // dropped: another major protocol version
  uint64_t frames_from_unknown = 0;  // dropped: frames from no known peer
  // Announcements that challenge an endpoint not yet proven to receive at its address
  // (a newcomer, a restart, one a rendezvous listed), and those that echo a challenge.
  uint64_t challenges_sent = 0;
  uint64_t echoes_sent = 0;
  uint64_t probes_sent = 0;  // challenges to suspects
  uint64_t verified = 0;     // endpoints added once they echoed our challenge
  // Endpoints a rendezvous listed that we did not challenge yet: over the number per
  // answer, or their address challenged within a period.
  uint64_t introductions_deferred = 0;
  // Challenges sent again, not yet echoed (see PROTOCOL.md §6), and those not to be
  // sent again because a thousand others were waiting.
  uint64_t challenges_resent = 0;
  uint64_t challenges_not_resent = 0;
  network::LinkCounters data_link;
  network::LinkCounters discovery_link;
};

// Strand is what every layer of one stack runs its handlers on: the one given to
// Discovery::Create, which the layers above take from the layer beneath.
using Strand = boost::asio::strand<boost::asio::any_io_executor>;

// PeerListener hears of peers as discovery adds and removes them. Each layer above
// passes these events up through its own listener, which extends this one.
class PeerListener {
 public:
  virtual ~PeerListener() = default;
  virtual void OnPeerAdded(const Peer& peer) = 0;
  virtual void OnPeerRemoved(const Peer& peer, RemovalReason reason) = 0;
};

// Discovery runs on the strand given to Create. Its public methods may be called from
// any thread; the listener is called on that strand, one call at a time, and must not
// call Stop (Stop from a listener call returns without waiting for that call).
class Discovery {
 public:
  // Listener is what the layer above (the transport) implements.
  class Listener : public PeerListener {
   public:
    // A datagram of frames from a known peer; `datagram` is valid during the call.
    // Returns whether it proved the peer alive (frames of a session the peer could
    // only know by receiving at its address): discovery then keeps it.
    virtual bool OnFrames(const Peer& from,
                          const serialization::DecodedDatagram& datagram) = 0;
  };
  struct Options {
    size_t max_peers = 4096;
    // The largest datagram discovery sends; longer rendezvous answers are split.
    size_t datagram_budget = 1472;
    // Faults to inject into everything sent from the data socket (announcements,
    // answers, goodbyes and the layers above), as GLUE_FAULT_* asks.
    std::optional<network::FaultOptions> data_faults;
    // SO_RCVBUF of the data socket: room for what peers send before this endpoint
    // reads it (the kernel caps it at net.core.rmem_max; 0 keeps its default). The
    // default matches the transport's send window, so that one peer's burst fits.
    int data_receive_buffer_bytes = 4 << 20;
    // Providers of the application's own, run besides the built-in ones that the
    // configuration names (Config::providers); each name once. Discovery starts and
    // stops them.
    std::vector<std::shared_ptr<Provider>> providers;
    // The most peers announced to directly in one period (see
    // DiscoveryCounters::direct_announcements_sent): with more, each period takes the
    // next ones in turn. Each costs one announcement (about 60 bytes plus the name)
    // per period.
    size_t max_direct_peers = 256;
  };

  // Create checks the configuration; nothing is opened until Start. Every deadline
  // (announcements, expiry, injected faults) is read from `clock`, and the sockets
  // come from `links`; both must outlive the Discovery.
  // Error: kInvalidArgument for a configuration ValidateConfig refuses, or a
  // datagram_budget outside 512..65507.
  static absl::StatusOr<std::unique_ptr<Discovery>> Create(
      Strand strand, const Config& config, Options options, Clock& clock = SystemClock(),
      network::LinkFactory& links = network::SystemLinks());

  // Stops (see Stop).
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // Start opens the data socket and the discovery socket, logs the interface and why
  // it was chosen, sends the first announcement and starts the timers. `listener`
  // (null: none) hears of peers and frames until Stop returns; it must outlive that.
  // Errors: kFailedPrecondition when started before or stopped; the network layer's
  // errors for sockets that cannot be opened (kAlreadyExists: address in use;
  // kInvalidArgument: not an address of this host; kNotFound: no such interface),
  // their message prefixed with the variable of the socket's address and its value:
  // `GLUE_LISTEN_ADDRESS='IP:PORT': cannot open the data socket ...` or
  // `GLUE_DISCOVERY_LISTEN_ADDRESS='IP:PORT': cannot open the discovery socket ...`.
  absl::Status Start(Listener* listener);

  // Stop says goodbye (to the target, and to every peer by unicast when the target is
  // not multicast), cancels the timers and closes the sockets. When it returns the
  // listener is not called any more. Idempotent.
  void Stop();

  // SetDataFaults changes, while the endpoint runs, the faults it was started with
  // (Options::data_faults): loss and the rest, or a partition that cuts it off from
  // the network both ways (FaultOptions::partitioned) and heals when switched off.
  // After Start, from any thread. Errors: kFailedPrecondition when started without
  // faults (there is no fault link to change: the fast path has none) or not started;
  // kInvalidArgument for options out of range, named.
  absl::Status SetDataFaults(const network::FaultOptions& faults);

  // peers returns the current peers, ordered by id, each with the providers that know
  // it (Peer::providers).
  std::vector<Peer> peers() const;

  // Find returns the peer `id`, if known.
  std::optional<Peer> Find(uint64_t id) const;

  // SendTo sends a datagram to the data address of peer `id`.
  // Errors: kNotFound for an unknown peer; those of DatagramLink::Send.
  absl::Status SendTo(uint64_t id, absl::Span<const uint8_t> datagram);

  // SendBatch sends datagrams from the data socket to the addresses they name (peers'
  // data addresses), in as few system calls as it can, and returns how many it sent,
  // as DatagramLink::SendBatch does: for a layer above that sends much to its peers.
  // Errors: kFailedPrecondition before Start; those of DatagramLink::SendBatch.
  absl::StatusOr<size_t> SendBatch(absl::Span<const network::OutgoingDatagram> datagrams);

  // header is what this endpoint puts in the envelope of everything it sends.
  serialization::Header header() const;

  // data_address is the address this endpoint announces (valid after Start).
  network::Address data_address() const;

  const Config& config() const;
  DiscoveryCounters counters() const;

  // The strand and the clock of the stack, for the layer above to run on.
  const Strand& strand() const;
  Clock& clock() const;

 private:
  explicit Discovery(std::shared_ptr<internal::DiscoveryState> state);

  std::shared_ptr<internal::DiscoveryState> state_;
};

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_DISCOVERY_H_
