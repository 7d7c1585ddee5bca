#include "glue/model/model.h"

#include <boost/asio/post.hpp>
#include <deque>
#include <filesystem>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/random/distributions.h"
#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "glue/base/clock.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/topics/topic_filter.h"
#include "model/model_file.h"
#include "model/model_message.h"
#include "model/store.h"

namespace glue::model {

absl::Status ValidateModelName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxModelNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("model name '", absl::CHexEscape(name),
                                                   "' must have 1 to ",
                                                   kMaxModelNameBytes, " bytes"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' &&
        c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat("model name '", absl::CHexEscape(name),
                       "' may hold only letters, digits, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

namespace internal {
namespace {

// How long a model message may take to be delivered before the transport gives up on
// it: an answer or a delta lost so is repaired by the next exchange of summaries.
constexpr absl::Duration kMessageExpiry = absl::Seconds(30);
// How many chunks of answers go out before the strand is given back to other work.
constexpr int kChunksPerTurn = 4;
// How soon a refused chunk is offered again, and a refused delta repaired.
constexpr absl::Duration kRetryDelay = absl::Milliseconds(10);
constexpr absl::Duration kRepairDelay = absl::Milliseconds(200);

int64_t Millis(absl::Time t) { return absl::ToUnixMillis(t); }

// WatchState is one watch: its filter and its queue of events, drained in order on
// the slow executor.
struct WatchState {
  std::string filter;
  WatchCallback callback;
  Mutex mu;
  std::deque<WatchEvent> queue ABSL_GUARDED_BY(mu);
  bool scheduled ABSL_GUARDED_BY(mu) = false;
  bool ended ABSL_GUARDED_BY(mu) = false;
};

// Replica is what this replica knows of a peer that opened the model.
struct Replica {
  std::string name;
  uint64_t incarnation = 0;  // 0: no hello yet
  bool present = false;      // hello heard, and not removed since
  uint64_t outstanding = 0;  // our summary request it has not answered
  uint64_t answered = 0;     // the latest request it answered
  uint64_t acked = 0;        // how far it holds our writes
};

// PendingWrite is a local write waiting for the next delta.
struct PendingWrite {
  std::string key;
  std::optional<Value> value;  // nullopt: a delete
  uint64_t counter = 0;
  HybridTime time;
  bool ephemeral = false;
  uint64_t time_to_live_ms = 0;
  absl::InlinedVector<Dot, 1> replaced;
};

// PendingAnswer is an answer to a peer's summary, going out in chunks.
struct PendingAnswer {
  Answer answer;
  std::vector<uint8_t> refused;  // a chunk the topics layer refused, to offer again
};

}  // namespace

struct ModelState final : discovery::PeerListener {
  ModelState(topics::Topics& t, std::string n, ModelOptions o, const Writer& self)
      : topics(&t),
        name(std::move(n)),
        options(o),
        clock(t.clock()),
        prefix(absl::StrCat(kModelTopicPrefix, name, "/")),
        all_topic(prefix + "all"),
        hello_topic(prefix + "hello"),
        own_topic(absl::StrCat(prefix, "to/", t.endpoint_id())),
        writer(self),
        store(self, t.endpoint_name(),
              {.max_keys = o.max_keys,
               .max_value_bytes = o.max_value_bytes,
               .max_bytes = o.max_bytes,
               .shared = o.shared_budget.get()},
              o.max_change_log),
        hybrid({.max_ahead = o.max_clock_ahead}) {}

  // discovery::PeerListener, on the topics' strand.
  void OnPeerAdded(const discovery::Peer& peer) override;
  void OnPeerRemoved(const discovery::Peer& peer,
                     discovery::RemovalReason reason) override;

  void OnMessage(const topics::Message& m);
  // Heard notes a message of run `incarnation` of peer `from`: present from then on
  // (until discovery removes it), its ephemeral values shown.
  void Heard(uint64_t from, const std::string& from_name, uint64_t incarnation)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnHello(uint64_t from, const std::string& from_name, const Hello& hello)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnSummary(uint64_t from, const Summary& summary) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnDelta(uint64_t from, const Delta& delta, absl::Span<const uint8_t> bytes)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnAck(uint64_t from, const Ack& ack) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  // WallTime is the physical time hybrid times follow.
  absl::Time WallTime() const {
    return options.wall_clock ? options.wall_clock() : clock.Now();
  }
  std::string PeerTopic(uint64_t peer) const { return absl::StrCat(prefix, "to/", peer); }
  absl::Status Send(const std::string& topic, const ModelMessage& message, size_t history)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status SendBytes(const std::string& topic, const std::vector<uint8_t>& bytes,
                         size_t history) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void SendSummary(uint64_t peer, bool reply_wanted) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void ScheduleFlush() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Queued sees a local write of about `bytes` into `pending`: sent with the next
  // flush, or at once by the writer's thread when a few messages' worth wait (so that
  // what waits stays bounded however fast the application writes).
  void Queued(size_t bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Flush();
  void FlushLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void ScheduleAnswers() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void PumpAnswers();
  void ArmExpiry(int64_t deadline_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnExpiryAlarm();
  void OnAntiEntropyAlarm();
  // Publish hands the store's changes to the change log and the watches.
  void Publish() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  Entry ToEntry(absl::string_view key, const StoredVersion& v) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  WatchEvent ToEvent(const Change& c) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Enqueue(const std::shared_ptr<WatchState>& watch, WatchEvent event)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Drain(const std::shared_ptr<WatchState>& watch);
  void CloseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The file: Load reads it into the store (at Open), Persist appends what changed
  // the state, Compact rewrites it from the state, SyncFile makes it durable.
  absl::Status Load() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Persist(absl::Span<const uint8_t> delta) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Compact() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void FileError(const absl::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void OnSyncAlarm();
  // RetractEphemeral removes, by writes of this replica, the ephemeral values of this
  // endpoint that `stale` picks.
  void RetractOwnEphemeral(bool this_run) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  topics::Topics* const topics;
  const std::string name;
  const ModelOptions options;
  Clock& clock;
  const std::string prefix;
  const std::string all_topic;
  const std::string hello_topic;
  const std::string own_topic;
  const Writer writer;
  std::weak_ptr<ModelState> self;
  std::unique_ptr<Alarm> expiry_alarm;
  std::unique_ptr<Alarm> anti_entropy_alarm;
  std::unique_ptr<Alarm> retry_alarm;
  std::unique_ptr<Alarm> sync_alarm;

  mutable Mutex mu;
  bool closed ABSL_GUARDED_BY(mu) = false;
  Store store ABSL_GUARDED_BY(mu);
  HybridClock hybrid ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<uint64_t, Replica> replicas ABSL_GUARDED_BY(mu);
  std::vector<PendingWrite> pending ABSL_GUARDED_BY(mu);
  size_t pending_bytes ABSL_GUARDED_BY(mu) = 0;
  bool flush_scheduled ABSL_GUARDED_BY(mu) = false;
  size_t ack_waiters ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<uint64_t, PendingAnswer> answers ABSL_GUARDED_BY(mu);
  bool answers_scheduled ABSL_GUARDED_BY(mu) = false;
  uint64_t next_request ABSL_GUARDED_BY(mu) = 1;
  int64_t expiry_armed ABSL_GUARDED_BY(mu) = 0;
  bool repair_wanted ABSL_GUARDED_BY(mu) = false;
  size_t anti_entropy_turn ABSL_GUARDED_BY(mu) = 0;
  absl::flat_hash_map<uint64_t, std::shared_ptr<WatchState>> watches ABSL_GUARDED_BY(mu);
  uint64_t next_watch ABSL_GUARDED_BY(mu) = 1;
  ModelCounters counters ABSL_GUARDED_BY(mu);
  std::unique_ptr<ModelFile> file ABSL_GUARDED_BY(mu);
  bool sync_armed ABSL_GUARDED_BY(mu) = false;
  LogLimiter file_error_log ABSL_GUARDED_BY(mu);
};

namespace {
using State = ModelState;
}  // namespace

absl::Status State::SendBytes(const std::string& topic, const std::vector<uint8_t>& bytes,
                              size_t history) {
  absl::Status s = topics->Publish(topic, kModelType, kMessageExpiry, bytes,
                                   {.reliable = true, .history_depth = history});
  if (absl::IsResourceExhausted(s)) ++counters.publish_refused;
  return s;
}

absl::Status State::Send(const std::string& topic, const ModelMessage& message,
                         size_t history) {
  return SendBytes(topic, EncodeModelMessage(message), history);
}

void State::SendSummary(uint64_t peer, bool reply_wanted) {
  const uint64_t request = next_request++;
  replicas[peer].outstanding = request;
  ++counters.summaries_sent;
  Send(PeerTopic(peer), store.MakeSummary(writer.incarnation, request, reply_wanted), 0)
      .IgnoreError();  // unanswered, it is sent again by anti-entropy
}

void State::OnPeerAdded(const discovery::Peer& peer) {
  MutexLock lock(&mu);
  if (closed) return;
  replicas[peer.id].name = peer.name;
  // A new hello, kept in history, reaches the peer when its interest does: it starts
  // an exchange of summaries, also when the peer had not removed us (the one we sent
  // before would be dropped as a duplicate). The peers present take it too, and
  // exchange summaries, which costs little when nothing differs.
  Send(hello_topic, Hello{writer.incarnation}, 1).IgnoreError();
}

void State::OnPeerRemoved(const discovery::Peer& peer, discovery::RemovalReason) {
  MutexLock lock(&mu);
  if (closed) return;
  auto it = replicas.find(peer.id);
  if (it == replicas.end()) return;
  it->second.present = false;
  it->second.outstanding = 0;
  answers.erase(peer.id);
  store.SetPresent(peer.id, 0, false);
  Publish();
  mu.NotifyAll();
}

void State::OnMessage(const topics::Message& m) {
  if (m.publisher_id == writer.endpoint_id) return;  // our own, delivered locally
  absl::StatusOr<ModelMessage> message = DecodeModelMessage(m.payload);
  MutexLock lock(&mu);
  if (closed) return;
  if (!message.ok()) {
    ++counters.malformed;
    return;
  }
  if (auto* hello = std::get_if<Hello>(&*message)) {
    OnHello(m.publisher_id, m.publisher_name, *hello);
  } else if (auto* summary = std::get_if<Summary>(&*message)) {
    Heard(m.publisher_id, m.publisher_name, summary->incarnation);
    OnSummary(m.publisher_id, *summary);
  } else if (auto* delta = std::get_if<Delta>(&*message)) {
    Heard(m.publisher_id, m.publisher_name, delta->incarnation);
    OnDelta(m.publisher_id, *delta, m.payload);
  } else if (auto* ack = std::get_if<Ack>(&*message)) {
    OnAck(m.publisher_id, *ack);
  }
  Publish();
  mu.NotifyAll();
}

void State::Heard(uint64_t from, const std::string& from_name, uint64_t incarnation) {
  Replica& r = replicas[from];
  r.name = from_name;
  if (r.incarnation != incarnation) {
    // Another run of the peer: what we knew of the last one's answers is void.
    r.incarnation = incarnation;
    r.outstanding = 0;
    r.acked = 0;
    r.present = false;
  }
  if (!r.present) {
    // Discovery holds it (its messages come only then) and it has the model open.
    r.present = true;
    store.SetPresent(from, incarnation, true);
  }
}

void State::OnHello(uint64_t from, const std::string& from_name, const Hello& hello) {
  if (hello.incarnation == 0) {
    // It closed the model: no longer a replica, until it opens it again.
    Replica& r = replicas[from];
    r.present = false;
    r.outstanding = 0;
    answers.erase(from);
    store.SetPresent(from, 0, false);
    return;
  }
  Heard(from, from_name, hello.incarnation);
  // A hello says its sender opened the model or (re)added a peer, perhaps us.
  if (replicas[from].outstanding == 0) SendSummary(from, /*reply_wanted=*/true);
}

void State::OnSummary(uint64_t from, const Summary& summary) {
  ++counters.summaries_received;
  Replica& r = replicas[from];
  answers[from] = PendingAnswer{.answer = store.StartAnswer(summary, summary.request)};
  ScheduleAnswers();
  if (summary.reply_wanted && r.outstanding == 0) SendSummary(from, false);
}

void State::OnDelta(uint64_t from, const Delta& delta, absl::Span<const uint8_t> bytes) {
  ++counters.deltas_received;
  for (const WireVersion& v : delta.versions) hybrid.Observe(v.time, WallTime());
  const Store::DeltaResult result = store.ApplyDelta(delta, Millis(clock.Now()));
  counters.writes_applied += result.applied;
  counters.writes_known += result.known;
  counters.refused_bounds += result.refused;
  counters.removals_learned += result.removed;
  if (result.earliest_deadline != 0) ArmExpiry(result.earliest_deadline);
  if (result.applied + result.removed > 0 || !delta.dots.empty()) Persist(bytes);
  Replica& r = replicas[from];
  if (delta.answer_to != 0 && delta.last) {
    r.answered = std::max(r.answered, delta.answer_to);
    if (r.outstanding == delta.answer_to) r.outstanding = 0;
  }
  // The sender learns how far this replica holds its writes when it asks, and at the
  // end of each answer (which may have brought them by another way).
  if (delta.ack_wanted || delta.last) {
    const Writer sender{from, delta.incarnation};
    Send(PeerTopic(from), Ack{delta.incarnation, store.seen().Contiguous(sender)}, 0)
        .IgnoreError();
  }
}

void State::OnAck(uint64_t from, const Ack& ack) {
  if (ack.incarnation != writer.incarnation) return;
  Replica& r = replicas[from];
  r.acked = std::max(r.acked, ack.counter);
}

void State::ScheduleFlush() {
  if (flush_scheduled) return;
  flush_scheduled = true;
  boost::asio::post(topics->executor(), [weak = self] {
    if (auto s = weak.lock()) s->Flush();
  });
}

void State::Queued(size_t bytes) {
  pending_bytes += bytes;
  if (pending_bytes >= 4 * options.message_bytes) {
    FlushLocked();
  } else {
    ScheduleFlush();
  }
}

void State::Flush() {
  MutexLock lock(&mu);
  FlushLocked();
}

void State::FlushLocked() {
  flush_scheduled = false;
  pending_bytes = 0;
  if (pending.empty()) return;
  size_t i = 0;
  bool refused = false;
  while (i < pending.size()) {
    Delta delta{.incarnation = writer.incarnation, .ack_wanted = ack_waiters > 0};
    absl::flat_hash_map<Writer, uint32_t> writer_index;
    auto index_of = [&](const Writer& w) {
      auto [it, added] = writer_index.try_emplace(w, delta.writers.size());
      if (added) {
        delta.writers.push_back({w, store.writer(store.WriterIndex(w, "")).name});
      }
      return it->second;
    };
    index_of(writer);
    size_t bytes = 0;
    for (; i < pending.size() && bytes < options.message_bytes; ++i) {
      const PendingWrite& p = pending[i];
      WireVersion v{.writer = 0,
                    .counter = p.counter,
                    .time = p.time,
                    .ephemeral = p.ephemeral,
                    .time_to_live_ms = p.time_to_live_ms,
                    .key = p.key};
      if (p.value) v.value = absl::string_view(*p.value);
      for (const Dot& d : p.replaced)
        v.replaced.emplace_back(index_of(d.writer), d.counter);
      bytes += VersionWireBytes(v);
      delta.versions.push_back(std::move(v));
    }
    ++counters.deltas_sent;
    const std::vector<uint8_t> encoded = EncodeModelMessage(delta);
    Persist(encoded);
    if (!SendBytes(all_topic, encoded, 0).ok()) refused = true;
  }
  pending.clear();
  if (refused && !repair_wanted) {
    // A peer's queue was full: it missed writes that an exchange of summaries soon
    // brings it.
    repair_wanted = true;
    anti_entropy_alarm->Set(clock.Now() + kRepairDelay);
  }
}

void State::ScheduleAnswers() {
  if (answers_scheduled) return;
  answers_scheduled = true;
  boost::asio::post(topics->executor(), [weak = self] {
    if (auto s = weak.lock()) s->PumpAnswers();
  });
}

void State::PumpAnswers() {
  MutexLock lock(&mu);
  answers_scheduled = false;
  if (closed) return;
  const int64_t now = Millis(clock.Now());
  bool blocked = false;
  for (auto it = answers.begin(); it != answers.end();) {
    PendingAnswer& a = it->second;
    const std::string topic = PeerTopic(it->first);
    bool done = false;
    for (int n = 0; n < kChunksPerTurn && !done; ++n) {
      if (a.refused.empty()) {
        Delta delta{.incarnation = writer.incarnation, .answer_to = a.answer.request};
        delta.last = store.NextAnswerChunk(a.answer, options.message_bytes, now, &delta);
        counters.answer_versions_sent += delta.versions.size();
        a.refused = EncodeModelMessage(delta);
        done = delta.last;
      }
      if (absl::IsResourceExhausted(SendBytes(topic, a.refused, 0))) {
        done = false;
        blocked = true;
        break;
      }
      ++counters.answers_sent;
      a.refused.clear();
    }
    if (done) {
      answers.erase(it++);
    } else {
      ++it;
    }
  }
  if (answers.empty()) return;
  if (blocked) {
    retry_alarm->Set(clock.Now() + kRetryDelay);
  } else {
    ScheduleAnswers();
  }
}

void State::ArmExpiry(int64_t deadline_ms) {
  if (expiry_armed != 0 && expiry_armed <= deadline_ms) return;
  expiry_armed = deadline_ms;
  expiry_alarm->Set(absl::FromUnixMillis(deadline_ms));
}

void State::OnExpiryAlarm() {
  MutexLock lock(&mu);
  if (closed) return;
  expiry_armed = 0;
  const int64_t next = store.Expire(Millis(clock.Now()));
  if (next != 0) ArmExpiry(next);
  Publish();
  mu.NotifyAll();
}

void State::OnAntiEntropyAlarm() {
  MutexLock lock(&mu);
  if (closed) return;
  std::vector<uint64_t> present;
  for (const auto& [id, r] : replicas) {
    if (r.present) present.push_back(id);
  }
  std::sort(present.begin(), present.end());
  if (repair_wanted) {
    repair_wanted = false;
    for (uint64_t id : present) SendSummary(id, true);
  } else if (!present.empty()) {
    SendSummary(present[anti_entropy_turn++ % present.size()], true);
  }
  anti_entropy_alarm->Set(clock.Now() + options.anti_entropy_interval);
}

Entry State::ToEntry(absl::string_view key, const StoredVersion& v) const {
  const WriterState& w = store.writer(v.writer);
  Entry e{.key = std::string(key),
          .value = v.value,
          .version = {.writer = w.writer, .counter = v.counter, .time = v.time},
          .writer_name = w.name,
          .ephemeral = v.ephemeral};
  if (v.deadline_ms != 0) {
    e.time_to_live =
        std::max(absl::ZeroDuration(), absl::FromUnixMillis(v.deadline_ms) - clock.Now());
  }
  return e;
}

WatchEvent State::ToEvent(const Change& c) const {
  WatchEvent e{.kind = c.kind, .key = c.key, .revision = c.revision};
  if (c.before) e.old_entry = ToEntry(c.key, *c.before);
  if (c.after) e.new_entry = ToEntry(c.key, *c.after);
  return e;
}

void State::Publish() {
  const internal::ChangeLog& log = store.changes();
  if (!watches.empty()) {
    for (size_t i = log.IndexAfter(log.published()); i < log.size(); ++i) {
      const Change& c = log[i];
      for (const auto& [id, watch] : watches) {
        if (topics::TopicMatches(watch->filter, c.key)) Enqueue(watch, ToEvent(c));
      }
    }
  }
  store.Published();
}

void State::Enqueue(const std::shared_ptr<WatchState>& watch, WatchEvent event) {
  MutexLock lock(&watch->mu);
  if (watch->ended) return;
  if (watch->queue.size() >= options.max_watch_backlog) {
    watch->ended = true;
    ++counters.watch_overflows;
    watch->queue.push_back(
        WatchEvent{.kind = WatchEvent::Kind::kOverflow, .revision = store.revision()});
  } else {
    watch->queue.push_back(std::move(event));
  }
  if (!watch->scheduled) {
    watch->scheduled = true;
    boost::asio::post(topics->slow_executor(), [weak = self, watch] {
      if (auto s = weak.lock()) s->Drain(watch);
    });
  }
}

void State::Drain(const std::shared_ptr<WatchState>& watch) {
  std::deque<WatchEvent> events;
  {
    MutexLock lock(&watch->mu);
    events.swap(watch->queue);
  }
  for (;;) {
    for (const WatchEvent& e : events) watch->callback(e);
    events.clear();
    MutexLock lock(&watch->mu);
    if (watch->queue.empty()) {
      watch->scheduled = false;
      return;
    }
    events.swap(watch->queue);
  }
}

void State::CloseLocked() {
  closed = true;
  // What it holds counts no more against the endpoint's bound, though handlers still
  // queued may keep the state alive a while.
  store.LeaveSharedBudget();
  sync_alarm->Cancel();
  file.reset();  // synced, closed and unlocked
  expiry_alarm->Cancel();
  anti_entropy_alarm->Cancel();
  retry_alarm->Cancel();
  answers.clear();
  watches.clear();
  mu.NotifyAll();
}

absl::Status State::Load() {
  const std::string path =
      (std::filesystem::path(options.directory) / (name + ".model")).string();
  const int64_t now = Millis(clock.Now());
  ModelFile::LoadReport report;
  GLUE_ASSIGN_OR_RETURN(
      file, ModelFile::Open(
                path,
                [&](absl::Span<const uint8_t> payload, int64_t written_at)
                    ABSL_NO_THREAD_SAFETY_ANALYSIS {
                      absl::StatusOr<ModelMessage> m = DecodeModelMessage(payload);
                      Delta* delta = m.ok() ? std::get_if<Delta>(&*m) : nullptr;
                      if (delta == nullptr) return;  // checked, so written by a bug
                      for (const WireVersion& v : delta->versions) {
                        hybrid.Observe(v.time, WallTime());
                      }
                      // A time to live counts from when the record was written.
                      const Store::DeltaResult result =
                          store.ApplyDelta(*delta, std::min(written_at, now));
                      if (result.earliest_deadline != 0)
                        ArmExpiry(result.earliest_deadline);
                      ++counters.file_records_loaded;
                    },
                &report));
  store.Expire(now);
  store.ForgetChanges();  // what was there before Open is no change
  if (!report.problem.empty()) {
    ++counters.file_damaged;
    GLUE_LOG(
        kWarning,
        "model %s: %s: %s; the state read before it (%d records) is kept, peers give "
        "the rest, and the file is rewritten",
        name, path, report.problem, report.records);
    Compact();
  } else if (report.records > 0) {
    GLUE_LOG(kInfo, "model %s: %d keys from %s (%d records, %d bytes)", name,
             store.keys(), path, report.records, report.bytes);
  }
  // The ephemeral values of this endpoint's earlier runs went with them.
  RetractOwnEphemeral(/*this_run=*/false);
  return absl::OkStatus();
}

void State::RetractOwnEphemeral(bool this_run) {
  auto picked = [&](const StoredVersion& v) {
    const Writer& w = store.writer(v.writer).writer;
    return v.ephemeral && w.endpoint_id == writer.endpoint_id &&
           (w.incarnation == writer.incarnation) == this_run;
  };
  for (const std::string& key : store.Keys(picked)) {
    const HybridTime time = hybrid.Tick(WallTime());
    if (auto write = store.Retract(key, picked)) {
      pending.push_back({.key = key,
                         .counter = write->counter,
                         .time = time,
                         .replaced = std::move(write->replaced)});
    }
  }
}

void State::Persist(absl::Span<const uint8_t> delta) {
  if (file == nullptr) return;
  if (absl::Status s = file->Append(delta, Millis(clock.Now())); !s.ok()) {
    FileError(s);
    return;
  }
  ++counters.file_records_appended;
  // Rewritten when what it holds has grown to twice what the state needs.
  if (file->bytes() > 2 * file->rewritten_bytes() + (size_t{1} << 20)) Compact();
  if (!sync_armed) {
    sync_armed = true;
    sync_alarm->Set(clock.Now() + options.sync_interval);
  }
}

void State::Compact() {
  if (file == nullptr) return;
  const int64_t now = Millis(clock.Now());
  absl::Status s = file->Rewrite([&](const auto& emit) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Answer all = store.StartAnswer(Summary{}, 0);
    for (bool last = false; !last;) {
      Delta delta{.incarnation = writer.incarnation};
      last = store.NextAnswerChunk(all, size_t{1} << 20, now, &delta);
      if (!delta.versions.empty() || !delta.dots.empty()) {
        emit(EncodeModelMessage(delta), now);
      }
    }
  });
  if (!s.ok()) {
    FileError(s);
    return;
  }
  ++counters.file_rewrites;
}

void State::FileError(const absl::Status& status) {
  ++counters.file_errors;
  if (const uint64_t n = file_error_log.Admit(clock.Now())) {
    GLUE_LOG(
        kWarning,
        "model %s: %d error(s) keeping its file, e.g. %s; the model goes on in memory",
        name, n, status.ToString());
  }
}

void State::OnSyncAlarm() {
  MutexLock lock(&mu);
  sync_armed = false;
  if (closed || file == nullptr) return;
  if (absl::Status s = file->Sync(); !s.ok()) FileError(s);
}

}  // namespace internal

using internal::ModelState;

absl::StatusOr<std::unique_ptr<Model>> Model::Open(topics::Topics& topics,
                                                   absl::string_view name,
                                                   ModelOptions options) {
  GLUE_RETURN_IF_ERROR(ValidateModelName(name));
  if (options.max_keys == 0 || options.max_value_bytes == 0 || options.max_bytes == 0 ||
      options.max_watch_backlog == 0 || options.message_bytes < 1024 ||
      options.anti_entropy_interval <= absl::ZeroDuration() ||
      options.max_clock_ahead < absl::ZeroDuration() ||
      options.sync_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "model options: bounds and max_watch_backlog must be above 0, message_bytes at "
        "least 1024, anti_entropy_interval and sync_interval positive, max_clock_ahead "
        "not negative");
  }
  if (options.max_value_bytes > Value::kMaxBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("model options: max_value_bytes ", options.max_value_bytes,
                     " is larger than a value can be (", Value::kMaxBytes, ")"));
  }
  absl::BitGen random;
  const Writer self{topics.endpoint_id(),
                    absl::Uniform(absl::IntervalClosed, random, uint64_t{1},
                                  std::numeric_limits<uint64_t>::max())};
  auto state = std::make_shared<ModelState>(topics, std::string(name), options, self);
  state->self = state;
  Clock& clock = topics.clock();
  std::weak_ptr<ModelState> weak = state;
  state->expiry_alarm = clock.CreateAlarm(topics.executor(), [weak] {
    if (auto s = weak.lock()) s->OnExpiryAlarm();
  });
  state->anti_entropy_alarm = clock.CreateAlarm(topics.executor(), [weak] {
    if (auto s = weak.lock()) s->OnAntiEntropyAlarm();
  });
  state->retry_alarm = clock.CreateAlarm(topics.executor(), [weak] {
    if (auto s = weak.lock()) s->PumpAnswers();
  });
  state->sync_alarm = clock.CreateAlarm(topics.executor(), [weak] {
    if (auto s = weak.lock()) s->OnSyncAlarm();
  });
  if (!options.directory.empty()) {
    MutexLock lock(&state->mu);
    GLUE_RETURN_IF_ERROR(state->Load());
  }
  auto on_message = [weak](const topics::Message& m) {
    if (auto s = weak.lock()) s->OnMessage(m);
  };
  const std::string topics_of[] = {state->all_topic, state->hello_topic,
                                   state->own_topic};
  for (size_t i = 0; i < 3; ++i) {
    if (absl::Status s = topics.Subscribe(topics_of[i], internal::kModelType, on_message);
        !s.ok()) {
      for (size_t j = 0; j < i; ++j) topics.Unsubscribe(topics_of[j]).IgnoreError();
      if (absl::IsAlreadyExists(s)) {
        return absl::AlreadyExistsError(
            absl::StrCat("model '", name, "' is open on this endpoint already"));
      }
      return s;
    }
  }
  topics.AddPeerListener(state);
  {
    MutexLock lock(&state->mu);
    state->Send(state->hello_topic, internal::Hello{self.incarnation}, 1).IgnoreError();
    state->ScheduleFlush();  // the retractions Load made, if any
    state->anti_entropy_alarm->Set(clock.Now() + options.anti_entropy_interval);
  }
  return std::unique_ptr<Model>(new Model(std::move(state)));
}

Model::Model(std::shared_ptr<internal::ModelState> state) : state_(std::move(state)) {}

Model::~Model() { Close(); }

namespace internal {
namespace {

void CloseModel(ModelState& s) {
  {
    MutexLock lock(&s.mu);
    if (s.closed) return;
    // This replica's ephemeral values go with it: retracted, so that every replica
    // drops them now rather than when discovery removes this endpoint.
    s.RetractOwnEphemeral(/*this_run=*/true);
    s.FlushLocked();
    // Last, after every delta (a message of this run after it would make the peers
    // count it again); kept in history in place of the last hello, which a late joiner
    // then takes as nothing.
    s.Send(s.hello_topic, internal::Hello{0}, 1).IgnoreError();
    s.Publish();
    s.CloseLocked();
  }
  s.topics->RemovePeerListener(&s);
  for (const std::string& topic : {s.all_topic, s.hello_topic, s.own_topic}) {
    s.topics->Unsubscribe(topic).IgnoreError();
  }
}

// AwaitReplicas waits, with s.mu held and released while waiting, until `wanted`
// other replicas present hold our write numbered `counter`, or the model closes, or
// the deadline passes. `what` and `key` name the write in the errors.
absl::Status AwaitReplicas(ModelState& s, absl::string_view what, absl::string_view key,
                           uint64_t counter, size_t wanted, absl::Time deadline)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  auto held = [&s, counter]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    size_t n = 0;
    for (const auto& [id, r] : s.replicas) n += r.present && r.acked >= counter ? 1 : 0;
    return n;
  };
  const bool ok = s.clock.AwaitUntil(
      &s.mu,
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.closed || held() >= wanted; },
      deadline);
  --s.ack_waiters;
  if (s.closed) {
    return absl::FailedPreconditionError(absl::StrCat(
        "model closed while the ", what, " of '", key, "' waited for replicas"));
  }
  if (ok) return absl::OkStatus();
  return absl::DeadlineExceededError(
      absl::StrCat("the ", what, " of '", key, "' is held by ", held(),
                   " other replica(s) of ", wanted, " wanted", ", at the deadline"));
}

ModelCounters CountersOf(ModelState& s) {
  MutexLock lock(&s.mu);
  ModelCounters c = s.counters;
  c.keys = s.store.keys();
  c.bytes = s.store.bytes();
  c.writers = s.store.writers();
  c.expired = s.store.expired();
  c.clock = s.hybrid.counters();
  return c;
}

}  // namespace
}  // namespace internal

void Model::Close() { internal::CloseModel(*state_); }

bool Model::Handle::Close() const {
  std::shared_ptr<internal::ModelState> s = state_.lock();
  if (!s) return false;
  internal::CloseModel(*s);
  return true;
}

std::optional<ModelCounters> Model::Handle::Counters() const {
  std::shared_ptr<internal::ModelState> s = state_.lock();
  if (!s) return std::nullopt;
  return internal::CountersOf(*s);
}

std::string Model::Handle::name() const {
  std::shared_ptr<internal::ModelState> s = state_.lock();
  return s ? s->name : std::string();
}

const std::string& Model::name() const { return state_->name; }
Writer Model::writer() const { return state_->writer; }

absl::Status Model::Put(absl::string_view key, absl::string_view value,
                        const PutOptions& options) {
  GLUE_RETURN_IF_ERROR(topics::ValidateTopicName(key));
  if (options.time_to_live <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "time_to_live ", absl::FormatDuration(options.time_to_live), " is not positive"));
  }
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.closed) return absl::FailedPreconditionError("model closed");
  const absl::Time now = s.clock.Now();
  const HybridTime time = s.hybrid.Tick(s.WallTime());
  uint64_t ttl_ms = 0;
  int64_t deadline = 0;
  if (options.time_to_live != absl::InfiniteDuration()) {
    ttl_ms = static_cast<uint64_t>(
        std::clamp<int64_t>(absl::ToInt64Milliseconds(options.time_to_live), 1,
                            static_cast<int64_t>(internal::kMaxTimeToLiveMs)));
    deadline = internal::Millis(now) + static_cast<int64_t>(ttl_ms);
  }
  Value shared(value);
  GLUE_ASSIGN_OR_RETURN(internal::LocalWrite write,
                        s.store.Put(key, shared, time, options.ephemeral, deadline));
  ++s.counters.puts;
  s.pending.push_back({.key = std::string(key),
                       .value = std::move(shared),
                       .counter = write.counter,
                       .time = time,
                       .ephemeral = options.ephemeral,
                       .time_to_live_ms = ttl_ms,
                       .replaced = std::move(write.replaced)});
  if (deadline != 0) s.ArmExpiry(deadline);
  if (options.wait_for_replicas > 0) ++s.ack_waiters;
  s.Publish();
  s.Queued(key.size() + value.size());
  if (options.wait_for_replicas == 0) return absl::OkStatus();
  return internal::AwaitReplicas(s, "write", key, write.counter,
                                 options.wait_for_replicas, options.deadline);
}

absl::Status Model::Delete(absl::string_view key, const DeleteOptions& options) {
  GLUE_RETURN_IF_ERROR(topics::ValidateTopicName(key));
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.closed) return absl::FailedPreconditionError("model closed");
  const HybridTime time = s.hybrid.Tick(s.WallTime());
  std::optional<internal::LocalWrite> write = s.store.Delete(key);
  if (!write) return absl::NotFoundError(absl::StrCat("no key '", key, "'"));
  ++s.counters.deletes;
  const uint64_t counter = write->counter;
  s.pending.push_back({.key = std::string(key),
                       .counter = counter,
                       .time = time,
                       .replaced = std::move(write->replaced)});
  if (options.wait_for_replicas > 0) ++s.ack_waiters;
  s.Publish();
  s.Queued(key.size());
  if (options.wait_for_replicas == 0) return absl::OkStatus();
  return internal::AwaitReplicas(s, "delete", key, counter, options.wait_for_replicas,
                                 options.deadline);
}

absl::StatusOr<Entry> Model::Get(absl::string_view key) const {
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  const internal::StoredVersion* v = s.store.Winner(key);
  if (v == nullptr) return absl::NotFoundError(absl::StrCat("no key '", key, "'"));
  Entry e = s.ToEntry(std::string(key), *v);
  e.siblings = s.store.Shown(key).size() - 1;
  return e;
}

std::vector<Entry> Model::Siblings(absl::string_view key) const {
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  std::vector<Entry> out;
  const std::vector<internal::StoredVersion> shown = s.store.Shown(key);
  for (const internal::StoredVersion& v : shown) {
    out.push_back(s.ToEntry(std::string(key), v));
    out.back().siblings = shown.size() - 1;
  }
  return out;
}

absl::StatusOr<ModelSnapshot> Model::Snapshot(absl::string_view filter) const {
  GLUE_RETURN_IF_ERROR(topics::ValidateTopicFilter(filter));
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  ModelSnapshot snapshot{.revision = s.store.revision()};
  s.store.ForEachShown(filter,
                       [&](absl::string_view key, const internal::StoredVersion& v,
                           size_t siblings) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                         snapshot.entries.push_back(s.ToEntry(key, v));
                         snapshot.entries.back().siblings = siblings;
                       });
  return snapshot;
}

absl::StatusOr<uint64_t> Model::Watch(absl::string_view filter, WatchCallback callback,
                                      uint64_t since) {
  GLUE_RETURN_IF_ERROR(topics::ValidateTopicFilter(filter));
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.closed) return absl::FailedPreconditionError("model closed");
  const uint64_t revision = s.store.revision();
  if (since != kFromNow && since > revision) {
    return absl::InvalidArgumentError(
        absl::StrCat("since ", since, " is beyond the model's revision ", revision));
  }
  auto watch = std::make_shared<internal::WatchState>();
  watch->filter = std::string(filter);
  watch->callback = std::move(callback);
  if (since != kFromNow && since < revision) {
    // The changes after `since` come from the log, which must reach back to it.
    const internal::ChangeLog& log = s.store.changes();
    if (log.empty() || log[0].revision > since + 1) {
      return absl::OutOfRangeError(absl::StrCat(
          "changes after revision ", since, " are no longer remembered (max_change_log ",
          s.options.max_change_log, "): take a new snapshot"));
    }
    for (size_t i = log.IndexAfter(since); i < log.size(); ++i) {
      if (topics::TopicMatches(watch->filter, log[i].key))
        s.Enqueue(watch, s.ToEvent(log[i]));
    }
  }
  const uint64_t id = s.next_watch++;
  s.watches.emplace(id, std::move(watch));
  return id;
}

void Model::Unwatch(uint64_t watch) {
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  auto it = s.watches.find(watch);
  if (it == s.watches.end()) return;
  {
    MutexLock wl(&it->second->mu);
    it->second->ended = true;
  }
  s.watches.erase(it);
}

absl::Status Model::Sync(absl::Time deadline) {
  ModelState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.closed) return absl::FailedPreconditionError("model closed");
  s.FlushLocked();
  absl::flat_hash_map<uint64_t, uint64_t> asked;
  for (auto& [id, r] : s.replicas) {
    if (!r.present) continue;
    s.SendSummary(id, /*reply_wanted=*/true);
    asked[id] = r.outstanding;
  }
  auto waiting = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    std::vector<std::string> names;
    for (const auto& [id, request] : asked) {
      auto it = s.replicas.find(id);
      if (it != s.replicas.end() && it->second.present && it->second.answered < request) {
        names.push_back(absl::StrCat(it->second.name, " (id ", id, ")"));
      }
    }
    return names;
  };
  s.clock.AwaitUntil(
      &s.mu,
      [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return s.closed || waiting().empty(); },
      deadline);
  if (s.closed) return absl::FailedPreconditionError("model closed");
  const std::vector<std::string> left = waiting();
  if (left.empty()) return absl::OkStatus();
  return absl::DeadlineExceededError(absl::StrCat("model '", s.name,
                                                  "': no answer at the deadline from ",
                                                  absl::StrJoin(left, ", ")));
}

size_t Model::replicas() const {
  MutexLock lock(&state_->mu);
  size_t n = 0;
  for (const auto& [id, r] : state_->replicas) n += r.present ? 1 : 0;
  return n;
}

uint64_t Model::revision() const {
  MutexLock lock(&state_->mu);
  return state_->store.revision();
}

ModelCounters Model::counters() const { return internal::CountersOf(*state_); }

}  // namespace glue::model
