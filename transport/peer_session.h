// PeerSession: the transport's session with one peer, with the session numbers that
// tell a new session from an old one, and where the session stands in the transport's
// schedule. Internal to the transport layer (transport.cc), on Session.
#ifndef GLUE_TRANSPORT_PEER_SESSION_H_
#define GLUE_TRANSPORT_PEER_SESSION_H_

#include <cstdint>
#include <optional>
#include <utility>

#include "absl/time/time.h"
#include "glue/discovery/peer_table.h"
#include "glue/transport/session.h"

namespace glue::transport::internal {

// NextSessionNumber returns a number larger than any it returned before in this
// process, and than any an earlier process on this host can have returned (it starts
// from the clock, in microseconds), so that a peer can tell a new session of ours
// from an old one even across our restart. Any thread.
uint64_t NextSessionNumber();

// PeerNumber is what the peer's session number in a datagram of frames says.
enum class PeerNumber {
  kStale,      // 0, or from an older session of the peer's: drop the datagram
  kCurrent,    // the session last heard, or the first one heard
  kRestarted,  // a new session after one heard: ours restarts too
};

// PeerSession is the session with one peer, and where it stands in the schedule.
//
// Each side numbers its session with the other (number, NextSessionNumber) and puts
// it in every datagram of frames, with the other side's as last heard (peer_number).
// A peer that starts a new session (it removed us and found us again, or restarted)
// sends a larger number: our session restarts too, so that both count from 1 again.
// Datagrams meant for an older session of ours, or from an older one of the peer's,
// are dropped, and an ack tells the peer our number. Not thread-safe: the transport's
// lock guards it.
struct PeerSession {
  PeerSession(discovery::Peer p, const SessionOptions& options)
      : peer(std::move(p)),
        session(std::in_place, options),
        number(NextSessionNumber()) {}
  PeerSession(const PeerSession&) = delete;
  PeerSession& operator=(const PeerSession&) = delete;

  // HearPeerNumber takes the peer's session number from a datagram of frames and
  // records it unless kStale. On kRestarted the caller restarts `session`.
  PeerNumber HearPeerNumber(uint64_t peer_session_number) {
    if (peer_session_number == 0 || peer_session_number < peer_number) {
      return PeerNumber::kStale;
    }
    const bool restarted = peer_session_number > peer_number && peer_number != 0;
    peer_number = peer_session_number;
    return restarted ? PeerNumber::kRestarted : PeerNumber::kCurrent;
  }

  // ForThisSession says whether a datagram that names `our_number` as our session
  // speaks to this one, or to none yet (0); otherwise to one that ended.
  bool ForThisSession(uint64_t our_number) const {
    return our_number == number || our_number == 0;
  }

  discovery::Peer peer;
  std::optional<Session> session;  // replaced, not reset, when the peer restarts its own
  const uint64_t number;
  uint64_t peer_number = 0;             // 0 until the peer's first datagram of frames
  std::optional<absl::Time> scheduled;  // its key in TransportState::deadlines
};

}  // namespace glue::transport::internal

#endif  // GLUE_TRANSPORT_PEER_SESSION_H_
