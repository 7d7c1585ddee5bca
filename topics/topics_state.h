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
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/handler_gate.h"
#include "glue/base/mutex.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/topics/topic_message.h"
#include "glue/topics/topics.h"
#include "topics/duplicate_filter.h"
#include "topics/history.h"

namespace glue::topics::internal {

struct Subscription;  // topics/dispatcher.h

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
  // Each peer's latest interest.
  absl::flat_hash_map<uint64_t, Interest> peers ABSL_GUARDED_BY(mu);
  DuplicateFilter heard ABSL_GUARDED_BY(mu);
  TopicsCounters counters ABSL_GUARDED_BY(mu);
};

}  // namespace glue::topics::internal

#endif  // GLUE_TOPICS_TOPICS_STATE_H_
