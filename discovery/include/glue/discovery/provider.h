// Provider: a source of addresses where peers may be, for discovery to announce to.
// Discovery runs several at once and merges what they say; membership itself still
// comes from announcements, challenges, expiry and goodbyes, whatever told it where to
// look. The built-in ones are named in GLUE_DISCOVERY_PROVIDERS: `multicast` (the
// group), `rendezvous` (one endpoint that introduces the others), `peers` (a peers
// file) and `dns` (a name's records); an application adds its own
// (Discovery::Options::providers, or EndpointOptions::discovery_options.providers):
//
//   // Polled on a thread of its own, once at Start and every 10 s after.
//   auto provider = discovery::MakePollingProvider(
//       "inventory", absl::Seconds(10),
//       []() -> absl::StatusOr<std::vector<network::Address>> {
//         return AddressesFromMyInventory();
//       });
//
// An object that learns of changes by itself implements Provider and calls the update
// it was given whenever its set changes.
#ifndef GLUE_DISCOVERY_PROVIDER_H_
#define GLUE_DISCOVERY_PROVIDER_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/network/address.h"

namespace glue::discovery {

// Names of the built-in providers.
inline constexpr absl::string_view kMulticastProvider = "multicast";
inline constexpr absl::string_view kRendezvousProvider = "rendezvous";
inline constexpr absl::string_view kPeersFileProvider = "peers";
inline constexpr absl::string_view kDnsProvider = "dns";
// In GLUE_DISCOVERY_PROVIDERS alone: no built-in provider, only those given in code
// (with none, the endpoint only answers, as a rendezvous does).
inline constexpr absl::string_view kNoProvider = "none";

// A provider's name is 1 to kMaxProviderNameBytes letters, digits, '-' and '_'.
inline constexpr size_t kMaxProviderNameBytes = 32;
// Discovery runs at most this many providers, built-in ones included.
inline constexpr size_t kMaxProviders = 16;
// A provider's set holds at most this many addresses; more are left out, counted
// (DiscoveryCounters::provider_addresses_dropped) and logged.
inline constexpr size_t kMaxProviderAddresses = 1024;

absl::Status ValidateProviderName(absl::string_view name);

// ProviderCounters says what a provider did: its updates, and its failures (a poll
// that returned an error keeps the addresses it had).
struct ProviderCounters {
  uint64_t updates = 0;
  uint64_t failures = 0;
};

class Provider {
 public:
  // Update is how a provider tells discovery its whole set of addresses, each time it
  // changes. Thread-safe; never blocks on the network.
  using Update = std::function<void(std::vector<network::Address>)>;

  virtual ~Provider() = default;

  virtual const std::string& name() const = 0;

  // Start begins: the provider calls `update` with its set, at once or when it knows
  // it, and again at every change, until Stop returns. An error (a file that does not
  // parse) makes the endpoint's Start fail with it.
  virtual absl::Status Start(Update update) = 0;

  // Stop ends it; `update` is not called after it returns. Idempotent.
  virtual void Stop() = 0;

  virtual ProviderCounters counters() const = 0;
};

// Poll returns a polling provider's addresses, or an error (logged, counted, and the
// last addresses kept).
using PollFunction = std::function<absl::StatusOr<std::vector<network::Address>>()>;

// MakePollingProvider calls `poll` on a thread of its own: once in Start (whose error
// fails Start when `fail_at_start`, unless it is kUnavailable: a server that may yet
// answer), then every `interval` (read from `clock`, keeping the cadence), and
// gives discovery the set whenever it differs from the last. Errors of later polls are
// logged (a line per interval at most) and counted.
std::unique_ptr<Provider> MakePollingProvider(std::string name, absl::Duration interval,
                                              PollFunction poll,
                                              bool fail_at_start = true,
                                              Clock& clock = SystemClock());

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_PROVIDER_H_
