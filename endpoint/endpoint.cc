#include "glue/endpoint/endpoint.h"

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <optional>
#include <thread>
#include <utility>

#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/interfaces.h"

namespace glue {

// Runtime owns the threads and the stack. The layers are declared bottom up, so that
// each is destroyed before the layer it stands on; each holds a reference to the one
// beneath.
struct Endpoint::Runtime final : discovery::PeerListener {
  using WorkGuard =
      boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

  void OnPeerAdded(const discovery::Peer& peer) override {
    if (options.on_peer_added) options.on_peer_added(peer);
  }
  void OnPeerRemoved(const discovery::Peer& peer,
                     discovery::RemovalReason reason) override {
    if (options.on_peer_removed) options.on_peer_removed(peer, reason);
  }

  // Settle waits up to `timeout` for the fragmentation layer's queues to empty and
  // every reliable byte sent to be settled: true when they did. Polled, as no callback
  // reports that the last byte was settled.
  bool Settle(absl::Duration timeout) {
    const absl::Time give_up = options.clock->Now() + timeout;
    for (;;) {
      if (messages->counters().bytes_queued == 0 &&
          transport->counters().bytes_unacknowledged == 0) {
        return true;
      }
      if (options.clock->Now() >= give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  EndpointOptions options;
  // The network, and the callbacks of quick subscriptions: one thread.
  boost::asio::io_context io;
  // The callbacks of slow subscriptions: the other threads (none with threads = 1:
  // then `io` runs them too).
  boost::asio::io_context slow_io;
  std::optional<WorkGuard> work;
  std::optional<WorkGuard> slow_work;
  // With a keyring: the factory of discovery's links, which seals beneath it.
  std::unique_ptr<security::SealingLinks> sealing;
  std::unique_ptr<discovery::Discovery> discovery;
  std::unique_ptr<transport::Transport> transport;
  std::unique_ptr<fragmentation::MessageTransport> messages;
  std::unique_ptr<topics::Topics> topics;
  std::vector<std::thread> threads;
  Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // The models opened on the endpoint, closed when it stops (the application owns
  // them); those gone already are pruned as new ones open.
  std::vector<model::Model::Handle> models ABSL_GUARDED_BY(mu);
  // The bound all of them share (EndpointOptions::max_model_bytes).
  std::shared_ptr<model::ByteBudget> model_budget;
};

namespace {

// Run runs `io` until it stops. A thread that finds nothing to do keeps looking for up
// to `spin` before it sleeps in the kernel: the answer to what it just sent often
// comes within tens of microseconds, and waking a sleeping thread costs about as much
// again. An idle endpoint sleeps: it spins only right after it worked. Every few polls
// it yields the core, so that the spin takes only time no other thread wants: with
// more busy threads than cores (the application's, the peer's, a broker's), a spin
// that kept its core held up the very work it waited for (a 1 KiB best-effort stream
// between two endpoints on two cores: 0.44 million messages/s, 0.96 yielding). A
// yield at every poll measured 0.4 us more on a 10 us round trip; every fourth, none.
void Run(boost::asio::io_context& io, absl::Duration spin) {
  constexpr int kPollsPerYield = 4;
  using Clock = std::chrono::steady_clock;
  const auto spin_for = absl::ToChronoNanoseconds(spin);
  while (!io.stopped()) {
    if (io.poll() > 0) continue;
    bool worked = false;
    int polls = 0;
    for (const auto until = Clock::now() + spin_for; !worked && Clock::now() < until;) {
      if (++polls % kPollsPerYield == 0) std::this_thread::yield();
      worked = io.poll() > 0;
    }
    if (!worked) io.run_one();
  }
}

}  // namespace

absl::StatusOr<EndpointOptions> OptionsFromEnvironment(const EnvironmentLookup& env) {
  EndpointOptions options;
  // Checked only: the logger is the process's, and reads the process environment.
  GLUE_RETURN_IF_ERROR(LogSeverityFromEnvironment(env).status());
  GLUE_ASSIGN_OR_RETURN(options.discovery, discovery::ConfigFromEnvironment(env));
  GLUE_ASSIGN_OR_RETURN(options.messages, fragmentation::OptionsFromEnvironment(env));
  GLUE_ASSIGN_OR_RETURN(options.discovery_options.data_faults,
                        network::FaultOptionsFromEnvironment(env));
  GLUE_ASSIGN_OR_RETURN(options.transport, transport::OptionsFromEnvironment(env));
  if (!env(transport::kMtuVariable).has_value()) {
    // Datagrams as large as the listen interface carries in one packet.
    size_t mtu = 0;
    if (absl::StatusOr<network::Interface> interface =
            network::FindInterface(options.discovery.listen_interface);
        interface.ok()) {
      mtu = interface->mtu;
    }
    options.transport.max_datagram_bytes = transport::DatagramBytesForMtu(mtu);
  }
  GLUE_ASSIGN_OR_RETURN(const uint64_t threads, GetUint64(env, "GLUE_THREADS", 2, 1, 64));
  options.threads = threads;
  GLUE_ASSIGN_OR_RETURN(const uint64_t linger_ms,
                        GetUint64(env, "GLUE_LINGER_MILLISECONDS", 2000, 0, 600000));
  options.linger = absl::Milliseconds(linger_ms);
  GLUE_ASSIGN_OR_RETURN(const uint64_t spin_us,
                        GetUint64(env, "GLUE_SPIN_MICROSECONDS", 50, 0, 10000));
  options.spin = absl::Microseconds(spin_us);
  if (std::optional<std::string> directory = env("GLUE_MODEL_DIRECTORY")) {
    if (directory->empty()) {
      return absl::InvalidArgumentError(
          "GLUE_MODEL_DIRECTORY is set but empty: name a directory, or unset it to keep "
          "models in memory only");
    }
    options.model_directory = *directory;
  }
  GLUE_ASSIGN_OR_RETURN(const uint64_t model_bytes,
                        GetUint64(env, "GLUE_MODEL_MAX_BYTES", options.max_model_bytes, 1,
                                  std::numeric_limits<uint64_t>::max()));
  options.max_model_bytes = model_bytes;
  GLUE_ASSIGN_OR_RETURN(options.security, security::SecurityOptionsFromEnvironment(env));
  return options;
}

absl::StatusOr<std::unique_ptr<Endpoint>> Endpoint::FromEnvironment(
    const EnvironmentLookup& env) {
  GLUE_ASSIGN_OR_RETURN(EndpointOptions options, OptionsFromEnvironment(env));
  return Create(std::move(options));
}

absl::StatusOr<std::unique_ptr<Endpoint>> Endpoint::Create(EndpointOptions options) {
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads = ", options.threads, ": must be 1 to 64"));
  }
  if (options.linger < absl::ZeroDuration() || options.linger > absl::Minutes(10)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linger = ", absl::FormatDuration(options.linger), ": must be 0 to 10 minutes"));
  }
  if (options.clock == nullptr || options.links == nullptr) {
    return absl::InvalidArgumentError("EndpointOptions: no clock or no links");
  }
  GLUE_RETURN_IF_ERROR(discovery::ValidateConfig(options.discovery));
  if (options.security.enabled()) {
    // Sealed, a datagram grows: the layers above leave room for it.
    const size_t room = security::SealingLinks::max_overhead();
    if (options.transport.max_datagram_bytes < transport::kMinDatagramBytes + room) {
      return absl::InvalidArgumentError(absl::StrCat(
          "datagrams of ", options.transport.max_datagram_bytes,
          " bytes leave no room for sealing: with a keyring they must be at least ",
          transport::kMinDatagramBytes + room, " (", room, " for the seal)"));
    }
    options.transport.max_datagram_bytes -= room;
  }
  // Announcements go in datagrams of the transport's size: one MTU for the stack.
  options.discovery_options.datagram_budget = options.transport.max_datagram_bytes;
  auto runtime = std::make_unique<Runtime>();
  runtime->options = std::move(options);
  runtime->model_budget =
      std::make_shared<model::ByteBudget>(runtime->options.max_model_bytes);
  Runtime& r = *runtime;
  const EndpointOptions& o = r.options;
  std::optional<boost::asio::any_io_executor> slow;
  if (o.threads > 1) slow = r.slow_io.get_executor();
  network::LinkFactory* links = o.links;
  if (o.security.enabled()) {
    GLUE_ASSIGN_OR_RETURN(
        r.sealing, security::SealingLinks::Create(*o.links, o.security,
                                                  o.discovery.network_id, *o.clock));
    links = r.sealing.get();
  }
  GLUE_ASSIGN_OR_RETURN(
      r.discovery,
      discovery::Discovery::Create(boost::asio::make_strand(r.io.get_executor()),
                                   o.discovery, o.discovery_options, *o.clock, *links));
  GLUE_ASSIGN_OR_RETURN(r.transport,
                        transport::Transport::Create(*r.discovery, o.transport));
  GLUE_ASSIGN_OR_RETURN(
      r.messages, fragmentation::MessageTransport::Create(*r.transport, o.messages));
  GLUE_ASSIGN_OR_RETURN(r.topics,
                        topics::Topics::Create(*r.messages, o.discovery, o.topics, slow));
  return std::unique_ptr<Endpoint>(new Endpoint(std::move(runtime)));
}

Endpoint::Endpoint(std::unique_ptr<Runtime> runtime) : runtime_(std::move(runtime)) {}

Endpoint::~Endpoint() { Stop(); }

absl::Status Endpoint::Start() {
  Runtime& r = *runtime_;
  {
    MutexLock lock(&r.mu);
    if (r.started || r.stopped) {
      return absl::FailedPreconditionError(r.stopped ? "endpoint stopped"
                                                     : "endpoint already started");
    }
    r.started = true;
  }
  GLUE_RETURN_IF_ERROR(r.topics->Start(&r));
  r.work.emplace(r.io.get_executor());
  r.slow_work.emplace(r.slow_io.get_executor());
  r.threads.emplace_back([&r] { Run(r.io, r.options.spin); });
  for (size_t i = 1; i < r.options.threads; ++i) {
    r.threads.emplace_back([&r] { r.slow_io.run(); });
  }
  return absl::OkStatus();
}

bool Endpoint::Flush(absl::Duration timeout) {
  Runtime& r = *runtime_;
  {
    MutexLock lock(&r.mu);
    if (!r.started || r.stopped) return false;
  }
  return r.Settle(timeout);
}

void Endpoint::Stop() {
  Runtime& r = *runtime_;
  {
    MutexLock lock(&r.mu);
    if (r.stopped) return;
    r.stopped = true;
  }
  // The models first: their last writes (their ephemeral keys' deletes) go out in
  // the linger.
  std::vector<model::Model::Handle> models;
  {
    MutexLock lock(&r.mu);
    models.swap(r.models);
  }
  for (const model::Model::Handle& m : models) m.Close();
  // Linger: the threads keep running acknowledgements in meanwhile.
  if (!r.threads.empty()) r.Settle(r.options.linger);
  r.topics->Stop();  // says goodbye; no callback of the stack runs after it
  r.work.reset();
  r.slow_work.reset();
  r.io.stop();
  r.slow_io.stop();
  for (std::thread& thread : r.threads) thread.join();
  r.threads.clear();
}

absl::Status Endpoint::Publish(absl::string_view topic, absl::string_view type,
                               absl::Duration expiry, absl::Span<const uint8_t> payload,
                               const PublishOptions& options) {
  return runtime_->topics->Publish(topic, type, expiry, payload, options);
}

absl::Status Endpoint::Subscribe(absl::string_view topic, absl::string_view type,
                                 topics::MessageCallback callback) {
  return runtime_->topics->Subscribe(topic, type, std::move(callback));
}

absl::Status Endpoint::Unsubscribe(absl::string_view topic) {
  return runtime_->topics->Unsubscribe(topic);
}

absl::Status Endpoint::SetFaults(const network::FaultOptions& faults) {
  return runtime_->discovery->SetDataFaults(faults);
}

std::vector<discovery::Peer> Endpoint::peers() const {
  return runtime_->transport->peers();
}

std::optional<transport::PeerCounters> Endpoint::peer_counters(uint64_t peer_id) const {
  return runtime_->transport->peer_counters(peer_id);
}

absl::Duration Endpoint::linger() const { return runtime_->options.linger; }

absl::Duration Endpoint::spin() const { return runtime_->options.spin; }

absl::StatusOr<std::unique_ptr<model::Model>> Endpoint::OpenModel(
    absl::string_view name, const model::ModelOptions& options) {
  Runtime& r = *runtime_;
  {
    MutexLock lock(&r.mu);
    if (!r.started || r.stopped) {
      return absl::FailedPreconditionError(r.stopped ? "endpoint stopped"
                                                     : "endpoint not started");
    }
  }
  model::ModelOptions model_options = options;
  if (model_options.directory.empty()) {
    model_options.directory = r.options.model_directory;
  }
  if (model_options.shared_budget == nullptr)
    model_options.shared_budget = r.model_budget;
  GLUE_ASSIGN_OR_RETURN(std::unique_ptr<model::Model> m,
                        model::Model::Open(*r.topics, name, model_options));
  MutexLock lock(&r.mu);
  std::erase_if(r.models, [](const model::Model::Handle& h) { return !h.Counters(); });
  r.models.push_back(m->handle());
  return m;
}

std::vector<discovery::Peer> Endpoint::Subscribers(absl::string_view topic,
                                                   absl::string_view type) const {
  const std::vector<uint64_t> ids = runtime_->topics->Subscribers(topic, type);
  std::vector<discovery::Peer> subscribers;
  for (discovery::Peer& peer : peers()) {
    if (std::find(ids.begin(), ids.end(), peer.id) != ids.end()) {
      subscribers.push_back(std::move(peer));
    }
  }
  return subscribers;
}

EndpointCounters Endpoint::counters() const {
  EndpointCounters c{
      .topics = runtime_->topics->counters(),
      .typed_parse_failures = typed_parse_failures_.load(std::memory_order_relaxed)};
  if (runtime_->sealing != nullptr) c.sealing = runtime_->sealing->counters();
  MutexLock lock(&runtime_->mu);
  for (const model::Model::Handle& m : runtime_->models) {
    if (std::optional<model::ModelCounters> counters = m.Counters()) {
      c.models.emplace_back(m.name(), *counters);
    }
  }
  return c;
}

const discovery::Config& Endpoint::config() const { return runtime_->options.discovery; }

}  // namespace glue
