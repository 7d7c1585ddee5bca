// FunctionListener: a Discovery::Listener made of functions, for tests that watch
// discovery's events with lambdas. Test code only.
//
//   FunctionListener listener{.on_added = [&](const Peer& p) { ... }};
//   discovery->Start(&listener);  // listener outlives discovery->Stop()
#ifndef GLUE_DISCOVERY_FUNCTION_LISTENER_H_
#define GLUE_DISCOVERY_FUNCTION_LISTENER_H_

#include <functional>

#include "glue/discovery/discovery.h"

namespace glue::discovery::testing {

struct FunctionListener final : Discovery::Listener {
  std::function<void(const Peer&)> on_added;
  std::function<void(const Peer&, RemovalReason)> on_removed;
  std::function<void(const Peer&, const serialization::DecodedDatagram&)> on_frames;

  void OnPeerAdded(const Peer& peer) override {
    if (on_added) on_added(peer);
  }
  void OnPeerRemoved(const Peer& peer, RemovalReason reason) override {
    if (on_removed) on_removed(peer, reason);
  }
  // Frames prove nothing here: peers stay alive by their announcements and probes.
  bool OnFrames(const Peer& from,
                const serialization::DecodedDatagram& datagram) override {
    if (on_frames) on_frames(from, datagram);
    return false;
  }
};

}  // namespace glue::discovery::testing

#endif  // GLUE_DISCOVERY_FUNCTION_LISTENER_H_
