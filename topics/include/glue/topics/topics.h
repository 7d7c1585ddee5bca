// Topics: publish and subscribe by topic name, over the MessageTransport it is given.
// Each endpoint tells its peers which filters it subscribes to; a publication goes only
// to the peers whose interest matches it, and to local subscribers without the network.
// Each published topic keeps its last messages (history) for subscribers that appear
// later. The topics layer, on the fragmentation layer.
//
//   auto topics = Topics::Create(*messages, config, TopicsOptions());
//   (*topics)->Start(&peer_listener);  // or nullptr
//   (*topics)->Subscribe("sensors/+/temperature", "glue.demo.Celsius",
//                        [](const Message& m) { ... m.payload ... });
//   (*topics)->Publish("sensors/kitchen/temperature", "glue.demo.Celsius",
//                      absl::Seconds(1), bytes);
#ifndef GLUE_TOPICS_TOPICS_H_
#define GLUE_TOPICS_TOPICS_H_

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/discovery/config.h"
#include "glue/discovery/discovery.h"
#include "glue/fragmentation/message_transport.h"

namespace glue::topics {
namespace internal {
struct TopicsState;
}  // namespace internal

// Message is one publication handed to a subscriber. `payload` is valid during the
// callback only.
struct Message {
  std::string topic;
  std::string type;
  uint64_t publisher_id = 0;  // the publishing endpoint's id (this one's, if local)
  std::string publisher_name;
  // The publisher's incarnation: larger after it restarts, also under the same id
  // (GLUE_ENDPOINT_ID), so that (publisher_id, publisher_epoch) names one run of it.
  uint64_t publisher_epoch = 0;
  // The publisher's number for it on its topic, 1, 2, ... in each epoch: a gap is a
  // message this subscriber did not get.
  uint64_t sequence = 0;
  bool history = false;  // from the publisher's history: it was published before
                         // this subscriber appeared
  absl::Span<const uint8_t> payload;
  // When it expires, on this endpoint's clock: its time to live counted from its
  // arrival (from its publication, for a local one). InfiniteFuture when it has none.
  absl::Time expires = absl::InfiniteFuture();
};

using MessageCallback = std::function<void(const Message&)>;

// kAnyType, as Subscribe's type, takes messages of every type (Message::type says
// which); it does not fix the type of the topic it names. On the wire, an interest
// entry of an empty type (docs/PROTOCOL.md, "interest").
inline constexpr absl::string_view kAnyType = "";

// PublishOptions tune one Publish.
struct PublishOptions {
  // Reliable: acknowledged and resent until its expiry, in order per publisher and
  // topic. Best-effort: sent once.
  bool reliable = true;
  // The last messages of the topic kept for late subscribers, this one included: 0
  // keeps none. The latest Publish on a topic sets it. At most kMaxHistoryDepth.
  size_t history_depth = 1;
  // How long Publish may wait when a peer's send window is full. 0: never; the
  // message waits in the peer's queue, and Publish fails with kResourceExhausted at
  // the queue's bounds. Above 0, a reliable message that has to queue behind a full
  // window makes Publish wait until the window took it, or for this long (then it
  // stays queued): a publisher faster than its subscribers goes at their pace. Not
  // from a callback on the network thread, where Publish never waits.
  absl::Duration max_blocking = absl::ZeroDuration();
};

inline constexpr size_t kMaxHistoryDepth = 1024;

// TopicsOptions bound a Topics.
struct TopicsOptions {
  // Local subscriptions; at most kMaxInterestEntries.
  size_t max_subscriptions = 1024;
  // Topics this endpoint publishes on, each with its sequence and history.
  size_t max_published_topics = 4096;
  // Bytes of encoded messages kept in the histories of all topics.
  size_t max_history_bytes = size_t{256} << 20;
  // Publishers (endpoint and topic) whose last sequence a subscriber remembers, to
  // drop what it has had already; the least recently heard is forgotten first.
  size_t max_remembered_publishers = 16384;
  // Messages handed to one subscription's callback and not yet run: beyond it a
  // message for that subscription is dropped and counted (slow_subscriber_drops).
  size_t max_pending_per_subscription = 4096;
};

// TopicsCounters count what the layer did since it was made.
struct TopicsCounters {
  uint64_t published = 0;           // Publish calls that succeeded
  uint64_t sent = 0;                // publications handed to the message transport
  uint64_t refused_queue_full = 0;  // ... refused by it (the peer's queue was full)
  uint64_t history_sent = 0;        // publications sent from history
  uint64_t delivered = 0;           // messages handed to subscription callbacks
  uint64_t delivered_locally = 0;   // of which published by this endpoint
  // Of those delivered, received messages whose callback ran on the thread that
  // received them (the callback is quick), not handed to another.
  uint64_t delivered_inline = 0;
  uint64_t received = 0;  // publications received from peers
  // Of those received, refused as not their publisher's (docs/PROTOCOL.md §9): from a
  // peer that had not yet declared its epoch in its session (a best-effort one that
  // overtook the peer's interest, or a forgery), or with another epoch than it
  // declared (a forgery).
  uint64_t publications_before_interest = 0;
  uint64_t publications_wrong_epoch = 0;
  uint64_t duplicates = 0;  // received again, or older than what was delivered
  uint64_t unwanted = 0;    // received but matching no subscription (or its type)
  uint64_t malformed = 0;   // topic messages that did not decode: dropped
  uint64_t interests_received = 0;
  // Of those, refused for another epoch than the peer's first interest of the
  // session declared: a process's epoch never changes.
  uint64_t interests_wrong_epoch = 0;
  uint64_t interests_sent = 0;
  uint64_t slow_subscriber_drops = 0;  // at max_pending_per_subscription
  // Messages whose expiry passed before their subscription's callback could run
  // (its time to live counts from their arrival): dropped.
  uint64_t expired_undelivered = 0;
  uint64_t history_dropped = 0;       // evicted at max_history_bytes
  uint64_t publishers_forgotten = 0;  // at max_remembered_publishers
  fragmentation::MessageTransportCounters messages;
};

// Topics runs on the message transport's strand and reads its clock. One
// subscription's callbacks never
// run concurrently, and run in order. A quick callback (under 20 us on average) runs
// on the thread that received its message, with no hop; a slower one on the
// executor's threads, a batch of messages per wakeup, so that it does not hold up the
// transport when the executor has more than one thread; so do local publications'.
// Public methods may be called from any thread, callbacks included, but Stop.
class Topics {
 public:
  // Create makes the topics of endpoint `config` (its id and name, as discovery
  // announces them) over `messages`, which must outlive it and which is its alone
  // from then on (Start starts it, Stop stops it). Nothing is opened until Start. The
  // network runs on the message transport's strand, and with it the callbacks of
  // quick subscriptions; slow subscriptions' callbacks run on `slow_executor` (by
  // default that strand's executor): threads of their own there keep them from
  // holding up acknowledgements. Error: kInvalidArgument for options out of range.
  static absl::StatusOr<std::unique_ptr<Topics>> Create(
      fragmentation::MessageTransport& messages, const discovery::Config& config,
      TopicsOptions options,
      std::optional<boost::asio::any_io_executor> slow_executor = std::nullopt);

  ~Topics();  // Stops.
  Topics(const Topics&) = delete;
  Topics& operator=(const Topics&) = delete;

  // Start starts the message transport (whose errors it returns). `peers` (null:
  // none) hears of peers added and removed, on the strand, until Stop returns.
  absl::Status Start(discovery::PeerListener* peers);
  // Stop stops the message transport; when it returns no callback runs any more.
  // Idempotent. Not from a callback.
  void Stop();

  // AddPeerListener has `listener` hear, on the strand, of every peer added and
  // removed from now on, after the listener given to Start, until RemovePeerListener
  // or until the last shared_ptr to it elsewhere is gone: the Topics holds it weakly,
  // and strongly only during a call, which the listener therefore outlives. For the
  // layer above (the model), which needs the peers as they come and go. Adding one
  // already there, or null, changes nothing. Any thread, the listeners' calls
  // included; no lock of the Topics is held during a call.
  void AddPeerListener(std::shared_ptr<discovery::PeerListener> listener);
  // RemovePeerListener ends the calls to `listener`. From a listener's call, on the
  // strand, no call to it follows; from another thread, one may be running, or about
  // to, as it returns. Removing one not there changes nothing. Any thread.
  void RemovePeerListener(const discovery::PeerListener* listener);

  // Subscribe calls `callback` with every message published on a topic that `filter`
  // matches (topic_filter.h) with type `type` (any type with kAnyType), from any
  // endpoint of the network this one included, in order and once per publisher and
  // topic. Errors:
  // kInvalidArgument for an invalid filter or type, or a type other than the one
  // this endpoint already uses on that topic (both named); kAlreadyExists when
  // `filter` is subscribed already; kResourceExhausted at max_subscriptions;
  // kFailedPrecondition after Stop. Subscribing before Start is allowed: peers learn
  // of it as they appear.
  absl::Status Subscribe(absl::string_view filter, absl::string_view type,
                         MessageCallback callback);

  // Unsubscribe ends the subscription to `filter`; its callback may still run for
  // messages handed to it before. Error: kNotFound when not subscribed.
  absl::Status Unsubscribe(absl::string_view filter);

  // Publish sends `payload` on `topic` to every subscriber whose filter matches it
  // with the same type: local subscribers, and the peers whose interest matches. It
  // is not delivered after `expiry` from now, and not resent then. Errors:
  // kInvalidArgument for an invalid topic or type, a type other than the one this
  // endpoint uses on `topic` (both named), a non-positive expiry, a history_depth
  // above kMaxHistoryDepth, or a payload larger than the message transport takes;
  // kResourceExhausted at max_published_topics, or when a peer's queue is full (the
  // others still get it; the message is in history); kFailedPrecondition before
  // Start or after Stop.
  absl::Status Publish(absl::string_view topic, absl::string_view type,
                       absl::Duration expiry, absl::Span<const uint8_t> payload,
                       const PublishOptions& options = {});

  TopicsCounters counters() const;

  // Subscribers returns the ids of the peers whose latest interest wants messages of
  // `topic` and `type` (local subscriptions aside), in no order: those a Publish now
  // would send to. Any thread.
  std::vector<uint64_t> Subscribers(absl::string_view topic,
                                    absl::string_view type) const;

  // What the layer above runs on, that of the message transport beneath. Any thread.
  // clock is the clock the stack reads: its time, and its alarms.
  Clock& clock() const;
  // executor is the strand the network runs on and the peer listeners are called on:
  // alarms and handlers posted to it run one at a time with those calls.
  boost::asio::any_io_executor executor() const;
  // slow_executor is where the callbacks of slow subscriptions run (Create's).
  boost::asio::any_io_executor slow_executor() const;
  // This endpoint's id and name, Create's config's; the name lives as long as the
  // Topics.
  uint64_t endpoint_id() const;
  const std::string& endpoint_name() const;

 private:
  friend class TopicsPeer;  // tests' access to the state (topics_test.cc)

  explicit Topics(std::shared_ptr<internal::TopicsState> state);
  std::shared_ptr<internal::TopicsState> state_;
};

}  // namespace glue::topics

#endif  // GLUE_TOPICS_TOPICS_H_
