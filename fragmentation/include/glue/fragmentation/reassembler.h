// Reassembler: puts the fragments of one peer's messages back together, within a time
// to live and a memory cap per peer, and ReassemblyBudget, the cap all the peers of
// one endpoint share. It holds what arrived, never what a header claims. The
// fragmentation layer, receiving side; no I/O, no clock.
//
//   ReassemblyBudget budget;                     // one per endpoint
//   Reassembler reassembler(options, &budget);   // one per peer session
//   Reassembler::Outcome outcome = reassembler.OnFragment(header, payload, now);
//   if (outcome.result == Reassembler::Result::kCompleted) hand up outcome.message;
//   reassembler.Expire(now);                     // at NextDeadline()
#ifndef GLUE_FRAGMENTATION_REASSEMBLER_H_
#define GLUE_FRAGMENTATION_REASSEMBLER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/fragmentation/fragment_header.h"

namespace glue::fragmentation {

class Reassembler;

// ReassemblyBudgetCounters count what a budget did since it was made.
struct ReassemblyBudgetCounters {
  uint64_t reserved = 0;  // messages given room
  // Incomplete messages dropped, oldest first, to make room for a fragment of
  // another: each is also counted as dropped_total_cap by the reassembler that held
  // it.
  uint64_t dropped = 0;
  // Messages larger than max_bytes by themselves: refused at their first fragment for
  // the size it claims, or dropped when the bytes they hold would not fit.
  uint64_t refused = 0;
};

// ReassemblyBudget caps the bytes that all the Reassemblers of one endpoint hold in
// incomplete messages. When a fragment would take them beyond the cap, the oldest
// incomplete messages (by the arrival of their first fragment), whichever reassembler
// holds them, are dropped until it fits; never the fragment's own message, which is
// dropped instead when it cannot fit by itself. Each message is charged what its
// reassembler holds for it (see Reassembler::bytes_held). Not thread-safe: the budget
// and all its reassemblers belong to one strand. It must outlive them.
class ReassemblyBudget {
 public:
  // kDefaultMaxBytes is 256 MiB: about four messages of kDefaultMaxMessageBytes (each
  // is charged its bookkeeping too).
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

  // A budget of 0 bytes refuses every fragmented message.
  explicit ReassemblyBudget(size_t max_bytes = kDefaultMaxBytes);
  ReassemblyBudget(const ReassemblyBudget&) = delete;
  ReassemblyBudget& operator=(const ReassemblyBudget&) = delete;

  size_t max_bytes() const { return max_bytes_; }
  // bytes_held returns the bytes charged to incomplete messages now, what their
  // reassemblers hold; never above max_bytes().
  size_t bytes_held() const { return bytes_held_; }
  // messages_held returns how many incomplete messages hold room now.
  size_t messages_held() const { return held_.size(); }
  ReassemblyBudgetCounters counters() const { return counters_; }

 private:
  friend class Reassembler;

  // Reservation is the room one incomplete message holds, which grows and shrinks
  // with what it holds; destroying it gives the room back.
  class Reservation {
   public:
    Reservation(ReassemblyBudget* budget, uint64_t age) : budget_(budget), age_(age) {}
    Reservation(Reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)),
          age_(other.age_),
          bytes_(std::exchange(other.bytes_, 0)) {}
    Reservation& operator=(Reservation&&) = delete;
    ~Reservation() {
      if (budget_ != nullptr) budget_->Release(age_, bytes_);
    }

    // age orders messages by the arrival of their first fragment, over all the
    // reassemblers of the budget: lower is older.
    uint64_t age() const { return age_; }
    // bytes returns what the message is charged now.
    size_t bytes() const { return bytes_; }

    // Add charges `bytes` more, for which MakeRoom made room.
    void Add(size_t bytes) {
      bytes_ += bytes;
      budget_->bytes_held_ += bytes;
    }
    // Remove gives back `bytes` of what was charged.
    void Remove(size_t bytes) {
      bytes_ -= bytes;
      budget_->bytes_held_ -= bytes;
    }

   private:
    ReassemblyBudget* budget_;  // null once moved from
    uint64_t age_;
    size_t bytes_ = 0;
  };

  // Holder says who holds a reservation, so that the budget can have it dropped.
  struct Holder {
    Reassembler* reassembler;
    uint64_t message_id;
  };

  // Reserve makes message `message_id` of `reassembler` the youngest holder of room,
  // charged nothing yet.
  Reservation Reserve(Reassembler* reassembler, uint64_t message_id);
  // MakeRoom drops the oldest incomplete messages, of any reassembler but never
  // `keep`'s, until `bytes` more fit, and returns true; or, dropping nothing, returns
  // false when they would not fit beside `keep`'s bytes alone.
  bool MakeRoom(const Reservation& keep, size_t bytes);
  void Release(uint64_t age, size_t bytes);

  const size_t max_bytes_;
  size_t bytes_held_ = 0;
  uint64_t next_age_ = 0;
  absl::btree_map<uint64_t, Holder> held_;  // by age: oldest first
  ReassemblyBudgetCounters counters_;
};

// ReassemblerOptions bound what one peer may make a Reassembler hold.
struct ReassemblerOptions {
  // A fragment whose header announces a larger message is invalid. Peers should agree
  // on it: a sender's larger message can never be reassembled here.
  uint64_t max_message_bytes = kDefaultMaxMessageBytes;
  // Bytes held for this peer's incomplete messages, counted as Reassembler::bytes_held
  // says. A fragment that would go beyond it drops this peer's oldest incomplete
  // messages first (never its own); a message that claims more than it, or whose own
  // bytes would go beyond it, is dropped.
  size_t max_bytes = size_t{128} << 20;
  // Incomplete messages held for this peer; a new one beyond it drops the oldest.
  // At least 1.
  size_t max_messages = 1024;
  // How long an incomplete best-effort message waits for its fragments, from the
  // arrival of its first one, when its header gives no time to live (a reliable one
  // then waits without a deadline; see OnFragment). Positive, and at most
  // max_time_to_live.
  absl::Duration default_time_to_live = absl::Seconds(10);
  // The longest time to live a header may give a message; a longer one is cut to it
  // and counted (time_to_live_clamped), so that a peer cannot have its fragments kept
  // for weeks (a header may ask for 2^32 - 1 ms, 49 days). 30 s is three times the
  // default time to live and six times the shortest expiries senders give (5 s; a
  // time to live is the sender's expiry, after which it stops resending), and a
  // message of kDefaultMaxMessageBytes arrives within it at 18 Mbit/s. Positive and
  // finite (GLUE_REASSEMBLY_MAX_TIME_TO_LIVE_MILLISECONDS).
  absl::Duration max_time_to_live = absl::Seconds(30);
  // How many ids of finished messages (completed or given up) are remembered, so that
  // a late or duplicate fragment of one is ignored rather than taken for the first
  // fragment of a new message. The oldest is forgotten first.
  size_t max_remembered = 1024;
};

// ReassemblerCounters count what a reassembler did since it was made.
struct ReassemblerCounters {
  uint64_t fragments = 0;   // OnFragment calls
  uint64_t completed = 0;   // messages handed up whole
  uint64_t duplicates = 0;  // fragments received before, or of a message completed
  uint64_t late = 0;        // fragments of a message given up (any reason below)
  // Fragments refused: a header that ValidateFragmentHeader refuses, a payload of the
  // wrong size for its index, or a total_bytes, fragment_bytes or checksum other than
  // the first fragment of its message said.
  uint64_t rejected = 0;
  uint64_t checksum_mismatches = 0;  // messages whole but corrupt: dropped
  uint64_t expired = 0;              // incomplete messages dropped at their deadline
  // Incomplete messages dropped, oldest first, for a fragment of another to fit in
  // max_bytes or a new one in max_messages; and messages larger than max_bytes by
  // themselves: refused at their first fragment for the size it claims, or dropped
  // when the bytes they hold would not fit.
  uint64_t dropped_peer_cap = 0;
  // Likewise for the ReassemblyBudget's cap: this reassembler's messages that the
  // budget dropped for a fragment of another (of any reassembler), and messages
  // larger than the budget by themselves.
  uint64_t dropped_total_cap = 0;
  // Messages whose header gave a time to live beyond max_time_to_live: cut to it.
  uint64_t time_to_live_clamped = 0;
};

// Reassembler collects the fragments of one peer's messages and hands up each message
// once all its fragments arrived, in any order, and its CRC-32C matches. It holds only
// what arrived, never what a header claims: each fragment is copied into blocks of the
// BlockPool, which grow with what arrives and are never moved. A message's fragments
// from the first on, in order, are appended to its blocks; one that arrives before
// those preceding it is kept apart, in a run of fragments that follow each other, whose
// blocks join the message's, uncopied, once the fragments before it arrive. The record
// of which fragments arrived is those runs, not a bitmap of the count a header claims.
// Once the fragments from the first on make half the message, they move into a buffer
// of its total_bytes (no more than twice them), where those that follow go directly,
// and which is handed up; otherwise the message is copied into one when whole. Room for
// what a fragment adds is made under both caps before it is allocated.
//
// Message ids are the peer's: make a new Reassembler when the peer's session starts
// anew, as its ids may start over. Not thread-safe: it, its budget and all the
// budget's other reassemblers belong to one strand.
class Reassembler {
 public:
  // Result says what OnFragment made of one fragment.
  enum class Result {
    kStored,            // a new fragment of an incomplete message, kept
    kCompleted,         // the message is whole and its checksum matches: hand it up
    kDuplicate,         // received before, or its message was completed: ignored
    kLate,              // its message was given up before: ignored
    kInvalid,           // refused header, or payload of the wrong size: ignored
    kInconsistent,      // disagrees with the first fragment of its message: ignored
    kChecksumMismatch,  // the message is whole but corrupt: dropped
    kRefused,           // its message is larger than a cap by itself: dropped
  };

  // ResultName returns "stored", "completed", "duplicate", "late", "invalid",
  // "inconsistent", "checksum mismatch" or "refused".
  static absl::string_view ResultName(Result result);

  // Outcome is what OnFragment returns: the whole message, when result is kCompleted
  // (empty otherwise).
  struct Outcome {
    Result result = Result::kStored;
    std::vector<uint8_t> message;
  };

  // What bytes_held charges beyond the blocks that hold the payload: estimates of the
  // bookkeeping, which reassembler.cc checks against the sizes of what it keeps.
  // kMessageOverheadBytes for each incomplete message, here and in the budget;
  static constexpr size_t kMessageOverheadBytes = 512;
  // kRunOverheadBytes for each run of fragments kept apart (arrived before those
  // preceding them);
  static constexpr size_t kRunOverheadBytes = 128;
  // kBlockOverheadBytes for each block.
  static constexpr size_t kBlockOverheadBytes = 48;

  // Needs `options` that Validate accepts and a `budget` (not null) that outlives the
  // reassembler.
  Reassembler(ReassemblerOptions options, ReassemblyBudget* budget);
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;
  // Gives every incomplete message's room back to the budget.
  ~Reassembler();

  // Validate returns OK, or kInvalidArgument naming the field and value when
  // max_messages is 0, max_time_to_live is not positive and finite, or
  // default_time_to_live is not positive or above max_time_to_live.
  static absl::Status Validate(const ReassemblerOptions& options);

  // OnFragment takes one fragment that arrived at `now`: `header` as the frame's meta
  // gave it and `payload`, which need only live for the call. Each fragment makes room
  // for what it adds (dropping older incomplete messages at a cap). The first fragment
  // of a message sets its deadline: now + its time to live, at most
  // max_time_to_live, or the default when the header gives none. A `reliable` message
  // whose header gives none has no deadline: its transport delivers every fragment,
  // however long resending takes, or ends the session, and the reassembler with it;
  // the caps still bound it. Whatever the result, the counters say it.
  Outcome OnFragment(const FragmentHeader& header, absl::Span<const uint8_t> payload,
                     absl::Time now, bool reliable = false);

  // Expire drops every incomplete message whose deadline is at or before `now` and
  // returns how many it dropped.
  size_t Expire(absl::Time now);

  // NextDeadline returns the earliest deadline of an incomplete message, when Expire
  // next has something to do; nullopt when none is incomplete.
  std::optional<absl::Time> NextDeadline() const;

  // bytes_held returns the bytes held for incomplete messages: their blocks (powers of
  // two from 64 bytes to 64 KiB, which hold the payload that arrived and room for what
  // follows: at most as much again, or 64 bytes for a fragment smaller than that),
  // kBlockOverheadBytes a block, kRunOverheadBytes a run of fragments kept apart,
  // kMessageOverheadBytes a message, and total_bytes for a message whose fragments in
  // order make half of it or more (its own buffer). Never above options().max_bytes.
  size_t bytes_held() const { return bytes_held_; }
  // messages_held returns how many messages are incomplete; never above
  // options().max_messages.
  size_t messages_held() const { return partials_.size(); }

  ReassemblerCounters counters() const { return counters_; }
  const ReassemblerOptions& options() const { return options_; }

 private:
  friend class ReassemblyBudget;

  // Partial is one incomplete message (reassembler.cc).
  struct Partial;
  using PartialMap = absl::flat_hash_map<uint64_t, std::unique_ptr<Partial>>;

  // Starts message `header.message_id` with its first fragment.
  Outcome Start(const FragmentHeader& header, absl::Span<const uint8_t> payload,
                absl::Time now, bool reliable);
  // Keeps fragment `index` of message `it`, unless it arrived before; hands the
  // message up (or drops it) when that makes it whole.
  Outcome Store(PartialMap::iterator it, uint32_t index,
                absl::Span<const uint8_t> payload);
  // Charge makes room under both caps for `bytes` more held for `partial`, dropping
  // other incomplete messages, oldest first, and charges them. Returns false, and
  // counts why, when they do not fit beside what `partial` holds alone.
  bool Charge(Partial& partial, size_t bytes);
  // Gives back `bytes` of what `partial` was charged.
  void Uncharge(Partial& partial, size_t bytes);
  // MoveToWhole moves the fragments `partial` holds in order, half of it or more, from
  // their blocks into its own buffer. Returns false, as Charge, when that does not fit.
  bool MoveToWhole(Partial& partial);
  // Drops message `it` because a cap refused it: kRefused.
  Outcome Refuse(PartialMap::iterator it);
  // Hands up, or drops at a checksum mismatch, the message `it` now holds whole.
  Outcome Finish(PartialMap::iterator it);
  // Forgets the incomplete message `it`, giving its room back, and remembers its id
  // as finished (`completed` or given up).
  void Erase(PartialMap::iterator it, bool completed);
  // DropForBudget drops incomplete message `message_id` for the budget, which needs
  // its room.
  void DropForBudget(uint64_t message_id);
  void Remember(uint64_t message_id, bool completed);

  const ReassemblerOptions options_;
  ReassemblyBudget* const budget_;
  size_t bytes_held_ = 0;
  PartialMap partials_;
  absl::btree_set<std::pair<absl::Time, uint64_t>> deadlines_;  // with message ids
  absl::btree_map<uint64_t, uint64_t> by_age_;  // reservation age -> message id
  // Finished message ids, whether completed, and the order to forget them in.
  absl::flat_hash_map<uint64_t, bool> finished_;
  std::deque<uint64_t> finished_order_;
  ReassemblerCounters counters_;
};

}  // namespace glue::fragmentation

#endif  // GLUE_FRAGMENTATION_REASSEMBLER_H_
