// MessageTransportState: what a MessageTransport and the transport's calls into it
// (it is the transport's listener) share: the peers' reassembly and send queues. Internal
// to the fragmentation layer, on the transport.
#ifndef GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_STATE_H_
#define GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_STATE_H_

#include <atomic>
#include <boost/asio/strand.hpp>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/handler_gate.h"
#include "glue/base/mutex.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/fragmentation/reassembler.h"

namespace glue::fragmentation::internal {

struct OutMessage;  // fragmentation/send_queue.h

// PeerState is what the layer keeps for one peer of the transport.
struct PeerState {
  PeerState(const ReassemblerOptions& options, ReassemblyBudget* budget) {
    reassembler.emplace(options, budget);
  }

  // Made anew when the peer starts a new session, whose message ids start over.
  std::optional<Reassembler> reassembler;
  uint64_t peer_session = 0;  // the session the reassembler's fragments came from
  uint64_t next_message_id = 1;
  // Messages with frames not yet handed to the transport, in the order of Send.
  std::deque<std::shared_ptr<OutMessage>> queue;
  size_t bytes_queued = 0;
  // Reliable messages not yet finished with, by key.
  absl::flat_hash_map<uint64_t, std::shared_ptr<OutMessage>> pending;
};

struct MessageTransportState final : transport::Transport::Listener {
  MessageTransportState(transport::Transport& t, MessageTransportOptions o)
      : transport(&t),
        strand(t.strand()),
        clock(t.clock()),
        options(std::move(o)),
        budget(options.reassembly_budget_bytes) {}

  absl::Time Now() const { return clock.Now(); }

  // Transport::Listener: the transport's calls, on its strand (message_transport.cc).
  void OnPeerAdded(const discovery::Peer& peer) override;
  void OnPeerRemoved(const discovery::Peer& peer,
                     discovery::RemovalReason reason) override;
  void OnMessage(const discovery::Peer& from, transport::Delivery delivery) override;
  void OnSendDone(uint64_t peer_id, absl::Span<const uint64_t> keys,
                  transport::SendOutcome outcome) override;

  transport::Transport* const transport;  // outlives the MessageTransport
  const discovery::Strand strand;         // the transport's
  Clock& clock;
  const MessageTransportOptions options;
  HandlerGate gate;
  // Set by Start, then only read. `report_done`: the listener wants OnSendDone.
  MessageTransport::Listener* listener = nullptr;
  bool report_done = false;
  std::weak_ptr<MessageTransportState> self;  // set once by Create

  // The order of the stack's locks, each layer's taken while it calls the layer
  // beneath: topics' TopicsState::mu, then `mu` here (Send calls the transport with it
  // held), then the transport's TransportState::mu and send_mu. Never held while a
  // callback runs.
  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  ReassemblyBudget budget ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint64_t, std::unique_ptr<PeerState>> peers ABSL_GUARDED_BY(mu);
  uint64_t next_key ABSL_GUARDED_BY(mu) = 1;
  // The reassembly alarm (set once by Create), and the deadline it is armed (or
  // posted to be armed) for.
  std::unique_ptr<Alarm> alarm ABSL_GUARDED_BY(mu);
  std::optional<absl::Time> alarm_at ABSL_GUARDED_BY(mu);
  ReassemblerCounters removed_reassembly ABSL_GUARDED_BY(mu);  // of removed peers
  MessageTransportCounters counters ABSL_GUARDED_BY(mu);       // all but received_whole
  // Counted without the lock: whole messages pass through without taking it.
  std::atomic<uint64_t> received_whole{0};
};

}  // namespace glue::fragmentation::internal

#endif  // GLUE_FRAGMENTATION_MESSAGE_TRANSPORT_STATE_H_
