// The replay window of one sender incarnation: which of the last kReplayWindowSize
// sequence numbers have been accepted (RFC 4303 section 3.4.3, as IPsec's ESP keeps
// it). In glue_security; pure state, no I/O, no clock.
//
//   if (window.Check(sealed.sequence) != ReplayCheck::kFresh) return;  // refuse
//   if (opener.Open(sealed, out, &n) != OpenOutcome::kOk) return;       // refuse
//   window.Advance(sealed.sequence);  // only once the tag has verified
//
// Checking before decryption spares the cipher's cost on replays; advancing only
// after the tag verifies keeps a forged sequence number from moving the window.
#ifndef GLUE_SECURITY_REPLAY_WINDOW_H_
#define GLUE_SECURITY_REPLAY_WINDOW_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace glue::security {

// kReplayWindowSize is how far behind the highest accepted sequence a datagram may
// arrive and still be accepted: reordering deeper than this is refused as too old.
inline constexpr uint64_t kReplayWindowSize = 1024;

enum class ReplayCheck : uint8_t {
  // Not seen, and within the window or ahead of it.
  kFresh,
  // Accepted before.
  kReplay,
  // kReplayWindowSize or more behind the highest accepted sequence, or 0 (which no
  // sender uses): whether it was seen is no longer known.
  kTooOld,
};

// ReplayCheckName returns "fresh", "replay" or "too old", for logs and counters.
absl::string_view ReplayCheckName(ReplayCheck check);

// ReplayWindow: the sequences accepted from one sender incarnation, as a bitmap of
// kReplayWindowSize bits indexed by sequence modulo the size (128 bytes a window).
// Not thread-safe; the receiver's one thread (or strand) owns it.
class ReplayWindow {
 public:
  // Check returns whether `sequence` may be accepted; it changes nothing.
  ReplayCheck Check(uint64_t sequence) const;
  // Advance records `sequence` as accepted, sliding the window when it is the highest
  // yet. Call it only when Check(sequence) is kFresh and the datagram's tag verified;
  // otherwise it does nothing.
  void Advance(uint64_t sequence);
  // highest returns the highest sequence accepted, 0 before the first.
  uint64_t highest() const { return highest_; }

 private:
  static constexpr size_t kWordBits = 64;
  static constexpr size_t kWords = kReplayWindowSize / kWordBits;

  bool Seen(uint64_t sequence) const;
  void Set(uint64_t sequence);
  void Clear(uint64_t sequence);

  uint64_t highest_ = 0;
  std::array<uint64_t, kWords> bits_{};
};

}  // namespace glue::security

#endif  // GLUE_SECURITY_REPLAY_WINDOW_H_
