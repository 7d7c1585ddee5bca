// SealingLink: a DatagramLink that seals every datagram it sends (sealer.h) and opens
// every datagram it receives, handing up only those that authenticate and are not
// replays. In glue_security, wrapped around the network's link beneath discovery, so
// that no layer above sees a datagram that was not sealed under a key of the keyring.
//
//   SealingOptions options;
//   options.keyring = std::make_shared<const Keyring>(std::move(keyring));
//   options.network_id = network_id;
//   GLUE_ASSIGN_OR_RETURN(auto link, SealingLink::Create(std::move(socket), options));
//   link->SetKeyring(reread);  // a rotation: any thread, while traffic flows
//
// Freshness. A receiver accepts a sender incarnation's datagrams only once that
// incarnation has shown it is running now: the first verified datagram of an
// incarnation the receiver has no replay window for (a new peer, or every peer after
// the receiver's own restart) is held, and a challenge (a random nonce, sealed) goes to
// its source. The sender answers with a response, sealed, carrying the nonce; its
// sequence is the sender's current one, at which the receiver starts the window. The
// held datagrams then go up if the window takes them (within kReplayWindowSize
// sequences below the response's, each once). So a datagram captured before the
// receiver restarted cannot be replayed into it, and one of an incarnation no longer
// running is never accepted. The cost: one round trip before the first datagram of
// each new sender goes up. Bounds: kMaxHeldPerSender datagrams held per incarnation,
// kMaxHeldBytes in all, kMaxPendingSenders incarnations awaiting an answer (the oldest
// is dropped for a new one); unanswered for kChallengeTimeout, an incarnation's held
// datagrams are dropped. Each is counted; the layers above send again what they need.
// Challenges and responses skip the replay window: a replayed challenge draws a
// response that matches no nonce, and a replayed response matches none.
#ifndef GLUE_SECURITY_SEALING_LINK_H_
#define GLUE_SECURITY_SEALING_LINK_H_

#include <boost/asio/any_io_executor.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/clock.h"
#include "glue/network/link.h"
#include "glue/security/keyring.h"

namespace glue::security {
class SealingLinks;
namespace internal {
struct SealingState;
struct Freshness;
}  // namespace internal

// The bounds of freshness challenges (see above).
inline constexpr size_t kMaxHeldPerSender = 64;
inline constexpr size_t kMaxHeldBytes = size_t{4} << 20;
inline constexpr size_t kMaxPendingSenders = 256;
inline constexpr absl::Duration kChallengeTimeout = absl::Seconds(2);
// A challenge is sent again, at most this often, while datagrams of its incarnation
// keep coming unanswered.
inline constexpr absl::Duration kChallengeResendInterval = absl::Milliseconds(250);

// SealingOptions say how a SealingLink seals and what it accepts.
struct SealingOptions {
  // The keys: the first seals, any opens. Required. SealingLink::SetKeyring swaps it.
  std::shared_ptr<const Keyring> keyring;
  // Bound into every datagram's tag: a datagram of another network id is refused as a
  // tag mismatch.
  uint64_t network_id = 0;
  // Migration towards sealing: datagrams that are not sealed at all (the first byte is
  // not kSealedMagic) are handed up too, and counted as accepted_unsealed. Sealed
  // datagrams must still authenticate.
  bool accept_unsealed = false;
  // Migration away from sealing (the reverse step): datagrams are sent as they are,
  // unsealed, while sealed ones are still opened on receipt.
  bool send_unsealed = false;
  // At most this many sender incarnations keep a replay window (128 bytes each, plus
  // the map's own). At the bound, a new incarnation whose datagram verifies evicts the
  // incarnation whose last datagram verified longest ago (counted as
  // windows_evicted); if that sender is still alive, its next datagram is challenged
  // again and its new window starts at the response's sequence, so its datagrams
  // within kReplayWindowSize below that could be replayed once. Only a verified
  // datagram makes or refreshes a window: forgeries cannot evict anyone.
  size_t max_senders = 4096;
};

// SealingCounters count what a SealingLink did since it was made.
struct SealingCounters {
  uint64_t sealed = 0;             // datagrams sealed and given to the inner link
  uint64_t sent_unsealed = 0;      // sent as they were (send_unsealed)
  uint64_t too_large = 0;          // refused by Send: no room left for sealing
  uint64_t opened = 0;             // authenticated, fresh, handed up
  uint64_t accepted_unsealed = 0;  // handed up unsealed (accept_unsealed)
  // Refused on receipt, by reason.
  uint64_t not_sealed = 0;  // unsealed, with accept_unsealed off
  uint64_t unsupported_version = 0;
  uint64_t truncated = 0;
  uint64_t unknown_key_id = 0;
  uint64_t tag_mismatch = 0;
  uint64_t replay = 0;
  uint64_t too_old = 0;
  // Replay windows kept now, and those evicted at max_senders.
  uint64_t windows = 0;
  uint64_t windows_evicted = 0;
  // Freshness: challenges sent (again, too), responses sent to others' challenges,
  // sender incarnations that answered, datagrams held for an answer, held datagrams
  // dropped at a bound or unanswered, incarnations given up unanswered (or pushed out
  // at kMaxPendingSenders), and those awaiting an answer now.
  uint64_t challenges_sent = 0;
  uint64_t responses_sent = 0;
  uint64_t senders_verified = 0;
  uint64_t held = 0;
  uint64_t held_dropped = 0;
  uint64_t unanswered = 0;
  uint64_t pending = 0;

  uint64_t refused() const {
    return not_sealed + unsupported_version + truncated + unknown_key_id + tag_mismatch +
           replay + too_old;
  }
};

namespace internal {
// For SealingLinks, which holds the states of the links it opened: a link's
// SetKeyring and sealing_counters, on its state.
void SetKeyringOf(SealingState& state, std::shared_ptr<const Keyring> keyring);
// The counters of sending (sealed, sent_unsealed, too_large) of one link, and those of
// receiving, which the links of one SealingLinks share.
SealingCounters CountersOf(const SealingState& state);
SealingCounters CountersOf(const Freshness& freshness);
std::shared_ptr<Freshness> MakeFreshness(size_t max_senders, Clock& clock);
}  // namespace internal

// SealingLink is a DatagramLink with the same threading contract: Send, SendBatch,
// SetKeyring and the accessors from any thread; the receive handler on the inner
// link's executor, never concurrently with itself. Sends are sealed one at a time
// under a lock (the sequence is shared), then handed to the inner link outside it.
// Refusals on receipt are logged at most once per reason every ten seconds of
// `clock`, with the number refused since the last line.
class SealingLink final : public network::DatagramLink {
 public:
  // Create wraps `inner` with a new random sender incarnation (RandomIncarnation).
  // `clock` (for the rate of log lines) must outlive the link. Errors:
  // kInvalidArgument when `inner` or options.keyring is null or options.max_senders is
  // 0.
  static absl::StatusOr<std::unique_ptr<SealingLink>> Create(
      std::unique_ptr<network::DatagramLink> inner, SealingOptions options,
      Clock& clock = SystemClock());

  ~SealingLink() override;
  SealingLink(const SealingLink&) = delete;
  SealingLink& operator=(const SealingLink&) = delete;

  // SetKeyring replaces the keyring, from any thread, while the link runs: datagrams
  // sealed from now on use its first key (same incarnation, the sequence going on),
  // and datagrams received from now on open under any of its keys. A datagram being
  // opened at the moment of the swap may still use the old one. Error:
  // kInvalidArgument when `keyring` is null.
  absl::Status SetKeyring(std::shared_ptr<const Keyring> keyring);

  // overhead returns the bytes sealing adds to each datagram under the current sending
  // key: SealOverhead of its id's length, 60 plus that length (0 with send_unsealed).
  size_t overhead() const;

  // incarnation returns this link's sender incarnation.
  uint64_t incarnation() const;

  // sealing_counters returns a snapshot of the link's counters. Any thread.
  SealingCounters sealing_counters() const;

  // DatagramLink. Send's errors are the inner link's, and kInvalidArgument for a
  // datagram that would fit UDP unsealed but not with overhead() bytes more (65507
  // for IPv4, 65527 for IPv6): the layers above must leave that room. SendBatch
  // refuses such a datagram likewise, sending those before it.
  absl::Status Start(ReceiveHandler handler) override;
  void Stop() override;
  absl::Status Send(const network::Address& destination,
                    absl::Span<const uint8_t> bytes) override;
  absl::StatusOr<size_t> SendBatch(
      absl::Span<const network::OutgoingDatagram> datagrams) override;
  network::Address local_address() const override;
  network::LinkCounters counters() const override;  // the inner link's

 private:
  friend class SealingLinks;  // which keeps every link's state to swap its keyring
  explicit SealingLink(std::shared_ptr<internal::SealingState> state);

  // For SealingLinks: a link whose replay windows and challenges are shared with the
  // other links of one endpoint (`freshness`), so that a datagram is fresh once
  // whichever of them it reaches. Its receive handler runs on `executor` (datagrams
  // held for a challenge answered on another link are posted there). `challenger`:
  // challenges of all the links go from this one, whose address is the endpoint's own
  // (not a multicast port that other endpoints share), so the responses come to it.
  static absl::StatusOr<std::unique_ptr<SealingLink>> CreateShared(
      std::unique_ptr<network::DatagramLink> inner, const SealingOptions& options,
      Clock& clock, std::shared_ptr<internal::Freshness> freshness,
      const boost::asio::any_io_executor& executor, bool challenger);

  // Shared with the SealingLinks that opened the link, which holds it weakly.
  const std::shared_ptr<internal::SealingState> state_;
};

}  // namespace glue::security

#endif  // GLUE_SECURITY_SEALING_LINK_H_
