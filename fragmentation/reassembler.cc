#include "glue/fragmentation/reassembler.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "fragmentation/chunked_bytes.h"
#include "glue/base/crc32c.h"

namespace glue::fragmentation {

using internal::ChunkedBytes;

// Partial is one incomplete message: the fragments that arrived, in its blocks or in
// runs kept apart.
struct Reassembler::Partial {
  // Run is fragments that follow each other, from its key in `runs` up to `end`
  // (excluded), kept apart until the fragments before them arrive.
  struct Run {
    uint32_t end;
    ChunkedBytes bytes;
  };

  Partial(const FragmentHeader& header, absl::Time deadline,
          ReassemblyBudget::Reservation reservation)
      : total_bytes(header.total_bytes),
        fragment_bytes(header.fragment_bytes),
        checksum(header.checksum),
        count(static_cast<uint32_t>(
            FragmentCount(header.total_bytes, header.fragment_bytes))),
        deadline(deadline),
        reservation(std::move(reservation)) {}

  // Limit returns the most bytes the fragments from `index` on may take.
  uint64_t Limit(uint32_t index) const {
    return total_bytes - uint64_t{index} * fragment_bytes;
  }

  const uint64_t total_bytes;
  const uint32_t fragment_bytes;
  const uint32_t checksum;
  const uint32_t count;  // of fragments
  const absl::Time deadline;
  uint32_t next = 0;  // fragments [0, next) are in `bytes`, or in `whole`
  ChunkedBytes bytes;
  // Once fragments [0, next) make half the message, its own buffer (of total_bytes, at
  // most twice them): they move there from `bytes`, and the rest go there directly.
  std::vector<uint8_t> whole;
  absl::btree_map<uint32_t, Run> runs;        // by first fragment, all beyond `next`
  ReassemblyBudget::Reservation reservation;  // what the message is charged
};

namespace {

// Charged returns what `bytes` is charged: its blocks and their bookkeeping.
size_t Charged(const ChunkedBytes& bytes) {
  return bytes.capacity() + bytes.blocks() * Reassembler::kBlockOverheadBytes;
}

}  // namespace

ReassemblyBudget::ReassemblyBudget(size_t max_bytes) : max_bytes_(max_bytes) {}

ReassemblyBudget::Reservation ReassemblyBudget::Reserve(Reassembler* reassembler,
                                                        uint64_t message_id) {
  const uint64_t age = next_age_++;
  held_.emplace(age, Holder{reassembler, message_id});
  ++counters_.reserved;
  return Reservation(this, age);
}

bool ReassemblyBudget::MakeRoom(const Reservation& keep, size_t bytes) {
  // keep.bytes() <= max_bytes_: it was charged only what fit.
  if (bytes > max_bytes_ - keep.bytes()) {
    ++counters_.refused;
    return false;
  }
  // Whatever is held beyond `keep`'s bytes is another message's.
  while (bytes_held_ + bytes > max_bytes_) {
    auto oldest = held_.begin();
    if (oldest->first == keep.age()) ++oldest;
    const Holder holder = oldest->second;
    ++counters_.dropped;
    // Destroys that message's Reservation, which calls Release.
    holder.reassembler->DropForBudget(holder.message_id);
  }
  return true;
}

void ReassemblyBudget::Release(uint64_t age, size_t bytes) {
  held_.erase(age);
  bytes_held_ -= bytes;
}

absl::string_view Reassembler::ResultName(Result result) {
  switch (result) {
    case Result::kStored:
      return "stored";
    case Result::kCompleted:
      return "completed";
    case Result::kDuplicate:
      return "duplicate";
    case Result::kLate:
      return "late";
    case Result::kInvalid:
      return "invalid";
    case Result::kInconsistent:
      return "inconsistent";
    case Result::kChecksumMismatch:
      return "checksum mismatch";
    case Result::kRefused:
      return "refused";
  }
  return "unknown";
}

Reassembler::Reassembler(ReassemblerOptions options, ReassemblyBudget* budget)
    : options_(options), budget_(budget) {
  // The estimates hold what the bookkeeping takes: a message's Partial and what malloc
  // adds to it, its slot in partials_ (a table at least 7/16 full) and its entries in
  // deadlines_, by_age_ and the budget's B-tree (nodes at least half full); a run's
  // slot in its B-tree; a block's record in a vector that at most doubles.
  static_assert(sizeof(Partial) + 16 + sizeof(PartialMap::value_type) * 16 / 7 +
                    2 * (sizeof(std::pair<absl::Time, uint64_t>) +
                         sizeof(std::pair<uint64_t, uint64_t>) +
                         sizeof(std::pair<uint64_t, ReassemblyBudget::Holder>)) <=
                kMessageOverheadBytes);
  static_assert(2 * sizeof(std::pair<uint32_t, Partial::Run>) + 16 <= kRunOverheadBytes);
  static_assert(2 * ChunkedBytes::kRecordBytes + 16 <= kBlockOverheadBytes);
}

Reassembler::~Reassembler() = default;

absl::Status Reassembler::Validate(const ReassemblerOptions& options) {
  if (options.max_messages == 0) {
    return absl::InvalidArgumentError(
        "ReassemblerOptions.max_messages = 0: must be at least 1");
  }
  if (options.max_time_to_live <= absl::ZeroDuration() ||
      options.max_time_to_live == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ReassemblerOptions.max_time_to_live = ",
        absl::FormatDuration(options.max_time_to_live), ": must be positive and finite"));
  }
  if (options.default_time_to_live <= absl::ZeroDuration() ||
      options.default_time_to_live > options.max_time_to_live) {
    return absl::InvalidArgumentError(
        absl::StrCat("ReassemblerOptions.default_time_to_live = ",
                     absl::FormatDuration(options.default_time_to_live),
                     ": must be positive and at most max_time_to_live = ",
                     absl::FormatDuration(options.max_time_to_live)));
  }
  return absl::OkStatus();
}

Reassembler::Outcome Reassembler::OnFragment(const FragmentHeader& header,
                                             absl::Span<const uint8_t> payload,
                                             absl::Time now, bool reliable) {
  ++counters_.fragments;
  if (!IsValidFragmentHeader(header, options_.max_message_bytes) ||
      payload.size() !=
          FragmentPayloadBytes(header.total_bytes, header.fragment_bytes, header.index)) {
    ++counters_.rejected;
    return {.result = Result::kInvalid};
  }
  if (auto finished = finished_.find(header.message_id); finished != finished_.end()) {
    if (finished->second) {
      ++counters_.duplicates;
      return {.result = Result::kDuplicate};
    }
    ++counters_.late;
    return {.result = Result::kLate};
  }
  auto it = partials_.find(header.message_id);
  if (it == partials_.end()) return Start(header, payload, now, reliable);

  const Partial& partial = *it->second;
  if (header.total_bytes != partial.total_bytes ||
      header.fragment_bytes != partial.fragment_bytes ||
      header.checksum != partial.checksum) {
    ++counters_.rejected;
    return {.result = Result::kInconsistent};
  }
  return Store(it, header.index, payload);
}

Reassembler::Outcome Reassembler::Start(const FragmentHeader& header,
                                        absl::Span<const uint8_t> payload, absl::Time now,
                                        bool reliable) {
  // A message that could never be held whole is refused before anything is dropped
  // for it. Nothing is allocated for the size it claims.
  const uint64_t whole = header.total_bytes + kMessageOverheadBytes;
  if (whole > options_.max_bytes) {
    ++counters_.dropped_peer_cap;
    Remember(header.message_id, /*completed=*/false);
    return {.result = Result::kRefused};
  }
  if (whole > budget_->max_bytes()) {
    ++counters_.dropped_total_cap;
    ++budget_->counters_.refused;
    Remember(header.message_id, /*completed=*/false);
    return {.result = Result::kRefused};
  }
  while (partials_.size() >= options_.max_messages) {
    ++counters_.dropped_peer_cap;
    Erase(partials_.find(by_age_.begin()->second), /*completed=*/false);
  }

  absl::Time deadline = absl::InfiniteFuture();
  if (header.time_to_live_ms > 0) {
    absl::Duration time_to_live = absl::Milliseconds(header.time_to_live_ms);
    if (time_to_live > options_.max_time_to_live) {
      time_to_live = options_.max_time_to_live;
      ++counters_.time_to_live_clamped;
    }
    deadline = now + time_to_live;
  } else if (!reliable) {
    deadline = now + options_.default_time_to_live;
  }
  auto partial = std::make_unique<Partial>(header, deadline,
                                           budget_->Reserve(this, header.message_id));
  by_age_.emplace(partial->reservation.age(), header.message_id);
  if (deadline != absl::InfiniteFuture()) deadlines_.emplace(deadline, header.message_id);
  auto it = partials_.emplace(header.message_id, std::move(partial)).first;
  if (!Charge(*it->second, kMessageOverheadBytes)) return Refuse(it);
  // A valid header makes at least 2 fragments, so the first never completes a message.
  return Store(it, header.index, payload);
}

Reassembler::Outcome Reassembler::Store(PartialMap::iterator it, uint32_t index,
                                        absl::Span<const uint8_t> payload) {
  Partial& partial = *it->second;
  // Charges for what `payload` adds to `bytes`, whose fragments start at `first`, and
  // for `extra` bookkeeping; then appends it.
  auto append = [&](ChunkedBytes& bytes, uint32_t first, size_t extra) {
    const size_t limit = partial.Limit(first);
    const ChunkedBytes::Growth growth = bytes.GrowthFor(payload.size(), limit);
    const size_t charge = extra + growth.bytes + growth.blocks * kBlockOverheadBytes;
    if (charge > 0 && !Charge(partial, charge)) return false;
    bytes.Append(payload, limit);
    return true;
  };

  if (index < partial.next) {  // among the message's bytes
    ++counters_.duplicates;
    return {.result = Result::kDuplicate};
  }
  if (index != partial.next) {
    // Ahead of the message's bytes: in the run that starts at or before it (received
    // before), at the end of that run, or in a run of its own.
    auto after = partial.runs.upper_bound(index);
    auto run = after == partial.runs.begin() ? partial.runs.end() : std::prev(after);
    if (run != partial.runs.end() && index < run->second.end) {
      ++counters_.duplicates;
      return {.result = Result::kDuplicate};
    }
    if (run != partial.runs.end() && index == run->second.end) {
      if (!append(run->second.bytes, run->first, 0)) return Refuse(it);
      run->second.end = index + 1;
    } else {
      ChunkedBytes bytes;
      if (!append(bytes, index, kRunOverheadBytes)) return Refuse(it);
      partial.runs.emplace_hint(
          after, index, Partial::Run{.end = index + 1, .bytes = std::move(bytes)});
    }
    return {.result = Result::kStored};
  }
  const bool in_whole = partial.whole.capacity() > 0;
  if (in_whole) {
    partial.whole.insert(partial.whole.end(), payload.begin(), payload.end());
  } else if (!append(partial.bytes, 0, 0)) {
    return Refuse(it);
  }
  partial.next = index + 1;
  // The runs the message's bytes now reach join them: their blocks, uncopied, or
  // copied into the message's own buffer.
  while (!partial.runs.empty() && partial.runs.begin()->first == partial.next) {
    auto run = partial.runs.begin();
    ChunkedBytes& bytes = run->second.bytes;
    size_t freed = kRunOverheadBytes;
    if (in_whole) {
      bytes.CopyTo(partial.whole);
      freed += Charged(bytes);
    } else {
      partial.bytes.Splice(bytes);
    }
    partial.next = run->second.end;
    partial.runs.erase(run);
    Uncharge(partial, freed);
  }
  if (partial.next == partial.count) return Finish(it);
  if (!in_whole && 2 * partial.bytes.size() >= partial.total_bytes &&
      !MoveToWhole(partial)) {
    return Refuse(it);
  }
  return {.result = Result::kStored};
}

bool Reassembler::MoveToWhole(Partial& partial) {
  // Charged for the buffer less the blocks it frees, held both only for the copy.
  const size_t freed = Charged(partial.bytes);
  if (partial.total_bytes > freed) {
    if (!Charge(partial, partial.total_bytes - freed)) return false;
  } else {
    Uncharge(partial, freed - partial.total_bytes);
  }
  partial.whole.reserve(partial.total_bytes);
  partial.bytes.CopyTo(partial.whole);
  partial.bytes.Clear();
  return true;
}

bool Reassembler::Charge(Partial& partial, size_t bytes) {
  const ReassemblyBudget::Reservation& mine = partial.reservation;
  // mine.bytes() <= options_.max_bytes: it was charged only what fit.
  if (bytes > options_.max_bytes - mine.bytes()) {
    ++counters_.dropped_peer_cap;
    return false;
  }
  // Whatever is held beyond `partial`'s bytes is another message's.
  while (bytes_held_ + bytes > options_.max_bytes) {
    auto oldest = by_age_.begin();
    if (oldest->first == mine.age()) ++oldest;
    ++counters_.dropped_peer_cap;
    Erase(partials_.find(oldest->second), /*completed=*/false);
  }
  if (!budget_->MakeRoom(mine, bytes)) {
    ++counters_.dropped_total_cap;
    return false;
  }
  partial.reservation.Add(bytes);
  bytes_held_ += bytes;
  return true;
}

void Reassembler::Uncharge(Partial& partial, size_t bytes) {
  partial.reservation.Remove(bytes);
  bytes_held_ -= bytes;
}

Reassembler::Outcome Reassembler::Refuse(PartialMap::iterator it) {
  Erase(it, /*completed=*/false);
  return {.result = Result::kRefused};
}

Reassembler::Outcome Reassembler::Finish(PartialMap::iterator it) {
  Partial& partial = *it->second;
  // Its own buffer, or one made now for the blocks.
  std::vector<uint8_t> message = std::move(partial.whole);
  message.reserve(partial.total_bytes);
  partial.bytes.CopyTo(message);
  if (Crc32c(message) != partial.checksum) {
    ++counters_.checksum_mismatches;
    Erase(it, /*completed=*/false);
    return {.result = Result::kChecksumMismatch};
  }
  ++counters_.completed;
  Erase(it, /*completed=*/true);
  return {.result = Result::kCompleted, .message = std::move(message)};
}

size_t Reassembler::Expire(absl::Time now) {
  size_t expired = 0;
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    Erase(partials_.find(deadlines_.begin()->second), /*completed=*/false);
    ++expired;
  }
  counters_.expired += expired;
  return expired;
}

std::optional<absl::Time> Reassembler::NextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

void Reassembler::Erase(PartialMap::iterator it, bool completed) {
  const uint64_t message_id = it->first;
  const Partial& partial = *it->second;
  bytes_held_ -= partial.reservation.bytes();
  deadlines_.erase({partial.deadline, message_id});
  by_age_.erase(partial.reservation.age());
  partials_.erase(it);  // Destroys its Reservation: the budget gets the room back.
  Remember(message_id, completed);
}

void Reassembler::DropForBudget(uint64_t message_id) {
  ++counters_.dropped_total_cap;
  Erase(partials_.find(message_id), /*completed=*/false);
}

void Reassembler::Remember(uint64_t message_id, bool completed) {
  if (options_.max_remembered == 0) return;
  if (!finished_.emplace(message_id, completed).second) return;
  finished_order_.push_back(message_id);
  if (finished_order_.size() > options_.max_remembered) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

}  // namespace glue::fragmentation
