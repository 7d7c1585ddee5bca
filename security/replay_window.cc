#include "glue/security/replay_window.h"

namespace glue::security {

static_assert(kReplayWindowSize % 64 == 0, "the bitmap is whole 64-bit words");

absl::string_view ReplayCheckName(ReplayCheck check) {
  switch (check) {
    case ReplayCheck::kFresh:
      return "fresh";
    case ReplayCheck::kReplay:
      return "replay";
    case ReplayCheck::kTooOld:
      return "too old";
  }
  return "?";
}

ReplayCheck ReplayWindow::Check(uint64_t sequence) const {
  if (sequence == 0) return ReplayCheck::kTooOld;
  if (sequence > highest_) return ReplayCheck::kFresh;
  if (highest_ - sequence >= kReplayWindowSize) return ReplayCheck::kTooOld;
  return Seen(sequence) ? ReplayCheck::kReplay : ReplayCheck::kFresh;
}

void ReplayWindow::Advance(uint64_t sequence) {
  if (Check(sequence) != ReplayCheck::kFresh) return;
  if (sequence > highest_) {
    // The sequences passed over become slots of the window, not yet seen. Beyond a
    // whole window's jump every slot is reused.
    if (sequence - highest_ >= kReplayWindowSize) {
      bits_.fill(0);
    } else {
      for (uint64_t s = highest_ + 1; s < sequence; ++s) Clear(s);
    }
    highest_ = sequence;
  }
  Set(sequence);
}

bool ReplayWindow::Seen(uint64_t sequence) const {
  const uint64_t slot = sequence % kReplayWindowSize;
  return (bits_[slot / kWordBits] >> (slot % kWordBits)) & 1;
}

void ReplayWindow::Set(uint64_t sequence) {
  const uint64_t slot = sequence % kReplayWindowSize;
  bits_[slot / kWordBits] |= uint64_t{1} << (slot % kWordBits);
}

void ReplayWindow::Clear(uint64_t sequence) {
  const uint64_t slot = sequence % kReplayWindowSize;
  bits_[slot / kWordBits] &= ~(uint64_t{1} << (slot % kWordBits));
}

}  // namespace glue::security
