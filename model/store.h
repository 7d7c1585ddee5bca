// Store: one replica's state of a model, without I/O or locks: the values it holds
// per key (each a dot and its time), the causal context of every write it has seen,
// and per writer a digest of the writes it still holds. It takes local writes and
// peers' deltas, answers a peer's summary with what the peer lacks, and says which
// changes the application sees. Internal to the model layer; model.cc holds its lock.
//
// The state is a map of multi-value registers with a causal context (an optimized
// observed-remove map after Almeida, Shoker and Baquero): a write replaces the values
// its writer held for the key; a value whose dot a replica has seen but does not hold
// was replaced or deleted, and never comes back. Merging is commutative, associative
// and idempotent, so deltas and answers may arrive in any order, more than once.
#ifndef GLUE_MODEL_STORE_H_
#define GLUE_MODEL_STORE_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "glue/model/causal_context.h"
#include "glue/model/hybrid_clock.h"
#include "glue/model/model.h"
#include "glue/topics/topic_filter.h"
#include "model/model_message.h"

namespace glue::model::internal {

// StoredVersion is one value held for a key.
struct StoredVersion {
  uint32_t writer = 0;  // index into the store's writers
  bool ephemeral = false;
  uint64_t counter = 0;
  HybridTime time;
  int64_t deadline_ms = 0;  // when it expires, in the store's milliseconds; 0: never
  Value value;
};

// WriterState is what a store knows of one writer.
struct WriterState {
  Writer writer;
  std::string name;
  uint64_t live_count = 0;   // values of it held
  uint64_t live_digest = 0;  // sum of DotHash over them
  uint64_t ephemeral_count = 0;
  bool present = false;  // its ephemeral values are shown
};

// DotHash is the digest of one dot: the same on every replica.
uint64_t DotHash(const Writer& writer, uint64_t counter);

// Change is one change of what a key shows.
struct Change {
  uint64_t revision = 0;
  WatchEvent::Kind kind = WatchEvent::Kind::kPut;
  std::string key;
  std::optional<StoredVersion> before;
  std::optional<StoredVersion> after;
};

// ChangeLog holds the latest changes in order, for watches: every change not yet
// published to them, and after that the latest `keep` (for a Watch since an earlier
// revision). Its slots are reused, a key's bytes and all, so that a change costs no
// allocation once the log has grown; it grows past `keep` only while more changes
// than that wait to be published (one large delta), and shrinks back after.
class ChangeLog {
 public:
  explicit ChangeLog(size_t keep) : keep_(keep) {}

  // Add returns a slot for the change of `revision`, one more than the last's.
  Change& Add(uint64_t revision);
  // Published says that every change so far reached the watches; the log keeps the
  // latest `keep` of them.
  void Published();
  // Clear forgets every change, published or not.
  void Clear();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The i-th change, oldest first: revisions are consecutive.
  const Change& operator[](size_t i) const { return ring_[(head_ + i) % ring_.size()]; }
  // The first change after `revision` (size() when none is).
  size_t IndexAfter(uint64_t revision) const;
  uint64_t published() const { return published_; }

 private:
  void Grow();
  void Drop();  // the oldest

  size_t keep_;
  std::vector<Change> ring_;
  size_t head_ = 0;
  size_t size_ = 0;
  uint64_t published_ = 0;  // the last change's revision that watches saw
};

// LocalWrite is what a local write replaced, for its delta.
struct LocalWrite {
  uint64_t counter = 0;
  absl::InlinedVector<Dot, 1> replaced;
};

// Answer is the state of an answer to a peer's summary, sent in chunks.
struct Answer {
  uint64_t request = 0;
  CausalContext peer_seen;
  bool versions_done = false;
  std::optional<std::string> cursor;            // the last key sent
  std::vector<std::pair<Writer, DotsOf>> dots;  // DotsOf::writer unset
  size_t dots_next = 0;
};

struct StoreBounds {
  size_t max_keys = 0;
  size_t max_value_bytes = 0;
  size_t max_bytes = 0;
  ByteBudget* shared = nullptr;  // the endpoint's, over all its models; null: none
};

// Versions are the values a key holds: one, unless writes were concurrent.
using Versions = absl::InlinedVector<StoredVersion, 1>;

// KeyEntry is a key and the values it holds, in one allocation: the key's bytes
// follow it. The store's ordered set holds pointers to them, so that a key costs the
// entry, its share of an 8-byte slot in the b-tree, and its values.
class KeyEntry {
 public:
  absl::string_view key() const {
    return absl::string_view(reinterpret_cast<const char*>(this + 1), key_bytes_);
  }
  Versions versions;

 private:
  friend class KeyEntryPtr;
  explicit KeyEntry(uint32_t key_bytes) : key_bytes_(key_bytes) {}
  uint32_t key_bytes_;
};

// KeyEntryPtr owns a KeyEntry; a copy copies the entry (a copied store owns its own).
class KeyEntryPtr {
 public:
  explicit KeyEntryPtr(absl::string_view key);
  KeyEntryPtr(const KeyEntryPtr& other);
  KeyEntryPtr(KeyEntryPtr&& other) noexcept : e_(std::exchange(other.e_, nullptr)) {}
  KeyEntryPtr& operator=(const KeyEntryPtr& other) {
    KeyEntryPtr copy(other);
    std::swap(e_, copy.e_);
    return *this;
  }
  KeyEntryPtr& operator=(KeyEntryPtr&& other) noexcept {
    std::swap(e_, other.e_);
    return *this;
  }
  ~KeyEntryPtr();

  KeyEntry* get() const { return e_; }
  KeyEntry* operator->() const { return e_; }
  KeyEntry& operator*() const { return *e_; }

 private:
  KeyEntry* e_;
};

// KeyOrder orders entries by key, and finds them by a key alone.
struct KeyOrder {
  using is_transparent = void;
  static absl::string_view KeyOf(const KeyEntryPtr& e) { return e->key(); }
  static absl::string_view KeyOf(absl::string_view key) { return key; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return KeyOf(a) < KeyOf(b);
  }
};

class Store {
 public:
  Store(const Writer& self, std::string self_name, StoreBounds bounds,
        size_t keep_changes = 4096);

  const Writer& self() const { return writers_[0].writer; }

  // Put writes `value` at `key`, replacing every value the key holds. Errors:
  // kResourceExhausted at a bound (named).
  absl::StatusOr<LocalWrite> Put(absl::string_view key, Value value, HybridTime time,
                                 bool ephemeral, int64_t deadline_ms);
  // Retract removes the values of `key` that `which` picks, by a write of this replica
  // that replaces them alone; nullopt when none is picked.
  std::optional<LocalWrite> Retract(absl::string_view key,
                                    absl::FunctionRef<bool(const StoredVersion&)> which);
  // Keys lists the keys that hold a value `which` picks.
  std::vector<std::string> Keys(
      absl::FunctionRef<bool(const StoredVersion&)> which) const;

  // Delete removes every value of `key`; nullopt when it holds none.
  std::optional<LocalWrite> Delete(absl::string_view key);

  // WriterIndex finds or adds `writer`, taking `name` when it has none yet.
  uint32_t WriterIndex(const Writer& writer, absl::string_view name);
  const WriterState& writer(uint32_t index) const { return writers_[index]; }

  enum class Applied { kApplied, kKnown, kRefused };
  // Apply takes a peer's write (writers are this store's indices): it removes the
  // values it replaced, and holds the value unless its dot was seen already.
  Applied Apply(uint32_t writer, uint64_t counter, HybridTime time, absl::string_view key,
                std::optional<absl::string_view> value, bool ephemeral,
                int64_t deadline_ms, absl::Span<const Dot> replaced);
  // ApplyDelta applies a peer's delta (Apply and ApplyDots for each of its writes
  // and dots), counting what became of them.
  struct DeltaResult {
    uint64_t applied = 0;
    uint64_t known = 0;
    uint64_t refused = 0;
    uint64_t removed = 0;
    int64_t earliest_deadline = 0;  // of the values taken (0: none)
  };
  DeltaResult ApplyDelta(const Delta& delta, int64_t now_ms);

  // ApplyDots takes what a peer knows of `writer`'s writes: it drops the values it
  // holds that the peer has seen and no longer holds, and remembers those writes as
  // seen. Returns how many values it dropped.
  size_t ApplyDots(uint32_t writer, const std::vector<Run>& seen,
                   const std::vector<Run>& live);

  // Expire drops the values whose deadline is at or before `now_ms`; returns the next
  // deadline (0: none).
  int64_t Expire(int64_t now_ms);
  // SetPresent shows (or hides) the ephemeral values of the writers of endpoint
  // `endpoint_id` whose incarnation is `incarnation` (present) or any (absent).
  void SetPresent(uint64_t endpoint_id, uint64_t incarnation, bool present);

  Summary MakeSummary(uint64_t incarnation, uint64_t request, bool reply_wanted) const;
  Answer StartAnswer(const Summary& peer, uint64_t request) const;
  // NextAnswerChunk fills `out` (its writers, versions, dots; the caller sets the rest)
  // with about `max_bytes` of the answer, views into this store valid until it
  // changes. Returns true when this chunk is the last.
  bool NextAnswerChunk(Answer& answer, size_t max_bytes, int64_t now_ms,
                       Delta* out) const;

  // What the application sees: a key's winner (the largest time, then writer, of its
  // shown values), all its shown values, or every key a filter matches.
  const StoredVersion* Winner(absl::string_view key) const;
  std::vector<StoredVersion> Shown(absl::string_view key) const;
  template <typename F>  // F(absl::string_view key, const StoredVersion& winner, size_t)
  void ForEachShown(absl::string_view filter, F f) const;

  const CausalContext& seen() const { return seen_; }
  // The changes, oldest first: those not yet Published() and the latest kept.
  const ChangeLog& changes() const { return changes_; }
  void Published() { changes_.Published(); }
  void ForgetChanges() { changes_.Clear(); }
  uint64_t revision() const { return revision_; }
  size_t keys() const { return entries_.size(); }
  size_t bytes() const { return bytes_.bytes(); }
  // LeaveSharedBudget gives what the store holds back to the shared budget
  // (StoreBounds::shared) at once, and charges it no more: for a closed model, whose
  // state may outlive it a while in handlers still queued.
  void LeaveSharedBudget() { bytes_.Detach(); }
  size_t writers() const { return writers_.size(); }
  uint64_t expired() const { return expired_; }

 private:
  bool IsShown(const StoredVersion& v) const {
    return !v.ephemeral || writers_[v.writer].present;
  }
  const StoredVersion* WinnerOf(const Versions& versions) const;
  using Entries = absl::btree_set<KeyEntryPtr, KeyOrder>;
  // ShownOf is a copy of the value `versions` show, if any: what a change compares to.
  std::optional<StoredVersion> ShownOf(const Versions& versions) const;
  // RemoveIf releases and removes the values `which` picks; returns how many.
  size_t RemoveIf(Versions& versions,
                  absl::FunctionRef<bool(const StoredVersion&)> which);
  // Replace makes a local write's dot, replacing the values of a key `which` picks.
  LocalWrite Replace(Versions& versions,
                     absl::FunctionRef<bool(const StoredVersion&)> which);
  // Settle records what the entry at `it` shows after a change, against `before`, and
  // erases it when it holds nothing; returns the entry after it.
  Entries::iterator Settle(Entries::iterator it,
                           const std::optional<StoredVersion>& before,
                           WatchEvent::Kind gone);
  bool Wins(const StoredVersion& a, const StoredVersion& b) const;
  void Hold(absl::string_view key, const StoredVersion& v);
  void Release(const StoredVersion& v);
  // Change records what `key` shows after a change, against `before`.
  void Record(absl::string_view key, const StoredVersion* before, const Versions* after,
              WatchEvent::Kind gone);
  absl::Status CheckBounds(bool new_key, size_t adding) const;
  void AddBytes(size_t n);
  void RemoveBytes(size_t n);

  std::deque<WriterState> writers_;  // [0]: this replica's own
  absl::flat_hash_map<Writer, uint32_t> writer_index_;
  // The run of each endpoint whose ephemeral values are shown: writers learned of
  // later take it.
  absl::flat_hash_map<uint64_t, uint64_t> present_;
  Entries entries_;
  CausalContext seen_;
  // Values with a deadline: (deadline, writer, counter) -> key. Entries whose value
  // went first are skipped when due.
  absl::btree_map<std::tuple<int64_t, uint32_t, uint64_t>, std::string> deadlines_;
  ChangeLog changes_;
  uint64_t revision_ = 0;
  // Charged is the bytes held, charged to the shared budget too while the store
  // lives (a copy charges its own).
  class Charged {
   public:
    explicit Charged(ByteBudget* budget) : budget_(budget) {}
    Charged(const Charged& o) : budget_(o.budget_), bytes_(o.bytes_) { Charge(bytes_); }
    Charged& operator=(const Charged& o) {
      if (this != &o) {
        Uncharge(bytes_);
        budget_ = o.budget_;
        bytes_ = o.bytes_;
        Charge(bytes_);
      }
      return *this;
    }
    ~Charged() { Uncharge(bytes_); }
    void Add(size_t n) {
      bytes_ += n;
      Charge(n);
    }
    void Remove(size_t n) {
      bytes_ -= n;
      Uncharge(n);
    }
    size_t bytes() const { return bytes_; }
    // Detach gives the bytes back to the shared budget, and charges it no more.
    void Detach() {
      Uncharge(bytes_);
      budget_ = nullptr;
    }

   private:
    void Charge(size_t n) {
      if (budget_ != nullptr) budget_->Add(n);
    }
    void Uncharge(size_t n) {
      if (budget_ != nullptr) budget_->Remove(n);
    }
    ByteBudget* budget_;
    size_t bytes_ = 0;
  };
  Charged bytes_;
  uint64_t expired_ = 0;
  StoreBounds bounds_;
};

template <typename F>
void Store::ForEachShown(absl::string_view filter, F f) const {
  // A filter's levels before its first wildcard are a prefix of every key it matches.
  const size_t wildcard = filter.find_first_of("+#");
  const absl::string_view prefix =
      wildcard == absl::string_view::npos ? filter : filter.substr(0, wildcard);
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && (*it)->key().substr(0, prefix.size()) == prefix; ++it) {
    const KeyEntry& e = **it;
    if (!topics::TopicMatches(filter, e.key())) continue;
    if (const StoredVersion* w = WinnerOf(e.versions)) {
      size_t shown = 0;
      for (const StoredVersion& v : e.versions) shown += IsShown(v) ? 1 : 0;
      f(e.key(), *w, shown - 1);
    }
  }
}

}  // namespace glue::model::internal

#endif  // GLUE_MODEL_STORE_H_
