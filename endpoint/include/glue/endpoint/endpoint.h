// Endpoint: the facade an application uses. It assembles the whole stack from the
// GLUE_* environment or from options, each layer over the one beneath (discovery,
// transport, fragmentation, topics), runs it on threads of its own, and offers publish
// and subscribe by topic name, with a typed form for Protocol Buffers messages.
//
//   auto endpoint = glue::Endpoint::FromEnvironment();
//   if (!endpoint.ok()) { /* print endpoint.status() and exit */ }
//   (*endpoint)->Start();
//   (*endpoint)->Subscribe("some_topic", "some_type", [](const glue::Message& m) { ...
//   });
//   (*endpoint)->Publish("some_topic", "some_type", absl::Milliseconds(100), payload);
#ifndef GLUE_ENDPOINT_ENDPOINT_H_
#define GLUE_ENDPOINT_ENDPOINT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/base/environment.h"
#include "glue/discovery/config.h"
#include "glue/discovery/discovery.h"
#include "glue/fragmentation/message_transport.h"
#include "glue/model/model.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/link_factory.h"
#include "glue/security/sealing_links.h"
#include "glue/topics/topics.h"
#include "glue/transport/transport.h"

namespace glue {

using Message = topics::Message;
using PublishOptions = topics::PublishOptions;

// EndpointOptions configure an Endpoint in code; FromEnvironment fills them from the
// GLUE_* variables. Each layer has its options; the Endpoint composes them.
struct EndpointOptions {
  // Who the endpoint is and where it announces itself (GLUE_ENDPOINT_*,
  // GLUE_LISTEN_*, GLUE_DISCOVERY_*).
  discovery::Config discovery;
  // Each layer's bounds. transport.max_datagram_bytes is the datagram size (GLUE_MTU)
  // of the whole stack: Create sets discovery_options.datagram_budget to it.
  discovery::Discovery::Options discovery_options;
  transport::TransportOptions transport;
  fragmentation::MessageTransportOptions messages;
  topics::TopicsOptions topics;
  // The endpoint's threads: one runs the network (sockets, timers, acknowledgements,
  // discovery) and the callbacks of quick subscriptions; the others run the callbacks
  // of slow ones, which then hold up nothing else. With 1, that one runs everything.
  // GLUE_THREADS, 1..64.
  size_t threads = 2;
  // How long Stop waits for the reliable messages sent to be acknowledged or expire,
  // before it says goodbye. GLUE_LINGER_MILLISECONDS, 0..600000.
  absl::Duration linger = absl::Seconds(2);
  // How long the network thread, with nothing to do, keeps polling before it sleeps:
  // right after it worked, an answer often comes sooner than a sleeping thread wakes. An
  // idle endpoint spends nothing on it. GLUE_SPIN_MICROSECONDS, 0..10000.
  absl::Duration spin = absl::Microseconds(50);
  // Where OpenModel keeps models across restarts when their options name no directory
  // (model::ModelOptions::directory). GLUE_MODEL_DIRECTORY; empty: in memory only.
  std::string model_directory;
  // Bytes of keys and values all the models opened on the endpoint hold together
  // (each model has its own ModelOptions::max_bytes too). GLUE_MODEL_MAX_BYTES.
  size_t max_model_bytes = size_t{1} << 30;
  // Peer events, on the endpoint's threads; they may call the endpoint but not Stop.
  std::function<void(const discovery::Peer&)> on_peer_added;
  std::function<void(const discovery::Peer&, discovery::RemovalReason)> on_peer_removed;
  // A shared keyring: when security.keyring_file is set, every datagram is sealed and
  // only datagrams sealed under a key of the file are taken (security/sealing_links.h),
  // and the transport's datagrams are kept SealingLinks::max_overhead() bytes shorter.
  // GLUE_KEYRING_FILE, GLUE_KEYRING_ACCEPT_UNSEALED, GLUE_KEYRING_SEND_UNSEALED.
  security::SecurityOptions security;
  // The source of time of every layer, and where the sockets come from: the system's
  // unless a test gives a simulated clock and network. Both must outlive the Endpoint.
  Clock* clock = &SystemClock();
  network::LinkFactory* links = &network::SystemLinks();
};

// OptionsFromEnvironment reads every GLUE_* variable: those of discovery
// (discovery/config.h), GLUE_MTU (transport; unset, the listen interface's MTU
// decides), GLUE_MAX_MESSAGE_BYTES (fragmentation), GLUE_FAULT_*
// (network/fault_injecting_link.h), GLUE_THREADS,
// GLUE_LINGER_MILLISECONDS, GLUE_SPIN_MICROSECONDS, GLUE_MODEL_DIRECTORY,
// GLUE_MODEL_MAX_BYTES and GLUE_KEYRING_* (security/sealing_links.h). It checks
// GLUE_LOG_LEVEL too (base/log.h), which the logger, being the process's, reads from the
// process environment itself. Errors name the variable and its value: kInvalidArgument,
// or kNotFound for an interface or host that does not exist. Any thread.
absl::StatusOr<EndpointOptions> OptionsFromEnvironment(
    const EnvironmentLookup& env = ProcessEnvironment());

// EndpointCounters gather every layer's counters.
struct EndpointCounters {
  topics::TopicsCounters topics;  // with the fragmentation, transport and discovery ones
  uint64_t typed_parse_failures = 0;  // typed subscriptions' payloads that did not parse
  // Sealing, with a keyring (all 0 without): every link's counters summed, and the
  // keyring file's rereads.
  security::SealingLinks::Counters sealing;
  // The models open on the endpoint, by name.
  std::vector<std::pair<std::string, model::ModelCounters>> models;
};

// Endpoint is one participant of the network. Public methods are thread-safe and may
// be called from callbacks, but Stop. The callbacks of one subscription never run
// concurrently; those of different subscriptions may.
class Endpoint {
 public:
  // FromEnvironment makes an endpoint from OptionsFromEnvironment(env).
  static absl::StatusOr<std::unique_ptr<Endpoint>> FromEnvironment(
      const EnvironmentLookup& env = ProcessEnvironment());
  // Create makes an endpoint from options built in code. Errors: those of
  // discovery::ValidateConfig and topics::Topics::Create, and kInvalidArgument for
  // threads or linger out of range.
  static absl::StatusOr<std::unique_ptr<Endpoint>> Create(EndpointOptions options);

  ~Endpoint();  // Stops.
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  // Start opens the sockets, starts announcing and starts the threads. Errors: those
  // of binding and joining (kUnavailable, kPermissionDenied, ...);
  // kFailedPrecondition when started before.
  absl::Status Start();

  // Stop waits up to the linger for the reliable messages sent to be acknowledged or
  // expire, then says goodbye, stops the threads and returns when no callback runs
  // any more. Idempotent. Not from a callback.
  void Stop();

  // Flush waits up to `timeout` for every reliable message published to be sent and
  // acknowledged, or expired, by the peers it went to: true when nothing is left
  // unsettled. Stop flushes for the linger; Flush says, before Stop, whether that
  // would be enough, and peer_counters then names the peers that did not acknowledge.
  // Not from a callback; false when the endpoint is not running.
  bool Flush(absl::Duration timeout);

  // Publish, Subscribe and Unsubscribe: see topics::Topics.
  absl::Status Publish(absl::string_view topic, absl::string_view type,
                       absl::Duration expiry, absl::Span<const uint8_t> payload,
                       const PublishOptions& options = {});
  absl::Status Subscribe(absl::string_view topic, absl::string_view type,
                         topics::MessageCallback callback);
  absl::Status Unsubscribe(absl::string_view topic);

  // The typed form: the type is the message's full name (T::GetTypeName()), the
  // payload its serialization. A payload that does not parse as T is counted
  // (typed_parse_failures) and not handed to the callback.
  template <typename T>
  absl::Status Publish(absl::string_view topic, absl::Duration expiry, const T& message,
                       const PublishOptions& options = {}) {
    std::string bytes;
    if (!message.SerializeToString(&bytes)) {
      return absl::InvalidArgumentError(
          absl::StrCat("a ", message.GetTypeName(), " that does not serialize"));
    }
    return Publish(
        topic, message.GetTypeName(), expiry,
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()),
        options);
  }
  template <typename T>
  absl::Status Subscribe(absl::string_view topic,
                         std::function<void(const Message&, const T&)> callback) {
    return Subscribe(topic, T().GetTypeName(),
                     [this, callback = std::move(callback)](const Message& m) {
                       T value;
                       if (!value.ParseFromArray(m.payload.data(),
                                                 static_cast<int>(m.payload.size()))) {
                         typed_parse_failures_.fetch_add(1, std::memory_order_relaxed);
                         return;
                       }
                       callback(m, value);
                     });
  }

  // OpenModel opens the replicated model `name` (model/model.h) over this endpoint:
  // every endpoint that opens the same name shares it. The endpoint closes it when it
  // stops (the model then keeps its state for reading, and refuses writes). Errors:
  // kFailedPrecondition before Start or after Stop; those of model::Model::Open.
  absl::StatusOr<std::unique_ptr<model::Model>> OpenModel(
      absl::string_view name, const model::ModelOptions& options = {});

  // SetFaults changes, while the endpoint runs, the faults it was started with
  // (GLUE_FAULT_*, or EndpointOptions::discovery_options.data_faults): loss and the
  // rest, or, with `partitioned`, a partition that cuts it off from every peer both
  // ways until switched off. Errors: kFailedPrecondition for an endpoint started
  // without faults, or not started; kInvalidArgument for options out of range.
  absl::Status SetFaults(const network::FaultOptions& faults);

  // peers returns the peers known now.
  std::vector<discovery::Peer> peers() const;
  // peer_counters returns this endpoint's session with `peer_id` as its transport
  // counts it: frames each way, the smoothed round trip, the reliable bytes not yet
  // acknowledged. nullopt when there is no session with it (not a peer, or not
  // running).
  std::optional<transport::PeerCounters> peer_counters(uint64_t peer_id) const;
  // Subscribers returns the peers that want messages of `topic` and `type` now (their
  // latest interest matches): those a Publish would send to.
  std::vector<discovery::Peer> Subscribers(absl::string_view topic,
                                           absl::string_view type) const;
  EndpointCounters counters() const;
  const discovery::Config& config() const;
  // linger is how long Stop waits for acknowledgements (GLUE_LINGER_MILLISECONDS).
  absl::Duration linger() const;
  // spin is how long the network thread polls before it sleeps
  // (GLUE_SPIN_MICROSECONDS); a bridge's thread (glue/bridge) spins as long.
  absl::Duration spin() const;

 private:
  struct Runtime;
  explicit Endpoint(std::unique_ptr<Runtime> runtime);

  std::unique_ptr<Runtime> runtime_;
  std::atomic<uint64_t> typed_parse_failures_{0};
};

}  // namespace glue

#endif  // GLUE_ENDPOINT_ENDPOINT_H_
