#include "glue/network/simulated_network.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "glue/base/handler_gate.h"
#include "glue/base/status_macros.h"

namespace glue::network::testing {

using boost::asio::ip::address;

// The first port handed out for port 0, as the kernel's ephemeral range starts.
constexpr unsigned short kFirstEphemeralPort = 40000;

struct SimulatedNetwork::LinkState {
  address host;
  Address bound;  // the host's address or a group, and the port
  std::vector<address> groups;
  bool reuse_address = false;
  bool multicast_loopback = true;
  // Where its datagrams are delivered. Read and cleared under the network's mutex
  // only: Close clears it, so that no datagram is posted to, and no copy of it outlives,
  // an io_context its owner is about to destroy.
  boost::asio::any_io_executor executor;
  HandlerGate gate;
  // Set by Start, before `started`; then only read.
  DatagramLink::ReceiveHandler handler;
  std::atomic<bool> started{false};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> queued{0};
  std::atomic<uint64_t> datagrams_sent{0}, bytes_sent{0}, send_calls{0},
      datagrams_received{0}, bytes_received{0}, dropped{0};

  // The address its datagrams come from.
  Address source() const {
    return bound.address().is_multicast() ? Address(host, bound.port()) : bound;
  }
};

class SimulatedNetwork::HostFactory final : public LinkFactory {
 public:
  HostFactory(SimulatedNetwork* network, address host) : network_(network), host_(host) {}
  absl::StatusOr<std::unique_ptr<DatagramLink>> Open(
      const boost::asio::any_io_executor& executor, const UdpSocketOptions& options,
      absl::Span<const address> groups) override {
    return network_->Open(host_, executor, options, groups);
  }

 private:
  SimulatedNetwork* const network_;
  const address host_;
};

class SimulatedNetwork::SimulatedLink final : public DatagramLink {
 public:
  SimulatedLink(SimulatedNetwork* network, std::shared_ptr<LinkState> state)
      : network_(network), state_(std::move(state)) {}
  ~SimulatedLink() override { Stop(); }

  absl::Status Start(ReceiveHandler handler) override {
    if (state_->started.load() || state_->stopped.load()) {
      return absl::FailedPreconditionError("simulated link already started or stopped");
    }
    state_->handler = std::move(handler);
    state_->started.store(true);
    return absl::OkStatus();
  }

  void Stop() override {
    if (state_->stopped.exchange(true)) return;
    state_->gate.Close();
    network_->Close(state_);
  }

  absl::Status Send(const Address& destination,
                    absl::Span<const uint8_t> bytes) override {
    const OutgoingDatagram datagram{destination, bytes};
    return SendBatch(absl::MakeConstSpan(&datagram, 1)).status();
  }

  absl::StatusOr<size_t> SendBatch(
      absl::Span<const OutgoingDatagram> datagrams) override {
    if (state_->stopped.load()) {
      return absl::FailedPreconditionError("simulated link is stopped");
    }
    for (const OutgoingDatagram& datagram : datagrams) {
      if (datagram.bytes.size() > 65507) {
        return absl::InvalidArgumentError(absl::StrCat(
            "a datagram of ", datagram.bytes.size(), " bytes is too large for UDP"));
      }
    }
    state_->send_calls.fetch_add(1, std::memory_order_relaxed);
    for (const OutgoingDatagram& datagram : datagrams) {
      state_->datagrams_sent.fetch_add(1, std::memory_order_relaxed);
      state_->bytes_sent.fetch_add(datagram.bytes.size(), std::memory_order_relaxed);
      network_->Carry(*state_, datagram);
    }
    return datagrams.size();
  }

  Address local_address() const override { return state_->bound; }

  LinkCounters counters() const override {
    const LinkState& s = *state_;
    LinkCounters c;
    c.datagrams_sent = s.datagrams_sent.load();
    c.bytes_sent = s.bytes_sent.load();
    c.send_calls = s.send_calls.load();
    c.datagrams_received = s.datagrams_received.load();
    c.bytes_received = s.bytes_received.load();
    c.receive_calls = c.datagrams_received;
    c.dropped_by_kernel = s.dropped.load();
    return c;
  }

 private:
  SimulatedNetwork* const network_;
  const std::shared_ptr<LinkState> state_;
};

SimulatedNetwork::SimulatedNetwork(Clock& clock, uint64_t seed)
    : clock_(clock), seed_(seed) {}

SimulatedNetwork::~SimulatedNetwork() = default;

LinkFactory& SimulatedNetwork::Host(const address& host) {
  MutexLock lock(&mu_);
  std::unique_ptr<HostFactory>& factory = hosts_[host];
  if (factory == nullptr) factory = std::make_unique<HostFactory>(this, host);
  return *factory;
}

void SimulatedNetwork::SetFaults(const address& host, const FaultOptions& faults) {
  MutexLock lock(&mu_);
  faults_[host] = faults;
}

void SimulatedNetwork::Partition(const std::vector<address>& side_a,
                                 const std::vector<address>& side_b) {
  MutexLock lock(&mu_);
  for (const address& a : side_a) {
    for (const address& b : side_b) {
      cut_.emplace(a, b);
      cut_.emplace(b, a);
    }
  }
}

void SimulatedNetwork::Heal() {
  MutexLock lock(&mu_);
  cut_.clear();
}

SimulatedNetworkCounters SimulatedNetwork::counters() const {
  MutexLock lock(&mu_);
  return counters_;
}

absl::StatusOr<std::unique_ptr<DatagramLink>> SimulatedNetwork::Open(
    const address& host, const boost::asio::any_io_executor& executor,
    const UdpSocketOptions& options, absl::Span<const address> groups) {
  const address asked = options.bind_address.address();
  if (!asked.is_unspecified() && !asked.is_multicast() && asked != host) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot bind to ", FormatAddress(options.bind_address),
                     ": not an address of simulated host ", host.to_string()));
  }
  for (const address& group : groups) {
    if (!group.is_multicast()) {
      return absl::InvalidArgumentError(
          absl::StrCat(group.to_string(), " is not a multicast group"));
    }
  }
  auto state = std::make_shared<LinkState>();
  state->host = host;
  state->groups.assign(groups.begin(), groups.end());
  state->reuse_address = options.reuse_address;
  state->multicast_loopback = options.multicast_loopback;
  state->executor = executor;
  std::optional<FaultOptions> faults;
  {
    MutexLock lock(&mu_);
    auto in_use = [&](unsigned short port) {
      for (const auto& link : links_) {
        if (link->host == host && link->bound.port() == port &&
            !(link->reuse_address && options.reuse_address)) {
          return true;
        }
      }
      return false;
    };
    unsigned short port = options.bind_address.port();
    if (port == 0) {
      for (port = kFirstEphemeralPort; in_use(port); ++port) {
      }
    } else if (in_use(port)) {
      return absl::AlreadyExistsError(absl::StrCat(
          host.to_string(), ":", port, " is in use on the simulated network"));
    }
    state->bound = Address(asked.is_multicast() ? asked : host, port);
    links_.push_back(state);
    if (auto it = faults_.find(host); it != faults_.end()) {
      faults = it->second;
      // Each link its own stream of faults, the same in every run of the seed.
      faults->seed = seed_ ^ (0x9e3779b97f4a7c15ull * ++links_opened_);
    }
  }
  std::unique_ptr<DatagramLink> link = std::make_unique<SimulatedLink>(this, state);
  if (!faults) return link;
  GLUE_ASSIGN_OR_RETURN(auto faulty, FaultInjectingLink::Create(executor, std::move(link),
                                                                *faults, clock_));
  return std::unique_ptr<DatagramLink>(std::move(faulty));
}

void SimulatedNetwork::Close(const std::shared_ptr<LinkState>& link) {
  MutexLock lock(&mu_);
  std::erase(links_, link);
  link->executor = boost::asio::any_io_executor();
}

void SimulatedNetwork::Carry(const LinkState& from, const OutgoingDatagram& datagram) {
  const Address source = from.source();
  const address to = datagram.destination.address();
  std::shared_ptr<const std::vector<uint8_t>> bytes;
  // Posted under the mutex: once Close has returned, nothing is posted to the link's
  // executor, and no copy of it is left to outlive its io_context.
  MutexLock lock(&mu_);
  ++counters_.sent;
  bool heard = false;
  for (const std::shared_ptr<LinkState>& link : links_) {
    if (!link->started.load() || link->bound.port() != datagram.destination.port()) {
      continue;
    }
    bool hears;
    if (to.is_multicast()) {
      hears =
          std::find(link->groups.begin(), link->groups.end(), to) != link->groups.end() &&
          (link->host != from.host || from.multicast_loopback);
    } else {
      hears = link->host == to && !link->bound.address().is_multicast();
    }
    if (!hears) continue;
    heard = true;
    if (cut_.contains({from.host, link->host})) {
      ++counters_.partitioned;
    } else if (link->queued.fetch_add(1) >= kMaxQueuedPerLink) {
      link->queued.fetch_sub(1);
      link->dropped.fetch_add(1, std::memory_order_relaxed);
      ++counters_.overflowed;
    } else {
      if (bytes == nullptr) {
        bytes = std::make_shared<const std::vector<uint8_t>>(datagram.bytes.begin(),
                                                             datagram.bytes.end());
      }
      ++counters_.delivered;
      boost::asio::post(
          link->executor, [link, bytes, source, destination = datagram.destination] {
            link->queued.fetch_sub(1);
            HandlerGate::Pass pass(&link->gate);
            if (!pass) return;
            link->datagrams_received.fetch_add(1, std::memory_order_relaxed);
            link->bytes_received.fetch_add(bytes->size(), std::memory_order_relaxed);
            link->handler(ReceivedDatagram{.source = source,
                                           .destination = destination,
                                           .bytes = absl::MakeConstSpan(*bytes)});
          });
    }
    if (!to.is_multicast()) break;  // unicast reaches one socket of those bound
  }
  if (!heard) ++counters_.unreachable;
}

}  // namespace glue::network::testing
