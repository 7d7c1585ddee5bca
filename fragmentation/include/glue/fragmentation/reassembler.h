// Reassembler: puts the fragments of one peer's messages back together, within a time
// to live and a memory cap per peer, and ReassemblyBudget, the cap all the peers of
// one endpoint share. The fragmentation layer, receiving side; no I/O, no clock.
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
  // Incomplete messages dropped, oldest first, to make room for a newer one: each is
  // also counted as dropped_total_cap by the reassembler that held it.
  uint64_t dropped = 0;
  uint64_t refused = 0;  // messages larger than max_bytes by themselves
};

// ReassemblyBudget caps the bytes that all the Reassemblers of one endpoint hold in
// incomplete messages. When a new message would go beyond the cap, the oldest
// incomplete messages (by the arrival of their first fragment), whichever reassembler
// holds them, are dropped until it fits. Each message is charged its total_bytes, the
// buffer it is reassembled in. Not thread-safe: the budget and all its reassemblers
// belong to one strand. It must outlive them.
class ReassemblyBudget {
 public:
  // kDefaultMaxBytes is 256 MiB: four messages of kDefaultMaxMessageBytes.
  static constexpr size_t kDefaultMaxBytes = size_t{256} << 20;

  // A budget of 0 bytes refuses every fragmented message.
  explicit ReassemblyBudget(size_t max_bytes = kDefaultMaxBytes);
  ReassemblyBudget(const ReassemblyBudget&) = delete;
  ReassemblyBudget& operator=(const ReassemblyBudget&) = delete;

  size_t max_bytes() const { return max_bytes_; }
  // bytes_held returns the bytes charged to incomplete messages now; never above
  // max_bytes().
  size_t bytes_held() const { return bytes_held_; }
  // messages_held returns how many incomplete messages hold room now.
  size_t messages_held() const { return held_.size(); }
  ReassemblyBudgetCounters counters() const { return counters_; }

 private:
  friend class Reassembler;

  // Reservation is the room one incomplete message holds; destroying it gives the
  // room back.
  class Reservation {
   public:
    Reservation(ReassemblyBudget* budget, uint64_t age) : budget_(budget), age_(age) {}
    Reservation(Reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), age_(other.age_) {}
    Reservation& operator=(Reservation&&) = delete;
    ~Reservation() {
      if (budget_ != nullptr) budget_->Release(age_);
    }

    // age orders messages by the arrival of their first fragment, over all the
    // reassemblers of the budget: lower is older.
    uint64_t age() const { return age_; }

   private:
    ReassemblyBudget* budget_;  // null once moved from
    uint64_t age_;
  };

  // Holder says who holds a reservation, so that the budget can have it dropped.
  struct Holder {
    Reassembler* reassembler;
    uint64_t message_id;
    size_t bytes;
  };

  // Reserve drops the oldest incomplete messages, of any reassembler, until `bytes`
  // more fit, and charges them to message `message_id` of `reassembler`. Needs
  // bytes <= max_bytes().
  Reservation Reserve(Reassembler* reassembler, uint64_t message_id, size_t bytes);
  void Release(uint64_t age);

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
  // Bytes of incomplete messages held for this peer, charged as ReassemblyBudget
  // charges them. A new message that would go beyond it drops this peer's oldest
  // incomplete messages first; one larger than it by itself is refused.
  size_t max_bytes = size_t{128} << 20;
  // Incomplete messages held for this peer; a new one beyond it drops the oldest.
  // It also bounds the bookkeeping, about 200 bytes a message, that is not charged as
  // bytes. At least 1.
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
  // Incomplete messages dropped, oldest first, for a newer one to fit in max_bytes or
  // max_messages; and messages refused at their first fragment for being larger than
  // max_bytes by themselves.
  uint64_t dropped_peer_cap = 0;
  // Likewise for the ReassemblyBudget's cap: this reassembler's messages that the
  // budget dropped for a newer one (of any reassembler), and messages refused for
  // being larger than the budget by themselves.
  uint64_t dropped_total_cap = 0;
  // Messages whose header gave a time to live beyond max_time_to_live: cut to it.
  uint64_t time_to_live_clamped = 0;
};

// Reassembler collects the fragments of one peer's messages and hands up each message
// once all its fragments arrived, in any order, and its CRC-32C matches. A message's
// buffer (total_bytes) and its bitmap of received fragments are allocated once, at its
// first fragment, and only after making room under both caps; every fragment is
// copied once, into that buffer, which is then handed up without another copy.
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
    kRefused,           // first fragment of a message larger than a cap: dropped
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

  // Needs `options` that Validate accepts and a `budget` (not null) that outlives the
  // reassembler.
  Reassembler(ReassemblerOptions options, ReassemblyBudget* budget);
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;
  // Gives every incomplete message's room back to the budget.
  ~Reassembler() = default;

  // Validate returns OK, or kInvalidArgument naming the field and value when
  // max_messages is 0, max_time_to_live is not positive and finite, or
  // default_time_to_live is not positive or above max_time_to_live.
  static absl::Status Validate(const ReassemblerOptions& options);

  // OnFragment takes one fragment that arrived at `now`: `header` as the frame's meta
  // gave it and `payload`, which need only live for the call. The first fragment of a
  // message makes room for it (dropping older incomplete messages at a cap) and sets
  // its deadline: now + its time to live, at most max_time_to_live, or the default
  // when the header gives none.
  // A `reliable` message whose header gives none has no deadline: its transport
  // delivers every fragment, however long resending takes, or ends the session, and
  // the reassembler with it; the caps still bound it. Whatever the result, the
  // counters say it.
  Outcome OnFragment(const FragmentHeader& header, absl::Span<const uint8_t> payload,
                     absl::Time now, bool reliable = false);

  // Expire drops every incomplete message whose deadline is at or before `now` and
  // returns how many it dropped.
  size_t Expire(absl::Time now);

  // NextDeadline returns the earliest deadline of an incomplete message, when Expire
  // next has something to do; nullopt when none is incomplete.
  std::optional<absl::Time> NextDeadline() const;

  // bytes_held returns the bytes of the incomplete messages' buffers; never above
  // options().max_bytes.
  size_t bytes_held() const { return bytes_held_; }
  // messages_held returns how many messages are incomplete; never above
  // options().max_messages.
  size_t messages_held() const { return partials_.size(); }

  ReassemblerCounters counters() const { return counters_; }
  const ReassemblerOptions& options() const { return options_; }

 private:
  friend class ReassemblyBudget;

  // Partial is one incomplete message.
  struct Partial {
    uint64_t total_bytes = 0;
    uint32_t fragment_bytes = 0;
    uint32_t checksum = 0;
    uint32_t received_count = 0;
    absl::Time deadline;
    std::vector<uint8_t> buffer;  // total_bytes, written in place
    std::vector<bool> received;   // one bit a fragment
    ReassemblyBudget::Reservation reservation;
  };
  using PartialMap = absl::flat_hash_map<uint64_t, Partial>;

  // Starts message `header.message_id` with its first fragment, after making room.
  Outcome Start(const FragmentHeader& header, absl::Span<const uint8_t> payload,
                absl::Time now, bool reliable);
  // Copies fragment `index` into `partial`'s buffer and marks it received.
  static void Store(Partial* partial, uint32_t index, absl::Span<const uint8_t> payload);
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
