#include "glue/fragmentation/reassembler.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "glue/base/crc32c.h"

namespace glue::fragmentation {

ReassemblyBudget::ReassemblyBudget(size_t max_bytes) : max_bytes_(max_bytes) {}

ReassemblyBudget::Reservation ReassemblyBudget::Reserve(Reassembler* reassembler,
                                                        uint64_t message_id,
                                                        size_t bytes) {
  while (bytes_held_ + bytes > max_bytes_ && !held_.empty()) {
    const Holder oldest = held_.begin()->second;
    ++counters_.dropped;
    // Destroys the oldest message's Reservation, which calls Release.
    oldest.reassembler->DropForBudget(oldest.message_id);
  }
  const uint64_t age = next_age_++;
  held_.emplace(age, Holder{reassembler, message_id, bytes});
  bytes_held_ += bytes;
  ++counters_.reserved;
  return Reservation(this, age);
}

void ReassemblyBudget::Release(uint64_t age) {
  auto it = held_.find(age);
  bytes_held_ -= it->second.bytes;
  held_.erase(it);
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
    : options_(options), budget_(budget) {}

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

  Partial& partial = it->second;
  if (header.total_bytes != partial.total_bytes ||
      header.fragment_bytes != partial.fragment_bytes ||
      header.checksum != partial.checksum) {
    ++counters_.rejected;
    return {.result = Result::kInconsistent};
  }
  if (partial.received[header.index]) {
    ++counters_.duplicates;
    return {.result = Result::kDuplicate};
  }
  Store(&partial, header.index, payload);
  if (partial.received_count == partial.received.size()) return Finish(it);
  return {.result = Result::kStored};
}

Reassembler::Outcome Reassembler::Start(const FragmentHeader& header,
                                        absl::Span<const uint8_t> payload, absl::Time now,
                                        bool reliable) {
  const uint64_t total = header.total_bytes;
  // A message that can never fit is refused before anything is dropped for it.
  if (total > options_.max_bytes) {
    ++counters_.dropped_peer_cap;
    Remember(header.message_id, /*completed=*/false);
    return {.result = Result::kRefused};
  }
  if (total > budget_->max_bytes()) {
    ++counters_.dropped_total_cap;
    ++budget_->counters_.refused;
    Remember(header.message_id, /*completed=*/false);
    return {.result = Result::kRefused};
  }
  while (!by_age_.empty() && (partials_.size() >= options_.max_messages ||
                              bytes_held_ + total > options_.max_bytes)) {
    ++counters_.dropped_peer_cap;
    Erase(partials_.find(by_age_.begin()->second), /*completed=*/false);
  }
  ReassemblyBudget::Reservation reservation =
      budget_->Reserve(this, header.message_id, total);

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
  by_age_.emplace(reservation.age(), header.message_id);
  if (deadline != absl::InfiniteFuture()) deadlines_.emplace(deadline, header.message_id);
  bytes_held_ += total;
  Partial partial = {
      .total_bytes = total,
      .fragment_bytes = header.fragment_bytes,
      .checksum = header.checksum,
      .deadline = deadline,
      .buffer = std::vector<uint8_t>(total),
      .received = std::vector<bool>(FragmentCount(total, header.fragment_bytes)),
      .reservation = std::move(reservation),
  };
  auto it = partials_.emplace(header.message_id, std::move(partial)).first;
  // A valid header makes at least 2 fragments, so the first never completes a message.
  Store(&it->second, header.index, payload);
  return {.result = Result::kStored};
}

void Reassembler::Store(Partial* partial, uint32_t index,
                        absl::Span<const uint8_t> payload) {
  std::memcpy(partial->buffer.data() + size_t{index} * partial->fragment_bytes,
              payload.data(), payload.size());
  partial->received[index] = true;
  ++partial->received_count;
}

Reassembler::Outcome Reassembler::Finish(PartialMap::iterator it) {
  Partial& partial = it->second;
  if (Crc32c(partial.buffer) != partial.checksum) {
    ++counters_.checksum_mismatches;
    Erase(it, /*completed=*/false);
    return {.result = Result::kChecksumMismatch};
  }
  std::vector<uint8_t> message = std::move(partial.buffer);
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
  Partial& partial = it->second;
  bytes_held_ -= partial.total_bytes;
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
