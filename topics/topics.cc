#include "glue/topics/topics.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <chrono>
#include <deque>
#include <limits>
#include <list>
#include <map>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "glue/base/block_pool.h"
#include "glue/base/handler_gate.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/topics/topic_filter.h"
#include "glue/topics/topic_message.h"

namespace glue::topics {
namespace internal {
namespace {

using fragmentation::MessageTransport;
// Bytes is an encoded message, shared: a view of what `owner` keeps alive.
struct Bytes {
  std::shared_ptr<const void> owner;
  absl::Span<const uint8_t> view;

  static Bytes Of(std::vector<uint8_t> bytes) {
    auto shared = std::make_shared<const std::vector<uint8_t>>(std::move(bytes));
    const absl::Span<const uint8_t> view = *shared;
    return {std::move(shared), view};
  }
};

struct Delivery;

// A callback that takes less than this on average runs on the thread that received
// its message, with no hop to another; a slower one on a thread of the pool, so that
// it does not hold up the transport.
constexpr int64_t kQuickCallbackNanos = 20'000;

// Subscription is one local subscription. Its callbacks run one at a time (`running`):
// inline where its message was received, when the callback is quick and nothing
// waits before it; otherwise its messages wait in `queue` for a Drain on the pool,
// which runs many per wakeup, so a busy subscription costs one post per burst.
struct Subscription {
  Subscription(std::string f, std::string t, MessageCallback c)
      : filter(std::move(f)), type(std::move(t)), callback(std::move(c)) {}

  const std::string filter;
  const std::string type;
  const MessageCallback callback;
  Mutex mu;  // taken after TopicsState::mu, never before
  std::deque<std::shared_ptr<const Delivery>> queue ABSL_GUARDED_BY(mu);
  bool running ABSL_GUARDED_BY(mu) = false;  // a callback runs, or a Drain is posted
  // How long the callback took, averaged over its last calls (about 8).
  int64_t average_nanos ABSL_GUARDED_BY(mu) = 0;

  bool quick() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return average_nanos < kQuickCallbackNanos;
  }
  // Took adds one call's time to the average. A sample counts at most 4 times the
  // bound: a call or two that the thread spent mostly preempted, or in a page fault,
  // do not move a quick callback off its thread (where, at a million messages a
  // second, its queue would fill before a thread of the pool woke); three such calls
  // close together, or a callback slow every time, do.
  void Took(int64_t nanos) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    nanos = std::min(nanos, 4 * kQuickCallbackNanos);
    average_nanos += (nanos - average_nanos) / 8;
  }
  // TookOnAverage records `calls` calls that took `nanos` in all. Many calls are an
  // average already: it replaces the one kept, so that a quick callback moved off by
  // mistake comes back after one batch.
  void TookOnAverage(int64_t nanos, uint64_t calls) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const int64_t each = nanos / static_cast<int64_t>(calls);
    if (calls >= kWholeAverageCalls) {
      average_nanos = each;
    } else {
      Took(each);
    }
  }
  static constexpr uint64_t kWholeAverageCalls = 64;
};

int64_t MonotonicNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Kept is one message of a topic's history: the publication as first encoded, whose
// payload starts at payload_offset, so that Publish copies a payload once.
struct Kept {
  uint64_t sequence;
  absl::Time deadline;
  Bytes encoded;
  size_t payload_offset;

  absl::Span<const uint8_t> payload() const {
    return encoded.view.subspan(payload_offset);
  }
};

// PublishedTopic is what this endpoint keeps for a topic it publishes on.
struct PublishedTopic {
  std::string type;
  uint64_t next_sequence = 1;
  bool reliable = true;
  std::deque<Kept> history;  // oldest first
};

// Heard is the last sequence delivered from one publisher on one topic.
struct Heard {
  uint64_t epoch = 0;
  uint64_t sequence = 0;
  std::list<std::pair<uint64_t, std::string>>::iterator age;  // in TopicsState::ages
};

// HeardOrder orders TopicsState::heard by publisher, then topic, and finds a key by a
// view of its topic.
struct HeardOrder {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    if (a.first != b.first) return a.first < b.first;
    return absl::string_view(a.second) < absl::string_view(b.second);
  }
};

// Delivery is one message on its way to the subscriptions that want it.
struct Delivery {
  Message message;
  std::shared_ptr<const void> owner;             // what message.payload views
  absl::Time deadline = absl::InfiniteFuture();  // not handed to a callback after it
};

}  // namespace

struct TopicsState {
  TopicsState(const boost::asio::any_io_executor& e, Topics::Callbacks c, TopicsOptions o)
      : slow_executor(e), callbacks(std::move(c)), options(std::move(o)) {}

  absl::Time Now() const { return options.messages.transport.discovery.now(); }

  const boost::asio::any_io_executor slow_executor;  // where slow callbacks run
  const Topics::Callbacks callbacks;
  const TopicsOptions options;
  HandlerGate gate;                            // closed by Stop
  std::unique_ptr<MessageTransport> messages;  // set once by Create
  uint64_t self_id = 0;
  std::string self_name;
  uint64_t epoch = 0;

  // Taken before the message transport's lock (Publish sends with it held); never
  // held while a callback of the application runs.
  mutable Mutex mu;
  bool started ABSL_GUARDED_BY(mu) = false;
  bool stopped ABSL_GUARDED_BY(mu) = false;
  // Keyed by filter and topic; looked up by views, without a copy.
  std::map<std::string, std::shared_ptr<Subscription>, std::less<>> subscriptions
      ABSL_GUARDED_BY(mu);
  uint64_t interest_version ABSL_GUARDED_BY(mu) = 0;
  std::map<std::string, PublishedTopic, std::less<>> published ABSL_GUARDED_BY(mu);
  size_t history_bytes ABSL_GUARDED_BY(mu) = 0;
  // Each peer's latest interest.
  absl::flat_hash_map<uint64_t, Interest> peers ABSL_GUARDED_BY(mu);
  std::map<std::pair<uint64_t, std::string>, Heard, HeardOrder> heard ABSL_GUARDED_BY(mu);
  std::list<std::pair<uint64_t, std::string>> ages ABSL_GUARDED_BY(mu);  // oldest first
  TopicsCounters counters ABSL_GUARDED_BY(mu);
};

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
  Interest interest{.version = s.interest_version};
  for (const auto& [filter, sub] : s.subscriptions) {
    interest.entries.push_back({sub->filter, sub->type});
  }
  return interest;
}

bool Wants(const Interest& interest, absl::string_view topic, absl::string_view type) {
  for (const InterestEntry& entry : interest.entries) {
    if (entry.type == type && TopicMatches(entry.filter, topic)) return true;
  }
  return false;
}

// SendTo hands `bytes` to the message transport for `peer`, counting a refusal.
void SendTo(State& s, uint64_t peer, Bytes bytes, const transport::SendOptions& options)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  const absl::Status status =
      s.messages->Send(peer, std::move(bytes.owner), bytes.view, options);
  if (absl::IsResourceExhausted(status)) ++s.counters.refused_queue_full;
}

void SendInterest(State& s, uint64_t peer, bool reply_wanted = false)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  Interest interest = CurrentInterest(s);
  interest.reply_wanted = reply_wanted;
  SendTo(s, peer, Bytes::Of(EncodeInterest(interest)), {.ordered = true});
  ++s.counters.interests_sent;
}

// Messages one Drain hands to callbacks before it yields the thread to other work.
constexpr size_t kDrainBatch = 256;

void Drain(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub);

// PostDrain has a thread of the pool run Drain for `sub`.
void PostDrain(const std::shared_ptr<State>& state,
               const std::shared_ptr<Subscription>& sub) {
  boost::asio::post(state->slow_executor, [state, sub] { Drain(state, sub); });
}

// EndRun ends the run of `sub`'s callbacks that just finished: the next Drain goes to
// the pool when messages queued meanwhile; after Stop (`stopped`), they are dropped.
void EndRun(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub,
            bool stopped) ABSL_EXCLUSIVE_LOCKS_REQUIRED(sub->mu) {
  if (sub->queue.empty() || stopped) {
    sub->queue.clear();
    sub->running = false;
    return;
  }
  PostDrain(state, sub);
}

// Drain runs the callbacks of the messages waiting for `sub`, a batch at a time.
void Drain(const std::shared_ptr<State>& state,
           const std::shared_ptr<Subscription>& sub) {
  std::vector<std::shared_ptr<const Delivery>> batch;
  {
    MutexLock lock(&sub->mu);
    const size_t n = std::min(kDrainBatch, sub->queue.size());
    batch.assign(std::make_move_iterator(sub->queue.begin()),
                 std::make_move_iterator(sub->queue.begin() + n));
    sub->queue.erase(sub->queue.begin(), sub->queue.begin() + n);
  }
  uint64_t expired = 0;
  uint64_t called = 0;
  int64_t took = 0;
  {
    HandlerGate::Pass pass(&state->gate);
    if (!pass) {  // stopped: no callback runs any more
      MutexLock lock(&sub->mu);
      EndRun(state, sub, /*stopped=*/true);
      return;
    }
    const absl::Time now = state->Now();
    const int64_t start = MonotonicNanos();
    for (const std::shared_ptr<const Delivery>& delivery : batch) {
      if (now < delivery->deadline) {
        sub->callback(delivery->message);
        ++called;
      } else {
        ++expired;
      }
    }
    took = MonotonicNanos() - start;
  }
  if (expired > 0) {
    MutexLock lock(&state->mu);
    state->counters.expired_undelivered += expired;
  }
  MutexLock lock(&sub->mu);
  if (called > 0) sub->TookOnAverage(took, called);
  EndRun(state, sub, /*stopped=*/false);
}

// Inline is a message whose callback runs where it was received, once the lock is
// released.
struct Inline {
  std::shared_ptr<Subscription> sub;
  std::shared_ptr<const Delivery> delivery;
};
using InlineCalls = absl::InlinedVector<Inline, 4>;  // a message's: on the stack

// RunInline runs the callbacks Post left to the receiving thread, then hands the
// subscriptions whose messages queued meanwhile to the pool.
void RunInline(const std::shared_ptr<State>& state, InlineCalls& calls) {
  if (calls.empty()) return;
  HandlerGate::Pass pass(&state->gate);
  for (Inline& call : calls) {
    Subscription& sub = *call.sub;
    int64_t took = -1;
    if (pass) {
      const int64_t start = MonotonicNanos();
      sub.callback(call.delivery->message);
      took = MonotonicNanos() - start;
    }
    MutexLock lock(&sub.mu);
    if (took >= 0) sub.Took(took);
    EndRun(state, call.sub, /*stopped=*/!pass);
  }
}

// Post hands one message to a subscription: to `inline_calls` when the caller may run
// it (it is not null) and the subscription is quick and idle; otherwise to its queue,
// or it drops it at the bound.
void Post(const std::shared_ptr<State>& state, const std::shared_ptr<Subscription>& sub,
          std::shared_ptr<const Delivery> delivery, InlineCalls* inline_calls)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  State& s = *state;
  const bool local = delivery->message.publisher_id == s.self_id;
  {
    MutexLock lock(&sub->mu);
    if (inline_calls != nullptr && !sub->running && sub->quick()) {
      sub->running = true;
      inline_calls->push_back({sub, std::move(delivery)});
      ++s.counters.delivered_inline;
    } else if (sub->queue.size() >= s.options.max_pending_per_subscription) {
      ++s.counters.slow_subscriber_drops;
      return;
    } else {
      sub->queue.push_back(std::move(delivery));
      if (!sub->running) {
        sub->running = true;
        PostDrain(state, sub);
      }
    }
  }
  ++s.counters.delivered;
  if (local) ++s.counters.delivered_locally;
}

// DeliverLocally posts a message on `topic` of `type` to every subscription that
// wants it (see Post for `inline_calls`), and returns how many did. `make` makes the
// delivery, once, at the first: nothing is allocated for a message nobody here wants.
template <typename Make>
size_t DeliverLocally(const std::shared_ptr<State>& state, absl::string_view topic,
                      absl::string_view type, Make make,
                      InlineCalls* inline_calls = nullptr)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
  std::shared_ptr<const Delivery> delivery;
  size_t wanted = 0;
  for (const auto& [filter, sub] : state->subscriptions) {
    if (sub->type == type && TopicMatches(sub->filter, topic)) {
      if (delivery == nullptr) delivery = make();
      Post(state, sub, delivery, inline_calls);
      ++wanted;
    }
  }
  return wanted;
}

// Fresh says whether a publication is newer than what was delivered from its
// publisher on its topic, and records it as delivered if so.
bool Fresh(State& s, uint64_t publisher, const Publication& p)
    ABSL_EXCLUSIVE_LOCKS_REQUIRED(s.mu) {
  auto it = s.heard.find(std::make_pair(publisher, p.topic));
  const bool added = it == s.heard.end();
  if (added) {
    auto key = std::make_pair(publisher, std::string(p.topic));
    it = s.heard.emplace(key, Heard{}).first;
    it->second.age = s.ages.insert(s.ages.end(), std::move(key));
    if (s.heard.size() > s.options.max_remembered_publishers) {
      s.heard.erase(s.ages.front());
      s.ages.pop_front();
      ++s.counters.publishers_forgotten;
    }
  }
  Heard& heard = it->second;
  if (!added) {
    if (p.epoch < heard.epoch ||
        (p.epoch == heard.epoch && p.sequence <= heard.sequence)) {
      return false;
    }
    s.ages.splice(s.ages.end(), s.ages, heard.age);
  }
  heard.epoch = p.epoch;
  heard.sequence = p.sequence;
  return true;
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
      SendTo(s, peer, Bytes::Of(EncodePublication(p)),
             {.reliable = published.reliable,
              .ordered = published.reliable,
              .expiry = kept.deadline});
      ++s.counters.history_sent;
    }
  }
}

// The message transport's callbacks; on its strand.

void OnPeerAdded(State& s, const discovery::Peer& peer) {
  {
    MutexLock lock(&s.mu);
    s.peers[peer.id] = Interest{};
    SendInterest(s, peer.id, /*reply_wanted=*/true);
  }
  if (s.callbacks.on_peer_added) s.callbacks.on_peer_added(peer);
}

void OnPeerRemoved(State& s, const discovery::Peer& peer,
                   discovery::RemovalReason reason) {
  {
    MutexLock lock(&s.mu);
    s.peers.erase(peer.id);
  }
  if (s.callbacks.on_peer_removed) s.callbacks.on_peer_removed(peer, reason);
}

void OnMessage(const std::shared_ptr<State>& state, const discovery::Peer& from,
               std::vector<uint8_t> bytes) {
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
    if (auto* interest = std::get_if<Interest>(&*message)) {
      ++s.counters.interests_received;
      auto peer = s.peers.find(from.id);
      if (peer == s.peers.end()) return;
      if (interest->reply_wanted) SendInterest(s, from.id);
      if (interest->version < peer->second.version) return;
      peer->second = std::move(*interest);
      SendHistory(s, from.id, peer->second);
      return;
    }
    const Publication& p = std::get<Publication>(*message);
    ++s.counters.received;
    if (!Fresh(s, from.id, p)) {
      ++s.counters.duplicates;
      return;
    }
    auto make = [&] {
      auto delivery = std::make_shared<Delivery>();
      delivery->message = Message{.topic = std::string(p.topic),
                                  .type = std::string(p.type),
                                  .publisher_id = from.id,
                                  .publisher_name = from.name,
                                  .sequence = p.sequence,
                                  .history = p.history,
                                  .payload = p.payload};
      delivery->owner = std::move(owner);
      if (p.time_to_live_ms > 0) {
        delivery->deadline = s.Now() + absl::Milliseconds(p.time_to_live_ms);
      }
      return delivery;
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
  const Bytes bytes{std::move(encoded), view};
  const absl::Span<const uint8_t> kept_payload = bytes.view.subspan(payload_offset);

  // History: this message, within the depth and the bytes of all topics.
  if (options.history_depth > 0) {
    published.history.push_back({p.sequence, deadline, bytes, payload_offset});
    s.history_bytes += bytes.view.size();
  }
  while (published.history.size() > options.history_depth) {
    s.history_bytes -= published.history.front().encoded.view.size();
    published.history.pop_front();
  }
  // At the bound of all histories, this topic's oldest go first.
  while (s.history_bytes > s.options.max_history_bytes && !published.history.empty()) {
    s.history_bytes -= published.history.front().encoded.view.size();
    published.history.pop_front();
    ++s.counters.history_dropped;
  }

  absl::Status status;
  for (const auto& [peer, interest] : s.peers) {
    if (!Wants(interest, p.topic, p.type)) continue;
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
    auto delivery = std::make_shared<Delivery>();
    delivery->message = Message{.topic = std::string(p.topic),
                                .type = std::string(p.type),
                                .publisher_id = s.self_id,
                                .publisher_name = s.self_name,
                                .sequence = p.sequence,
                                .payload = kept_payload};
    delivery->owner = bytes.owner;
    delivery->deadline = deadline;
    return delivery;
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
}  // namespace internal

absl::StatusOr<std::unique_ptr<Topics>> Topics::Create(
    const boost::asio::any_io_executor& executor, const discovery::Config& config,
    Callbacks callbacks, TopicsOptions options,
    std::optional<boost::asio::any_io_executor> slow_executor) {
  GLUE_RETURN_IF_ERROR(internal::ValidateOptions(options));
  auto state = std::make_shared<internal::TopicsState>(
      slow_executor.value_or(executor), std::move(callbacks), std::move(options));
  internal::TopicsState* s = state.get();
  std::weak_ptr<internal::TopicsState> weak = state;
  // The message transport's callbacks hold a plain pointer: the state owns it, and it
  // runs none of them once stopped.
  fragmentation::MessageTransport::Callbacks message_callbacks{
      .on_peer_added =
          [s](const discovery::Peer& peer) { internal::OnPeerAdded(*s, peer); },
      .on_peer_removed =
          [s](const discovery::Peer& peer, discovery::RemovalReason reason) {
            internal::OnPeerRemoved(*s, peer, reason);
          },
      .on_message =
          [weak](const discovery::Peer& from, std::vector<uint8_t> message) {
            // Posted deliveries hold the state: they need it whole.
            if (auto state = weak.lock())
              internal::OnMessage(state, from, std::move(message));
          },
  };
  GLUE_ASSIGN_OR_RETURN(
      state->messages,
      fragmentation::MessageTransport::Create(
          executor, config, std::move(message_callbacks), state->options.messages));
  state->self_id = config.endpoint_id;
  state->self_name = config.endpoint_name;
  state->epoch = static_cast<uint64_t>(absl::ToUnixMicros(absl::Now()));
  return std::unique_ptr<Topics>(new Topics(std::move(state)));
}

Topics::Topics(std::shared_ptr<internal::TopicsState> state) : state_(std::move(state)) {}

Topics::~Topics() { Stop(); }

absl::Status Topics::Start() {
  GLUE_RETURN_IF_ERROR(state_->messages->Start());
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

absl::Status Topics::Subscribe(absl::string_view filter, absl::string_view type,
                               MessageCallback callback) {
  GLUE_RETURN_IF_ERROR(ValidateTopicFilter(filter));
  GLUE_RETURN_IF_ERROR(ValidateTypeName(type));
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
  if (!IsWildcardFilter(filter)) {
    const absl::string_view in_use = internal::TypeInUse(s, filter);
    if (!in_use.empty() && in_use != type)
      return internal::TypeConflict(filter, type, in_use);
  }
  s.subscriptions.emplace(std::string(filter), std::make_shared<internal::Subscription>(
                                                   std::string(filter), std::string(type),
                                                   std::move(callback)));
  ++s.interest_version;
  for (const auto& [peer, interest] : s.peers) internal::SendInterest(s, peer);
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
    for (const auto& [peer, interest] : s.peers) internal::SendInterest(s, peer);
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
    const absl::Time until = absl::Now() + options.max_blocking;
    for (uint64_t peer : queued) s.messages->AwaitQueueEmpty(peer, until);
  }
  return result;
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

const fragmentation::MessageTransport& Topics::messages() const {
  return *state_->messages;
}

}  // namespace glue::topics
