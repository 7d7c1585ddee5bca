#include "glue/security/sealing_link.h"

#include <array>
#include <list>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/security/replay_window.h"
#include "glue/security/sealer.h"

namespace glue::security {
namespace {

// The largest UDP payload: 65535 minus the IP and UDP headers, as the UdpSocket
// refuses beyond it.
constexpr size_t kMaxUdpPayloadV4 = 65507;
constexpr size_t kMaxUdpPayloadV6 = 65527;

size_t MaxUdpPayload(const network::Address& destination) {
  return destination.address().is_v6() ? kMaxUdpPayloadV6 : kMaxUdpPayloadV4;
}

// Why a received datagram was refused: an index into RefusalKinds().
using Refusal = size_t;
constexpr size_t kRefusals = 7;
constexpr Refusal kReplay = 5;
constexpr Refusal kTooOld = 6;

// Each reason's counter and name. The first five are the OpenOutcomes but kOk, in
// their order.
struct RefusalKind {
  uint64_t SealingCounters::*counter;
  absl::string_view name;
};

const std::array<RefusalKind, kRefusals>& RefusalKinds() {
  static const std::array<RefusalKind, kRefusals> kinds = {{
      {&SealingCounters::not_sealed, OpenOutcomeName(OpenOutcome::kNotSealed)},
      {&SealingCounters::unsupported_version,
       OpenOutcomeName(OpenOutcome::kUnsupportedVersion)},
      {&SealingCounters::truncated, OpenOutcomeName(OpenOutcome::kTruncated)},
      {&SealingCounters::unknown_key_id, OpenOutcomeName(OpenOutcome::kUnknownKeyId)},
      {&SealingCounters::tag_mismatch, OpenOutcomeName(OpenOutcome::kTagMismatch)},
      {&SealingCounters::replay, ReplayCheckName(ReplayCheck::kReplay)},
      {&SealingCounters::too_old, ReplayCheckName(ReplayCheck::kTooOld)},
  }};
  return kinds;
}

// FromOutcome is the refusal of an outcome other than kOk.
Refusal FromOutcome(OpenOutcome outcome) {
  static_assert(static_cast<size_t>(OpenOutcome::kTagMismatch) == kReplay);
  return static_cast<size_t>(outcome) - 1;
}

// The replay window of one sender incarnation, and its place in the recency order.
struct SenderWindow {
  ReplayWindow window;
  std::list<uint64_t>::iterator recency;
};

// SendBuffers hold a thread's sealed datagrams between sends, so that sending
// allocates only while they grow: one buffer per datagram of the largest batch yet.
// Beyond kMaxSendBufferBytes kept, they are freed after the send.
constexpr size_t kMaxSendBufferBytes = size_t{1} << 20;

struct SendBuffers {
  std::vector<std::vector<uint8_t>> sealed;
  std::vector<network::OutgoingDatagram> outgoing;

  void Trim() {
    outgoing.clear();
    size_t kept = 0;
    for (const std::vector<uint8_t>& buffer : sealed) kept += buffer.capacity();
    if (kept > kMaxSendBufferBytes) {
      sealed.clear();
      sealed.shrink_to_fit();
    }
  }
};

thread_local SendBuffers t_send_buffers;

}  // namespace

namespace internal {

struct SealingState {
  SealingState(std::unique_ptr<network::DatagramLink> inner_link,
               const SealingOptions& opts, Clock& c)
      : inner(std::move(inner_link)),
        options(opts),
        clock(c),
        keyring(opts.keyring),
        sealer(std::make_unique<Sealer>(keyring.get(), opts.network_id,
                                        RandomIncarnation())) {}

  const std::unique_ptr<network::DatagramLink> inner;
  const SealingOptions options;  // its keyring is the first; `keyring` is current
  Clock& clock;

  mutable Mutex mu;
  std::shared_ptr<const Keyring> keyring ABSL_GUARDED_BY(mu);
  // Seals under `keyring`, which it points into.
  std::unique_ptr<Sealer> sealer ABSL_GUARDED_BY(mu);
  SealingCounters counters ABSL_GUARDED_BY(mu);
  // Sender incarnation -> window; `recency` lists incarnations, most recently verified
  // first.
  std::unordered_map<uint64_t, SenderWindow> windows ABSL_GUARDED_BY(mu);
  std::list<uint64_t> recency ABSL_GUARDED_BY(mu);
  std::array<LogLimiter, kRefusals> limiters ABSL_GUARDED_BY(mu);

  // The receive handler's own: one runs at a time.
  network::DatagramLink::ReceiveHandler handler;
  std::vector<uint8_t> plaintext;

  void Receive(const network::ReceivedDatagram& datagram);
  // Seals from now on under `next`'s first key, the same incarnation going on.
  void SetKeyring(std::shared_ptr<const Keyring> next) ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    sealer = std::make_unique<Sealer>(next.get(), options.network_id,
                                      sealer->incarnation(), sealer->next_sequence());
    keyring = std::move(next);
  }
  SealingCounters Counters() const ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    return counters;
  }
  void Refuse(Refusal refusal, const network::Address& source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Seals `bytes` into `*out`; kInvalidArgument when it would not fit UDP.
  absl::Status Seal(const network::Address& destination, absl::Span<const uint8_t> bytes,
                    std::vector<uint8_t>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

void SealingState::Refuse(Refusal refusal, const network::Address& source) {
  const RefusalKind& kind = RefusalKinds()[refusal];
  ++(counters.*kind.counter);
  if (const uint64_t n = limiters[refusal].Admit(clock.Now())) {
    GLUE_LOG(kWarning,
             "security: refused %d datagram(s) (%s) since the last line, e.g. from %s", n,
             kind.name, network::FormatAddress(source));
  }
}

void SealingState::Receive(const network::ReceivedDatagram& datagram) {
  SealedDatagram sealed;
  const OpenOutcome read = ReadSealedDatagram(datagram.bytes, &sealed);
  if (read == OpenOutcome::kNotSealed && options.accept_unsealed) {
    {
      MutexLock lock(&mu);
      ++counters.accepted_unsealed;
    }
    handler(datagram);
    return;
  }
  std::shared_ptr<const Keyring> current;
  {
    MutexLock lock(&mu);
    if (read != OpenOutcome::kOk) {
      Refuse(FromOutcome(read), datagram.source);
      return;
    }
    // A sender incarnation with no window yet is checked against an empty one: only
    // sequence 0 is refused.
    const auto it = windows.find(sealed.incarnation);
    const ReplayCheck check = it != windows.end()
                                  ? it->second.window.Check(sealed.sequence)
                                  : ReplayWindow().Check(sealed.sequence);
    if (check != ReplayCheck::kFresh) {
      Refuse(check == ReplayCheck::kReplay ? kReplay : kTooOld, datagram.source);
      return;
    }
    current = keyring;
  }
  // The cipher's work runs outside the lock, so that senders do not wait for it.
  plaintext.resize(sealed.payload_bytes());
  size_t payload_bytes = 0;
  const OpenOutcome opened = Opener(current.get(), options.network_id)
                                 .Open(sealed, absl::MakeSpan(plaintext), &payload_bytes);
  {
    MutexLock lock(&mu);
    if (opened != OpenOutcome::kOk) {
      Refuse(FromOutcome(opened), datagram.source);
      return;
    }
    auto it = windows.find(sealed.incarnation);
    if (it == windows.end()) {
      if (windows.size() >= options.max_senders) {
        windows.erase(recency.back());
        recency.pop_back();
        ++counters.windows_evicted;
      }
      recency.push_front(sealed.incarnation);
      it = windows.emplace(sealed.incarnation, SenderWindow{{}, recency.begin()}).first;
    } else {
      recency.splice(recency.begin(), recency, it->second.recency);
    }
    it->second.window.Advance(sealed.sequence);
    counters.windows = windows.size();
    ++counters.opened;
  }
  handler(network::ReceivedDatagram{datagram.source, datagram.destination,
                                    absl::MakeConstSpan(plaintext).first(payload_bytes)});
}

absl::Status SealingState::Seal(const network::Address& destination,
                                absl::Span<const uint8_t> bytes,
                                std::vector<uint8_t>* out) {
  const size_t limit = MaxUdpPayload(destination);
  if (bytes.size() <= limit && bytes.size() + sealer->overhead() > limit) {
    ++counters.too_large;
    return absl::InvalidArgumentError(absl::StrFormat(
        "a datagram of %d bytes does not fit UDP's %d once sealed (%d bytes more)",
        bytes.size(), limit, sealer->overhead()));
  }
  // A datagram too large even unsealed goes on to the inner link, which refuses it as
  // it would have without sealing.
  out->resize(bytes.size() + sealer->overhead());
  absl::StatusOr<size_t> size = sealer->Seal(bytes, absl::MakeSpan(*out));
  if (!size.ok()) return size.status();
  ++counters.sealed;
  return absl::OkStatus();
}

void SetKeyringOf(SealingState& state, std::shared_ptr<const Keyring> keyring) {
  state.SetKeyring(std::move(keyring));
}

SealingCounters CountersOf(const SealingState& state) { return state.Counters(); }

}  // namespace internal

absl::StatusOr<std::unique_ptr<SealingLink>> SealingLink::Create(
    std::unique_ptr<network::DatagramLink> inner, SealingOptions options, Clock& clock) {
  if (inner == nullptr) return absl::InvalidArgumentError("no link to wrap");
  if (options.keyring == nullptr) return absl::InvalidArgumentError("no keyring");
  if (options.max_senders == 0) {
    return absl::InvalidArgumentError("max_senders is 0: no sender could be accepted");
  }
  return std::unique_ptr<SealingLink>(new SealingLink(
      std::make_shared<internal::SealingState>(std::move(inner), options, clock)));
}

SealingLink::SealingLink(std::shared_ptr<internal::SealingState> state)
    : state_(std::move(state)) {}

SealingLink::~SealingLink() { Stop(); }

absl::Status SealingLink::SetKeyring(std::shared_ptr<const Keyring> keyring) {
  if (keyring == nullptr) return absl::InvalidArgumentError("no keyring");
  state_->SetKeyring(std::move(keyring));
  return absl::OkStatus();
}

size_t SealingLink::overhead() const {
  if (state_->options.send_unsealed) return 0;
  MutexLock lock(&state_->mu);
  return state_->sealer->overhead();
}

uint64_t SealingLink::incarnation() const {
  MutexLock lock(&state_->mu);
  return state_->sealer->incarnation();
}

SealingCounters SealingLink::sealing_counters() const { return state_->Counters(); }

absl::Status SealingLink::Start(ReceiveHandler handler) {
  internal::SealingState* s = state_.get();
  s->handler = std::move(handler);
  return s->inner->Start([s](const network::ReceivedDatagram& d) { s->Receive(d); });
}

void SealingLink::Stop() { state_->inner->Stop(); }

absl::Status SealingLink::Send(const network::Address& destination,
                               absl::Span<const uint8_t> bytes) {
  const network::OutgoingDatagram datagram{destination, bytes};
  return SendBatch(absl::MakeConstSpan(&datagram, 1)).status();
}

absl::StatusOr<size_t> SealingLink::SendBatch(
    absl::Span<const network::OutgoingDatagram> datagrams) {
  internal::SealingState& s = *state_;
  if (s.options.send_unsealed) {
    absl::StatusOr<size_t> sent = s.inner->SendBatch(datagrams);
    if (sent.ok()) {
      MutexLock lock(&s.mu);
      s.counters.sent_unsealed += *sent;
    }
    return sent;
  }
  // The thread's buffers, taken for the call (so that a send from within the inner
  // link would find empty ones rather than these) and given back after.
  SendBuffers buffers = std::move(t_send_buffers);
  if (buffers.sealed.size() < datagrams.size()) buffers.sealed.resize(datagrams.size());
  buffers.outgoing.clear();
  absl::Status refused;
  {
    MutexLock lock(&s.mu);
    for (size_t i = 0; i < datagrams.size(); ++i) {
      refused = s.Seal(datagrams[i].destination, datagrams[i].bytes, &buffers.sealed[i]);
      if (!refused.ok()) break;
      buffers.outgoing.push_back({datagrams[i].destination, buffers.sealed[i]});
    }
  }
  absl::StatusOr<size_t> sent = size_t{0};
  if (!buffers.outgoing.empty()) {
    sent = s.inner->SendBatch(buffers.outgoing);
  } else if (!refused.ok()) {
    sent = refused;
  }
  buffers.Trim();
  t_send_buffers = std::move(buffers);
  return sent;
}

network::Address SealingLink::local_address() const {
  return state_->inner->local_address();
}

network::LinkCounters SealingLink::counters() const { return state_->inner->counters(); }

}  // namespace glue::security
