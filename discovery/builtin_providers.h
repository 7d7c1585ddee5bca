// The built-in providers that are objects: the peers file and DNS (the multicast group
// and a rendezvous are fixed addresses). Internal to the discovery layer.
#ifndef GLUE_DISCOVERY_BUILTIN_PROVIDERS_H_
#define GLUE_DISCOVERY_BUILTIN_PROVIDERS_H_

#include <functional>
#include <memory>
#include <vector>

#include "absl/time/time.h"
#include "glue/base/clock.h"
#include "glue/discovery/config.h"
#include "glue/discovery/peers_file.h"
#include "glue/discovery/provider.h"

namespace glue::discovery::internal {

// How often the peers file is read again to see whether it changed.
inline constexpr absl::Duration kPeersFilePollInterval = absl::Seconds(1);

// MakePeersFileProvider reads config.peers: at Start, whose error names the variable,
// the file and the line (a missing or malformed file, a peer of the other family than
// config.listen_address), then every kPeersFilePollInterval, taking the file again
// when it changed (a malformed change is logged and the addresses before it kept).
// With config.peers.write it rewrites the file, atomically, whenever what `seen`
// returns (this endpoint and its peers) changes.
std::shared_ptr<Provider> MakePeersFileProvider(
    const Config& config, std::function<std::vector<PeersFileEntry>()> seen,
    Clock& clock);

// MakeDnsProvider looks config.dns up at Start, whose error names the variable (a name
// that does not exist; a server that does not answer is only logged), then every
// config.dns->interval on the provider's thread.
std::shared_ptr<Provider> MakeDnsProvider(const Config& config, Clock& clock);

}  // namespace glue::discovery::internal

#endif  // GLUE_DISCOVERY_BUILTIN_PROVIDERS_H_
