#include "model/store.h"

#include <algorithm>
#include <cstring>
#include <new>
#include <utility>

#include "absl/strings/str_cat.h"

namespace glue::model::internal {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

// Clip returns the parts of `runs` within first..last.
std::vector<Run> Clip(const std::vector<Run>& runs, uint64_t first, uint64_t last) {
  std::vector<Run> out;
  for (const auto& [a, b] : runs) {
    if (b < first || a > last) continue;
    out.emplace_back(std::max(a, first), std::min(b, last));
  }
  return out;
}

// ToRuns turns sorted counters into runs.
std::vector<Run> ToRuns(std::vector<uint64_t>& counters) {
  std::sort(counters.begin(), counters.end());
  std::vector<Run> runs;
  for (uint64_t c : counters) {
    if (!runs.empty() && runs.back().second + 1 == c) {
      runs.back().second = c;
    } else {
      runs.emplace_back(c, c);
    }
  }
  return runs;
}

// A DotsOf whose runs exceed this goes in pieces, each about this many runs.
constexpr size_t kDotsRunsPerPiece = 2048;

}  // namespace

KeyEntryPtr::KeyEntryPtr(absl::string_view key) {
  void* block = ::operator new(sizeof(KeyEntry) + key.size());
  e_ = new (block) KeyEntry(static_cast<uint32_t>(key.size()));
  std::memcpy(reinterpret_cast<char*>(e_ + 1), key.data(), key.size());
}

KeyEntryPtr::KeyEntryPtr(const KeyEntryPtr& other) : KeyEntryPtr(other->key()) {
  e_->versions = other->versions;
}

KeyEntryPtr::~KeyEntryPtr() {
  if (e_ == nullptr) return;
  e_->~KeyEntry();
  ::operator delete(e_);
}

Change& ChangeLog::Add(uint64_t revision) {
  if (size_ == ring_.size()) {
    if (size_ > 0 && size_ >= keep_ && (*this)[0].revision <= published_) {
      Drop();
    } else {
      Grow();
    }
  }
  Change& c = ring_[(head_ + size_++) % ring_.size()];
  c.revision = revision;
  return c;
}

void ChangeLog::Published() {
  if (size_ == 0) return;
  published_ = (*this)[size_ - 1].revision;
  while (size_ > keep_) Drop();
  // A log grown by a large batch goes back to what it keeps (its values released).
  if (ring_.size() > 64 && size_ < ring_.size() / 4 && ring_.size() > 2 * keep_) {
    std::vector<Change> smaller;
    smaller.reserve(std::max<size_t>(64, 2 * size_));
    for (size_t i = 0; i < size_; ++i) {
      smaller.push_back(std::move(ring_[(head_ + i) % ring_.size()]));
    }
    smaller.resize(smaller.capacity());
    ring_ = std::move(smaller);
    head_ = 0;
  }
}

void ChangeLog::Clear() {
  if (size_ > 0) published_ = (*this)[size_ - 1].revision;
  while (size_ > 0) Drop();
}

size_t ChangeLog::IndexAfter(uint64_t revision) const {
  if (size_ == 0) return 0;
  const uint64_t first = (*this)[0].revision;
  if (revision < first) return 0;
  return std::min<uint64_t>(size_, revision - first + 1);
}

void ChangeLog::Grow() {
  std::vector<Change> bigger;
  bigger.reserve(std::max<size_t>(16, 2 * ring_.size()));
  for (size_t i = 0; i < size_; ++i) {
    bigger.push_back(std::move(ring_[(head_ + i) % ring_.size()]));
  }
  bigger.resize(bigger.capacity());
  ring_ = std::move(bigger);
  head_ = 0;
}

void ChangeLog::Drop() {
  Change& c = ring_[head_];
  c.before.reset();  // its values go now, not when the slot is reused
  c.after.reset();
  head_ = (head_ + 1) % ring_.size();
  --size_;
}

uint64_t DotHash(const Writer& writer, uint64_t counter) {
  return Mix(Mix(Mix(writer.endpoint_id) ^ writer.incarnation) ^ counter);
}

Store::Store(const Writer& self, std::string self_name, StoreBounds bounds,
             size_t keep_changes)
    : changes_(keep_changes), bytes_(bounds.shared), bounds_(bounds) {
  WriterIndex(self, self_name);
  writers_[0].present = true;
}

uint32_t Store::WriterIndex(const Writer& writer, absl::string_view name) {
  auto [it, added] = writer_index_.try_emplace(writer, writers_.size());
  if (added) {
    auto present = present_.find(writer.endpoint_id);
    writers_.push_back(WriterState{
        .writer = writer,
        .name = std::string(name),
        .present = present != present_.end() && present->second == writer.incarnation});
  } else if (writers_[it->second].name.empty() && !name.empty()) {
    writers_[it->second].name = std::string(name);
  }
  return it->second;
}

bool Store::Wins(const StoredVersion& a, const StoredVersion& b) const {
  if (a.time != b.time) return a.time > b.time;
  const Writer& wa = writers_[a.writer].writer;
  const Writer& wb = writers_[b.writer].writer;
  if (wa != wb) return wa > wb;
  return a.counter > b.counter;
}

const StoredVersion* Store::WinnerOf(const Versions& versions) const {
  const StoredVersion* winner = nullptr;
  for (const StoredVersion& v : versions) {
    if (IsShown(v) && (winner == nullptr || Wins(v, *winner))) winner = &v;
  }
  return winner;
}

void Store::Hold(absl::string_view key, const StoredVersion& v) {
  WriterState& w = writers_[v.writer];
  ++w.live_count;
  w.live_digest += DotHash(w.writer, v.counter);
  if (v.ephemeral) ++w.ephemeral_count;
  AddBytes(v.value.size());
  if (v.deadline_ms != 0)
    deadlines_.emplace(std::tuple(v.deadline_ms, v.writer, v.counter), std::string(key));
}

void Store::Release(const StoredVersion& v) {
  WriterState& w = writers_[v.writer];
  --w.live_count;
  w.live_digest -= DotHash(w.writer, v.counter);
  if (v.ephemeral) --w.ephemeral_count;
  RemoveBytes(v.value.size());
  if (v.deadline_ms != 0)
    deadlines_.erase(std::tuple(v.deadline_ms, v.writer, v.counter));
}

void Store::Record(absl::string_view key, const StoredVersion* before,
                   const Versions* after, WatchEvent::Kind gone) {
  const StoredVersion* now = after == nullptr ? nullptr : WinnerOf(*after);
  if (before == nullptr && now == nullptr) return;
  if (before != nullptr && now != nullptr && before->writer == now->writer &&
      before->counter == now->counter) {
    return;
  }
  Change& c = changes_.Add(++revision_);
  c.kind = now != nullptr ? WatchEvent::Kind::kPut : gone;
  c.key.assign(key.data(), key.size());
  if (before != nullptr) {
    c.before = *before;
  } else {
    c.before.reset();
  }
  if (now != nullptr) {
    c.after = *now;
  } else {
    c.after.reset();
  }
}

void Store::AddBytes(size_t n) { bytes_.Add(n); }
void Store::RemoveBytes(size_t n) { bytes_.Remove(n); }

absl::Status Store::CheckBounds(bool new_key, size_t adding) const {
  if (new_key && entries_.size() >= bounds_.max_keys) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the model holds max_keys (", bounds_.max_keys, ") keys"));
  }
  if (adding > bounds_.max_bytes - std::min(bytes(), bounds_.max_bytes)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the model holds ", bytes(), " bytes, and ", adding,
                     " more would pass max_bytes (", bounds_.max_bytes, ")"));
  }
  if (bounds_.shared != nullptr && !bounds_.shared->Fits(adding)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "the endpoint's models hold ", bounds_.shared->used(), " bytes, and ", adding,
        " more would pass the endpoint's bound (", bounds_.shared->max(), ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<LocalWrite> Store::Put(absl::string_view key, Value value, HybridTime time,
                                      bool ephemeral, int64_t deadline_ms) {
  if (value.size() > bounds_.max_value_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("a value of ", value.size(), " bytes for '", key,
                     "' is larger than max_value_bytes (", bounds_.max_value_bytes, ")"));
  }
  auto it = entries_.find(key);
  size_t freed = 0;
  if (it != entries_.end()) {
    for (const StoredVersion& v : (*it)->versions) freed += v.value.size();
  }
  const size_t adding = key.size() + value.size();
  if (absl::Status s =
          CheckBounds(it == entries_.end(), adding > freed ? adding - freed : 0);
      !s.ok()) {
    return s;
  }
  if (it == entries_.end()) {
    it = entries_.insert(KeyEntryPtr(key)).first;
    AddBytes(key.size());
  }
  Versions& versions = (*it)->versions;
  const std::optional<StoredVersion> before = ShownOf(versions);
  LocalWrite write = Replace(versions, [](const StoredVersion&) { return true; });
  versions.push_back(StoredVersion{.writer = 0,
                                   .ephemeral = ephemeral,
                                   .counter = write.counter,
                                   .time = time,
                                   .deadline_ms = deadline_ms,
                                   .value = std::move(value)});
  Hold(key, versions.back());
  Settle(it, before, WatchEvent::Kind::kDelete);
  return write;
}

std::optional<StoredVersion> Store::ShownOf(const Versions& versions) const {
  const StoredVersion* shown = WinnerOf(versions);
  return shown == nullptr ? std::nullopt : std::optional(*shown);
}

size_t Store::RemoveIf(Versions& versions,
                       absl::FunctionRef<bool(const StoredVersion&)> which) {
  size_t removed = 0;
  for (size_t i = 0; i < versions.size();) {
    if (which(versions[i])) {
      Release(versions[i]);
      versions.erase(versions.begin() + i);
      ++removed;
    } else {
      ++i;
    }
  }
  return removed;
}

LocalWrite Store::Replace(Versions& versions,
                          absl::FunctionRef<bool(const StoredVersion&)> which) {
  LocalWrite write;
  write.counter = seen_.Next(self()).counter;
  seen_.Add(Dot{self(), write.counter});
  RemoveIf(versions, [&](const StoredVersion& v) {
    if (!which(v)) return false;
    write.replaced.push_back(Dot{writers_[v.writer].writer, v.counter});
    return true;
  });
  return write;
}

Store::Entries::iterator Store::Settle(Entries::iterator it,
                                       const std::optional<StoredVersion>& before,
                                       WatchEvent::Kind gone) {
  const StoredVersion* was = before ? &*before : nullptr;
  if (!(*it)->versions.empty()) {
    Record((*it)->key(), was, &(*it)->versions, gone);
    return std::next(it);
  }
  Record((*it)->key(), was, nullptr, gone);
  RemoveBytes((*it)->key().size());
  return entries_.erase(it);
}

std::optional<LocalWrite> Store::Retract(
    absl::string_view key, absl::FunctionRef<bool(const StoredVersion&)> which) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  Versions& versions = (*it)->versions;
  if (std::none_of(versions.begin(), versions.end(), which)) return std::nullopt;
  const std::optional<StoredVersion> before = ShownOf(versions);
  LocalWrite write = Replace(versions, which);
  Settle(it, before, WatchEvent::Kind::kDelete);
  return write;
}

std::vector<std::string> Store::Keys(
    absl::FunctionRef<bool(const StoredVersion&)> which) const {
  std::vector<std::string> keys;
  for (const KeyEntryPtr& e : entries_) {
    if (std::any_of(e->versions.begin(), e->versions.end(), which)) {
      keys.emplace_back(e->key());
    }
  }
  return keys;
}

std::optional<LocalWrite> Store::Delete(absl::string_view key) {
  return Retract(key, [](const StoredVersion&) { return true; });
}

Store::Applied Store::Apply(uint32_t writer, uint64_t counter, HybridTime time,
                            absl::string_view key, std::optional<absl::string_view> value,
                            bool ephemeral, int64_t deadline_ms,
                            absl::Span<const Dot> replaced) {
  const Dot dot{writers_[writer].writer, counter};
  const bool known = seen_.Contains(dot);
  auto it = entries_.find(key);
  std::optional<StoredVersion> before;
  // The values it replaced go, if held.
  bool changed = false;
  if (it != entries_.end()) {
    before = ShownOf((*it)->versions);
    changed =
        RemoveIf((*it)->versions, [&](const StoredVersion& v) {
          return std::find(replaced.begin(), replaced.end(),
                           Dot{writers_[v.writer].writer, v.counter}) != replaced.end();
        }) > 0;
  }
  for (const Dot& d : replaced) seen_.Add(d);
  Applied applied = known ? Applied::kKnown : Applied::kApplied;
  if (!known && value) {
    const bool new_key = it == entries_.end();
    if (value->size() > bounds_.max_value_bytes ||
        !CheckBounds(new_key, (new_key ? key.size() : 0) + value->size()).ok()) {
      applied = Applied::kRefused;  // not seen: a later answer may bring it
    } else {
      if (new_key) {
        it = entries_.insert(KeyEntryPtr(key)).first;
        AddBytes(key.size());
      }
      (*it)->versions.push_back(StoredVersion{.writer = writer,
                                              .ephemeral = ephemeral,
                                              .counter = counter,
                                              .time = time,
                                              .deadline_ms = deadline_ms,
                                              .value = Value(*value)});
      Hold(key, (*it)->versions.back());
      changed = true;
    }
  }
  if (applied != Applied::kRefused) seen_.Add(dot);
  if (changed) Settle(it, before, WatchEvent::Kind::kDelete);
  return applied;
}

Store::DeltaResult Store::ApplyDelta(const Delta& delta, int64_t now_ms) {
  DeltaResult result;
  std::vector<uint32_t> index(delta.writers.size());
  for (size_t i = 0; i < delta.writers.size(); ++i) {
    index[i] = WriterIndex(delta.writers[i].writer, delta.writers[i].name);
  }
  std::vector<Dot> replaced;
  for (const WireVersion& v : delta.versions) {
    replaced.clear();
    for (const auto& [w, c] : v.replaced) {
      replaced.push_back(Dot{delta.writers[w].writer, c});
    }
    const int64_t deadline =
        v.time_to_live_ms == 0 ? 0 : now_ms + static_cast<int64_t>(v.time_to_live_ms);
    switch (Apply(index[v.writer], v.counter, v.time, v.key, v.value, v.ephemeral,
                  deadline, replaced)) {
      case Applied::kApplied:
        ++result.applied;
        if (deadline != 0 &&
            (result.earliest_deadline == 0 || deadline < result.earliest_deadline)) {
          result.earliest_deadline = deadline;
        }
        break;
      case Applied::kKnown:
        ++result.known;
        break;
      case Applied::kRefused:
        ++result.refused;
        break;
    }
  }
  for (const DotsOf& d : delta.dots)
    result.removed += ApplyDots(index[d.writer], d.seen, d.live);
  return result;
}

size_t Store::ApplyDots(uint32_t writer, const std::vector<Run>& seen,
                        const std::vector<Run>& live) {
  const Writer& w = writers_[writer].writer;
  const std::vector<Run> dead = SubtractRuns(seen, live);
  size_t dropped = 0;
  if (!dead.empty() && writers_[writer].live_count > 0) {
    auto is_dead = [&dead](uint64_t c) {
      auto it = std::upper_bound(dead.begin(), dead.end(), Run{c, UINT64_MAX});
      return it != dead.begin() && std::prev(it)->second >= c;
    };
    for (auto it = entries_.begin(); it != entries_.end();) {
      const std::optional<StoredVersion> before = ShownOf((*it)->versions);
      const size_t removed = RemoveIf((*it)->versions, [&](const StoredVersion& v) {
        return v.writer == writer && is_dead(v.counter);
      });
      dropped += removed;
      it = removed == 0 ? std::next(it) : Settle(it, before, WatchEvent::Kind::kDelete);
    }
  }
  for (const auto& [first, last] : dead) seen_.AddRange({w, first, last});
  return dropped;
}

int64_t Store::Expire(int64_t now_ms) {
  while (!deadlines_.empty() && std::get<0>(deadlines_.begin()->first) <= now_ms) {
    const auto [when, writer, counter] = deadlines_.begin()->first;
    const std::string key = deadlines_.begin()->second;
    deadlines_.erase(deadlines_.begin());
    auto it = entries_.find(key);
    if (it == entries_.end()) continue;
    Versions& versions = (*it)->versions;
    const std::optional<StoredVersion> before = ShownOf(versions);
    for (StoredVersion& v : versions) {
      // Its entry in deadlines_ is gone already.
      if (v.writer == writer && v.counter == counter) v.deadline_ms = 0;
    }
    expired_ += RemoveIf(versions, [&](const StoredVersion& v) {
      return v.writer == writer && v.counter == counter;
    });
    Settle(it, before, WatchEvent::Kind::kExpire);
  }
  return deadlines_.empty() ? 0 : std::get<0>(deadlines_.begin()->first);
}

void Store::SetPresent(uint64_t endpoint_id, uint64_t incarnation, bool present) {
  if (present) {
    present_[endpoint_id] = incarnation;
  } else {
    present_.erase(endpoint_id);
  }
  for (uint32_t i = 1; i < writers_.size(); ++i) {
    WriterState& w = writers_[i];
    if (w.writer.endpoint_id != endpoint_id) continue;
    const bool shown = present && w.writer.incarnation == incarnation;
    if (w.present == shown) continue;
    if (w.ephemeral_count == 0) {
      w.present = shown;
      continue;
    }
    // Every key holding one of its ephemeral values may change what it shows.
    std::vector<std::pair<const KeyEntry*, std::optional<StoredVersion>>> before;
    for (const KeyEntryPtr& e : entries_) {
      for (const StoredVersion& v : e->versions) {
        if (v.writer == i && v.ephemeral) {
          before.emplace_back(e.get(), ShownOf(e->versions));
          break;
        }
      }
    }
    w.present = shown;
    for (const auto& [e, b] : before) {
      Record(e->key(), b ? &*b : nullptr, &e->versions, WatchEvent::Kind::kExpire);
    }
  }
}

Summary Store::MakeSummary(uint64_t incarnation, uint64_t request,
                           bool reply_wanted) const {
  Summary s{.incarnation = incarnation, .request = request, .reply_wanted = reply_wanted};
  for (const Writer& writer : seen_.Writers()) {
    const WriterState& w = writers_[writer_index_.at(writer)];
    s.writers.push_back(WriterSummary{.writer = writer,
                                      .seen = seen_.RunsOf(writer),
                                      .live_count = w.live_count,
                                      .live_digest = w.live_digest});
  }
  return s;
}

Answer Store::StartAnswer(const Summary& peer, uint64_t request) const {
  Answer a;
  a.request = request;
  absl::flat_hash_map<Writer, const WriterSummary*> theirs;
  for (const WriterSummary& w : peer.writers) {
    theirs[w.writer] = &w;
    for (const auto& [first, last] : w.seen)
      a.peer_seen.AddRange({w.writer, first, last});
  }
  // The writers on which the two differ: the peer is told which of their writes this
  // replica has seen and which it holds.
  absl::flat_hash_map<uint32_t, std::vector<uint64_t>> live;
  std::vector<std::pair<Writer, std::vector<Run>>> differing;
  for (const Writer& writer : seen_.Writers()) {
    const uint32_t index = writer_index_.at(writer);
    const WriterState& w = writers_[index];
    std::vector<Run> runs = seen_.RunsOf(writer);
    auto found = theirs.find(writer);
    if (found != theirs.end() && found->second->seen == runs &&
        found->second->live_count == w.live_count &&
        found->second->live_digest == w.live_digest) {
      continue;
    }
    live[index];
    differing.emplace_back(writer, std::move(runs));
  }
  a.versions_done = seen_.Missing(a.peer_seen).empty();
  if (!differing.empty()) {
    for (const KeyEntryPtr& e : entries_) {
      for (const StoredVersion& v : e->versions) {
        auto it = live.find(v.writer);
        if (it != live.end()) it->second.push_back(v.counter);
      }
    }
  }
  for (auto& [writer, runs] : differing) {
    std::vector<Run> held = ToRuns(live[writer_index_.at(writer)]);
    // In pieces of about kDotsRunsPerPiece runs, each its own range of counters.
    size_t i = 0;
    while (i < runs.size()) {
      const size_t end = std::min(runs.size(), i + kDotsRunsPerPiece);
      const uint64_t first = runs[i].first;
      const uint64_t last = runs[end - 1].second;
      DotsOf d;
      d.seen.assign(runs.begin() + i, runs.begin() + end);
      d.live = Clip(held, first, last);
      // A piece whose live runs are many is split again by them.
      while (d.live.size() > kDotsRunsPerPiece) {
        const uint64_t cut = d.live[kDotsRunsPerPiece - 1].second;
        DotsOf head;
        head.seen = Clip(d.seen, 0, cut);
        head.live.assign(d.live.begin(), d.live.begin() + kDotsRunsPerPiece);
        a.dots.emplace_back(writer, std::move(head));
        d.seen = Clip(d.seen, cut + 1, UINT64_MAX);
        d.live.erase(d.live.begin(), d.live.begin() + kDotsRunsPerPiece);
      }
      a.dots.emplace_back(writer, std::move(d));
      i = end;
    }
  }
  return a;
}

bool Store::NextAnswerChunk(Answer& a, size_t max_bytes, int64_t now_ms,
                            Delta* out) const {
  size_t bytes = 0;
  absl::flat_hash_map<uint32_t, uint32_t> message_writer;
  auto writer_in_message = [&](uint32_t index) {
    auto [it, added] = message_writer.try_emplace(index, out->writers.size());
    if (added) {
      out->writers.push_back({writers_[index].writer, writers_[index].name});
      bytes += 17 + writers_[index].name.size();
    }
    return it->second;
  };
  if (!a.versions_done) {
    auto it = a.cursor ? entries_.upper_bound(*a.cursor) : entries_.begin();
    const KeyEntry* last = nullptr;
    for (; it != entries_.end() && bytes < max_bytes; ++it) {
      for (const StoredVersion& v : (*it)->versions) {
        if (a.peer_seen.Contains(Dot{writers_[v.writer].writer, v.counter})) continue;
        WireVersion wire{.writer = writer_in_message(v.writer),
                         .counter = v.counter,
                         .time = v.time,
                         .ephemeral = v.ephemeral,
                         .time_to_live_ms = v.deadline_ms == 0
                                                ? 0
                                                : static_cast<uint64_t>(std::max<int64_t>(
                                                      1, v.deadline_ms - now_ms)),
                         .key = (*it)->key(),
                         .value = absl::string_view(*v.value)};
        bytes += VersionWireBytes(wire);
        out->versions.push_back(std::move(wire));
      }
      last = it->get();
    }
    if (last != nullptr) a.cursor = std::string(last->key());
    if (it == entries_.end()) a.versions_done = true;
  }
  while (a.versions_done && a.dots_next < a.dots.size() && bytes < max_bytes) {
    const auto& [writer, dots] = a.dots[a.dots_next++];
    DotsOf d = dots;
    d.writer = writer_in_message(writer_index_.at(writer));
    bytes += 4 + 4 * (d.seen.size() + d.live.size());
    out->dots.push_back(std::move(d));
  }
  return a.versions_done && a.dots_next == a.dots.size();
}

const StoredVersion* Store::Winner(absl::string_view key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : WinnerOf((*it)->versions);
}

std::vector<StoredVersion> Store::Shown(absl::string_view key) const {
  std::vector<StoredVersion> shown;
  auto it = entries_.find(key);
  if (it == entries_.end()) return shown;
  for (const StoredVersion& v : (*it)->versions) {
    if (IsShown(v)) shown.push_back(v);
  }
  std::sort(
      shown.begin(), shown.end(),
      [this](const StoredVersion& a, const StoredVersion& b) { return Wins(a, b); });
  return shown;
}

}  // namespace glue::model::internal
