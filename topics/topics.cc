#include "glue/topics/topics.h"

#include <algorithm>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "glue/base/block_pool.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/topics/topic_filter.h"
#include "glue/topics/topic_message.h"
#include "topics/dispatcher.h"
#include "topics/topics_state.h"

namespace glue::topics {
namespace internal {
namespace {

using State = TopicsState;

// TypeInUse returns the type this endpoint uses on `topic` (publishing on it, or
// subscribed to it by name), or empty. The view lives as long as the lock is held.
absl::string_view TypeInUse(const State& s, absl::string_view topic)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (auto p = s.published.find(topic); p != s.published.end()) {
    return p->second.type;
  }
  if (auto sub = s.subscriptions.find(topic); sub != s.subscriptions.end()) {
    return sub->second->type;
  }
  return "";
}

absl::Status TypeConflict(absl::string_view topic, absl::string_view type,
                          absl::string_view in_use) {
  return absl::InvalidArgumentError(absl::StrCat("topic '", topic, "' has type '", in_use,
                                                 "' here; '", type, "' is another"));
}

Interest CurrentInterest(const State& s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  Interest interest{.version = s.interest_version, .epoch = s.epoch};
  for (const auto& [filter, sub] : s.subscriptions) {
    interest.entries.push_back({sub->filter, sub->type});
  }
  return interest;
}

bool Wants(const Interest& interest, absl::string_view topic, absl::string_view type) {
  for (const InterestEntry& entry : interest.entries) {
    if ((entry.type.empty() || entry.type == type) && TopicMatches(entry.filter, topic)) {
      return true;
    }
  }
  return false;
}

// SendTo hands `bytes` to the message transport for `peer`, counting a refusal.
void SendTo(State& s, uint64_t peer, SharedBytes bytes,
            const transport::SendOptions& options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const absl::Status status =
      s.messages->Send(peer, std::move(bytes.owner), bytes.view, options);
  if (absl::IsResourceExhausted(status)) ++s.counters.refused_queue_full;
}

void SendInterest(State& s, uint64_t peer, bool reply_wanted = false)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  Interest interest = CurrentInterest(s);
  interest.reply_wanted = reply_wanted;
  SendTo(s, peer, SharedBytes::Of(EncodeInterest(interest)), {.ordered = true});
  ++s.counters.interests_sent;
}

// DeliverLocally posts a message on `topic` of `type` to every subscription that
// wants it (see Post for `inline_calls`), and returns how many did. `make` makes the
// PendingMessage, once, at the first: nothing is allocated for a message nobody here
// wants.
template <typename Make>
size_t DeliverLocally(const std::shared_ptr<State>& state, absl::string_view topic,
                      absl::string_view type, Make make,
                      InlineCalls* inline_calls = nullptr)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  std::shared_ptr<const PendingMessage> message;
  size_t wanted = 0;
  for (const auto& [filter, sub] : state->subscriptions) {
    if ((sub->type.empty() || sub->type == type) && TopicMatches(sub->filter, topic)) {
      if (message == nullptr) message = make();
      Post(state, sub, message, inline_calls);
      ++wanted;
    }
  }
  return wanted;
}

// SendHistory sends `peer` the unexpired history of every topic its interest wants.
// All of it, not only what a new entry wants: a peer that removed us and came back
// sends the same interest, and what we sent it meanwhile was released. The
// subscriber drops what it had already by sequence.
void SendHistory(State& s, uint64_t peer, const Interest& interest)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const absl::Time now = s.Now();
  for (const auto& [topic, published] : s.published) {
    if (published.history.empty() || !Wants(interest, topic, published.type)) continue;
    for (const Kept& kept : published.history) {
      if (kept.deadline <= now) continue;
      const Publication p{.epoch = s.epoch,
                          .sequence = kept.sequence,
                          .time_to_live_ms = static_cast<uint32_t>(std::clamp<int64_t>(
                              absl::ToInt64Milliseconds(kept.deadline - now), 1,
                              std::numeric_limits<uint32_t>::max())),
                          .history = true,
                          .topic = topic,
                          .type = published.type,
                          .payload = kept.payload()};
      SendTo(s, peer, SharedBytes::Of(EncodePublication(p)),
             {.reliable = published.reliable,
              .ordered = published.reliable,
              .expiry = kept.deadline});
      ++s.counters.history_sent;
    }
  }
}

// The message transport's callbacks; on its strand.

// TellPeerListeners calls `call` with the listener given to Start, then with each
// added one still there, with no lock held: each is held alive during its call, and
// released after them all, when its last owner may be gone.
template <typename Call>
void TellPeerListeners(State& s, Call call) {
  if (s.peer_listener) call(*s.peer_listener);
  std::vector<std::shared_ptr<discovery::PeerListener>> listeners;
  {
    MutexLock lock(&s.peer_listeners_mu);
    std::erase_if(s.added_peer_listeners, [](const AddedPeerListener& added) {
      return added.listener.expired();
    });
    for (const AddedPeerListener& added : s.added_peer_listeners) {
      if (auto listener = added.listener.lock()) listeners.push_back(std::move(listener));
    }
  }
  for (const std::shared_ptr<discovery::PeerListener>& listener : listeners) {
    // One removed by a call before this one hears no more.
    bool added;
    {
      MutexLock lock(&s.peer_listeners_mu);
      added = std::ranges::any_of(
          s.added_peer_listeners,
          [&](const AddedPeerListener& a) { return a.address == listener.get(); });
    }
    if (added) call(*listener);
  }
}

void OnPeerAdded(State& s, const discovery::Peer& peer) {
  {
    MutexLock lock(&s.mu);
    s.peers[peer.id] = PeerState{};
    // First in the session's reliable ordered stream, before any publication (there
    // is none until the peer's interest arrives), also with no subscriptions: it
    // declares our epoch.
    SendInterest(s, peer.id, /*reply_wanted=*/true);
  }
  TellPeerListeners(s, [&](discovery::PeerListener& l) { l.OnPeerAdded(peer); });
}

void OnPeerRemoved(State& s, const discovery::Peer& peer,
                   discovery::RemovalReason reason) {
  {
    MutexLock lock(&s.mu);
    s.peers.erase(peer.id);
  }
  TellPeerListeners(s,
                    [&](discovery::PeerListener& l) { l.OnPeerRemoved(peer, reason); });
}

// OnInterest takes `interest`, which `from` sent in its current session. The first of
// the session declares the peer's epoch. Each replaces the one before, in the order
// the session's reliable ordered stream delivers them: versions are not compared, so
// that no interest, a forged one say, can make those that follow it ignored.
void OnInterest(State& s, const discovery::Peer& from, PeerState& peer, Interest interest)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (!peer.epoch) {
    peer.epoch = interest.epoch;
  } else if (interest.epoch != *peer.epoch) {
    // A process's epoch never changes: another one in the same session is not the
    // peer's word.
    ++s.counters.interests_wrong_epoch;
    if (const uint64_t n = s.interests_wrong_epoch_log.Admit(s.Now())) {
      GLUE_LOG(
          kWarning,
          "topics: refused %d interests whose epoch was not the one their sender "
          "declared in its session, e.g. epoch %d from %s (id %d), which declared %d",
          n, interest.epoch, from.name, from.id, *peer.epoch);
    }
    return;
  }
  if (interest.reply_wanted) SendInterest(s, from.id);
  peer.interest = std::move(interest);
  SendHistory(s, from.id, peer.interest);
}

// Believed says whether publication `p` from `from` carries the epoch `from` declared
// in its session (`peer`; null for a peer not known here), counting and logging it
// when not.
bool Believed(State& s, const discovery::Peer& from, const PeerState* peer,
              const Publication& p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  if (peer == nullptr || !peer->epoch) {
    // A best-effort publication that overtook the interest, or a forgery: nothing
    // says yet which epoch is the peer's.
    ++s.counters.publications_before_interest;
    if (const uint64_t n = s.publications_before_interest_log.Admit(s.Now())) {
      GLUE_LOG(kWarning,
               "topics: refused %d publications from peers that had not declared their "
               "epoch yet in their session, e.g. from %s (id %d) on '%s'",
               n, from.name, from.id, p.topic);
    }
    return false;
  }
  if (p.epoch != *peer->epoch) {
    ++s.counters.publications_wrong_epoch;
    if (const uint64_t n = s.publications_wrong_epoch_log.Admit(s.Now())) {
      GLUE_LOG(kWarning,
               "topics: refused %d publications whose epoch was not the one their "
               "sender declared in its session, e.g. epoch %d from %s (id %d) on '%s', "
               "which declared %d",
               n, p.epoch, from.name, from.id, p.topic, *peer->epoch);
    }
    return false;
  }
  return true;
}

void OnMessage(const std::shared_ptr<State>& state, const discovery::Peer& from,
               uint64_t peer_session, std::vector<uint8_t> bytes) {
  State& s = *state;
  auto owner = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
  absl::StatusOr<TopicMessage> message = DecodeTopicMessage(*owner);
  InlineCalls inline_calls;
  {
    MutexLock lock(&s.mu);
    if (!message.ok()) {
      ++s.counters.malformed;
      return;
    }
    // Null only for a peer the message transport did not add: none, on its strand.
    PeerState* peer = nullptr;
    if (auto found = s.peers.find(from.id); found != s.peers.end()) {
      peer = &found->second;
      if (peer->session != peer_session) {
        // The peer started a new session (it restarted, or removed us and found us
        // again), whose first message is its interest: what it declared in the last
        // one no longer holds.
        if (peer->session != 0) *peer = PeerState{};
        peer->session = peer_session;
      }
    }
    if (auto* interest = std::get_if<Interest>(&*message)) {
      ++s.counters.interests_received;
      if (peer != nullptr) OnInterest(s, from, *peer, std::move(*interest));
      return;
    }
    const Publication& p = std::get<Publication>(*message);
    ++s.counters.received;
    if (!Believed(s, from, peer, p)) return;
    if (!s.heard.Fresh(from.id, p.topic, p.epoch, p.sequence,
                       &s.counters.publishers_forgotten)) {
      ++s.counters.duplicates;
      return;
    }
    auto make = [&] {
      auto pending = std::make_shared<PendingMessage>();
      pending->message = Message{.topic = std::string(p.topic),
                                 .type = std::string(p.type),
                                 .publisher_id = from.id,
                                 .publisher_name = from.name,
                                 .publisher_epoch = p.epoch,
                                 .sequence = p.sequence,
                                 .history = p.history,
                                 .payload = p.payload};
      pending->owner = std::move(owner);
      if (p.time_to_live_ms > 0) {
        pending->deadline = s.Now() + absl::Milliseconds(p.time_to_live_ms);
      }
      pending->message.expires = pending->deadline;
      return pending;
    };
    if (DeliverLocally(state, p.topic, p.type, make, &inline_calls) == 0) {
      ++s.counters.unwanted;
    }
  }
  RunInline(state, inline_calls);
}

// PublishLocked publishes `p`, whose sequence it sets: to the history, the peers
// that want it and the local subscriptions. It lists in `queued` the peers whose
// queue it waits in, when options.max_blocking asks.
absl::Status PublishLocked(const std::shared_ptr<State>& state, Publication& p,
                           absl::Time deadline, const PublishOptions& options,
                           absl::InlinedVector<uint64_t, 4>* queued)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  State& s = *state;
  if (!s.started || s.stopped) {
    return absl::FailedPreconditionError(s.stopped ? "topics stopped"
                                                   : "topics not started");
  }
  const absl::string_view in_use = TypeInUse(s, p.topic);
  if (!in_use.empty() && in_use != p.type) return TypeConflict(p.topic, p.type, in_use);
  auto found = s.published.find(p.topic);
  if (found == s.published.end()) {
    if (s.published.size() >= s.options.max_published_topics) {
      return absl::ResourceExhaustedError(
          absl::StrCat("max_published_topics = ", s.options.max_published_topics,
                       " topics published"));
    }
    found =
        s.published
            .emplace(std::string(p.topic), PublishedTopic{.type = std::string(p.type)})
            .first;
  }
  PublishedTopic& published = found->second;
  published.reliable = options.reliable;
  p.sequence = published.next_sequence++;
  ++s.counters.published;

  // The one copy of the payload: the encoded publication, which the peers' messages,
  // the history and local subscribers share.
  const size_t payload_offset = PublicationHeaderSize(p);
  // From the pool: made here, freed where the last acknowledgement is handled.
  const size_t encoded_size = payload_offset + p.payload.size();
  std::shared_ptr<uint8_t[]> encoded = std::allocate_shared_for_overwrite<uint8_t[]>(
      PoolAllocator<uint8_t>(), encoded_size);
  const absl::Span<uint8_t> view(encoded.get(), encoded_size);
  EncodePublication(p, view);
  const SharedBytes bytes{std::move(encoded), view};
  const absl::Span<const uint8_t> kept_payload = bytes.view.subspan(payload_offset);

  // History: this message, within the depth and the bytes of all topics.
  s.counters.history_dropped +=
      AddToHistory(published, p.sequence, deadline, bytes, payload_offset,
                   options.history_depth, s.options.max_history_bytes, &s.history_bytes);

  absl::Status status;
  for (const auto& [peer, peer_state] : s.peers) {
    if (!Wants(peer_state.interest, p.topic, p.type)) continue;
    bool waits = false;
    const absl::Status sent = s.messages->Send(
        peer, bytes.owner, bytes.view,
        {.reliable = options.reliable, .ordered = options.reliable, .expiry = deadline},
        options.max_blocking > absl::ZeroDuration() ? &waits : nullptr);
    if (waits) queued->push_back(peer);
    if (sent.ok()) {
      ++s.counters.sent;
    } else if (absl::IsResourceExhausted(sent)) {
      ++s.counters.refused_queue_full;
      status = sent;
    }
  }
  DeliverLocally(state, p.topic, p.type, [&] {
    auto pending = std::make_shared<PendingMessage>();
    pending->message = Message{.topic = std::string(p.topic),
                               .type = std::string(p.type),
                               .publisher_id = s.self_id,
                               .publisher_name = s.self_name,
                               .publisher_epoch = p.epoch,
                               .sequence = p.sequence,
                               .payload = kept_payload};
    pending->owner = bytes.owner;
    pending->deadline = deadline;
    pending->message.expires = deadline;
    return pending;
  });
  return status;
}

absl::Status ValidateOptions(const TopicsOptions& o) {
  if (o.max_subscriptions < 1 || o.max_subscriptions > kMaxInterestEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_subscriptions = ", o.max_subscriptions, ": must be 1 to ",
                     kMaxInterestEntries));
  }
  for (const auto& [name, value] :
       {std::pair<const char*, size_t>{"max_published_topics", o.max_published_topics},
        {"max_remembered_publishers", o.max_remembered_publishers},
        {"max_pending_per_subscription", o.max_pending_per_subscription}}) {
    if (value == 0) {
      return absl::InvalidArgumentError(absl::StrCat(name, " = 0: must be at least 1"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

// The message transport's calls, through the state as its listener.
void TopicsState::OnPeerAdded(const discovery::Peer& peer) {
  internal::OnPeerAdded(*this, peer);
}

void TopicsState::OnPeerRemoved(const discovery::Peer& peer,
                                discovery::RemovalReason reason) {
  internal::OnPeerRemoved(*this, peer, reason);
}

void TopicsState::OnMessage(const discovery::Peer& from, uint64_t peer_session,
                            std::vector<uint8_t> message) {
  // Posted deliveries hold the state: they need it whole.
  if (auto state = self.lock()) {
    internal::OnMessage(state, from, peer_session, std::move(message));
  }
}

}  // namespace internal

absl::StatusOr<std::unique_ptr<Topics>> Topics::Create(
    fragmentation::MessageTransport& messages, const discovery::Config& config,
    TopicsOptions options, std::optional<boost::asio::any_io_executor> slow_executor) {
  GLUE_RETURN_IF_ERROR(internal::ValidateOptions(options));
  auto state = std::make_shared<internal::TopicsState>(
      messages, slow_executor.value_or(messages.strand().get_inner_executor()),
      std::move(options));
  state->self = state;
  state->self_id = config.endpoint_id;
  state->self_name = config.endpoint_name;
  state->epoch = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  return std::unique_ptr<Topics>(new Topics(std::move(state)));
}

Topics::Topics(std::shared_ptr<internal::TopicsState> state) : state_(std::move(state)) {}

Topics::~Topics() { Stop(); }

absl::Status Topics::Start(discovery::PeerListener* peers) {
  state_->peer_listener = peers;
  GLUE_RETURN_IF_ERROR(state_->messages->Start(state_.get()));
  MutexLock lock(&state_->mu);
  state_->started = true;
  return absl::OkStatus();
}

void Topics::Stop() {
  state_->messages->Stop();
  {
    MutexLock lock(&state_->mu);
    state_->stopped = true;
  }
  state_->gate.Close();
}

void Topics::AddPeerListener(std::shared_ptr<discovery::PeerListener> listener) {
  if (listener == nullptr) return;
  internal::TopicsState& s = *state_;
  MutexLock lock(&s.peer_listeners_mu);
  for (const internal::AddedPeerListener& added : s.added_peer_listeners) {
    if (added.address == listener.get() && !added.listener.expired()) return;
  }
  s.added_peer_listeners.push_back({listener.get(), listener});
}

void Topics::RemovePeerListener(const discovery::PeerListener* listener) {
  internal::TopicsState& s = *state_;
  MutexLock lock(&s.peer_listeners_mu);
  std::erase_if(s.added_peer_listeners, [&](const internal::AddedPeerListener& added) {
    return added.address == listener || added.listener.expired();
  });
}

absl::Status Topics::Subscribe(absl::string_view filter, absl::string_view type,
                               MessageCallback callback) {
  GLUE_RETURN_IF_ERROR(ValidateTopicFilter(filter));
  if (type != kAnyType) GLUE_RETURN_IF_ERROR(ValidateTypeName(type));
  internal::TopicsState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.stopped) return absl::FailedPreconditionError("topics stopped");
  if (s.subscriptions.contains(filter)) {
    return absl::AlreadyExistsError(absl::StrCat("'", filter, "' is subscribed already"));
  }
  if (s.subscriptions.size() >= s.options.max_subscriptions) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "max_subscriptions = ", s.options.max_subscriptions, " subscriptions held"));
  }
  // A subscription of any type does not fix its topic's type.
  if (type != kAnyType && !IsWildcardFilter(filter)) {
    const absl::string_view in_use = internal::TypeInUse(s, filter);
    if (!in_use.empty() && in_use != type)
      return internal::TypeConflict(filter, type, in_use);
  }
  s.subscriptions.emplace(std::string(filter), std::make_shared<internal::Subscription>(
                                                   std::string(filter), std::string(type),
                                                   std::move(callback)));
  ++s.interest_version;
  for (const auto& [peer, peer_state] : s.peers) internal::SendInterest(s, peer);
  return absl::OkStatus();
}

absl::Status Topics::Unsubscribe(absl::string_view filter) {
  internal::TopicsState& s = *state_;
  MutexLock lock(&s.mu);
  if (s.subscriptions.erase(std::string(filter)) == 0) {
    return absl::NotFoundError(absl::StrCat("'", filter, "' is not subscribed"));
  }
  ++s.interest_version;
  if (s.started && !s.stopped) {
    for (const auto& [peer, peer_state] : s.peers) internal::SendInterest(s, peer);
  }
  return absl::OkStatus();
}

absl::Status Topics::Publish(absl::string_view topic, absl::string_view type,
                             absl::Duration expiry, absl::Span<const uint8_t> payload,
                             const PublishOptions& options) {
  GLUE_RETURN_IF_ERROR(ValidateTopicName(topic));
  GLUE_RETURN_IF_ERROR(ValidateTypeName(type));
  if (expiry <= absl::ZeroDuration() || expiry == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "expiry ", absl::FormatDuration(expiry), " must be positive and finite"));
  }
  if (options.history_depth > kMaxHistoryDepth) {
    return absl::InvalidArgumentError(absl::StrCat(
        "history_depth = ", options.history_depth, " is above ", kMaxHistoryDepth));
  }
  if (options.max_blocking < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_blocking ", absl::FormatDuration(options.max_blocking), " is negative"));
  }
  internal::TopicsState& s = *state_;
  const absl::Time now = s.Now();
  const absl::Time deadline = now + expiry;
  // The largest sequence makes the largest header, for the size check.
  Publication p{
      .epoch = s.epoch,
      .sequence = std::numeric_limits<uint64_t>::max(),
      .time_to_live_ms = static_cast<uint32_t>(std::clamp<int64_t>(
          absl::ToInt64Milliseconds(expiry), 1, std::numeric_limits<uint32_t>::max())),
      .topic = topic,
      .type = type,
      .payload = payload};
  if (PublicationHeaderSize(p) + payload.size() > s.messages->max_message_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a payload of ", payload.size(), " bytes on '", topic, "' makes a message above ",
        "max_message_bytes = ", s.messages->max_message_bytes()));
  }

  // The peers whose queue the message waits in, for max_blocking.
  absl::InlinedVector<uint64_t, 4> queued;
  absl::Status result;
  {
    MutexLock lock(&s.mu);
    result = internal::PublishLocked(state_, p, deadline, options, &queued);
  }
  // Waited for without the lock: the network thread takes it for what arrives.
  if (!queued.empty()) {
    const absl::Time until = s.Now() + options.max_blocking;
    for (uint64_t peer : queued) s.messages->AwaitQueueEmpty(peer, until);
  }
  return result;
}

std::vector<uint64_t> Topics::Subscribers(absl::string_view topic,
                                          absl::string_view type) const {
  internal::TopicsState& s = *state_;
  MutexLock lock(&s.mu);
  std::vector<uint64_t> ids;
  for (const auto& [peer, peer_state] : s.peers) {
    if (internal::Wants(peer_state.interest, topic, type)) ids.push_back(peer);
  }
  return ids;
}

TopicsCounters Topics::counters() const {
  TopicsCounters c;
  {
    MutexLock lock(&state_->mu);
    c = state_->counters;
  }
  c.messages = state_->messages->counters();
  return c;
}

Clock& Topics::clock() const { return state_->clock; }

boost::asio::any_io_executor Topics::executor() const {
  return state_->messages->strand();
}

boost::asio::any_io_executor Topics::slow_executor() const {
  return state_->slow_executor;
}

uint64_t Topics::endpoint_id() const { return state_->self_id; }

const std::string& Topics::endpoint_name() const { return state_->self_name; }

}  // namespace glue::topics
