// FaultInjectingLink wraps a DatagramLink and, from a seeded random generator, loses,
// duplicates, reorders, delays and corrupts the datagrams sent through it. Tests put
// it under a layer to make loss deterministic without privileges; users put it under
// an endpoint (GLUE_FAULT_*) to try their application on a bad network.
//
//   FaultOptions faults;
//   faults.drop = 0.2;
//   faults.seed = 42;
//   auto link = FaultInjectingLink::Create(io.get_executor(), std::move(socket), faults);
#ifndef GLUE_NETWORK_FAULT_INJECTING_LINK_H_
#define GLUE_NETWORK_FAULT_INJECTING_LINK_H_

#include <boost/asio/any_io_executor.hpp>
#include <cstdint>
#include <memory>
#include <optional>

#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/base/environment.h"
#include "glue/network/link.h"

namespace glue::network {
namespace internal {
struct FaultState;
}  // namespace internal

// FaultOptions are the probabilities, each 0..1 and drawn independently for every
// datagram sent, of what may happen to it; and whether the link is cut off.
struct FaultOptions {
  double drop = 0;       // the datagram is lost
  double duplicate = 0;  // it is sent twice
  double reorder = 0;    // it is held for reorder_delay, so that later ones overtake it
  double corrupt = 0;    // one random bit of it is flipped
  double delay = 0;      // it is held for delay_duration
  absl::Duration delay_duration = absl::ZeroDuration();
  absl::Duration reorder_delay = absl::Milliseconds(1);
  uint64_t seed = 1;
  // At most this many datagrams are held (delayed or reordered) at once; a datagram
  // that would exceed it is sent at once instead and counted as hold_overflow.
  size_t max_held_datagrams = 4096;
  // Every datagram is lost, sent or received: the endpoint cut off from the network, as
  // by a partition, until this is switched off again (SetOptions).
  bool partitioned = false;
};

// FaultOptionsFromEnvironment reads GLUE_FAULT_LOSS, GLUE_FAULT_DUPLICATE,
// GLUE_FAULT_REORDER and GLUE_FAULT_CORRUPT (probabilities 0..1), GLUE_FAULT_DELAY_
// MILLISECONDS (0..60000: every datagram is delayed so long) and GLUE_FAULT_SEED (an
// integer; random when unset, and logged, so that a run can be repeated). Returns
// nullopt when none of the first five is set: no faults, no link to put in the way.
// Error: kInvalidArgument naming the variable and its value.
absl::StatusOr<std::optional<FaultOptions>> FaultOptionsFromEnvironment(
    const EnvironmentLookup& env = ProcessEnvironment());

// FaultCounters say what the link did to the datagrams given to it.
struct FaultCounters {
  uint64_t datagrams = 0;  // given to Send or SendBatch
  uint64_t dropped = 0;
  uint64_t duplicated = 0;
  uint64_t reordered = 0;
  uint64_t delayed = 0;
  uint64_t corrupted = 0;
  uint64_t hold_overflow = 0;
  uint64_t inner_refused = 0;         // the wrapped link refused them (buffer full)
  uint64_t discarded_at_stop = 0;     // still held when Stop was called
  uint64_t partitioned_sent = 0;      // sent while partitioned (also in dropped)
  uint64_t partitioned_received = 0;  // received while partitioned, not handed on
};

// FaultInjectingLink is a DatagramLink (same threading contract) whose sends suffer
// the configured faults; receiving passes through untouched, unless partitioned. The
// faults can be changed while the link runs (SetOptions). Like a real network it
// reports a lost datagram as sent: a fault or a full socket buffer never fails a send
// (they are counted instead). Send fails only when the wrapped link rejects the
// datagram as invalid; SendBatch counts such datagrams as inner_refused and goes on.
class FaultInjectingLink final : public DatagramLink {
 public:
  // Create wraps `inner`; held datagrams are released by alarms of `clock` (which
  // must outlive the link) on `executor`.
  // Error: kInvalidArgument naming an option out of range.
  static absl::StatusOr<std::unique_ptr<FaultInjectingLink>> Create(
      const boost::asio::any_io_executor& executor, std::unique_ptr<DatagramLink> inner,
      const FaultOptions& options, Clock& clock = SystemClock());

  ~FaultInjectingLink() override;
  FaultInjectingLink(const FaultInjectingLink&) = delete;
  FaultInjectingLink& operator=(const FaultInjectingLink&) = delete;

  // ValidateFaultOptions checks every probability is in 0..1 and the durations are
  // not negative. Error: kInvalidArgument naming the field and its value.
  static absl::Status ValidateFaultOptions(const FaultOptions& options);

  // SetOptions changes the faults from now on, from any thread, while the link runs:
  // a partition switched on and off, loss changed. The random sequence goes on from
  // where it was (options.seed is ignored); datagrams already held keep their time.
  // Error: kInvalidArgument as ValidateFaultOptions.
  absl::Status SetOptions(const FaultOptions& options);

  // fault_counters returns a snapshot of what the link did. Any thread.
  FaultCounters fault_counters() const;

  // DatagramLink. Stop discards held datagrams (counted) and stops the inner link.
  absl::Status Start(ReceiveHandler handler) override;
  void Stop() override;
  absl::Status Send(const Address& destination, absl::Span<const uint8_t> bytes) override;
  absl::StatusOr<size_t> SendBatch(absl::Span<const OutgoingDatagram> datagrams) override;
  Address local_address() const override;
  LinkCounters counters() const override;  // the inner link's

 private:
  explicit FaultInjectingLink(std::shared_ptr<internal::FaultState> state);

  std::shared_ptr<internal::FaultState> state_;
};

}  // namespace glue::network

#endif  // GLUE_NETWORK_FAULT_INJECTING_LINK_H_
