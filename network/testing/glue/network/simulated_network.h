// SimulatedNetwork: a network of simulated hosts inside one process, with no sockets.
// Each host is a LinkFactory; the links it opens carry unicast, multicast (to every
// member of a group, on every host, the sender's own included, as with
// IP_MULTICAST_LOOP) and broadcast-free traffic between hosts. Faults come from a
// seed: per host, what its links send is lost, duplicated, reordered, delayed and
// corrupted by a FaultInjectingLink on the network's clock; partitions cut hosts
// apart until healed. On a SimulatedClock and one io_context a whole multi-endpoint
// test runs deterministically. Test code only.
//
//   SimulatedClock clock;
//   SimulatedNetwork network(clock, /*seed=*/42);
//   network::LinkFactory& a = network.Host(*ParseIp("127.0.1.1"));
//   network.SetFaults(host_b, {.drop = 0.2});
//   network.Partition({host_a}, {host_b});  ...  network.Heal();
#ifndef GLUE_NETWORK_SIMULATED_NETWORK_H_
#define GLUE_NETWORK_SIMULATED_NETWORK_H_

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/base/mutex.h"
#include "glue/network/fault_injecting_link.h"
#include "glue/network/link.h"
#include "glue/network/link_factory.h"

namespace glue::network::testing {

// SimulatedNetworkCounters count what the network did with the datagrams its links
// sent (after their hosts' faults).
struct SimulatedNetworkCounters {
  uint64_t sent = 0;         // datagrams links handed to the network
  uint64_t delivered = 0;    // copies handed to a receiving link
  uint64_t partitioned = 0;  // copies lost to a partition
  uint64_t unreachable = 0;  // datagrams no link was bound to receive
  uint64_t overflowed = 0;   // copies dropped at a receiver's queue bound
};

// SimulatedNetwork: any thread may call any method. It must outlive every link opened
// on it, and `clock` must outlive it.
class SimulatedNetwork {
 public:
  // A receiving link holds at most this many datagrams not yet handed to its
  // handler; beyond it a datagram is dropped and counted (dropped_by_kernel), as a
  // full socket buffer drops.
  static constexpr size_t kMaxQueuedPerLink = 8192;

  // `seed` draws every fault: the same seed and the same sends give the same run.
  SimulatedNetwork(Clock& clock, uint64_t seed);
  ~SimulatedNetwork();
  SimulatedNetwork(const SimulatedNetwork&) = delete;
  SimulatedNetwork& operator=(const SimulatedNetwork&) = delete;

  // Host is the LinkFactory of the host with unicast address `address` (made on first
  // use; it lives as long as the network). Its links bind to that address (an
  // unspecified bind address means it), to a multicast group, or fail with
  // kInvalidArgument like a socket bound to another host's address.
  LinkFactory& Host(const boost::asio::ip::address& address);

  // SetFaults sets the faults of what links opened on `host` from now on send; each
  // link draws them from a seed of its own, derived from the network's.
  void SetFaults(const boost::asio::ip::address& host, const FaultOptions& faults);

  // Partition loses every datagram between a host of `side_a` and one of `side_b`
  // (both ways) until Heal; partitions add up.
  void Partition(const std::vector<boost::asio::ip::address>& side_a,
                 const std::vector<boost::asio::ip::address>& side_b);
  // Heal ends every partition.
  void Heal();

  uint64_t seed() const { return seed_; }
  SimulatedNetworkCounters counters() const;

 private:
  class HostFactory;
  class SimulatedLink;
  struct LinkState;
  friend class HostFactory;
  friend class SimulatedLink;

  absl::StatusOr<std::unique_ptr<DatagramLink>> Open(
      const boost::asio::ip::address& host, const boost::asio::any_io_executor& executor,
      const UdpSocketOptions& options, absl::Span<const boost::asio::ip::address> groups);
  void Close(const std::shared_ptr<LinkState>& link);
  void Carry(const LinkState& from, const OutgoingDatagram& datagram);

  Clock& clock_;
  const uint64_t seed_;
  mutable Mutex mu_;
  std::map<boost::asio::ip::address, std::unique_ptr<HostFactory>> hosts_
      ABSL_GUARDED_BY(mu_);
  std::map<boost::asio::ip::address, FaultOptions> faults_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<boost::asio::ip::address, boost::asio::ip::address>> cut_
      ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<LinkState>> links_ ABSL_GUARDED_BY(mu_);
  uint64_t links_opened_ ABSL_GUARDED_BY(mu_) = 0;
  SimulatedNetworkCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace glue::network::testing

#endif  // GLUE_NETWORK_SIMULATED_NETWORK_H_
