#include "glue/security/sealing_link.h"

#include <sodium.h>

#include <array>
#include <atomic>
#include <boost/asio/post.hpp>
#include <cstring>
#include <iterator>
#include <list>
#include <optional>
#include <set>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "glue/base/byte_reader.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
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

// A challenge's nonce, random: what the response must carry back.
constexpr size_t kChallengeNonceBytes = 16;

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

// Held is a verified datagram of an incarnation not yet shown fresh, waiting for the
// answer to its challenge, and the link it came in by.
struct Held {
  std::weak_ptr<SealingState> via;
  network::Address source;
  network::Address destination;
  uint64_t sequence = 0;
  std::vector<uint8_t> payload;
};

// Pending is a sender incarnation challenged and not yet answered.
struct Pending {
  std::array<uint8_t, kChallengeNonceBytes> nonce;
  absl::Time challenged;       // first
  absl::Time last_challenged;  // latest
  std::vector<Held> held;
  size_t held_bytes = 0;
  std::list<uint64_t>::iterator order;
};

// Freshness is what a receiver knows of senders: the replay windows of the
// incarnations shown fresh, and those challenged. One link's own, or shared by the
// links of one SealingLinks.
struct Freshness {
  Freshness(size_t max, Clock& c) : max_senders(max), clock(c) {}

  const size_t max_senders;
  Clock& clock;
  Mutex mu;
  // Sender incarnation -> window; `recency` lists incarnations, most recently
  // verified first.
  std::unordered_map<uint64_t, SenderWindow> windows ABSL_GUARDED_BY(mu);
  std::list<uint64_t> recency ABSL_GUARDED_BY(mu);
  // Incarnation -> its challenge; `pending_order`, oldest challenged first.
  std::unordered_map<uint64_t, Pending> pending ABSL_GUARDED_BY(mu);
  std::list<uint64_t> pending_order ABSL_GUARDED_BY(mu);
  size_t held_bytes ABSL_GUARDED_BY(mu) = 0;
  // The incarnations of our own links, fresh by definition.
  std::set<uint64_t> own ABSL_GUARDED_BY(mu);
  // Where challenges go from; unset, each link sends its own.
  std::weak_ptr<SealingState> challenger ABSL_GUARDED_BY(mu);
  SealingCounters counters ABSL_GUARDED_BY(mu);  // the receiving ones
  std::array<LogLimiter, kRefusals> limiters ABSL_GUARDED_BY(mu);

  void Refuse(Refusal refusal, const network::Address& source)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Window returns the window of `incarnation`, made (evicting the least recently
  // verified at max_senders) when there is none.
  ReplayWindow& Window(uint64_t incarnation) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Expire gives up the challenges unanswered for kChallengeTimeout.
  void Expire(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  void Drop(std::unordered_map<uint64_t, Pending>::iterator it)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

void Freshness::Refuse(Refusal refusal, const network::Address& source) {
  const RefusalKind& kind = RefusalKinds()[refusal];
  ++(counters.*kind.counter);
  if (const uint64_t n = limiters[refusal].Admit(clock.Now())) {
    GLUE_LOG(kWarning,
             "security: refused %d datagram(s) (%s) since the last line, e.g. from %s", n,
             kind.name, network::FormatAddress(source));
  }
}

ReplayWindow& Freshness::Window(uint64_t incarnation) {
  auto it = windows.find(incarnation);
  if (it == windows.end()) {
    if (windows.size() >= max_senders) {
      windows.erase(recency.back());
      recency.pop_back();
      ++counters.windows_evicted;
    }
    recency.push_front(incarnation);
    it = windows.emplace(incarnation, SenderWindow{{}, recency.begin()}).first;
    counters.windows = windows.size();
  } else {
    recency.splice(recency.begin(), recency, it->second.recency);
  }
  return it->second.window;
}

void Freshness::Drop(std::unordered_map<uint64_t, Pending>::iterator it) {
  counters.held_dropped += it->second.held.size();
  held_bytes -= it->second.held_bytes;
  ++counters.unanswered;
  pending_order.erase(it->second.order);
  pending.erase(it);
  counters.pending = pending.size();
}

void Freshness::Expire(absl::Time now) {
  while (!pending_order.empty()) {
    const auto it = pending.find(pending_order.front());
    if (now - it->second.challenged < kChallengeTimeout) return;
    Drop(it);
  }
}

struct SealingState : std::enable_shared_from_this<SealingState> {
  SealingState(std::unique_ptr<network::DatagramLink> inner_link,
               const SealingOptions& opts, Clock& c, std::shared_ptr<Freshness> f)
      : inner(std::move(inner_link)),
        options(opts),
        clock(c),
        freshness(std::move(f)),
        keyring(opts.keyring),
        sealer(std::make_unique<Sealer>(keyring.get(), opts.network_id,
                                        RandomIncarnation())) {}

  const std::unique_ptr<network::DatagramLink> inner;
  const SealingOptions options;  // its keyring is the first; `keyring` is current
  Clock& clock;
  const std::shared_ptr<Freshness> freshness;
  // Where datagrams held for a challenge answered on another link go up; unset for a
  // link of its own (they go up from its own receive handler).
  std::optional<boost::asio::any_io_executor> executor;
  std::atomic<bool> stopped = false;

  mutable Mutex mu;
  std::shared_ptr<const Keyring> keyring ABSL_GUARDED_BY(mu);
  // Seals under `keyring`, which it points into.
  std::unique_ptr<Sealer> sealer ABSL_GUARDED_BY(mu);
  SealingCounters counters ABSL_GUARDED_BY(mu);  // the sending ones

  // The receive handler's own: one runs at a time.
  network::DatagramLink::ReceiveHandler handler;
  std::vector<uint8_t> plaintext;

  void Receive(const network::ReceivedDatagram& datagram);
  void OnChallenge(const SealedDatagram& sealed, absl::Span<const uint8_t> payload,
                   const network::Address& source);
  void OnResponse(const SealedDatagram& sealed, absl::Span<const uint8_t> payload);
  // Hands `held` up through the link it came in by.
  void Release(std::vector<Held> held);
  // Seals `payload` as a datagram of `kind` and sends it to `destination`.
  absl::Status SendControl(SealedKind kind, const network::Address& destination,
                           absl::Span<const uint8_t> payload);
  // Seals `bytes` into `*out`; kInvalidArgument when it would not fit UDP.
  absl::Status Seal(const network::Address& destination, absl::Span<const uint8_t> bytes,
                    std::vector<uint8_t>* out, SealedKind kind = SealedKind::kData)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  uint64_t Incarnation() const ABSL_LOCKS_EXCLUDED(mu) {
    MutexLock lock(&mu);
    return sealer->incarnation();
  }
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
};

void SealingState::Receive(const network::ReceivedDatagram& datagram) {
  Freshness& f = *freshness;
  SealedDatagram sealed;
  const OpenOutcome read = ReadSealedDatagram(datagram.bytes, &sealed);
  if (read == OpenOutcome::kNotSealed && options.accept_unsealed) {
    {
      MutexLock lock(&f.mu);
      ++f.counters.accepted_unsealed;
    }
    handler(datagram);
    return;
  }
  if (read != OpenOutcome::kOk) {
    MutexLock lock(&f.mu);
    f.Refuse(FromOutcome(read), datagram.source);
    return;
  }
  if (sealed.kind == SealedKind::kData) {
    // A known incarnation's window first, before the costly part. An unknown one's is
    // made once the tag verifies.
    MutexLock lock(&f.mu);
    const auto it = f.windows.find(sealed.incarnation);
    const ReplayCheck check = it != f.windows.end()
                                  ? it->second.window.Check(sealed.sequence)
                                  : ReplayWindow().Check(sealed.sequence);
    if (check != ReplayCheck::kFresh) {
      f.Refuse(check == ReplayCheck::kReplay ? kReplay : kTooOld, datagram.source);
      return;
    }
  }
  std::shared_ptr<const Keyring> current;
  {
    MutexLock lock(&mu);
    current = keyring;
  }
  // The cipher's work runs outside the locks, so that senders do not wait for it.
  plaintext.resize(sealed.payload_bytes());
  size_t payload_bytes = 0;
  const OpenOutcome opened = Opener(current.get(), options.network_id)
                                 .Open(sealed, absl::MakeSpan(plaintext), &payload_bytes);
  if (opened != OpenOutcome::kOk) {
    MutexLock lock(&f.mu);
    f.Refuse(FromOutcome(opened), datagram.source);
    return;
  }
  const absl::Span<const uint8_t> payload =
      absl::MakeConstSpan(plaintext).first(payload_bytes);
  if (sealed.kind == SealedKind::kChallenge)
    return OnChallenge(sealed, payload, datagram.source);
  if (sealed.kind == SealedKind::kResponse) return OnResponse(sealed, payload);

  bool fresh = false;
  std::optional<std::array<uint8_t, kChallengeNonceBytes>> challenge;
  std::shared_ptr<SealingState> challenger;
  {
    MutexLock lock(&f.mu);
    const absl::Time now = clock.Now();
    f.Expire(now);
    const auto known = f.windows.find(sealed.incarnation);
    if (known != f.windows.end() || f.own.contains(sealed.incarnation)) {
      // Checked again: another datagram of the same sequence may have gone up on
      // another link since.
      ReplayWindow& window = f.Window(sealed.incarnation);
      const ReplayCheck check = window.Check(sealed.sequence);
      if (check != ReplayCheck::kFresh) {
        f.Refuse(check == ReplayCheck::kReplay ? kReplay : kTooOld, datagram.source);
        return;
      }
      window.Advance(sealed.sequence);
      ++f.counters.opened;
      fresh = true;
    } else {
      auto it = f.pending.find(sealed.incarnation);
      if (it == f.pending.end()) {
        if (f.pending.size() >= kMaxPendingSenders) {
          f.Drop(f.pending.find(f.pending_order.front()));
        }
        Pending fresh;
        randombytes_buf(fresh.nonce.data(), fresh.nonce.size());
        fresh.challenged = now;
        fresh.last_challenged = now;
        f.pending_order.push_back(sealed.incarnation);
        fresh.order = std::prev(f.pending_order.end());
        it = f.pending.emplace(sealed.incarnation, std::move(fresh)).first;
        f.counters.pending = f.pending.size();
        challenge = it->second.nonce;
      } else if (now - it->second.last_challenged >= kChallengeResendInterval) {
        it->second.last_challenged = now;
        challenge = it->second.nonce;
      }
      Pending& p = it->second;
      if (p.held.size() >= kMaxHeldPerSender ||
          f.held_bytes + payload.size() > kMaxHeldBytes) {
        ++f.counters.held_dropped;
      } else {
        p.held.push_back(Held{weak_from_this(),
                              datagram.source,
                              datagram.destination,
                              sealed.sequence,
                              {payload.begin(), payload.end()}});
        p.held_bytes += payload.size();
        f.held_bytes += payload.size();
        ++f.counters.held;
      }
      if (challenge.has_value()) {
        ++f.counters.challenges_sent;
        challenger = f.challenger.lock();
      }
    }
  }
  if (fresh) {
    handler(network::ReceivedDatagram{datagram.source, datagram.destination, payload});
    return;
  }
  if (!challenge.has_value()) return;  // held; challenged already
  // The challenge: the incarnation challenged, then the nonce.
  std::array<uint8_t, 8 + kChallengeNonceBytes> body;
  PutFixed64(sealed.incarnation, body.data());
  std::memcpy(body.data() + 8, challenge->data(), challenge->size());
  (void)(challenger != nullptr ? *challenger : *this)
      .SendControl(SealedKind::kChallenge, datagram.source, body);
}

void SealingState::OnChallenge(const SealedDatagram& sealed,
                               absl::Span<const uint8_t> payload,
                               const network::Address& source) {
  Freshness& f = *freshness;
  if (payload.size() != 8 + kChallengeNonceBytes) {
    MutexLock lock(&f.mu);
    f.Refuse(FromOutcome(OpenOutcome::kTruncated), source);
    return;
  }
  // Only the incarnation challenged answers: another link, or an earlier run at the
  // same address, stays silent.
  if (LoadFixed64(payload.data()) != Incarnation()) return;
  std::array<uint8_t, 8 + kChallengeNonceBytes> body;
  PutFixed64(sealed.incarnation, body.data());
  std::memcpy(body.data() + 8, payload.data() + 8, kChallengeNonceBytes);
  if (SendControl(SealedKind::kResponse, source, body).ok()) {
    MutexLock lock(&f.mu);
    ++f.counters.responses_sent;
  }
}

void SealingState::OnResponse(const SealedDatagram& sealed,
                              absl::Span<const uint8_t> payload) {
  if (payload.size() != 8 + kChallengeNonceBytes) return;
  if (LoadFixed64(payload.data()) != Incarnation()) return;  // not our challenge
  Freshness& f = *freshness;
  std::vector<Held> release;
  {
    MutexLock lock(&f.mu);
    const auto it = f.pending.find(sealed.incarnation);
    if (it == f.pending.end() || std::memcmp(it->second.nonce.data(), payload.data() + 8,
                                             kChallengeNonceBytes) != 0) {
      return;  // a challenge given up, or a replayed response
    }
    // The window starts at the response's sequence: the held datagrams within
    // kReplayWindowSize below it go up, each once.
    ReplayWindow& window = f.Window(sealed.incarnation);
    if (window.Check(sealed.sequence) == ReplayCheck::kFresh)
      window.Advance(sealed.sequence);
    for (Held& held : it->second.held) {
      const ReplayCheck check = window.Check(held.sequence);
      if (check != ReplayCheck::kFresh) {
        f.Refuse(check == ReplayCheck::kReplay ? kReplay : kTooOld, held.source);
        continue;
      }
      window.Advance(held.sequence);
      ++f.counters.opened;
      release.push_back(std::move(held));
    }
    f.held_bytes -= it->second.held_bytes;
    f.pending_order.erase(it->second.order);
    f.pending.erase(it);
    f.counters.pending = f.pending.size();
    ++f.counters.senders_verified;
  }
  Release(std::move(release));
}

void SealingState::Release(std::vector<Held> held) {
  for (Held& h : held) {
    std::shared_ptr<SealingState> via = h.via.lock();
    if (via == nullptr) continue;
    if (via.get() == this || !via->executor.has_value()) {
      if (!via->stopped) {
        via->handler(network::ReceivedDatagram{h.source, h.destination, h.payload});
      }
      continue;
    }
    // Another link's datagram goes up on that link's executor, as its own do.
    boost::asio::post(*via->executor, [weak = h.via, h = std::move(h)] {
      if (std::shared_ptr<SealingState> link = weak.lock(); link && !link->stopped) {
        link->handler(network::ReceivedDatagram{h.source, h.destination, h.payload});
      }
    });
  }
}

absl::Status SealingState::SendControl(SealedKind kind,
                                       const network::Address& destination,
                                       absl::Span<const uint8_t> payload) {
  std::vector<uint8_t> out;
  {
    MutexLock lock(&mu);
    GLUE_RETURN_IF_ERROR(Seal(destination, payload, &out, kind));
  }
  return inner->Send(destination, out);
}

absl::Status SealingState::Seal(const network::Address& destination,
                                absl::Span<const uint8_t> bytes,
                                std::vector<uint8_t>* out, SealedKind kind) {
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
  absl::StatusOr<size_t> size = sealer->Seal(bytes, absl::MakeSpan(*out), kind);
  if (!size.ok()) return size.status();
  if (kind == SealedKind::kData) ++counters.sealed;
  return absl::OkStatus();
}

void SetKeyringOf(SealingState& state, std::shared_ptr<const Keyring> keyring) {
  state.SetKeyring(std::move(keyring));
}

SealingCounters CountersOf(const SealingState& state) { return state.Counters(); }

SealingCounters CountersOf(const Freshness& freshness) {
  MutexLock lock(&const_cast<Freshness&>(freshness).mu);
  return freshness.counters;
}

std::shared_ptr<Freshness> MakeFreshness(size_t max_senders, Clock& clock) {
  return std::make_shared<Freshness>(max_senders, clock);
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<SealingLink>> SealingLink::Create(
    std::unique_ptr<network::DatagramLink> inner, SealingOptions options, Clock& clock) {
  if (inner == nullptr) return absl::InvalidArgumentError("no link to wrap");
  if (options.keyring == nullptr) return absl::InvalidArgumentError("no keyring");
  if (options.max_senders == 0) {
    return absl::InvalidArgumentError("max_senders is 0: no sender could be accepted");
  }
  auto freshness = internal::MakeFreshness(options.max_senders, clock);
  auto state = std::make_shared<internal::SealingState>(std::move(inner), options, clock,
                                                        freshness);
  {
    MutexLock lock(&freshness->mu);
    freshness->own.insert(state->Incarnation());
  }
  return std::unique_ptr<SealingLink>(new SealingLink(std::move(state)));
}

absl::StatusOr<std::unique_ptr<SealingLink>> SealingLink::CreateShared(
    std::unique_ptr<network::DatagramLink> inner, const SealingOptions& options,
    Clock& clock, std::shared_ptr<internal::Freshness> freshness,
    const boost::asio::any_io_executor& executor, bool challenger) {
  if (inner == nullptr) return absl::InvalidArgumentError("no link to wrap");
  if (options.keyring == nullptr) return absl::InvalidArgumentError("no keyring");
  auto state = std::make_shared<internal::SealingState>(std::move(inner), options, clock,
                                                        freshness);
  state->executor = executor;
  {
    MutexLock lock(&freshness->mu);
    freshness->own.insert(state->Incarnation());
    if (challenger) freshness->challenger = state;
  }
  return std::unique_ptr<SealingLink>(new SealingLink(std::move(state)));
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

SealingCounters SealingLink::sealing_counters() const {
  SealingCounters counters = internal::CountersOf(*state_->freshness);
  const SealingCounters sent = state_->Counters();
  counters.sealed = sent.sealed;
  counters.sent_unsealed = sent.sent_unsealed;
  counters.too_large = sent.too_large;
  return counters;
}

absl::Status SealingLink::Start(ReceiveHandler handler) {
  internal::SealingState* s = state_.get();
  s->handler = std::move(handler);
  return s->inner->Start([s](const network::ReceivedDatagram& d) { s->Receive(d); });
}

void SealingLink::Stop() {
  state_->stopped = true;
  state_->inner->Stop();
}

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
