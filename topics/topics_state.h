// TopicsState: what a Topics, the message transport's calls into it (it is the
// message transport's listener) and the dispatcher share. Internal to the topics layer,
// on the message transport.
#ifndef GLUE_TOPICS_TOPICS_STATE_H_
#define GLUE_TOPICS_TOPICS_STATE_H_

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/handler_gate.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/topics/topic_message.h"
#include "glue/topics/topics.h"
#include "topics/duplicate_filter.h"
#include "topics/history.h"

namespace glue::topics::internal {

struct Subscription;  // topics/dispatcher.h

// PeerState is what this endpoint believes of one peer, for the peer's current
// session. The transport vouches for the session, and the peer's interest is the first
// thing the peer sends in its reliable ordered stream: so the epoch that interest
// declares is the peer's. What a publication claims is the publication's word only.
struct PeerState {
  // The peer's number for the session (MessageTransport::Listener::OnMessage); 0
  // until its first message. Another number: the peer started a new session.
  uint64_t session = 0;
  // The epoch the peer's first interest of the session declared, which each of its
  // publications must carry; none before that interest.
  std::optional<uint64_t> epoch;
  // The peer's latest interest of the session.
  Interest interest;
};

// AddedPeerListener is a listener given to Topics::AddPeerListener: held weakly, and
// known by its address, by which RemovePeerListener finds it without locking it.
struct AddedPeerListener {
  const discovery::PeerListener* address;
  std::weak_ptr<discovery::PeerListener> listener;
};

struct TopicsState final : fragmentation::MessageTransport::Listener {
  TopicsState(fragmentation::MessageTransport& m, const boost::asio::any_io_executor& e,
              TopicsOptions o)
      : messages(&m),
        clock(m.clock()),
        slow_executor(e),
        options(std::move(o)),
        heard(options.max_remembered_publishers) {}

  absl::Time Now() const { return clock.Now(); }

  // MessageTransport::Listener: the message transport's calls, on its strand
  // (topics.cc). Topics never awaits the end of what it sends.
  void OnPeerAdded(const discovery::Peer& peer) override;
  void OnPeerRemoved(const discovery::Peer& peer,
                     discovery::RemovalReason reason) override;
  void OnMessage(const discovery::Peer& from, uint64_t peer_session,
                 std::vector<uint8_t> message) override;
  void OnSendDone(uint64_t, uint64_t, transport::SendOutcome) override {}
  bool WantsSendDone() const override { return false; }

  fragmentation::MessageTransport* const messages;  // outlives the Topics
  Clock& clock;
  const boost::asio::any_io_executor slow_executor;  // where slow callbacks run
  const TopicsOptions options;
  HandlerGate gate;  // closed by Stop
  // Set by Start, then only read: who hears of peers (the Endpoint), if anyone.
  discovery::PeerListener* peer_listener = nullptr;
  // Those who hear of peers after it (the model), until removed or gone (then
  // forgotten at the next call). Under a lock of their own, taken with no other and
  // never held during a call, nor while a listener could be destroyed.
  Mutex peer_listeners_mu;
  std::vector<AddedPeerListener> added_peer_listeners ABSL_GUARDED_BY(peer_listeners_mu);
  std::weak_ptr<TopicsState> self;  // set once by Create
  uint64_t self_id = 0;
  std::string self_name;
  uint64_t epoch = 0;

  // The order of the stack's locks, each layer's taken while it calls the layer
  // beneath: `mu` here (Publish sends with it held; a Subscription's mu is taken
  // after it, never before), then the message transport's MessageTransportState::mu,
  // then the transport's TransportState::mu and send_mu. Never held while a callback
  // of the application runs.
  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // Keyed by filter and topic; looked up by views, without a copy.
  std::map<std::string, std::shared_ptr<Subscription>, std::less<>> subscriptions
      ABSL_GUARDED_BY(mu);
  uint64_t interest_version ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, PublishedTopic, std::less<>> published ABSL_GUARDED_BY(mu);
  size_t history_bytes ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<uint64_t, PeerState> peers ABSL_GUARDED_BY(mu);
  DuplicateFilter heard ABSL_GUARDED_BY(mu);
  TopicsCounters counters ABSL_GUARDED_BY(mu);
  // One log line per period for each reason a peer's message is refused.
  LogLimiter publications_before_interest_log ABSL_GUARDED_BY(mu);
  LogLimiter publications_wrong_epoch_log ABSL_GUARDED_BY(mu);
  LogLimiter interests_wrong_epoch_log ABSL_GUARDED_BY(mu);
};

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_TOPICS_STATE_H_
