// TopicsState: what a Topics, the message transport's callbacks into it and the
// dispatcher share. Internal to the topics layer, on the message transport.
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
#include "glue/base/handler_gate.h"
#include "glue/base/mutex.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/topics/topic_message.h"
#include "glue/topics/topics.h"
#include "topics/duplicate_filter.h"
#include "topics/history.h"

namespace glue::topics::internal {

struct Subscription;  // topics/dispatcher.h

struct TopicsState {
  TopicsState(const boost::asio::any_io_executor& e, Topics::Callbacks c, TopicsOptions o)
      : slow_executor(e),
        callbacks(std::move(c)),
        options(std::move(o)),
        heard(options.max_remembered_publishers) {}

  absl::Time Now() const { return options.messages.transport.discovery.now(); }

  const boost::asio::any_io_executor slow_executor;  // where slow callbacks run
  const Topics::Callbacks callbacks;
  const TopicsOptions options;
  HandlerGate gate;                                                // closed by Stop
  std::unique_ptr<fragmentation::MessageTransport> messages;  // set once by Create
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
