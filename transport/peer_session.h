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
  kStale,       // 0: drop the datagram
  kCurrent,     // the session last heard, or the first one heard
  kRestarted,   // a new session after one heard, proven: ours restarts too
  kUnverified,  // another number than the one heard, not proven: drop the datagram
};

// PeerSession is the session with one peer, and where it stands in the schedule.
//
// Each side numbers its session with the other (number, NextSessionNumber) and puts
// it in every datagram of frames, with the other side's as last heard (peer_number).
// A peer that starts a new session (it removed us and found us again, or restarted)
// sends another number: our session restarts too, so that both count from 1 again.
// But a number is believed only when the peer proves it: anyone can put any number in
// a datagram under the peer's name, and one forged number that we took would make us
// drop everything the real peer sends. So a number other than the one heard is
// answered with a challenge, a random number sent in every datagram to the peer's
// address until the peer echoes it; the number in the datagram that carries the echo
// is the peer's. The first number heard is taken at once, since a challenge goes with
// the first datagram we send (when the peer is added) and its echo corrects a forged
// one. Datagrams meant for an older session of ours are dropped, and an ack tells the
// peer our number. Not thread-safe: the transport's lock guards it.
struct PeerSession {
  PeerSession(discovery::Peer p, const SessionOptions& options)
      : peer(std::move(p)),
        session(std::in_place, options),
        number(NextSessionNumber()) {}
  PeerSession(const PeerSession&) = delete;
  PeerSession& operator=(const PeerSession&) = delete;

  // HearPeerNumber takes the peer's session number from a datagram of frames, which
  // echoes `echo` (0: nothing), and records it when it is the first, or proven by the
  // echo of our challenge. On kRestarted the caller restarts `session`; on kUnverified
  // it challenges the peer (Challenge).
  PeerNumber HearPeerNumber(uint64_t peer_session_number, uint64_t echo) {
    if (peer_session_number == 0) return PeerNumber::kStale;
    if (challenge != 0 && echo == challenge) {
      challenge = 0;
      const bool restarted = peer_number != 0 && peer_session_number != peer_number;
      peer_number = peer_session_number;
      return restarted ? PeerNumber::kRestarted : PeerNumber::kCurrent;
    }
    if (peer_number == 0) peer_number = peer_session_number;
    return peer_session_number == peer_number ? PeerNumber::kCurrent
                                              : PeerNumber::kUnverified;
  }

  // Challenge makes `nonce` (not 0) the challenge our datagrams carry, unless one is
  // already waiting for its echo. Returns whether it did.
  bool Challenge(uint64_t nonce) {
    if (challenge != 0) return false;
    challenge = nonce;
    return true;
  }

  // ForThisSession says whether a datagram that names `our_number` as our session
  // speaks to this one, or to none yet (0); otherwise to one that ended.
  bool ForThisSession(uint64_t our_number) const {
    return our_number == number || our_number == 0;
  }

  discovery::Peer peer;
  std::optional<Session> session;  // replaced, not reset, when the peer restarts its own
  const uint64_t number;
  uint64_t peer_number = 0;  // 0 until the peer's first datagram of frames
  uint64_t challenge = 0;    // ours, in every datagram to the peer until echoed; 0: none
  uint64_t echo_owed = 0;    // the peer's last challenge, for our next datagram; 0: none
  absl::Time challenged_at = absl::InfinitePast();  // when we last asked for an echo
  absl::Time echo_asked_at = absl::InfinitePast();  // when the peer last did
  std::optional<absl::Time> scheduled;  // its key in TransportState::deadlines
};

}  // namespace glue::transport::internal

#endif  // GLUE_TRANSPORT_PEER_SESSION_H_
