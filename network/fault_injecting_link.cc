#include "glue/network/fault_injecting_link.h"

#include <atomic>
#include <limits>
#include <optional>
#include <queue>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/clock.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"

namespace glue::network {
namespace internal {

// A datagram waiting for its time; `order` keeps equal times first-in, first-out.
struct HeldDatagram {
  absl::Time due;
  uint64_t order;
  Address destination;
  std::vector<uint8_t> bytes;

  bool operator>(const HeldDatagram& other) const {
    return due != other.due ? due > other.due : order > other.order;
  }
};

struct FaultState {
  FaultState(std::unique_ptr<DatagramLink> inner_link, const FaultOptions& opts, Clock& c)
      : inner(std::move(inner_link)),
        clock(c),
        partitioned(opts.partitioned),
        options(opts),
        random(opts.seed) {}

  const std::unique_ptr<DatagramLink> inner;
  Clock& clock;
  // options.partitioned, read by every received datagram without the lock.
  std::atomic<bool> partitioned;

  Mutex mu;
  FaultOptions options ABSL_GUARDED_BY(mu);
  std::unique_ptr<Alarm> alarm ABSL_GUARDED_BY(mu);  // set once, by Create
  std::optional<absl::Time> alarm_at ABSL_GUARDED_BY(mu);
  bool stopped ABSL_GUARDED_BY(mu) = false;
  std::mt19937_64 random ABSL_GUARDED_BY(mu);
  std::priority_queue<HeldDatagram, std::vector<HeldDatagram>, std::greater<>> held
      ABSL_GUARDED_BY(mu);
  uint64_t next_order ABSL_GUARDED_BY(mu) = 0;
  FaultCounters counters ABSL_GUARDED_BY(mu);
};

}  // namespace internal

namespace {

using internal::FaultState;
using internal::HeldDatagram;

// One datagram as the faults left it: to go now, or to be held until `due`.
struct Decision {
  bool drop = false;
  int copies = 1;
  std::vector<uint8_t> corrupted;  // empty unless corrupted
  absl::Duration hold;
};

Decision Decide(FaultState& s, absl::Span<const uint8_t> bytes)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  // Draw every probability for every datagram, so that the sequence of outcomes for a
  // seed does not depend on which faults are enabled.
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const double drop = unit(s.random), duplicate = unit(s.random),
               reorder = unit(s.random), corrupt = unit(s.random), delay = unit(s.random);
  const uint64_t bit = s.random();
  const FaultOptions& o = s.options;
  ++s.counters.datagrams;
  Decision d;
  if (o.partitioned || drop < o.drop) {
    ++s.counters.dropped;
    if (o.partitioned) ++s.counters.partitioned_sent;
    d.drop = true;
    return d;
  }
  if (duplicate < o.duplicate) {
    ++s.counters.duplicated;
    d.copies = 2;
  }
  if (corrupt < o.corrupt && !bytes.empty()) {
    ++s.counters.corrupted;
    d.corrupted.assign(bytes.begin(), bytes.end());
    d.corrupted[(bit >> 3) % bytes.size()] ^= static_cast<uint8_t>(1u << (bit & 7));
  }
  if (delay < o.delay) {
    ++s.counters.delayed;
    d.hold += o.delay_duration;
  }
  if (reorder < o.reorder) {
    ++s.counters.reordered;
    d.hold += o.reorder_delay;
  }
  return d;
}

void ArmAlarm(const std::shared_ptr<FaultState>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu);

void OnAlarm(const std::shared_ptr<FaultState>& state) {
  FaultState& s = *state;
  std::vector<HeldDatagram> due;
  {
    MutexLock lock(&s.mu);
    s.alarm_at.reset();
    if (s.stopped) return;
    const absl::Time now = s.clock.Now();
    while (!s.held.empty() && s.held.top().due <= now) {
      due.push_back(std::move(const_cast<HeldDatagram&>(s.held.top())));
      s.held.pop();
    }
    ArmAlarm(state);
  }
  for (const HeldDatagram& d : due) {
    if (!s.inner->Send(d.destination, d.bytes).ok()) {
      MutexLock lock(&s.mu);
      ++s.counters.inner_refused;
    }
  }
}

void ArmAlarm(const std::shared_ptr<FaultState>& state) {
  FaultState& s = *state;
  if (s.held.empty() || s.stopped) return;
  const absl::Time due = s.held.top().due;
  if (s.alarm_at && *s.alarm_at <= due) return;
  s.alarm->Set(due);
  s.alarm_at = due;
}

// Applies the faults to one datagram: returns the copies to send now in `now`, holds
// the others. `storage` keeps corrupted copies alive until they are sent.
void Apply(const std::shared_ptr<FaultState>& state, const OutgoingDatagram& datagram,
           std::vector<OutgoingDatagram>* now, std::vector<std::vector<uint8_t>>* storage)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  FaultState& s = *state;
  Decision d = Decide(s, datagram.bytes);
  if (d.drop) return;
  absl::Span<const uint8_t> bytes = datagram.bytes;
  if (!d.corrupted.empty()) {
    storage->push_back(std::move(d.corrupted));
    bytes = storage->back();
  }
  for (int copy = 0; copy < d.copies; ++copy) {
    if (d.hold == absl::ZeroDuration()) {
      now->push_back({datagram.destination, bytes});
    } else if (s.held.size() >= s.options.max_held_datagrams) {
      ++s.counters.hold_overflow;
      now->push_back({datagram.destination, bytes});
    } else {
      s.held.push(HeldDatagram{s.clock.Now() + d.hold, s.next_order++,
                               datagram.destination,
                               std::vector<uint8_t>(bytes.begin(), bytes.end())});
    }
  }
}

}  // namespace

absl::StatusOr<std::optional<FaultOptions>> FaultOptionsFromEnvironment(
    const EnvironmentLookup& env) {
  FaultOptions options;
  bool any = false;
  const std::pair<absl::string_view, double*> probabilities[] = {
      {"GLUE_FAULT_LOSS", &options.drop},
      {"GLUE_FAULT_DUPLICATE", &options.duplicate},
      {"GLUE_FAULT_REORDER", &options.reorder},
      {"GLUE_FAULT_CORRUPT", &options.corrupt}};
  for (const auto& [name, field] : probabilities) {
    any = any || env(name).has_value();
    GLUE_ASSIGN_OR_RETURN(*field, GetDouble(env, name, 0.0, 0.0, 1.0));
  }
  any = any || env("GLUE_FAULT_DELAY_MILLISECONDS").has_value();
  GLUE_ASSIGN_OR_RETURN(const uint64_t delay_ms,
                        GetUint64(env, "GLUE_FAULT_DELAY_MILLISECONDS", 0, 0, 60000));
  if (delay_ms > 0) {
    options.delay = 1.0;
    options.delay_duration = absl::Milliseconds(static_cast<int64_t>(delay_ms));
  }
  GLUE_ASSIGN_OR_RETURN(options.seed,
                        GetUint64(env, "GLUE_FAULT_SEED", std::random_device{}(), 0,
                                  std::numeric_limits<uint64_t>::max()));
  if (!any) return std::optional<FaultOptions>();
  GLUE_LOG(kInfo,
           "network: injecting faults: loss=%g duplicate=%g reorder=%g corrupt=%g "
           "delay=%dms seed=%d (GLUE_FAULT_SEED repeats this run)",
           options.drop, options.duplicate, options.reorder, options.corrupt, delay_ms,
           options.seed);
  return std::optional<FaultOptions>(options);
}

absl::Status FaultInjectingLink::ValidateFaultOptions(const FaultOptions& options) {
  const std::pair<const char*, double> probabilities[] = {
      {"drop", options.drop},
      {"duplicate", options.duplicate},
      {"reorder", options.reorder},
      {"corrupt", options.corrupt},
      {"delay", options.delay}};
  for (const auto& [name, value] : probabilities) {
    if (!(value >= 0.0 && value <= 1.0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("fault probability ", name, "=", value, " is outside 0..1"));
    }
  }
  if (options.delay_duration < absl::ZeroDuration() ||
      options.reorder_delay < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("fault delays must not be negative: delay_duration=",
                     absl::FormatDuration(options.delay_duration),
                     " reorder_delay=", absl::FormatDuration(options.reorder_delay)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<FaultInjectingLink>> FaultInjectingLink::Create(
    const boost::asio::any_io_executor& executor, std::unique_ptr<DatagramLink> inner,
    const FaultOptions& options, Clock& clock) {
  if (inner == nullptr) return absl::InvalidArgumentError("no link to wrap");
  if (absl::Status status = ValidateFaultOptions(options); !status.ok()) return status;
  auto state = std::make_shared<FaultState>(std::move(inner), options, clock);
  {
    MutexLock lock(&state->mu);
    state->alarm = clock.CreateAlarm(executor, [weak = std::weak_ptr<FaultState>(state)] {
      if (auto state = weak.lock()) OnAlarm(state);
    });
  }
  return std::unique_ptr<FaultInjectingLink>(new FaultInjectingLink(std::move(state)));
}

FaultInjectingLink::FaultInjectingLink(std::shared_ptr<FaultState> state)
    : state_(std::move(state)) {}

FaultInjectingLink::~FaultInjectingLink() { Stop(); }

absl::Status FaultInjectingLink::SetOptions(const FaultOptions& options) {
  GLUE_RETURN_IF_ERROR(ValidateFaultOptions(options));
  MutexLock lock(&state_->mu);
  state_->options = options;
  state_->partitioned.store(options.partitioned);
  return absl::OkStatus();
}

FaultCounters FaultInjectingLink::fault_counters() const {
  MutexLock lock(&state_->mu);
  return state_->counters;
}

absl::Status FaultInjectingLink::Start(ReceiveHandler handler) {
  return state_->inner->Start(
      [state = state_.get(), handler = std::move(handler)](const ReceivedDatagram& d) {
        if (state->partitioned.load(std::memory_order_relaxed)) {
          MutexLock lock(&state->mu);
          ++state->counters.partitioned_received;
          return;
        }
        handler(d);
      });
}

void FaultInjectingLink::Stop() {
  {
    MutexLock lock(&state_->mu);
    if (!state_->stopped) {
      state_->stopped = true;
      state_->counters.discarded_at_stop += state_->held.size();
      state_->held = {};
      state_->alarm->Cancel();
      state_->alarm_at.reset();
    }
  }
  state_->inner->Stop();
}

absl::Status FaultInjectingLink::Send(const Address& destination,
                                      absl::Span<const uint8_t> bytes) {
  const OutgoingDatagram datagram{destination, bytes};
  absl::StatusOr<size_t> sent = SendBatch(absl::MakeConstSpan(&datagram, 1));
  return sent.status();
}

absl::StatusOr<size_t> FaultInjectingLink::SendBatch(
    absl::Span<const OutgoingDatagram> datagrams) {
  FaultState& s = *state_;
  std::vector<OutgoingDatagram> now;
  std::vector<std::vector<uint8_t>> storage;
  now.reserve(datagrams.size() * 2);
  storage.reserve(datagrams.size());
  {
    MutexLock lock(&s.mu);
    if (s.stopped)
      return absl::FailedPreconditionError("fault-injecting link is stopped");
    for (const OutgoingDatagram& datagram : datagrams) {
      Apply(state_, datagram, &now, &storage);
    }
    ArmAlarm(state_);
  }
  absl::Span<const OutgoingDatagram> rest = absl::MakeConstSpan(now);
  while (!rest.empty()) {
    absl::StatusOr<size_t> sent = s.inner->SendBatch(rest);
    if (!sent.ok()) {
      if (!absl::IsUnavailable(sent.status()) && rest.size() == now.size() &&
          datagrams.size() == 1) {
        return sent.status();  // an invalid datagram: the caller's mistake, not a fault
      }
      MutexLock lock(&s.mu);
      ++s.counters.inner_refused;
      rest.remove_prefix(1);
      continue;
    }
    rest.remove_prefix(*sent);
  }
  return datagrams.size();
}

Address FaultInjectingLink::local_address() const {
  return state_->inner->local_address();
}

LinkCounters FaultInjectingLink::counters() const { return state_->inner->counters(); }

}  // namespace glue::network
