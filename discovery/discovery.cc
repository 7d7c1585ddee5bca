#include "glue/discovery/discovery.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "discovery/builtin_providers.h"
#include "glue/base/environment.h"
#include "glue/base/handler_gate.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/base/siphash.h"
#include "glue/base/status_macros.h"
#include "glue/network/interfaces.h"
#include "glue/network/udp_socket.h"

namespace glue::discovery {
namespace internal {

// The wait after the first announcement; it doubles with each one until the period.
constexpr absl::Duration kFirstStartupInterval = absl::Milliseconds(20);

// A rendezvous's answer makes us challenge at most this many endpoints it lists that
// we do not know, and each address at most once per period of ours: what one voucher
// makes us send stays within a small multiple of what it sent.
constexpr size_t kMaxIntroductionsPerAnnouncement = 64;
constexpr size_t kMaxIntroducedAddresses = 4096;
// Frames from an endpoint we do not know draw a challenge to where they came from at
// most this often per address.
constexpr absl::Duration kUnknownFramesChallengeInterval = absl::Milliseconds(20);
// A join takes three datagrams in a row (our challenge, the echo, the echo of the
// endpoint's own challenge), so under loss a challenge not yet echoed is sent again,
// this long after and then twice as long, kChallengeResends times: each datagram an
// endpoint sent us draws at most 1 + kChallengeResends, which keeps what an
// address it forged gets within QUIC's limit of three times what it sent. At 30 % loss
// 92 of 100 simulated joins of four endpoints complete within 300 ms, against 40
// without resending (DiscoveryUnderLossTest).
constexpr absl::Duration kChallengeResendInterval = absl::Milliseconds(25);
constexpr int kChallengeResends = 2;
constexpr size_t kMaxPendingChallenges = 1024;

// AddressPacer lets each address be challenged at most once per interval, keyed by a
// hash of the address (Cookie(0, address)), remembering at most
// kMaxIntroducedAddresses of them: what we send to one address, on anyone's word,
// stays bounded. Guarded by its owner's lock.
class AddressPacer {
 public:
  explicit AddressPacer(absl::Duration interval) : interval_(interval) {}

  // Take says whether address `key` may be challenged at `now`, recording it if so.
  bool Take(uint64_t key, absl::Time now) {
    auto [at, fresh] = last_.try_emplace(key, now);
    if (!fresh && now - at->second < interval_) return false;
    if (fresh && last_.size() > kMaxIntroducedAddresses) {
      last_.erase(at);
      return false;
    }
    at->second = now;
    // Addresses challenged over an interval ago may be challenged again: forget them.
    if (last_.size() > kMaxIntroducedAddresses / 2) {
      absl::erase_if(last_,
                     [&](const auto& entry) { return now - entry.second >= interval_; });
    }
    return true;
  }

 private:
  const absl::Duration interval_;
  absl::flat_hash_map<uint64_t, absl::Time> last_;
};

// ProviderSlot is a provider in use and the addresses it gave, the bit of the
// provider in the masks of DiscoveryState::targets and heard_via being 1 << its index.
struct ProviderSlot {
  std::string name;
  std::shared_ptr<Provider> provider;  // null: a fixed address (multicast, rendezvous)
  std::vector<network::Address> addresses;
};

// After this many announcements to the group without hearing one of them back, the
// group is taken to be unreachable (a firewall that drops multicast), and a warning
// says what to set instead.
constexpr uint64_t kMulticastLoopbackChecks = 5;

// PendingChallenge is a challenge sent to an endpoint not yet proven, to send again
// until it is echoed.
struct PendingChallenge {
  uint64_t id = 0;
  network::Address to;
  int resends_left = 0;
  absl::Time next;
};

struct DiscoveryState : std::enable_shared_from_this<DiscoveryState> {
  DiscoveryState(Strand s, const Config& cfg, Discovery::Options opts, Clock& c,
                 network::LinkFactory& l)
      : strand(std::move(s)),
        config(cfg),
        options(std::move(opts)),
        clock(c),
        links(l),
        table({.network_id = cfg.network_id,
               .own_id = cfg.endpoint_id,
               .own_name = cfg.endpoint_name,
               .timeout_multiplier = cfg.rate_timeout_multiplier,
               .own_rate = cfg.rate,
               .max_peers = options.max_peers}),
        cookie_key(RandomSipHashKey()) {}

  const Strand strand;
  const Config config;
  const Discovery::Options options;
  Clock& clock;
  network::LinkFactory& links;
  HandlerGate gate;

  // Set by Start, then only read.
  Discovery::Listener* listener = nullptr;
  std::unique_ptr<network::DatagramLink> data;  // the data socket, perhaps behind faults
  std::unique_ptr<network::DatagramLink> listen;
  // With Options::data_faults: the fault links around the two sockets (the discovery
  // socket's only matters when partitioned: it sends nothing), which SetDataFaults
  // changes; null otherwise.
  network::FaultInjectingLink* data_faults = nullptr;
  network::FaultInjectingLink* listen_faults = nullptr;
  network::Address announced;

  // Touched only by handlers, which the strand runs one at a time.
  LogLimiter target_failures_log;  // of announcements that could not be sent
  serialization::DatagramDecoder decoder;
  serialization::DecodedDatagram decoded;
  Peer frames_peer;       // the sender of the frames handled, copied out of the table
  uint64_t alive_id = 0;  // the peer whose frames were last recorded as a sign of life
  absl::Time alive_at = absl::InfinitePast();  // and when

  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  absl::Duration startup_interval ABSL_GUARDED_BY(mu) = kFirstStartupInterval;
  PeerTable table ABSL_GUARDED_BY(mu);
  // Set once by Create.
  std::unique_ptr<Alarm> announce_alarm ABSL_GUARDED_BY(mu);
  std::unique_ptr<Alarm> expiry_alarm ABSL_GUARDED_BY(mu);
  std::unique_ptr<Alarm> resend_alarm ABSL_GUARDED_BY(mu);
  // Challenges to send again, by cookie, at most kMaxPendingChallenges; the alarm is
  // set for the earliest, resend_at.
  absl::flat_hash_map<uint64_t, PendingChallenge> pending ABSL_GUARDED_BY(mu);
  absl::Time resend_at ABSL_GUARDED_BY(mu) = absl::InfiniteFuture();
  // The addresses a rendezvous listed, challenged at most once a period of ours.
  AddressPacer introduced ABSL_GUARDED_BY(mu) = AddressPacer(config.rate);
  // The sources of frames from endpoints we do not know.
  AddressPacer unknown_senders ABSL_GUARDED_BY(mu) =
      AddressPacer(kUnknownFramesChallengeInterval);
  // The providers in use, at most kMaxProviders (their bits fit a uint32_t), and the
  // addresses they gave, merged: address -> the providers that gave it.
  std::vector<ProviderSlot> providers ABSL_GUARDED_BY(mu);
  std::map<network::Address, uint32_t> targets ABSL_GUARDED_BY(mu);
  // The providers that told of each peer otherwise than by its address: multicast
  // (its announcements reach the group), a rendezvous (its answers list it).
  absl::flat_hash_map<uint64_t, uint32_t> heard_via ABSL_GUARDED_BY(mu);
  uint32_t multicast_bit ABSL_GUARDED_BY(mu) = 0;   // 0: not in use
  uint32_t rendezvous_bit ABSL_GUARDED_BY(mu) = 0;  // 0: not in use
  size_t direct_next ABSL_GUARDED_BY(mu) = 0;       // where the next period's turn begins
  uint64_t group_announcements ABSL_GUARDED_BY(mu) = 0;
  bool multicast_warned ABSL_GUARDED_BY(mu) = false;
  // One line per period per reason of refusal.
  LogLimiter other_version_log ABSL_GUARDED_BY(mu);
  LogLimiter clash_log ABSL_GUARDED_BY(mu);
  // Mutable: announcements are encoded from a const state, under the lock.
  mutable LogLimiter unlisted_log ABSL_GUARDED_BY(mu);
  // The key of our challenges: a challenge is Cookie(id, address), which only we can
  // compute, so that an echo is checked without remembering whom we challenged.
  const SipHashKey cookie_key;

  std::atomic<uint64_t> direct_announcements_sent{0}, direct_announcements_deferred{0},
      provider_addresses_dropped{0}, own_multicast_heard{0};
  std::atomic<uint64_t> announcements_sent{0}, answers_sent{0}, goodbyes_sent{0},
      send_failures{0}, datagrams_received{0}, corrupt{0}, malformed{0}, other_version{0},
      frames_from_unknown{0}, challenges_sent{0}, echoes_sent{0}, probes_sent{0},
      verified{0}, introductions_deferred{0}, challenges_resent{0},
      challenges_not_resent{0};

  // Cookie is our challenge to endpoint `id` at `address`: never 0.
  uint64_t Cookie(uint64_t id, const network::Address& address) const {
    uint8_t bytes[8 + 16 + 2];
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<uint8_t>(id >> (8 * i));
    size_t size = 8;
    auto put = [&](const auto& ip) {
      std::copy(ip.begin(), ip.end(), bytes + size);
      size += ip.size();
    };
    if (address.address().is_v4()) {
      put(address.address().to_v4().to_bytes());
    } else {
      put(address.address().to_v6().to_bytes());
    }
    bytes[size++] = static_cast<uint8_t>(address.port() >> 8);
    bytes[size++] = static_cast<uint8_t>(address.port());
    const uint64_t cookie = SipHash24(cookie_key, absl::MakeConstSpan(bytes, size));
    return cookie == 0 ? 1 : cookie;
  }

  bool rendezvous() const { return !config.discovery_target.has_value(); }

  // SourcesOf is the mask of the providers that know `peer`.
  uint32_t SourcesOf(const Peer& peer) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    uint32_t mask = 0;
    if (auto it = heard_via.find(peer.id); it != heard_via.end()) mask |= it->second;
    if (auto it = targets.find(peer.data_address); it != targets.end()) {
      mask |= it->second;
    }
    return mask;
  }
  std::vector<std::string> NamesOf(uint32_t mask) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    std::vector<std::string> names;
    for (size_t i = 0; i < providers.size(); ++i) {
      if (mask & (uint32_t{1} << i)) names.push_back(providers[i].name);
    }
    return names;
  }
  // RebuildTargets merges the providers' addresses.
  void RebuildTargets() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    targets.clear();
    for (size_t i = 0; i < providers.size(); ++i) {
      for (const network::Address& a : providers[i].addresses) {
        targets[a] |= uint32_t{1} << i;
      }
    }
  }
  serialization::Header Header() const {
    serialization::Header header;
    header.network_id = config.network_id;
    header.endpoint_id = config.endpoint_id;
    header.endpoint_name = config.endpoint_name;
    return header;
  }
};

}  // namespace internal

namespace {

using internal::DiscoveryState;
using internal::kChallengeResendInterval;
using internal::kChallengeResends;
using internal::kMaxIntroductionsPerAnnouncement;
using internal::kMaxPendingChallenges;
using internal::kMulticastLoopbackChecks;
using internal::PendingChallenge;
using internal::ProviderSlot;
using Events = std::vector<PeerEvent>;

// A datagram to send once the lock is released.
struct DeferredDatagram {
  network::Address to;
  std::vector<uint8_t> bytes;
  std::atomic<uint64_t>* counter;
};

uint32_t ToMilliseconds(absl::Duration d) {
  return static_cast<uint32_t>(std::max<int64_t>(0, absl::ToInt64Milliseconds(d)));
}

// The address data reaches us at: where the data socket is bound, or, bound to every
// address, the first IPv4 address of the interface.
network::Address AnnouncedAddress(const network::DatagramLink& data,
                                  const std::string& interface) {
  network::Address address = data.local_address();
  if (address.address().is_unspecified()) {
    if (auto found = network::FindInterface(interface); found.ok()) {
      address.address(found->FirstV4());
    }
  }
  return address;
}

// Our announcements, listing `others` (a rendezvous's answer), each within the budget.
// `rate` is the period they claim: ours, or, for a rendezvous's answers, the period of
// the endpoint answered, since that is how often it will hear from us. The first
// carries `challenge` and `echo` (0: none).
std::vector<std::vector<uint8_t>> EncodeAnnouncements(const DiscoveryState& s,
                                                      const std::vector<Peer>& others,
                                                      absl::Time now, absl::Duration rate,
                                                      uint64_t challenge = 0,
                                                      uint64_t echo = 0)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const serialization::Header header = s.Header();
  serialization::Announcement announcement;
  announcement.data_address = s.announced;
  announcement.rate_milliseconds = ToMilliseconds(rate);
  announcement.challenge = challenge;
  announcement.echo = echo;
  std::vector<serialization::PeerRecord> records;
  records.reserve(others.size());
  for (const Peer& peer : others) {
    records.push_back({.endpoint_id = peer.id,
                       .endpoint_name = peer.name,
                       .data_address = peer.data_address,
                       .rate_milliseconds = ToMilliseconds(peer.rate),
                       .age_milliseconds = ToMilliseconds(now - peer.last_heard)});
  }
  auto encoder = serialization::DatagramEncoder::Create(s.options.datagram_budget);
  std::vector<std::vector<uint8_t>> datagrams;
  if (!encoder.ok()) return datagrams;
  // Records are added while their sizes fit in what the header and our own fields
  // leave; the codec's length prefixes may add up to 2 bytes to that sum.
  announcement.known_peers = {};
  const size_t base =
      serialization::DatagramEncoder::EncodedAnnouncementSize(header, announcement);
  const size_t room = s.options.datagram_budget - 2;
  size_t next = 0;
  do {
    size_t used = base;
    size_t end = next;
    while (end < records.size()) {
      const size_t size =
          serialization::DatagramEncoder::EncodedPeerRecordSize(records[end]);
      if (used + size > room) break;
      used += size;
      ++end;
    }
    if (end == next && next < records.size()) {
      // A record that fits no announcement (a name near 255 bytes in a small budget)
      // goes unlisted; its endpoint is still found by its own announcements. The
      // answer still goes, with what else it lists or with none: it carries the echo.
      if (const uint64_t n = s.unlisted_log.Admit(now)) {
        GLUE_LOG(kWarning,
                 "discovery: %d time(s) a peer was too large to list in a %d-byte "
                 "answer, e.g. '%s'",
                 n, s.options.datagram_budget, records[next].endpoint_name);
      }
      next = end = next + 1;
      if (next < records.size() || !datagrams.empty()) continue;
    }
    announcement.known_peers = absl::MakeConstSpan(records.data() + next, end - next);
    if (!datagrams.empty()) announcement.challenge = announcement.echo = 0;
    auto bytes = encoder->EncodeAnnouncement(header, announcement);
    if (bytes.ok()) {
      datagrams.emplace_back(bytes->begin(), bytes->end());
    } else {
      GLUE_LOG(kError, "discovery: cannot encode an announcement: %s",
               bytes.status().ToString());
    }
    next = end;
  } while (next < records.size());
  return datagrams;
}

// QueueChallenge queues an announcement of ours that challenges endpoint `id` at
// `to`, counted in `counter` once sent.
void QueueChallenge(const DiscoveryState& s, uint64_t id, const network::Address& to,
                    absl::Time now, std::atomic<uint64_t>* counter,
                    std::vector<DeferredDatagram>* outgoing)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  for (auto& bytes : EncodeAnnouncements(s, {}, now, s.config.rate, s.Cookie(id, to))) {
    outgoing->push_back({to, std::move(bytes), counter});
  }
}

std::vector<uint8_t> EncodeGoodbye(const DiscoveryState& s) {
  auto encoder = serialization::DatagramEncoder::Create(s.options.datagram_budget);
  if (!encoder.ok()) return {};
  auto bytes = encoder->EncodeGoodbye(s.Header());
  return bytes.ok() ? std::vector<uint8_t>(bytes->begin(), bytes->end())
                    : std::vector<uint8_t>();
}

// Send sends what is outgoing and counts what went and what failed; `failure`, when
// given, receives the error of the last datagram that failed (OK when none did), and
// `failed_to` its destination.
void Send(DiscoveryState& s, const std::vector<DeferredDatagram>& outgoing,
          absl::Status* failure = nullptr, network::Address* failed_to = nullptr) {
  for (const DeferredDatagram& o : outgoing) {
    if (absl::Status sent = s.data->Send(o.to, o.bytes); sent.ok()) {
      o.counter->fetch_add(1, std::memory_order_relaxed);
    } else {
      s.send_failures.fetch_add(1, std::memory_order_relaxed);
      if (failure != nullptr) *failure = std::move(sent);
      if (failed_to != nullptr) *failed_to = o.to;
    }
  }
}

// RememberChallenge has the challenge just queued to endpoint `id` at `to` sent again
// until it is echoed (see kChallengeResends). Another datagram from the endpoint
// meanwhile starts the count again.
void RememberChallenge(DiscoveryState& s, uint64_t id, const network::Address& to,
                       absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const uint64_t key = s.Cookie(id, to);
  auto found = s.pending.find(key);
  if (found == s.pending.end()) {
    if (s.pending.size() >= kMaxPendingChallenges) {
      s.challenges_not_resent.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    found = s.pending.emplace(key, PendingChallenge{.id = id, .to = to}).first;
  }
  PendingChallenge& p = found->second;
  p.resends_left = kChallengeResends;
  p.next = now + kChallengeResendInterval;
  if (p.next < s.resend_at) {
    s.resend_at = p.next;
    s.resend_alarm->Set(p.next);
  }
}

// Challenge queues a challenge to endpoint `id` at `to`, which is not proven yet, and
// has it sent again until it is echoed.
void Challenge(DiscoveryState& s, uint64_t id, const network::Address& to, absl::Time now,
               std::vector<DeferredDatagram>* outgoing)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  QueueChallenge(s, id, to, now, &s.challenges_sent, outgoing);
  RememberChallenge(s, id, to, now);
}

// OnResend sends again the challenges due that were not echoed yet.
void OnResend(const std::shared_ptr<DiscoveryState>& state) {
  DiscoveryState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  std::vector<DeferredDatagram> outgoing;
  {
    MutexLock lock(&s.mu);
    const absl::Time now = s.clock.Now();
    s.resend_at = absl::InfiniteFuture();
    absl::erase_if(s.pending, [&](auto& entry) {
      PendingChallenge& p = entry.second;
      const Peer* known = s.table.Find(p.id);
      if (known != nullptr && known->data_address == p.to) return true;  // echoed
      if (p.next <= now) {
        QueueChallenge(s, p.id, p.to, now, &s.challenges_resent, &outgoing);
        if (--p.resends_left == 0) return true;
        // Each wait twice the one before.
        p.next = now + kChallengeResendInterval *
                           (int64_t{1} << (kChallengeResends - p.resends_left));
      }
      s.resend_at = std::min(s.resend_at, p.next);
      return false;
    });
    if (s.resend_at != absl::InfiniteFuture()) s.resend_alarm->Set(s.resend_at);
  }
  Send(s, outgoing);
}

void Deliver(DiscoveryState& s, const Events& events) {
  for (const PeerEvent& event : events) {
    if (event.kind == PeerEvent::Kind::kAdded) {
      GLUE_LOG(kDebug, "discovery: added %s (id %d) at %s", event.peer.name,
               event.peer.id, network::FormatAddress(event.peer.data_address));
      if (s.listener) s.listener->OnPeerAdded(event.peer);
    } else {
      GLUE_LOG(kDebug, "discovery: removed %s (id %d): %s", event.peer.name,
               event.peer.id, RemovalReasonName(event.reason));
      if (s.listener) s.listener->OnPeerRemoved(event.peer, event.reason);
    }
  }
}

void ArmExpiry(const std::shared_ptr<DiscoveryState>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu);

void OnExpiry(const std::shared_ptr<DiscoveryState>& state) {
  DiscoveryState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  Events events;
  std::vector<DeferredDatagram> outgoing;
  {
    MutexLock lock(&s.mu);
    const absl::Time now = s.clock.Now();
    std::vector<Peer> probes;
    s.table.Expire(now, &events, &probes);
    // A probe is an announcement of ours to the suspect's address that challenges it:
    // its echo is a sign of life.
    for (const Peer& peer : probes) {
      QueueChallenge(s, peer.id, peer.data_address, now, &s.probes_sent, &outgoing);
    }
    ArmExpiry(state);
  }
  Send(s, outgoing);
  Deliver(s, events);
}

void ArmExpiry(const std::shared_ptr<DiscoveryState>& state) {
  DiscoveryState& s = *state;
  const std::optional<absl::Time> next = s.table.NextExpiry();
  if (!next) {
    s.expiry_alarm->Cancel();
    return;
  }
  s.expiry_alarm->Set(*next);
}

void ArmAnnounce(const std::shared_ptr<DiscoveryState>& state)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu);

// QueueDirect queues this period's announcements to the peers that a provider other
// than multicast told us of and that no provider's address reaches already: at most
// Options::max_direct_peers of them, taking turns when there are more.
void QueueDirect(DiscoveryState& s, const std::vector<uint8_t>& announcement,
                 std::vector<DeferredDatagram>* outgoing)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  std::vector<network::Address> direct;
  for (const Peer& peer : s.table.Peers()) {
    if ((s.SourcesOf(peer) & ~s.multicast_bit) == 0) continue;
    if (s.targets.contains(peer.data_address)) continue;
    direct.push_back(peer.data_address);
  }
  // Forget what was heard of peers that are gone.
  absl::erase_if(s.heard_via,
                 [&](const auto& entry) { return s.table.Find(entry.first) == nullptr; });
  const size_t n = std::min(direct.size(), s.options.max_direct_peers);
  if (direct.size() > n) {
    s.direct_announcements_deferred.fetch_add(direct.size() - n,
                                              std::memory_order_relaxed);
  }
  for (size_t i = 0; i < n; ++i) {
    outgoing->push_back({direct[(s.direct_next + i) % direct.size()], announcement,
                         &s.direct_announcements_sent});
  }
  s.direct_next = direct.empty() ? 0 : (s.direct_next + n) % direct.size();
}

// CheckMulticast warns, once, when none of our announcements to the group came back
// to us: multicast is dropped between our socket and the group, most often by a
// firewall, and no peer on another host will hear us that way.
void CheckMulticast(DiscoveryState& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (s.multicast_bit == 0 || s.multicast_warned) return;
  if (++s.group_announcements <= kMulticastLoopbackChecks) return;
  if (s.own_multicast_heard.load(std::memory_order_relaxed) > 0) return;
  s.multicast_warned = true;
  GLUE_LOG(kWarning,
           "discovery: none of our %d announcements to the group %s on interface %s came "
           "back to us: multicast is dropped here (a firewall, or an interface without "
           "it), so endpoints on other hosts will not find this one by multicast. Name "
           "where peers are instead: %s=peers with GLUE_PEERS_PATH (a peers file), "
           "%s=dns with GLUE_DISCOVERY_DNS_NAME, or %s set to a rendezvous",
           kMulticastLoopbackChecks, network::FormatAddress(*s.config.discovery_target),
           s.config.listen_interface, kDiscoveryProvidersVariable,
           kDiscoveryProvidersVariable, kDiscoveryTargetAddressVariable);
}

void OnAnnounce(const std::shared_ptr<DiscoveryState>& state) {
  DiscoveryState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  std::vector<DeferredDatagram> outgoing;
  {
    MutexLock lock(&s.mu);
    std::vector<std::vector<uint8_t>> announcements =
        EncodeAnnouncements(s, {}, s.clock.Now(), s.config.rate);
    if (!announcements.empty()) {
      for (const auto& [address, mask] : s.targets) {
        outgoing.push_back({address, announcements.front(), &s.announcements_sent});
      }
      QueueDirect(s, announcements.front(), &outgoing);
    }
    CheckMulticast(s);
    ArmAnnounce(state);
  }
  absl::Status failure;
  network::Address failed_to;
  Send(s, outgoing, &failure, &failed_to);
  // A target no route reaches (a typo, a network that is down) finds no peer; say so,
  // but not at every announcement, naming where the address came from.
  if (!failure.ok()) {
    if (const uint64_t n = s.target_failures_log.Admit(s.clock.Now())) {
      std::string where;
      {
        MutexLock lock(&s.mu);
        auto it = s.targets.find(failed_to);
        const uint32_t mask = it == s.targets.end() ? 0 : it->second;
        if (mask & (s.multicast_bit | s.rendezvous_bit)) {
          where = absl::StrCat(kDiscoveryTargetAddressVariable, "='",
                               network::FormatAddress(failed_to), "'");
        } else {
          where = absl::StrCat(
              network::FormatAddress(failed_to), " (",
              mask == 0 ? std::string("a peer")
                        : absl::StrCat("provider ", absl::StrJoin(s.NamesOf(mask), ", ")),
              ")");
        }
      }
      GLUE_LOG(kWarning,
               "discovery: cannot send announcements to %s (%d failed since the last "
               "such line): %s",
               where, n, failure.message());
    }
  }
}

// OnProviderUpdate takes a provider's new set of addresses, and announces at once to
// those that are new, so that an endpoint a provider just named joins without waiting
// for the period.
void OnProviderUpdate(const std::shared_ptr<DiscoveryState>& state, size_t index,
                      std::vector<network::Address> addresses) {
  DiscoveryState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  std::vector<DeferredDatagram> outgoing;
  {
    MutexLock lock(&s.mu);
    ProviderSlot& slot = s.providers[index];
    // Ours, and those of the other family, are left out (the data socket sends only
    // to its own family).
    const size_t given = addresses.size();
    std::erase_if(addresses, [&](const network::Address& a) {
      return a == s.announced || a == s.config.listen_address ||
             a.protocol() != s.announced.protocol() || a.address().is_unspecified() ||
             a.port() == 0;
    });
    if (addresses.size() > kMaxProviderAddresses) addresses.resize(kMaxProviderAddresses);
    s.provider_addresses_dropped.fetch_add(given - addresses.size(),
                                           std::memory_order_relaxed);
    std::vector<std::string> shown;
    for (size_t i = 0; i < addresses.size() && i < 8; ++i) {
      shown.push_back(network::FormatAddress(addresses[i]));
    }
    GLUE_LOG(kInfo, "discovery: provider %s: %d address(es)%s%s%s", slot.name,
             addresses.size(), addresses.empty() ? "" : ": ", absl::StrJoin(shown, ", "),
             addresses.size() > shown.size() ? ", ..." : "");
    if (given > addresses.size()) {
      GLUE_LOG(kInfo,
               "discovery: provider %s: %d address(es) left out (ours, of another "
               "family than %s, or over %d)",
               slot.name, given - addresses.size(), network::FormatAddress(s.announced),
               kMaxProviderAddresses);
    }
    const std::map<network::Address, uint32_t> before = s.targets;
    slot.addresses = std::move(addresses);
    s.RebuildTargets();
    std::vector<std::vector<uint8_t>> announcements =
        EncodeAnnouncements(s, {}, s.clock.Now(), s.config.rate);
    if (!announcements.empty()) {
      for (const auto& [address, mask] : s.targets) {
        if (before.contains(address)) continue;
        outgoing.push_back({address, announcements.front(), &s.announcements_sent});
      }
    }
  }
  Send(s, outgoing);
}

void ArmAnnounce(const std::shared_ptr<DiscoveryState>& state) {
  DiscoveryState& s = *state;
  // After the first announcement the next ones come quickly and slow down, doubling up
  // to the period: an announcement lost at start (the rendezvous not yet listening,
  // the datagram dropped) then costs milliseconds, not a whole period.
  const absl::Duration wait = std::min(s.config.rate, s.startup_interval);
  s.startup_interval *= 2;
  s.announce_alarm->Set(s.clock.Now() + wait);
}

// What an announcement or a record says of its sender's data address: as announced,
// or, announced as unspecified, the address the datagram came from.
network::Address DataAddressOf(const network::Address& announced,
                               const network::Address& source) {
  if (!announced.address().is_unspecified()) return announced;
  return network::Address(source.address(), announced.port());
}

// LogClash says, once a period, that endpoints are ignored for the id or name they
// claim.
void LogClash(DiscoveryState& s, const Sender& sender, Verdict verdict, absl::Time now)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (verdict != Verdict::kIgnoredOwnIdClash && verdict != Verdict::kIgnoredNameClash) {
    return;
  }
  if (const uint64_t n = s.clash_log.Admit(now)) {
    GLUE_LOG(kWarning,
             "discovery: ignoring %d announcement(s) of endpoints whose id or name is "
             "taken, e.g. '%s' (id %d) at %s: %s",
             n, sender.name, sender.id, network::FormatAddress(sender.data_address),
             verdict == Verdict::kIgnoredOwnIdClash
                 ? absl::StrCat("it uses our id under another name (we are '",
                                s.config.endpoint_name, "')")
                 : std::string("a live endpoint of another id holds the name"));
  }
}

// Introduce challenges the endpoints a verified peer's announcement lists that we do
// not know, so that their own echoes add them; it refreshes those we know.
void Introduce(DiscoveryState& s, const serialization::DecodedDatagram& d,
               const network::ReceivedDatagram& datagram, absl::Time now,
               std::vector<DeferredDatagram>* outgoing)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  size_t introduced = 0;
  for (const serialization::PeerRecord& record : d.announcement.known_peers) {
    const Sender other{d.header.network_id, record.endpoint_id, record.endpoint_name,
                       DataAddressOf(record.data_address, datagram.source),
                       absl::Milliseconds(record.rate_milliseconds)};
    const absl::Time heard = now - absl::Milliseconds(record.age_milliseconds);
    if (s.table.OnPeerRecord(other, heard) != Verdict::kUnverified) {
      // Listed by a rendezvous: announced to directly, so that we keep each other
      // when the rendezvous is gone.
      if (s.rendezvous_bit != 0) s.heard_via[other.id] |= s.rendezvous_bit;
      continue;
    }
    // An address a provider gave us is ours to challenge, whoever lists it.
    const bool configured = s.targets.contains(other.data_address);
    if (!configured && (introduced == kMaxIntroductionsPerAnnouncement ||
                        !s.introduced.Take(s.Cookie(0, other.data_address), now))) {
      s.introductions_deferred.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    ++introduced;
    Challenge(s, other.id, other.data_address, now, outgoing);
  }
}

void OnAnnouncement(const std::shared_ptr<DiscoveryState>& state,
                    const network::ReceivedDatagram& datagram, bool from_group) {
  DiscoveryState& s = *state;
  const serialization::DecodedDatagram& d = s.decoded;
  const absl::Time now = s.clock.Now();
  if (from_group && d.header.endpoint_id == s.config.endpoint_id &&
      d.header.endpoint_name == s.config.endpoint_name) {
    s.own_multicast_heard.fetch_add(1, std::memory_order_relaxed);
  }
  const Sender sender{d.header.network_id, d.header.endpoint_id, d.header.endpoint_name,
                      DataAddressOf(d.announcement.data_address, datagram.source),
                      absl::Milliseconds(d.announcement.rate_milliseconds)};
  Events events;
  std::vector<DeferredDatagram> outgoing;
  {
    MutexLock lock(&s.mu);
    // An endpoint is added only once it proved that it receives at the address it
    // announced, by echoing the challenge we sent there: an announcement alone, whose
    // source and content anyone can forge, only refreshes what we know.
    const uint64_t cookie = s.Cookie(sender.id, sender.data_address);
    const bool proven = d.announcement.echo == cookie;
    Verdict verdict;
    if (proven) {
      verdict = s.table.OnAnnouncement(sender, now, &events);
      if (verdict == Verdict::kAdded || verdict == Verdict::kReplaced) {
        s.verified.fetch_add(1, std::memory_order_relaxed);
      }
    } else {
      verdict = s.table.Refresh(sender, now);
    }
    LogClash(s, sender, verdict, now);
    const bool known = verdict == Verdict::kAdded || verdict == Verdict::kRefreshed ||
                       verdict == Verdict::kReplaced;
    if (known && from_group && s.multicast_bit != 0) {
      s.heard_via[sender.id] |= s.multicast_bit;
    }
    // A rendezvous answers with the others it knows: known by that provider too.
    if (known && s.rendezvous_bit != 0 && !d.announcement.known_peers.empty()) {
      s.heard_via[sender.id] |= s.rendezvous_bit;
    }
    // What we send back, in one datagram: the echo of the sender's challenge (one
    // datagram for one received), and ours when it is not yet proven.
    const uint64_t challenge = verdict == Verdict::kUnverified ? cookie : 0;
    const uint64_t echo = d.announcement.challenge;
    if (challenge != 0) RememberChallenge(s, sender.id, sender.data_address, now);
    if (known) Introduce(s, d, datagram, now, &outgoing);
    if (s.rendezvous() && known) {
      // A rendezvous answers every announcement of a proven endpoint with everyone
      // else it knows.
      std::vector<Peer> others = s.table.Peers();
      std::erase_if(others, [&](const Peer& p) { return p.id == sender.id; });
      for (auto& bytes : EncodeAnnouncements(s, others, now, sender.rate, 0, echo)) {
        outgoing.push_back({sender.data_address, std::move(bytes), &s.answers_sent});
      }
    } else if (challenge != 0 || echo != 0) {
      for (auto& bytes :
           EncodeAnnouncements(s, {}, now, s.rendezvous() ? sender.rate : s.config.rate,
                               challenge, echo)) {
        outgoing.push_back({sender.data_address, std::move(bytes),
                            challenge != 0 ? &s.challenges_sent : &s.echoes_sent});
      }
    }
    ArmExpiry(state);
  }
  Send(s, outgoing);
  Deliver(s, events);
}

void OnDatagram(const std::shared_ptr<DiscoveryState>& state,
                const network::ReceivedDatagram& datagram, bool from_group) {
  DiscoveryState& s = *state;
  HandlerGate::Pass pass(&s.gate);
  if (!pass) return;
  s.datagrams_received.fetch_add(1, std::memory_order_relaxed);
  const absl::Status status = s.decoder.Decode(datagram.bytes, &s.decoded);
  if (!status.ok()) {
    std::atomic<uint64_t>& counter = absl::IsDataLoss(status)        ? s.corrupt
                                     : absl::IsUnimplemented(status) ? s.other_version
                                                                     : s.malformed;
    counter.fetch_add(1, std::memory_order_relaxed);
    if (absl::IsUnimplemented(status)) {
      // A peer of another protocol version cannot talk with us: say so, once a period.
      MutexLock lock(&s.mu);
      if (const uint64_t n = s.other_version_log.Admit(s.clock.Now())) {
        GLUE_LOG(kWarning,
                 "discovery: dropped %d datagram(s) of another protocol, e.g. "
                 "from %s: %s",
                 n, network::FormatAddress(datagram.source), status.message());
      }
    }
    GLUE_LOG(kDebug, "discovery: dropped %d bytes from %s: %s", datagram.bytes.size(),
             network::FormatAddress(datagram.source), status.ToString());
    return;
  }
  const serialization::DecodedDatagram& d = s.decoded;
  switch (d.kind) {
    case serialization::DecodedDatagram::Kind::kAnnouncement:
      OnAnnouncement(state, datagram, from_group);
      return;
    case serialization::DecodedDatagram::Kind::kGoodbye: {
      // Anyone can send a goodbye under a peer's name: the peer is probed, and
      // removed only when it does not answer.
      MutexLock lock(&s.mu);
      if (s.table.OnGoodbye(d.header.network_id, d.header.endpoint_id,
                            d.header.endpoint_name, s.clock.Now())) {
        s.expiry_alarm->Set(s.clock.Now());
      }
      return;
    }
    case serialization::DecodedDatagram::Kind::kFrames: {
      bool known = false;
      std::vector<DeferredDatagram> outgoing;
      {
        MutexLock lock(&s.mu);
        const Peer* found = s.table.Find(d.header.endpoint_id);
        if (found != nullptr && found->name == d.header.endpoint_name &&
            d.header.network_id == s.config.network_id) {
          s.frames_peer = *found;  // reuses the name's buffer: no allocation
          known = true;
        } else if (d.header.network_id == s.config.network_id && found == nullptr) {
          // Frames from an endpoint that added us while we missed the end of its
          // proof (our challenge, or its echo, lost): challenge it where the frames came
          // from, at most once per kUnknownFramesChallengeInterval per address, so
          // that it need not wait for its next announcement.
          const absl::Time now = s.clock.Now();
          if (s.targets.contains(datagram.source) ||
              s.unknown_senders.Take(s.Cookie(0, datagram.source), now)) {
            Challenge(s, d.header.endpoint_id, datagram.source, now, &outgoing);
          }
        }
      }
      if (!known) {
        s.frames_from_unknown.fetch_add(1, std::memory_order_relaxed);
        Send(s, outgoing);
        return;
      }
      // Frames of a live session, which only the peer at its address can send, are a
      // sign of life as good as an answer to a probe.
      // Recorded at most once a millisecond per peer in a run of its datagrams: a
      // burst costs no lock per datagram.
      if (s.listener && s.listener->OnFrames(s.frames_peer, d)) {
        const absl::Time now = s.clock.Now();
        if (s.frames_peer.id != s.alive_id || now - s.alive_at >= absl::Milliseconds(1)) {
          s.alive_id = s.frames_peer.id;
          s.alive_at = now;
          MutexLock lock(&s.mu);
          s.table.OnSignOfLife(s.frames_peer.id, now);
        }
      }
      return;
    }
  }
}

absl::StatusOr<std::unique_ptr<network::DatagramLink>> OpenListener(
    const DiscoveryState& s) {
  const network::Address& listen = s.config.discovery_listen;
  network::UdpSocketOptions options;
  options.interface = s.config.listen_interface;
  options.reuse_address = true;
  options.bind_address = listen;
  const bool multicast = listen.address().is_multicast();
  if (multicast && !s.rendezvous()) {
    // Bound to the group, the socket hears only the group: a unicast datagram to the
    // shared port reaches one socket of those bound to it, and must find the
    // rendezvous, not a neighbour that happens to share the port.
  } else if (multicast) {
    // A rendezvous hears the group and unicast announcements to the port.
    options.bind_address = network::Address(
        listen.address().is_v6()
            ? boost::asio::ip::address(boost::asio::ip::address_v6::any())
            : boost::asio::ip::address(boost::asio::ip::address_v4::any()),
        listen.port());
  }
  std::vector<boost::asio::ip::address> groups;
  if (multicast) groups.push_back(listen.address());
  return s.links.Open(s.strand, options, groups);
}

// SocketError is `status`, of a socket that could not be opened on `address`, said
// of the variable that chose the address: the system's reason alone ("in use") does
// not tell the user what to change.
absl::Status SocketError(absl::string_view variable, const network::Address& address,
                         absl::string_view socket, absl::string_view interface,
                         const absl::Status& status) {
  return VariableError(
      variable, network::FormatAddress(address), status.code(),
      absl::StrCat("cannot open the ", socket, " socket",
                   interface.empty() ? "" : absl::StrCat(" on interface ", interface),
                   ": ", status.message()));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Discovery>> Discovery::Create(
    Strand strand, const Config& config, Options options, Clock& clock,
    network::LinkFactory& links) {
  GLUE_RETURN_IF_ERROR(ValidateConfig(config));
  if (options.datagram_budget < 512 || options.datagram_budget > 65507) {
    return absl::InvalidArgumentError(absl::StrCat(
        "datagram_budget ", options.datagram_budget, " is outside 512..65507"));
  }
  std::vector<ProviderSlot> providers;
  for (const std::string& name : ProvidersInUse(config)) {
    if (name == kMulticastProvider || name == kRendezvousProvider) {
      // ValidateConfig checked that the target suits the name.
      providers.push_back({.name = name, .addresses = {*config.discovery_target}});
    } else {
      providers.push_back({.name = name});  // an object, made once the state is
    }
  }
  for (const std::shared_ptr<Provider>& provider : options.providers) {
    if (provider == nullptr) return absl::InvalidArgumentError("a provider is null");
    GLUE_RETURN_IF_ERROR(ValidateProviderName(provider->name()));
    for (const ProviderSlot& slot : providers) {
      if (slot.name == provider->name()) {
        return absl::InvalidArgumentError(
            absl::StrCat("provider name '", provider->name(), "' is used twice"));
      }
    }
    providers.push_back({.name = provider->name(), .provider = provider});
  }
  if (providers.size() > kMaxProviders) {
    return absl::InvalidArgumentError(absl::StrCat(
        providers.size(), " providers: at most ", kMaxProviders, " run at once"));
  }
  if (options.max_direct_peers == 0) {
    return absl::InvalidArgumentError("max_direct_peers is 0: expected at least 1");
  }
  auto state = std::make_shared<DiscoveryState>(std::move(strand), config,
                                                std::move(options), clock, links);
  {
    const std::weak_ptr<DiscoveryState> weak = state;
    MutexLock lock(&state->mu);
    state->providers = std::move(providers);
    for (size_t i = 0; i < state->providers.size(); ++i) {
      if (state->providers[i].name == kMulticastProvider) state->multicast_bit = 1u << i;
      if (state->providers[i].name == kRendezvousProvider) {
        state->rendezvous_bit = 1u << i;
      }
    }
    for (ProviderSlot& slot : state->providers) {
      if (slot.name == kPeersFileProvider) {
        slot.provider = internal::MakePeersFileProvider(
            config,
            [weak] {
              std::vector<PeersFileEntry> seen;
              auto state = weak.lock();
              if (!state) return seen;
              MutexLock lock(&state->mu);
              seen.push_back(
                  {.address = state->announced, .name = state->config.endpoint_name});
              for (const Peer& peer : state->table.Peers()) {
                seen.push_back({.address = peer.data_address, .name = peer.name});
              }
              return seen;
            },
            clock);
      } else if (slot.name == kDnsProvider) {
        slot.provider = internal::MakeDnsProvider(config, clock);
      }
    }
    state->RebuildTargets();
    state->announce_alarm = clock.CreateAlarm(state->strand, [weak] {
      if (auto state = weak.lock()) OnAnnounce(state);
    });
    state->expiry_alarm = clock.CreateAlarm(state->strand, [weak] {
      if (auto state = weak.lock()) OnExpiry(state);
    });
    state->resend_alarm = clock.CreateAlarm(state->strand, [weak] {
      if (auto state = weak.lock()) OnResend(state);
    });
  }
  return std::unique_ptr<Discovery>(new Discovery(std::move(state)));
}

Discovery::Discovery(std::shared_ptr<DiscoveryState> state) : state_(std::move(state)) {}

Discovery::~Discovery() { Stop(); }

absl::Status Discovery::Start(Listener* listener) {
  DiscoveryState& s = *state_;
  {
    MutexLock lock(&s.mu);
    if (s.started || s.gate.closed()) {
      return absl::FailedPreconditionError(
          absl::StrCat("discovery of '", s.config.endpoint_name, "' ",
                       s.started ? "already started" : "is stopped"));
    }
    s.started = true;
  }
  s.listener = listener;
  network::UdpSocketOptions data_options;
  data_options.bind_address = s.config.listen_address;
  data_options.interface = s.config.listen_interface;
  data_options.receive_buffer_bytes = s.options.data_receive_buffer_bytes;
  auto data_socket = s.links.Open(s.strand, data_options, {});
  if (!data_socket.ok()) {
    return SocketError(kListenAddressVariable, s.config.listen_address, "data",
                       s.config.listen_interface, data_socket.status());
  }
  // With faults asked for, each socket is put behind a fault link: sends suffer
  // them, and a partition (SetDataFaults) cuts both sockets off.
  auto behind_faults = [&s](std::unique_ptr<network::DatagramLink> socket,
                            network::FaultInjectingLink** faults)
      -> absl::StatusOr<std::unique_ptr<network::DatagramLink>> {
    if (!s.options.data_faults) return socket;
    GLUE_ASSIGN_OR_RETURN(
        auto faulty, network::FaultInjectingLink::Create(
                         s.strand, std::move(socket), *s.options.data_faults, s.clock));
    *faults = faulty.get();
    return std::unique_ptr<network::DatagramLink>(std::move(faulty));
  };
  GLUE_ASSIGN_OR_RETURN(s.data, behind_faults(*std::move(data_socket), &s.data_faults));
  bool group_or_rendezvous;
  std::vector<std::pair<size_t, std::shared_ptr<Provider>>> objects;
  {
    MutexLock lock(&s.mu);
    group_or_rendezvous = s.rendezvous() || s.multicast_bit != 0 || s.rendezvous_bit != 0;
    for (size_t i = 0; i < s.providers.size(); ++i) {
      if (s.providers[i].provider) objects.emplace_back(i, s.providers[i].provider);
    }
  }
  // The discovery socket hears the group, or a rendezvous's clients; with neither in
  // use (GLUE_DISCOVERY_PROVIDERS=peers) nothing is joined, and announcements reach
  // the data socket.
  if (group_or_rendezvous) {
    auto listen_socket = OpenListener(s);
    if (!listen_socket.ok()) {
      return SocketError(kDiscoveryListenAddressVariable, s.config.discovery_listen,
                         "discovery", s.config.listen_interface, listen_socket.status());
    }
    GLUE_ASSIGN_OR_RETURN(s.listen,
                          behind_faults(*std::move(listen_socket), &s.listen_faults));
  }
  s.announced = AnnouncedAddress(*s.data, s.config.listen_interface);

  GLUE_LOG(kInfo, "discovery: interface %s (%s); '%s' id %d, data at %s, every %s%s",
           s.config.listen_interface, s.config.listen_interface_origin,
           s.config.endpoint_name, s.config.endpoint_id,
           network::FormatAddress(s.announced), absl::FormatDuration(s.config.rate),
           s.rendezvous()
               ? absl::StrCat("; rendezvous, listening on ",
                              network::FormatAddress(s.config.discovery_listen))
               : "");
  {
    MutexLock lock(&s.mu);
    for (const ProviderSlot& slot : s.providers) {
      if (slot.name == kMulticastProvider) {
        GLUE_LOG(kInfo, "discovery: provider multicast: announcing to the group %s",
                 network::FormatAddress(slot.addresses.front()));
      } else if (slot.name == kRendezvousProvider) {
        GLUE_LOG(kInfo, "discovery: provider rendezvous: announcing to %s",
                 network::FormatAddress(slot.addresses.front()));
      } else {
        GLUE_LOG(kInfo, "discovery: provider %s: starting", slot.name);
      }
    }
    if (s.providers.empty()) {
      GLUE_LOG(kInfo, "discovery: no provider: this endpoint only answers");
    }
  }

  std::weak_ptr<DiscoveryState> weak = state_;
  GLUE_RETURN_IF_ERROR(s.data->Start([weak](const network::ReceivedDatagram& d) {
    if (auto state = weak.lock()) OnDatagram(state, d, /*from_group=*/false);
  }));
  if (s.listen) {
    const bool group = s.config.discovery_listen.address().is_multicast();
    GLUE_RETURN_IF_ERROR(
        s.listen->Start([weak, group](const network::ReceivedDatagram& d) {
          if (auto state = weak.lock()) OnDatagram(state, d, group);
        }));
  }
  for (size_t i = 0; i < objects.size(); ++i) {
    const auto& [index, provider] = objects[i];
    Provider::Update update = [weak, index = index,
                               strand = s.strand](std::vector<network::Address> a) {
      boost::asio::post(strand, [weak, index, a = std::move(a)]() mutable {
        if (auto state = weak.lock()) OnProviderUpdate(state, index, std::move(a));
      });
    };
    if (absl::Status started = provider->Start(std::move(update)); !started.ok()) {
      for (size_t j = 0; j < i; ++j) objects[j].second->Stop();
      return absl::Status(
          started.code(),
          absl::StrCat("discovery provider ", provider->name(), ": ", started.message()));
    }
  }
  bool announcing;
  {
    MutexLock lock(&s.mu);
    announcing = !s.providers.empty();
  }
  if (announcing) {
    // The first announcement goes at once, so a new endpoint is seen at once.
    boost::asio::post(s.strand, [state = state_] { OnAnnounce(state); });
  }
  return absl::OkStatus();
}

void Discovery::Stop() {
  DiscoveryState& s = *state_;
  if (s.gate.closed()) return;
  s.gate.Close();
  std::vector<Peer> peers;
  std::vector<network::Address> targets;
  std::vector<std::shared_ptr<Provider>> objects;
  bool started, multicast_only;
  {
    MutexLock lock(&s.mu);
    started = s.started;
    s.announce_alarm->Cancel();
    s.expiry_alarm->Cancel();
    s.resend_alarm->Cancel();
    peers = s.table.Peers();
    for (const auto& [address, mask] : s.targets) targets.push_back(address);
    for (const ProviderSlot& slot : s.providers) {
      if (slot.provider) objects.push_back(slot.provider);
    }
    multicast_only = !s.rendezvous() && s.providers.size() == 1 && s.multicast_bit != 0;
  }
  for (const std::shared_ptr<Provider>& provider : objects) provider->Stop();
  if (!started || s.data == nullptr) return;
  const std::vector<uint8_t> goodbye = EncodeGoodbye(s);
  std::vector<DeferredDatagram> outgoing;
  for (const network::Address& target : targets) {
    outgoing.push_back({target, goodbye, &s.goodbyes_sent});
  }
  // The group reaches every peer; otherwise each hears it by unicast.
  if (!multicast_only) {
    for (const Peer& peer : peers) {
      if (std::find(targets.begin(), targets.end(), peer.data_address) != targets.end()) {
        continue;
      }
      outgoing.push_back({peer.data_address, goodbye, &s.goodbyes_sent});
    }
  }
  Send(s, outgoing);
  s.data->Stop();
  if (s.listen) s.listen->Stop();
}

absl::Status Discovery::SetDataFaults(const network::FaultOptions& faults) {
  DiscoveryState& s = *state_;
  if (s.data_faults == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "discovery of '", s.config.endpoint_name,
        "' injects no faults: only an endpoint started with faults (GLUE_FAULT_*, or "
        "Options::data_faults) can change them"));
  }
  // Start puts both sockets behind faults, or neither.
  GLUE_RETURN_IF_ERROR(s.data_faults->SetOptions(faults));
  if (s.listen_faults != nullptr)
    GLUE_RETURN_IF_ERROR(s.listen_faults->SetOptions(faults));
  GLUE_LOG(kInfo, "discovery: faults now: loss=%g duplicate=%g reorder=%g corrupt=%g%s",
           faults.drop, faults.duplicate, faults.reorder, faults.corrupt,
           faults.partitioned ? ", partitioned (nothing sent or received)" : "");
  return absl::OkStatus();
}

std::vector<Peer> Discovery::peers() const {
  MutexLock lock(&state_->mu);
  std::vector<Peer> peers = state_->table.Peers();
  for (Peer& peer : peers) peer.providers = state_->NamesOf(state_->SourcesOf(peer));
  return peers;
}

std::optional<Peer> Discovery::Find(uint64_t id) const {
  MutexLock lock(&state_->mu);
  const Peer* peer = state_->table.Find(id);
  return peer ? std::optional<Peer>(*peer) : std::nullopt;
}

absl::Status Discovery::SendTo(uint64_t id, absl::Span<const uint8_t> datagram) {
  std::optional<Peer> peer = Find(id);
  if (!peer) {
    return absl::NotFoundError(absl::StrCat("no peer with endpoint id ", id));
  }
  if (state_->data == nullptr) {
    return absl::FailedPreconditionError("discovery is not started");
  }
  return state_->data->Send(peer->data_address, datagram);
}

absl::StatusOr<size_t> Discovery::SendBatch(
    absl::Span<const network::OutgoingDatagram> datagrams) {
  if (state_->data == nullptr) {
    return absl::FailedPreconditionError("discovery is not started");
  }
  return state_->data->SendBatch(datagrams);
}

serialization::Header Discovery::header() const { return state_->Header(); }

network::Address Discovery::data_address() const { return state_->announced; }

const Config& Discovery::config() const { return state_->config; }

const Strand& Discovery::strand() const { return state_->strand; }

Clock& Discovery::clock() const { return state_->clock; }

DiscoveryCounters Discovery::counters() const {
  const DiscoveryState& s = *state_;
  auto get = [](const std::atomic<uint64_t>& v) {
    return v.load(std::memory_order_relaxed);
  };
  DiscoveryCounters c;
  {
    MutexLock lock(&s.mu);
    c.peers = s.table.counters();
  }
  c.announcements_sent = get(s.announcements_sent);
  c.direct_announcements_sent = get(s.direct_announcements_sent);
  c.direct_announcements_deferred = get(s.direct_announcements_deferred);
  c.provider_addresses_dropped = get(s.provider_addresses_dropped);
  c.own_multicast_heard = get(s.own_multicast_heard);
  c.answers_sent = get(s.answers_sent);
  c.goodbyes_sent = get(s.goodbyes_sent);
  c.send_failures = get(s.send_failures);
  c.datagrams_received = get(s.datagrams_received);
  c.corrupt = get(s.corrupt);
  c.malformed = get(s.malformed);
  c.other_version = get(s.other_version);
  c.frames_from_unknown = get(s.frames_from_unknown);
  c.challenges_sent = get(s.challenges_sent);
  c.echoes_sent = get(s.echoes_sent);
  c.probes_sent = get(s.probes_sent);
  c.verified = get(s.verified);
  c.introductions_deferred = get(s.introductions_deferred);
  c.challenges_resent = get(s.challenges_resent);
  c.challenges_not_resent = get(s.challenges_not_resent);
  if (s.data) c.data_link = s.data->counters();
  if (s.listen) c.discovery_link = s.listen->counters();
  return c;
}

}  // namespace glue::discovery
