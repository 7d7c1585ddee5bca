// Model: a named map of keys to values replicated among the endpoints that open it,
// built from deltas sent over topics. Every replica converges on the same entries
// after any partition; a write made after its writer had seen another write of the
// key wins over it whatever the clocks say; writes made concurrently are resolved to
// the same winner everywhere, and stay readable as siblings. No broker, no leader, no
// synchronized clocks. The model layer, over the topics layer.
//
//   auto model = Model::Open(topics, "config", ModelOptions());
//   (*model)->Put("app/web/port", "8080");
//   absl::StatusOr<Entry> entry = (*model)->Get("app/web/port");
//   (*model)->Watch("app/#", [](const WatchEvent& e) { ... });  // from now
//
// What it promises (README "The model"): eventual convergence; a writer's own writes
// applied everywhere in the order it made them; causally later writes win; no
// compare-and-set, lock or leader.
#ifndef GLUE_MODEL_MODEL_H_
#define GLUE_MODEL_MODEL_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/model/causal_context.h"
#include "glue/model/hybrid_clock.h"
#include "glue/model/value.h"
#include "glue/topics/topics.h"

namespace glue::model {

namespace internal {
struct ModelState;
}  // namespace internal
struct ModelCounters;

// The model's own topics lie under this prefix: `$` topics, which an application's
// filters starting with `#` or `+` never match (topic_filter.h).
inline constexpr char kModelTopicPrefix[] = "$glue/model/";

// A model's name is 1 to kMaxModelNameBytes letters, digits, '-', '_' and '.'.
inline constexpr size_t kMaxModelNameBytes = 64;
absl::Status ValidateModelName(absl::string_view name);

// Version says which write an entry holds: its writer (the endpoint and its run), the
// writer's counter for it (1, 2, ... in the run), and the writer's hybrid time when it
// wrote.
struct Version {
  Writer writer;
  uint64_t counter = 0;
  HybridTime time;

  friend bool operator==(const Version&, const Version&) = default;
};

// Entry is the value a replica holds for a key, and where it came from.
struct Entry {
  std::string key;
  Value value;
  Version version;
  std::string writer_name;  // the writing endpoint's name
  bool ephemeral = false;   // bound to its writer's liveness
  // Time left to live, from when it was read; absl::InfiniteDuration() when none.
  absl::Duration time_to_live = absl::InfiniteDuration();
  // How many values written concurrently the key holds besides this one, the winner
  // (Siblings lists them all).
  size_t siblings = 0;
};

// ModelSnapshot is the entries of a filter, and the model's revision they reflect: a
// Watch since that revision misses nothing after them and repeats nothing.
struct ModelSnapshot {
  std::vector<Entry> entries;  // ordered by key
  uint64_t revision = 0;
};

// WatchEvent is one change of the value a replica shows for a key.
struct WatchEvent {
  enum class Kind {
    kPut,     // a value, new or replacing one (a peer's write appearing included)
    kDelete,  // deleted by a write
    kExpire,  // gone without a write: its time to live ran out, or its ephemeral
              // writer is no longer held by discovery
    // The watch fell behind by more than ModelOptions::max_watch_backlog events: it
    // ended, and this is its last event. Take a new snapshot and watch again.
    kOverflow,
  };
  Kind kind = Kind::kPut;
  std::string key;
  std::optional<Entry> old_entry;  // what was shown before, if anything
  std::optional<Entry> new_entry;  // what is shown now (kPut)
  uint64_t revision = 0;           // the model's revision after the change
};

using WatchCallback = std::function<void(const WatchEvent&)>;

// ByteBudget bounds the bytes of keys and values that several models hold together:
// the Endpoint's over the models opened on it. Thread-safe.
class ByteBudget {
 public:
  explicit ByteBudget(size_t max) : max_(max) {}
  bool Fits(size_t n) const {
    const size_t used = used_.load(std::memory_order_relaxed);
    return used <= max_ && n <= max_ - used;
  }
  void Add(size_t n) { used_.fetch_add(n, std::memory_order_relaxed); }
  void Remove(size_t n) { used_.fetch_sub(n, std::memory_order_relaxed); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }
  size_t max() const { return max_; }

 private:
  std::atomic<size_t> used_{0};
  const size_t max_;
};

// PutOptions tune one Put.
struct PutOptions {
  // Bound the key to this endpoint's liveness: each replica shows it while its
  // discovery holds this endpoint, and hides it (an expiry) when discovery removes
  // the endpoint, showing it again if the endpoint comes back in the same run.
  bool ephemeral = false;
  // How long the value lives from the write; absl::InfiniteDuration(): forever.
  absl::Duration time_to_live = absl::InfiniteDuration();
  // Wait until at least this many other replicas hold the write, or fail with
  // kDeadlineExceeded at `deadline`, saying how many did (the write stands either
  // way). 0: return at once.
  size_t wait_for_replicas = 0;
  absl::Time deadline = absl::InfiniteFuture();
};

// DeleteOptions tune one Delete.
struct DeleteOptions {
  // As PutOptions: wait until at least this many other replicas hold the delete, or
  // fail with kDeadlineExceeded at `deadline` (the delete stands either way).
  size_t wait_for_replicas = 0;
  absl::Time deadline = absl::InfiniteFuture();
};

// ModelOptions bound a model and set its pace.
struct ModelOptions {
  size_t max_keys = 1'000'000;
  size_t max_value_bytes = size_t{1} << 20;
  // Bytes of keys and values held, siblings and hidden values included.
  size_t max_bytes = size_t{256} << 20;
  // A bound this model shares with others (the Endpoint's, max_model_bytes); null:
  // none. At either bound, a Put fails with kResourceExhausted naming it, and a peer's
  // value is not taken (counted, refused_bounds; its dot not marked seen, so that it
  // comes again once there is room).
  std::shared_ptr<ByteBudget> shared_budget;
  // Events queued for one watch and not yet delivered: beyond it the watch ends with
  // a kOverflow event.
  size_t max_watch_backlog = 65536;
  // Changes remembered for Watch's `since`: a watch since an older revision fails
  // with kOutOfRange.
  size_t max_change_log = 4096;
  // How often a replica compares summaries with one peer when nothing else made it:
  // the repair of anything lost that nothing else repairs.
  absl::Duration anti_entropy_interval = absl::Seconds(5);
  // How far ahead of this host's clock a peer's time may take ours (HybridClock).
  absl::Duration max_clock_ahead = absl::Seconds(10);
  // The host's clock, which the times of writes follow: by default the topics' clock.
  // Only the times of writes read it (deadlines keep to the topics' clock): tests give
  // replicas clocks minutes apart.
  std::function<absl::Time()> wall_clock;
  // Deltas and answers are sent in messages of about this many bytes.
  size_t message_bytes = 60 * 1024;
  // Where the replica keeps its state across restarts: the file DIRECTORY/NAME.model,
  // locked while the model is open (one process at a time). Empty: in memory only.
  // The Endpoint's default is GLUE_MODEL_DIRECTORY. What changed the state is
  // appended to the file as its delta is sent or taken (so a process that crashes
  // loses nothing written before), and synced to the disk within sync_interval (so a
  // machine that crashes loses at most that much; peers give it back if they have it).
  std::string directory;
  absl::Duration sync_interval = absl::Seconds(1);
};

// ModelCounters count what one model did since it was opened.
struct ModelCounters {
  uint64_t puts = 0;         // local Puts that succeeded
  uint64_t deletes = 0;      // local Deletes that removed something
  uint64_t deltas_sent = 0;  // delta messages published (batches of writes)
  uint64_t deltas_received = 0;
  uint64_t writes_applied = 0;  // peers' writes (puts and deletes) taken
  uint64_t writes_known = 0;    // ... received again, or already superseded: ignored
  uint64_t summaries_sent = 0;
  uint64_t summaries_received = 0;
  uint64_t answers_sent = 0;  // messages of what a peer lacked, sent
  uint64_t answer_versions_sent = 0;
  uint64_t removals_learned = 0;  // values learned dead from a peer's summary answer
  uint64_t expired = 0;           // values whose time to live ran out here
  uint64_t malformed = 0;         // model messages that did not decode
  uint64_t refused_bounds = 0;    // peers' values not taken at a bound
  uint64_t publish_refused = 0;   // sends the topics layer refused (repaired later)
  uint64_t watch_overflows = 0;
  // The file (ModelOptions::directory): records read at Open, records appended, whole
  // rewrites, and errors: a truncated or corrupt file found at Open (what came before
  // the damage is kept, the rest comes from peers, and the file is rewritten), or a
  // write that failed (the model goes on in memory; logged once per period).
  uint64_t file_records_loaded = 0;
  uint64_t file_records_appended = 0;
  uint64_t file_rewrites = 0;
  uint64_t file_damaged = 0;
  uint64_t file_errors = 0;
  uint64_t keys = 0;   // now
  uint64_t bytes = 0;  // now
  uint64_t writers = 0;
  HybridClockCounters clock;
};

// Model is thread-safe. Watch callbacks run on the topics' slow executor, one watch's
// in order and never concurrently.
class Model {
 public:
  // Open opens the model `name` over `topics`, which must be started and outlive it.
  // With options.directory, the state kept there is back before Open returns. Errors:
  // kInvalidArgument for a bad name or options; kAlreadyExists when this endpoint has
  // it open already; those of topics::Topics::Subscribe; kFailedPrecondition when
  // another process has the model's file open, kDataLoss when the file is not a model
  // file, and the system's errors opening it (each naming the file).
  static absl::StatusOr<std::unique_ptr<Model>> Open(topics::Topics& topics,
                                                     absl::string_view name,
                                                     ModelOptions options = {});

  ~Model();  // Closes.
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // Close removes the ephemeral values this replica wrote in this run, sends what is
  // pending, tells the peers it left (they stop counting it as a replica) and stops
  // taking part; the state stays readable. Idempotent. Not from a watch callback.
  void Close();

  const std::string& name() const;
  Writer writer() const;

  // Put writes `value` at `key` (a topic name: topic_filter.h). Errors:
  // kInvalidArgument for a bad key or options; kResourceExhausted at max_keys,
  // max_value_bytes, max_bytes or the shared budget (named); kDeadlineExceeded (see
  // PutOptions); kFailedPrecondition after Close (also while waiting for replicas).
  // With wait_for_replicas, it blocks the calling thread: not from a watch callback
  // or anything else on the endpoint's threads, whose work the wait depends on.
  absl::Status Put(absl::string_view key, absl::string_view value,
                   const PutOptions& options = {});

  // The typed form, for Protocol Buffers messages: the value is the message's
  // serialization. GetMessage fails with kDataLoss, naming the key and the type, when
  // the value does not parse as T.
  template <typename T>
  absl::Status PutMessage(absl::string_view key, const T& message,
                          const PutOptions& options = {}) {
    std::string bytes;
    if (!message.SerializeToString(&bytes)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a ", message.GetTypeName(), " for '", key, "' does not serialize"));
    }
    return Put(key, bytes, options);
  }
  template <typename T>
  absl::StatusOr<T> GetMessage(absl::string_view key) const {
    absl::StatusOr<Entry> entry = Get(key);
    if (!entry.ok()) return entry.status();
    T message;
    if (entry->value.size() > static_cast<size_t>(std::numeric_limits<int>::max()) ||
        !message.ParseFromArray(entry->value.data(),
                                static_cast<int>(entry->value.size()))) {
      return absl::DataLossError(
          absl::StrCat("the value of '", key, "' is not a ", message.GetTypeName()));
    }
    return message;
  }

  // Delete removes `key` with every value it holds, shown or hidden (an ephemeral
  // value whose writer is away). kNotFound when it holds none; with
  // wait_for_replicas, the errors of Put's wait and its blocking.
  absl::Status Delete(absl::string_view key, const DeleteOptions& options = {});

  // Get returns the value shown for `key`; kNotFound when none.
  absl::StatusOr<Entry> Get(absl::string_view key) const;

  // Siblings returns every value shown for `key`, the winner first.
  std::vector<Entry> Siblings(absl::string_view key) const;

  // Snapshot returns the entries whose key `filter` matches. kInvalidArgument for a
  // bad filter.
  absl::StatusOr<ModelSnapshot> Snapshot(absl::string_view filter) const;

  // Watch calls `callback` with every change of a key that `filter` matches after
  // revision `since` (a Snapshot's, say; kFromNow: from now on), in order, once each.
  // A change is one of the value shown: a sibling that comes or goes while the same
  // value wins makes none. Returns the watch's id for Unwatch. Errors:
  // kInvalidArgument for a bad filter or a `since` beyond revision(); kOutOfRange when
  // changes after `since` are no longer remembered (max_change_log);
  // kFailedPrecondition after Close.
  static constexpr uint64_t kFromNow = ~uint64_t{0};
  absl::StatusOr<uint64_t> Watch(absl::string_view filter, WatchCallback callback,
                                 uint64_t since = kFromNow);
  // Unwatch ends a watch; its callback may still run for events queued before.
  void Unwatch(uint64_t watch);

  // Sync waits until this replica has sent its summary to every peer present that
  // opened the model and received what it lacked. kDeadlineExceeded at `deadline`,
  // naming the peers that did not answer; kFailedPrecondition after Close. It blocks
  // the calling thread: not from a watch callback or anything else on the endpoint's
  // threads.
  absl::Status Sync(absl::Time deadline);

  // Handle lets the Endpoint close the models opened on it when it stops, and report
  // their counters, without owning them.
  class Handle {
   public:
    explicit Handle(std::weak_ptr<internal::ModelState> state)
        : state_(std::move(state)) {}
    // Close closes the model, if it is still there. Returns false when it was gone.
    bool Close() const;
    // Counters are the model's, while it is there.
    std::optional<ModelCounters> Counters() const;
    std::string name() const;

   private:
    std::weak_ptr<internal::ModelState> state_;
  };
  Handle handle() const { return Handle(state_); }

  // replicas is how many peers present (held by discovery) opened the model: those
  // Sync and Put's wait_for_replicas count.
  size_t replicas() const;

  // revision counts the changes shown here so far.
  uint64_t revision() const;
  ModelCounters counters() const;

 private:
  explicit Model(std::shared_ptr<internal::ModelState> state);
  std::shared_ptr<internal::ModelState> state_;
};

}  // namespace glue::model

#endif  // GLUE_MODEL_MODEL_H_
