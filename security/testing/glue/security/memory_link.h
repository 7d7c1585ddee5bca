// MemoryLink: a DatagramLink with no network, beneath a SealingLink in the security
// layer's tests and fuzzer. Test code only.
#ifndef GLUE_SECURITY_MEMORY_LINK_H_
#define GLUE_SECURITY_MEMORY_LINK_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "glue/base/mutex.h"
#include "glue/network/link.h"

namespace glue::security::testing {

using network::Address;
using network::DatagramLink;
using network::OutgoingDatagram;
using network::ReceivedDatagram;

// WireDatagram is one datagram a MemoryLink sent, as it went out.
struct WireDatagram {
  Address source;
  Address destination;
  std::vector<uint8_t> bytes;
};

// MemoryLink is a DatagramLink with no network: it records what it sends (from any
// thread), and a test hands it datagrams with Deliver, on the test's thread.
class MemoryLink final : public DatagramLink {
 public:
  explicit MemoryLink(Address self) : self_(self) {}

  void Deliver(const WireDatagram& d) {
    if (handler_) handler_(ReceivedDatagram{d.source, d.destination, d.bytes});
  }
  std::vector<WireDatagram> sent() const {
    MutexLock lock(&mu_);
    return sent_;
  }
  void ClearSent() {
    MutexLock lock(&mu_);
    sent_.clear();
  }

  absl::Status Start(ReceiveHandler handler) override {
    handler_ = std::move(handler);
    return absl::OkStatus();
  }
  void Stop() override { handler_ = nullptr; }
  absl::Status Send(const Address& destination,
                    absl::Span<const uint8_t> bytes) override {
    MutexLock lock(&mu_);
    sent_.push_back({self_, destination, {bytes.begin(), bytes.end()}});
    ++counters_.datagrams_sent;
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> SendBatch(
      absl::Span<const OutgoingDatagram> datagrams) override {
    for (const OutgoingDatagram& d : datagrams) (void)Send(d.destination, d.bytes);
    return datagrams.size();
  }
  Address local_address() const override { return self_; }
  network::LinkCounters counters() const override {
    MutexLock lock(&mu_);
    return counters_;
  }

 private:
  const Address self_;
  ReceiveHandler handler_;
  mutable Mutex mu_;
  std::vector<WireDatagram> sent_ ABSL_GUARDED_BY(mu_);
  network::LinkCounters counters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace glue::security::testing

#endif  // GLUE_SECURITY_MEMORY_LINK_H_
