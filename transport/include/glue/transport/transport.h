// Transport: messages to peers by endpoint id or name, reliable or best-effort, over
// the datagrams discovery carries. One Session per discovered peer, made when
// discovery adds the peer and closed when it removes it; frames to one peer share
// datagrams of at most max_datagram_bytes, acknowledgements ride on data. The transport
// layer, on discovery.
//
//   auto discovery = discovery::Discovery::Create(strand, config, {});
//   auto transport = Transport::Create(**discovery, TransportOptions());
//   (*transport)->Start(&listener);  // a Transport::Listener: peers, messages, ends
//   (*transport)->Send(peer_id, payload, {.expiry = clock.Now() + absl::Seconds(1)});
#ifndef GLUE_TRANSPORT_TRANSPORT_H_
#define GLUE_TRANSPORT_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/base/environment.h"
#include "glue/discovery/discovery.h"
#include "glue/transport/payload.h"
#include "glue/transport/session.h"

namespace glue::transport {
namespace internal {
struct TransportState;
}  // namespace internal

// The range of TransportOptions::max_datagram_bytes: discovery needs room for an
// announcement, and UDP over IPv4 carries at most 65507 bytes.
inline constexpr size_t kMinDatagramBytes = 512;
inline constexpr size_t kMaxDatagramBytes = 65507;

// The largest datagram DatagramBytesForMtu chooses: on loopback, whose MTU is 64 KiB,
// larger ones carried no more (BENCHMARKS.md).
inline constexpr size_t kMaxDefaultDatagramBytes = 16384;

// DatagramBytesForMtu returns the datagram size that fits one IP packet on an
// interface of `mtu` bytes: the MTU less 48 bytes of IPv6 and UDP headers (IPv4's
// take 28), within kMinDatagramBytes..kMaxDefaultDatagramBytes. 1452 on Ethernet.
// An mtu of 0 (unknown) gives TransportOptions' default.
size_t DatagramBytesForMtu(size_t mtu);

// TransportOptions tune and bound a transport.
struct TransportOptions {
  // Every peer's session: its send window (the bound on bytes in flight to one peer),
  // timeouts, receive windows and acknowledgement policy.
  SessionOptions session;
  // The largest datagram sent, in bytes of UDP payload: the path MTU less the IP and
  // UDP headers, kMinDatagramBytes..kMaxDatagramBytes. Frames to one peer are packed
  // into datagrams of at most this size; a payload must fit in one datagram with its
  // header (see max_payload_bytes).
  size_t max_datagram_bytes = 1400;  // the Endpoint sets it by the interface's MTU
};

// kMtuVariable names the datagram size, TransportOptions::max_datagram_bytes.
inline constexpr absl::string_view kMtuVariable = "GLUE_MTU";

// OptionsFromEnvironment returns the default options with GLUE_MTU (kMinDatagramBytes..
// kMaxDatagramBytes, max_datagram_bytes) read from `env`. Error: kInvalidArgument
// naming the variable and its value. Any thread.
absl::StatusOr<TransportOptions> OptionsFromEnvironment(const EnvironmentLookup& env);

// SendOutcome is how a reliable send ended, as on_send_done reports it.
enum class SendOutcome {
  kAcknowledged,  // the peer has it
  kExpired,       // not acknowledged by its expiry: given up, never resent
  kReleased,      // the peer was removed, or the transport stopped, first
};

// SendOutcomeName returns "acknowledged", "expired" or "released".
std::string_view SendOutcomeName(SendOutcome outcome);

// SendOptions say how to send one message.
struct SendOptions {
  // Reliable: acknowledged, resent until acknowledged or expired, reported to
  // on_send_done. Best-effort: sent once at most, never reported.
  bool reliable = true;
  // Reliable only: the peer hands it up after every reliable message sent before it
  // (that did not expire).
  bool ordered = false;
  // Reliable only: given up at this time (on the transport's clock) if not
  // acknowledged. InfiniteFuture: until acknowledged or the peer is removed.
  absl::Time expiry = absl::InfiniteFuture();
  // The caller's handle for this message, given back to on_send_done.
  uint64_t token = 0;
  // What a reliable send does when the peer's send window is full: wait for room
  // until this time of the transport's clock, then fail with
  // kResourceExhausted. InfinitePast (the default) fails at once. A send from inside
  // a callback never waits (the acknowledgements that would make room are handled on
  // the same strand).
  absl::Time wait_until = absl::InfinitePast();
};

// PeerCounters describe the session with one peer.
struct PeerCounters {
  uint64_t peer_id = 0;
  std::string peer_name;
  SessionCounters session;
  size_t bytes_held = 0;  // payload bytes its session holds (see Session::bytes_held)
  // Reliable payload bytes sent or queued to it and not yet acknowledged, expired or
  // released.
  size_t bytes_unacknowledged = 0;
};

// TransportCounters add up every session, those of removed peers included.
struct TransportCounters {
  SessionCounters sessions;  // smoothed_rtt and rto are left zero here
  size_t bytes_held = 0;     // now, over the current sessions
  // Now, over the current sessions: reliable payload bytes sent or queued and not yet
  // acknowledged, expired or released. 0 when everything sent has been settled.
  size_t bytes_unacknowledged = 0;
  uint64_t peers_added = 0;
  uint64_t peers_removed = 0;
  uint64_t datagrams_sent = 0;
  uint64_t send_failures = 0;  // datagrams the network refused (counted lost)
  uint64_t refused_full = 0;   // sends failed with kResourceExhausted
  uint64_t waited = 0;         // sends that waited for room in a send window
  // Sessions restarted because the peer started a new one (it had removed us, or
  // restarted), releasing what ours held.
  uint64_t session_restarts = 0;
  // Datagrams of frames dropped as without a session number, or for an older session
  // of ours.
  uint64_t stale_datagrams = 0;
  // Datagrams of frames dropped because their session number was not the peer's and
  // not proven (an older session's, a restart not yet proven, or a forgery).
  uint64_t unverified_datagrams = 0;
  // Challenges made: one to each peer added, and one for each number not proven.
  uint64_t challenges_sent = 0;
  discovery::DiscoveryCounters discovery;
};

// Transport runs on discovery's strand and reads discovery's clock. Public methods
// may be called from any thread. The listener is called on that strand, one call at a
// time, and should be quick: acknowledgements and resends wait for it. It may call
// Send (which then never waits), but not Stop.
class Transport {
 public:
  // Listener is what the layer above (fragmentation) implements.
  class Listener : public discovery::PeerListener {
   public:
    // A message from `from`. Reliable messages arrive once; ordered ones in order.
    virtual void OnMessage(const discovery::Peer& from, Delivery message) = 0;
    // The end of reliable sends to `peer_id`: once per message accepted by Send, by
    // its token, many at a time (those one acknowledgement settled, say).
    virtual void OnSendDone(uint64_t peer_id, absl::Span<const uint64_t> tokens,
                            SendOutcome outcome) = 0;
  };

  // Create makes a transport over `discovery`, which must outlive it and which is the
  // transport's alone from then on: Start starts it, Stop stops it. Nothing is opened
  // until Start. Errors: kInvalidArgument for session options Session::Validate
  // refuses, or a max_datagram_bytes out of its range; the message names the option
  // and the values.
  static absl::StatusOr<std::unique_ptr<Transport>> Create(
      discovery::Discovery& discovery, TransportOptions options);

  // Stops (see Stop).
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Start starts discovery (see Discovery::Start, whose errors it returns). `listener`
  // (null: none) is called until Stop returns, and must outlive that.
  absl::Status Start(Listener* listener);

  // Stop stops discovery (which says goodbye), closes every session and reports the
  // reliable messages not yet acknowledged as kReleased. When it returns the listener
  // is not called any more. Idempotent. Not from the listener.
  void Stop();

  // Send queues `payload` to peer `peer_id`, sent at the latest when the strand next
  // runs; several sends made before then share datagrams. The transport keeps the
  // payload's buffer (payload.owner) until the frame is acknowledged, expired or
  // released, and never copies the body but into datagrams; a std::vector converts.
  // Errors: kNotFound for an unknown peer; kInvalidArgument for a body larger than
  // max_body_bytes(meta size) (both sizes named) or ordered without reliable;
  // kResourceExhausted when the peer's send window is full (after waiting until
  // options.wait_until); kFailedPrecondition before Start or after Stop.
  absl::Status Send(uint64_t peer_id, Payload payload, const SendOptions& options);

  // SendToName is Send to the peer named `name`. Error: kNotFound when no current peer
  // has that name; otherwise as Send.
  absl::Status SendToName(std::string_view name, Payload payload,
                          const SendOptions& options);

  // in_handler says whether the calling thread runs one of the transport's handlers:
  // a callback, on the network thread, that must not wait for the transport.
  bool in_handler() const;

  // max_datagram_bytes is TransportOptions::max_datagram_bytes.
  size_t max_datagram_bytes() const;

  // max_payload_bytes is the largest payload Send accepts: what fits in one datagram
  // of max_datagram_bytes with this endpoint's header.
  size_t max_payload_bytes() const;

  // max_body_bytes is the largest body Send accepts with `meta_bytes` of meta.
  size_t max_body_bytes(size_t meta_bytes) const;

  // peers returns the current peers, ordered by id.
  std::vector<discovery::Peer> peers() const;

  // peer_counters returns the counters of the session with `peer_id`, if it exists.
  std::optional<PeerCounters> peer_counters(uint64_t peer_id) const;

  TransportCounters counters() const;

  // The strand and the clock of the stack, for the layer above to run on.
  const discovery::Strand& strand() const;
  Clock& clock() const;

 private:
  explicit Transport(std::shared_ptr<internal::TransportState> state);

  std::shared_ptr<internal::TransportState> state_;
};

}  // namespace glue::transport

#endif  // GLUE_TRANSPORT_TRANSPORT_H_
