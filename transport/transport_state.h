// TransportState: what a Transport and its strand's handlers share; it is the
// listener the transport gives discovery. Internal to the transport layer
// (transport.cc), on discovery.
#ifndef GLUE_TRANSPORT_TRANSPORT_STATE_H_
#define GLUE_TRANSPORT_TRANSPORT_STATE_H_

#include <atomic>
#include <boost/asio/strand.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/random/random.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/handler_gate.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/serialization/codec.h"
#include "glue/transport/transport.h"
#include "transport/datagram_batch.h"
#include "transport/peer_session.h"

namespace glue::transport::internal {

struct TransportState final : discovery::Discovery::Listener,
                              std::enable_shared_from_this<TransportState> {
  TransportState(discovery::Discovery& d, TransportOptions o,
                 serialization::DatagramEncoder e)
      : discovery(d),
        strand(d.strand()),
        clock(d.clock()),
        options(std::move(o)),
        encoder(std::move(e)) {}

  absl::Time Now() const { return clock.Now(); }

  // Discovery::Listener: discovery's handlers, on the strand (transport.cc).
  void OnPeerAdded(const discovery::Peer& peer) override;
  void OnPeerRemoved(const discovery::Peer& peer,
                     discovery::RemovalReason reason) override;
  bool OnFrames(const discovery::Peer& from,
                const serialization::DecodedDatagram& datagram) override;

  discovery::Discovery& discovery;  // outlives the Transport
  const discovery::Strand strand;   // discovery's: both layers' handlers take turns
  Clock& clock;
  const TransportOptions options;
  serialization::Header header;  // views into discovery's config
  size_t room = 0;  // for one data frame in a datagram with the largest header
  size_t max_payload = 0;
  HandlerGate gate;
  // Set by Start, then only read.
  Transport::Listener* listener = nullptr;

  // The order of the stack's locks, each layer's taken while it calls the layer
  // beneath: topics' TopicsState::mu, the message transport's
  // MessageTransportState::mu, then `mu` and `send_mu` here. None is held while a
  // callback runs.
  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  absl::flat_hash_map<uint64_t, std::unique_ptr<PeerSession>> sessions
      ABSL_GUARDED_BY(mu);
  // When each session next has something to do, earliest first.
  absl::btree_set<std::pair<absl::Time, uint64_t>> deadlines ABSL_GUARDED_BY(mu);
  bool flush_posted ABSL_GUARDED_BY(mu) = false;
  // A Send from a callback on the strand asks the handler that ran the callback to
  // flush when it ends, rather than post a flush, which would wake another thread.
  // Only the strand's thread sets and reads it (Send sets it only from a handler), so
  // FinishHandler, at the end of every handler, need not take `mu` for it.
  std::atomic<bool> flush_on_exit{false};
  // Wakes the strand for the earliest deadline; set once by Create.
  std::unique_ptr<Alarm> alarm ABSL_GUARDED_BY(mu);
  std::optional<absl::Time> alarm_at ABSL_GUARDED_BY(mu);
  Outgoing out ABSL_GUARDED_BY(mu);  // what Poll gives, before Transmit takes it
  // What a handler polled from the sessions, encoded and sent together when it is
  // done, once it has released `mu`: Send does not wait for the copying nor the system
  // call. Handlers fill and send them, on the strand, so `send_mu` is never contended.
  mutable Mutex send_mu ABSL_ACQUIRED_AFTER(mu);
  // One session's frames, to encode. Their payloads stay where the session holds
  // them until the strand's next handler (only an acknowledgement, an expiry or the
  // session's end releases them); their meta is copied, since a Send that grows the
  // send window moves it.
  struct Transmission {
    uint64_t peer_id = 0;
    network::Address to;
    serialization::Header header;
    Outgoing out;
    std::vector<uint8_t> meta;
  };
  std::vector<Transmission> transmissions ABSL_GUARDED_BY(send_mu);  // reused
  size_t transmission_count ABSL_GUARDED_BY(send_mu) = 0;
  serialization::DatagramEncoder encoder ABSL_GUARDED_BY(send_mu);
  std::optional<DatagramBatch> batch ABSL_GUARDED_BY(send_mu);  // set once by Create
  std::vector<uint64_t> due ABSL_GUARDED_BY(mu);
  SessionCounters removed ABSL_GUARDED_BY(mu);  // of the sessions closed
  absl::BitGen random ABSL_GUARDED_BY(mu);      // challenges
  LogLimiter unverified_log ABSL_GUARDED_BY(mu);
  TransportCounters counters ABSL_GUARDED_BY(mu);
  // A line per period for sessions restarted: datagrams in a peer's name decide.
  LogLimiter restarts_log ABSL_GUARDED_BY(mu);
};

}  // namespace glue::transport::internal

#endif  // GLUE_TRANSPORT_TRANSPORT_STATE_H_
