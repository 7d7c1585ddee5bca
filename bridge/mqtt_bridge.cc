#include "glue/bridge/mqtt_bridge.h"

#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "glue/base/fnv1a.h"
#include "glue/base/log.h"
#include "glue/base/log_limiter.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/model/model.h"
#include "glue/topics/topic_filter.h"

namespace glue::bridge {

namespace {

constexpr char kTypeProperty[] = "glue-type";
// Set on what a bridge sends to the broker: the glue network it came from, so that
// another bridge of that network does not bring it back in.
constexpr char kNetworkProperty[] = "glue-network";
// The model the bridges of a segment share: who is alive, and which mappings each
// serves (m/MAPPING/ENDPOINT_ID, ephemeral).
constexpr char kBridgeModel[] = "glue-bridges";
constexpr char kDefaultInType[] = "mqtt";

// OutMessage is a glue message for the broker.
struct OutMessage {
  std::string topic;
  std::string type;
  std::string payload;
  int qos = 0;
  absl::Time expires = absl::InfiniteFuture();  // the glue message's
};

std::once_flag library_once;

// MappingId names a mapping alike in every bridge that has it.
std::string MappingId(const Mapping& m) {
  return absl::StrCat(absl::Hex(
      Fnv1a64(absl::StrCat(m.direction == Mapping::Direction::kOut ? "out " : "in ",
                           m.pattern, " ", m.local_prefix, " ", m.remote_prefix)),
      absl::kZeroPad16));
}

absl::Status CheckMapping(const Mapping& m) {
  if (m.qos != 0 && m.qos != 1) {
    return absl::InvalidArgumentError(absl::StrCat("qos ", m.qos, ": 0 or 1"));
  }
  if (m.pattern.empty()) return absl::InvalidArgumentError("no topic pattern");
  if (absl::Status valid = topics::ValidateTopicFilter(m.local_filter()); !valid.ok()) {
    return valid;
  }
  for (const std::string* prefix : {&m.local_prefix, &m.remote_prefix}) {
    if (absl::StrContains(*prefix, "+") || absl::StrContains(*prefix, "#")) {
      return absl::InvalidArgumentError(
          absl::StrCat("prefix '", *prefix, "' holds a wildcard"));
    }
  }
  return absl::OkStatus();
}

// Cork holds back (or, false, sends at once) what is written to the broker's socket:
// the packets of a batch leave in full segments, not a segment each, which costs the
// kernel and the broker less (1 KiB messages: the broker's CPU a message 14 % less,
// the bridge thread's 34 %).
void Cork(int sock, bool on) {
  if (sock < 0) return;
  const int value = on ? 1 : 0;
  ::setsockopt(sock, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

}  // namespace

absl::StatusOr<Mapping> ParseMapping(Mapping::Direction direction, absl::string_view text,
                                     int qos) {
  Mapping m{.direction = direction, .qos = qos};
  const size_t eq = text.find('=');
  m.pattern = std::string(text.substr(0, eq));
  if (eq != absl::string_view::npos) {
    (direction == Mapping::Direction::kOut ? m.remote_prefix : m.local_prefix) =
        std::string(text.substr(eq + 1));
  }
  if (absl::Status valid = CheckMapping(m); !valid.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("mapping '", text, "': ", valid.message()));
  }
  return m;
}

absl::StatusOr<std::vector<Mapping>> ParseBridgeConfig(absl::string_view text,
                                                       absl::string_view name) {
  std::vector<Mapping> mappings;
  int number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<std::string> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    for (std::string& w : words) {
      if (w == "\"\"") w.clear();
    }
    auto error = [&](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(name, ":", number, ": ", why));
    };
    if (words[0] != "topic") return error(absl::StrCat("'", words[0], "' is not topic"));
    if (words.size() < 2 || words.size() == 5 || words.size() > 6) {
      return error(
          "expected: topic PATTERN [out|in|both [QOS [LOCAL_PREFIX REMOTE_PREFIX]]]");
    }
    Mapping m{.pattern = words[1]};
    const std::string direction = words.size() > 2 ? words[2] : "both";
    if (words.size() > 3 && (!absl::SimpleAtoi(words[3], &m.qos))) {
      return error(absl::StrCat("qos '", words[3], "' is not a number"));
    }
    if (words.size() == 6) {
      m.local_prefix = words[4];
      m.remote_prefix = words[5];
    }
    if (absl::Status valid = CheckMapping(m); !valid.ok()) return error(valid.message());
    if (direction != "out" && direction != "in" && direction != "both") {
      return error(absl::StrCat("'", direction, "' is not out, in or both"));
    }
    if (direction != "in") {
      m.direction = Mapping::Direction::kOut;
      mappings.push_back(m);
    }
    if (direction != "out") {
      m.direction = Mapping::Direction::kIn;
      mappings.push_back(m);
    }
  }
  return mappings;
}

absl::StatusOr<BrokerUrl> ParseBrokerUrl(absl::string_view url) {
  absl::string_view rest = url;
  BrokerUrl b;
  if (absl::ConsumePrefix(&rest, "mqtts://")) {
    b.tls = true;
    b.port = 8883;
  } else if (!absl::ConsumePrefix(&rest, "mqtt://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker '", url, "' must be mqtt://HOST:PORT or mqtts://HOST:PORT"));
  }
  absl::ConsumeSuffix(&rest, "/");
  const size_t colon = rest.rfind(':');
  b.host = std::string(rest.substr(0, colon));
  if (colon != absl::string_view::npos &&
      (!absl::SimpleAtoi(rest.substr(colon + 1), &b.port) || b.port < 1 ||
       b.port > 65535)) {
    return absl::InvalidArgumentError(
        absl::StrCat("broker '", url, "': the port must be 1 to 65535"));
  }
  if (b.host.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("broker '", url, "' names no host"));
  }
  return b;
}

absl::StatusOr<BrokerUrl> CheckBridgeOptions(const BridgeOptions& options) {
  GLUE_ASSIGN_OR_RETURN(BrokerUrl url, ParseBrokerUrl(options.broker));
  if (options.mappings.empty()) {
    return absl::InvalidArgumentError(
        "the bridge has no mapping: give --out, --in, --both or --config");
  }
  if (url.tls && options.cafile.empty()) {
    return absl::InvalidArgumentError("mqtts:// needs --cafile");
  }
  if (options.certfile.empty() != options.keyfile.empty()) {
    return absl::InvalidArgumentError("--cert and --key go together");
  }
  return url;
}

struct MqttBridge::State {
  State(Endpoint& e, BridgeOptions o) : endpoint(e), options(std::move(o)) {
    for (const Mapping& m : options.mappings) {
      mapping_ids.push_back(MappingId(m));
      remote_filters.push_back(m.remote_filter());
    }
  }
  ~State() {
    if (wake_fd >= 0) ::close(wake_fd);
    ClearProperties();
  }

  // OnConnect is libmosquitto's callback, on the loop thread: nothing in it calls
  // libmosquitto, whose callback lock would then come before its others, the reverse
  // of their order when it calls back from a disconnect.
  void OnConnect(int rc);
  void Subscribe();  // to the in mappings, after a connection; on the loop thread
  // Serves says whether this bridge serves options.mappings[i] now (ReadMembers
  // decides it, off the path of the messages).
  bool Serves(size_t i) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return i >= ours.size() || ours[i];
  }
  // ReadMembers reads the bridges alive from the model, and for each mapping whether
  // this one serves it: of the live bridges that have it, the one a hash of the bridge
  // and the mapping ranks first.
  void ReadMembers() ABSL_LOCKS_EXCLUDED(mu);
  void OnDisconnect(int rc);
  void OnMessage(const mosquitto_message& message, const mosquitto_property* props);
  void OnGlue(size_t i, const Message& message);  // for options.mappings[i]
  // Publish hands `m` to libmosquitto, which writes it at once, unless its expiry
  // passed while it waited.
  enum class Sent { kSent, kExpired, kNotConnected };
  Sent Publish(const OutMessage& m);
  // Flush hands what waits to libmosquitto, which writes it at once. On the loop
  // thread.
  void Flush();
  // Properties returns the MQTT 5 properties of a message of glue type `type` with
  // `expiry_seconds` left (0: none), kept for the next one. On the loop thread.
  const mosquitto_property* Properties(const std::string& type, uint32_t expiry_seconds);
  void ClearProperties();  // frees every set Properties kept
  // Run is the loop thread: it waits for the broker's socket and for Wake, reads
  // what came (every packet that waits, not one per wakeup), sends what glue handed
  // over, keeps the connection alive, and reconnects with backoff.
  void Run();
  void Wake();  // from any thread: Run looks at the buffer
  // Why says why libmosquitto's `rc` ended an attempt to connect: `what` it was,
  // libmosquitto's last error line when `with_log` (OpenSSL's reason for a TLS failure
  // is only there), and for TLS what to check.
  std::string Why(absl::string_view what, int rc, bool with_log) ABSL_LOCKS_EXCLUDED(mu);
  void StopLoop();

  Endpoint& endpoint;
  const BridgeOptions options;
  // Of each of options.mappings: its MappingId, and its filter on the broker.
  std::vector<std::string> mapping_ids;
  std::vector<std::string> remote_filters;

  // Used on the loop thread only once it runs (and by Start before, and the
  // destructor after).
  mosquitto* client = nullptr;
  std::thread loop;
  std::atomic<bool> stopping{false};
  int wake_fd = -1;                                   // an eventfd that Wake writes
  absl::Duration reconnect_delay = absl::Seconds(1);  // the loop thread's
  // How long the loop thread, out of work, polls before it sleeps: the endpoint's.
  const absl::Duration spin = endpoint.spin();
  bool just_connected = false;  // the loop thread's
  // The loop thread's: properties by glue type and expiry (Properties).
  static constexpr size_t kMaxPropertySets = 1024;
  std::map<std::pair<std::string, uint32_t>, mosquitto_property*> properties;
  static constexpr size_t kFlushBatch = 256;

  std::unique_ptr<model::Model> bridges;  // kBridgeModel
  std::vector<std::string> subscribed;    // the glue filters of the out mappings
  std::string network;                    // this network's id, in decimal
  uint64_t self = 0;                      // this endpoint's id

  mutable Mutex mu;
  std::set<uint64_t> members ABSL_GUARDED_BY(mu);  // the live bridges' endpoint ids
  // Whether this bridge serves each of options.mappings: all, until ReadMembers says.
  std::vector<bool> ours ABSL_GUARDED_BY(mu);
  bool connected ABSL_GUARDED_BY(mu) = false;
  int connect_result ABSL_GUARDED_BY(mu) = -1;  // the first CONNACK's, -1 before it
  // Why the connection was lost before the first CONNACK (a TLS handshake that
  // failed, say); 0 when it was not.
  int failed_before_connack ABSL_GUARDED_BY(mu) = 0;
  std::string last_error ABSL_GUARDED_BY(mu);  // libmosquitto's last error line
  std::deque<OutMessage> waiting ABSL_GUARDED_BY(mu);
  bool woken ABSL_GUARDED_BY(mu) = false;  // Wake called, the loop not yet run
  size_t waiting_bytes ABSL_GUARDED_BY(mu) = 0;
  BridgeCounters counters ABSL_GUARDED_BY(mu);
  LogLimiter drop_log ABSL_GUARDED_BY(mu){absl::Seconds(10)};
};

void MqttBridge::State::OnConnect(int rc) {
  {
    MutexLock lock(&mu);
    if (connect_result < 0) connect_result = rc;
    mu.NotifyAll();
    if (rc != 0) return;
    connected = true;
    ++counters.connects;
  }
  reconnect_delay = absl::Seconds(1);
  just_connected = true;  // Run subscribes, once the callback has returned
  GLUE_LOG(kInfo, "bridge: connected to %s", options.broker);
}

void MqttBridge::State::Subscribe() {
  // The log callback served to say why a first connection failed. Set, it has
  // libmosquitto format a debug line for every packet: about 2% of the time of a
  // message.
  mosquitto_log_callback_set(client, nullptr);
  for (size_t i = 0; i < options.mappings.size(); ++i) {
    const Mapping& m = options.mappings[i];
    if (m.direction != Mapping::Direction::kIn) continue;
    // No local: the broker does not send back what this client published.
    const int sub = mosquitto_subscribe_v5(client, nullptr, remote_filters[i].c_str(),
                                           m.qos, MQTT_SUB_OPT_NO_LOCAL, nullptr);
    if (sub != MOSQ_ERR_SUCCESS) {
      GLUE_LOG(kWarning, "bridge: cannot subscribe to %s: %s", remote_filters[i],
               mosquitto_strerror(sub));
    }
  }
}

void MqttBridge::State::ReadMembers() {
  absl::StatusOr<model::ModelSnapshot> snapshot = bridges->Snapshot("m/+/+");
  if (!snapshot.ok()) return;
  std::set<uint64_t> alive;
  std::map<std::string, std::vector<uint64_t>> by_mapping;
  for (const model::Entry& e : snapshot->entries) {
    const std::vector<std::string> parts = absl::StrSplit(e.key, '/');
    uint64_t id = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[2], &id)) continue;
    alive.insert(id);
    by_mapping[parts[1]].push_back(id);
  }
  std::vector<bool> mine(mapping_ids.size(), true);  // a mapping no one lists yet: ours
  for (size_t i = 0; i < mapping_ids.size(); ++i) {
    auto it = by_mapping.find(mapping_ids[i]);
    if (it == by_mapping.end()) continue;
    uint64_t chosen = self;
    uint64_t best = Fnv1a64(absl::StrCat(self, "|", mapping_ids[i]));
    for (uint64_t member : it->second) {
      const uint64_t score = Fnv1a64(absl::StrCat(member, "|", mapping_ids[i]));
      if (score > best || (score == best && member < chosen)) {
        chosen = member;
        best = score;
      }
    }
    mine[i] = chosen == self;
  }
  MutexLock lock(&mu);
  members = std::move(alive);
  ours = std::move(mine);
}

void MqttBridge::State::OnDisconnect(int rc) {
  MutexLock lock(&mu);
  if (connect_result < 0 && failed_before_connack == 0) {
    failed_before_connack = rc == 0 ? MOSQ_ERR_CONN_LOST : rc;
    mu.NotifyAll();
    return;
  }
  if (connected) ++counters.disconnects;
  connected = false;
  if (rc != 0)
    GLUE_LOG(kWarning, "bridge: lost %s: %s", options.broker, mosquitto_strerror(rc));
}

const mosquitto_property* MqttBridge::State::Properties(const std::string& type,
                                                        uint32_t expiry_seconds) {
  auto [it, added] =
      properties.try_emplace(std::make_pair(type, expiry_seconds), nullptr);
  if (!added) return it->second;
  if (properties.size() > kMaxPropertySets) {
    // Many types or expiries: start again rather than grow.
    ClearProperties();
    it = properties.try_emplace(std::make_pair(type, expiry_seconds), nullptr).first;
  }
  mosquitto_property*& props = it->second;
  mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, kTypeProperty,
                                     type.c_str());
  mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, kNetworkProperty,
                                     network.c_str());
  if (expiry_seconds > 0) {
    mosquitto_property_add_int32(&props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                                 expiry_seconds);
  }
  return props;
}

void MqttBridge::State::ClearProperties() {
  for (auto& [key, props] : properties) {
    if (props != nullptr) mosquitto_property_free_all(&props);
  }
  properties.clear();
}

MqttBridge::State::Sent MqttBridge::State::Publish(const OutMessage& m) {
  // The glue expiry, as the time it has left (what it waited in the buffer counts).
  uint32_t expiry_seconds = 0;
  if (m.expires != absl::InfiniteFuture()) {
    const int64_t left =
        absl::ToInt64Seconds(absl::Ceil(m.expires - absl::Now(), absl::Seconds(1)));
    if (left <= 0) return Sent::kExpired;  // gone stale while the broker was away
    expiry_seconds = static_cast<uint32_t>(std::min<int64_t>(left, UINT32_MAX));
  }
  return mosquitto_publish_v5(client, nullptr, m.topic.c_str(),
                              static_cast<int>(m.payload.size()), m.payload.data(), m.qos,
                              options.retain,
                              Properties(m.type, expiry_seconds)) == MOSQ_ERR_SUCCESS
             ? Sent::kSent
             : Sent::kNotConnected;
}

void MqttBridge::State::Flush() {
  // In batches: one lock for many messages.
  std::vector<OutMessage> batch;
  for (;;) {
    {
      MutexLock lock(&mu);
      if (!connected || waiting.empty()) {
        woken = false;  // what comes from now on wakes the loop again
        return;
      }
      batch.clear();
      while (!waiting.empty() && batch.size() < kFlushBatch) {
        waiting_bytes -= waiting.front().payload.size();
        batch.push_back(std::move(waiting.front()));
        waiting.pop_front();
      }
      counters.waiting = waiting.size();
    }
    size_t sent = 0;     // of the batch, handed to libmosquitto
    size_t expired = 0;  // of those, dropped for their expiry
    const int sock = mosquitto_socket(client);
    Cork(sock, batch.size() > 1);
    for (; sent < batch.size(); ++sent) {
      const Sent result = Publish(batch[sent]);
      if (result == Sent::kNotConnected) break;
      if (result == Sent::kExpired) ++expired;
    }
    // Not when the connection was lost meanwhile: the number may be another's now.
    if (mosquitto_socket(client) == sock) Cork(sock, false);
    MutexLock lock(&mu);
    counters.out += sent - expired;
    counters.expired += expired;
    if (sent == batch.size()) continue;
    // Not connected any more: the rest waits, in order, for the next connection.
    for (size_t i = batch.size(); i-- > sent;) {
      waiting_bytes += batch[i].payload.size();
      waiting.push_front(std::move(batch[i]));
    }
    counters.waiting = waiting.size();
    woken = false;
    return;
  }
}

void MqttBridge::State::Wake() {
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wake_fd, &one, sizeof(one));
}

void MqttBridge::State::Run() {
  absl::Time next_attempt = absl::InfinitePast();  // of a reconnection
  bool worked = false;  // the last round had something to do: from glue or the broker
  while (!stopping.load(std::memory_order_acquire)) {
    const int sock = mosquitto_socket(client);
    pollfd fds[2] = {{.fd = wake_fd, .events = POLLIN, .revents = 0},
                     {.fd = sock, .events = POLLIN, .revents = 0}};
    int timeout_ms = 1000;  // keepalive's granularity
    if (sock < 0) {
      // Disconnected: reconnect after the delay, which doubles up to 30 s while the
      // broker stays away (OnConnect sets it back to 1 s).
      const absl::Time now = absl::Now();
      if (next_attempt == absl::InfinitePast()) next_attempt = now + reconnect_delay;
      if (now >= next_attempt) {
        reconnect_delay = std::min(reconnect_delay * 2, absl::Seconds(30));
        next_attempt = absl::InfinitePast();
        if (mosquitto_reconnect(client) != MOSQ_ERR_SUCCESS) {
          next_attempt = absl::Now() + reconnect_delay;
        }
        continue;
      }
      timeout_ms = static_cast<int>(
          std::min<int64_t>(1000, absl::ToInt64Milliseconds(next_attempt - now) + 1));
    } else {
      next_attempt = absl::InfinitePast();
      if (mosquitto_want_write(client)) fds[1].events |= POLLOUT;
    }
    // Right after work, what comes next often comes within microseconds: look for it
    // a while, yielding the core to any thread that wants it, before sleeping.
    int ready = 0;
    if (sock >= 0 && worked) {
      const absl::Time until = absl::Now() + spin;
      while ((ready = ::poll(fds, 2, 0)) == 0 && absl::Now() < until) {
        std::this_thread::yield();
      }
    }
    if (ready == 0 && ::poll(fds, sock < 0 ? 1 : 2, timeout_ms) < 0 && errno != EINTR) {
      GLUE_LOG(kError, "bridge: poll: %s", std::strerror(errno));
      return;
    }
    worked = (fds[0].revents & POLLIN) != 0;
    if (worked) {
      uint64_t count = 0;
      [[maybe_unused]] const ssize_t n = ::read(wake_fd, &count, sizeof(count));
    }
    if (sock >= 0 && (fds[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0) {
      worked = true;
      // libmosquitto reads one packet a call: every one that waits, up to a bound
      // that lets what glue hands over go out between them.
      for (int i = 0; i < 1024 && mosquitto_socket(client) >= 0; ++i) {
        errno = 0;
        if (mosquitto_loop_read(client, 1) != MOSQ_ERR_SUCCESS || errno == EAGAIN ||
            errno == EWOULDBLOCK) {
          break;
        }
      }
    }
    if (mosquitto_socket(client) < 0) continue;
    if (just_connected) {
      just_connected = false;
      Subscribe();
    }
    Flush();
    if (mosquitto_want_write(client)) mosquitto_loop_write(client, 1);
    mosquitto_loop_misc(client);
  }
}

std::string MqttBridge::State::Why(absl::string_view what, int rc, bool with_log) {
  std::string why(what);
  if (with_log) {
    MutexLock lock(&mu);
    if (!last_error.empty()) absl::StrAppend(&why, ": ", last_error);
  }
  if (rc == MOSQ_ERR_TLS) {
    why +=
        " (the broker's certificate did not verify against --cafile, or its name is "
        "not the URL's host)";
  }
  return why;
}

void MqttBridge::State::StopLoop() {
  if (!loop.joinable()) return;
  stopping.store(true, std::memory_order_release);
  Wake();
  loop.join();
}

void MqttBridge::State::OnGlue(size_t i, const Message& message) {
  const Mapping& mapping = options.mappings[i];
  if (message.publisher_id == self) {  // brought in from MQTT by this bridge
    MutexLock lock(&mu);
    ++counters.looped;
    return;
  }
  // Made before the lock, which the loop thread takes to send: the copy is the
  // message's largest cost here. (A std::string built from the span's iterators
  // would copy a byte at a time.)
  OutMessage out{
      .topic = absl::StrCat(
          mapping.remote_prefix,
          absl::string_view(message.topic)
              .substr(std::min(mapping.local_prefix.size(), message.topic.size()))),
      .type = message.type,
      .payload = std::string(reinterpret_cast<const char*>(message.payload.data()),
                             message.payload.size()),
      .qos = mapping.qos,
      .expires = message.expires};
  // One lock for the message: its checks, and its place in the buffer.
  MutexLock lock(&mu);
  // Brought in from MQTT by another bridge: not sent back either.
  if (members.count(message.publisher_id) > 0) {
    ++counters.looped;
    return;
  }
  if (!Serves(i)) {  // another live bridge does
    ++counters.not_ours;
    return;
  }
  // Through the buffer always, so that what waited goes first.
  waiting.push_back(std::move(out));
  waiting_bytes += waiting.back().payload.size();
  if (!connected) ++counters.buffered;
  uint64_t dropped = 0;
  while (waiting.size() > options.max_buffered_messages ||
         waiting_bytes > options.max_buffered_bytes) {
    waiting_bytes -= waiting.front().payload.size();
    waiting.pop_front();
    ++dropped;
  }
  counters.dropped += dropped;
  counters.waiting = waiting.size();
  if (dropped > 0) {
    if (const uint64_t n = drop_log.Admit(absl::Now())) {
      GLUE_LOG(kWarning,
               "bridge: message(s) for %s dropped (%d times since the last line): the "
               "buffer of %d messages / %d bytes was full",
               options.broker, n, options.max_buffered_messages,
               options.max_buffered_bytes);
    }
  }
  // The loop thread is woken once for what comes while it has not run.
  if (connected && !woken) {
    woken = true;
    Wake();  // an eventfd write, which never blocks
  }
}

void MqttBridge::State::OnMessage(const mosquitto_message& message,
                                  const mosquitto_property* props) {
  std::string type = kDefaultInType;
  bool from_here = false;  // sent to the broker by a bridge of this network
  char* name = nullptr;
  char* value = nullptr;
  for (const mosquitto_property* p = mosquitto_property_read_string_pair(
           props, MQTT_PROP_USER_PROPERTY, &name, &value, false);
       p != nullptr; p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY,
                                                             &name, &value, true)) {
    if (std::strcmp(name, kTypeProperty) == 0) type = value;
    if (std::strcmp(name, kNetworkProperty) == 0 && network == value) from_here = true;
    free(name);
    free(value);
    name = value = nullptr;
  }
  if (from_here) {
    MutexLock lock(&mu);
    ++counters.looped;
    return;
  }
  absl::Duration expiry = options.default_expiry;
  uint32_t seconds = 0;
  if (mosquitto_property_read_int32(props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL, &seconds,
                                    false) != nullptr &&
      seconds > 0) {
    expiry = absl::Seconds(seconds);
  }
  for (size_t i = 0; i < options.mappings.size(); ++i) {
    const Mapping& m = options.mappings[i];
    bool matches = false;
    if (m.direction != Mapping::Direction::kIn ||
        mosquitto_topic_matches_sub(remote_filters[i].c_str(), message.topic, &matches) !=
            MOSQ_ERR_SUCCESS ||
        !matches) {
      continue;
    }
    {
      MutexLock lock(&mu);
      if (!Serves(i)) {
        ++counters.not_ours;
        return;
      }
    }
    const absl::string_view remote = message.topic;
    const std::string topic = absl::StrCat(
        m.local_prefix, remote.substr(std::min(m.remote_prefix.size(), remote.size())));
    const absl::Status published = endpoint.Publish(
        topic, type, expiry,
        absl::MakeConstSpan(static_cast<const uint8_t*>(message.payload),
                            static_cast<size_t>(message.payloadlen)),
        {.reliable = message.qos > 0,
         .history_depth = options.retain && message.retain ? size_t{1} : size_t{0}});
    MutexLock lock(&mu);
    if (published.ok()) {
      ++counters.in;
    } else {
      ++counters.in_failed;
      GLUE_LOG(kWarning, "bridge: %s from the broker not published on glue: %s", topic,
               published.message());
    }
    return;  // the first mapping that matches
  }
}

MqttBridge::MqttBridge(std::shared_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<MqttBridge>> MqttBridge::Start(Endpoint& endpoint,
                                                              BridgeOptions options) {
  GLUE_ASSIGN_OR_RETURN(const BrokerUrl url, CheckBridgeOptions(options));
  std::call_once(library_once, [] { mosquitto_lib_init(); });
  if (options.client_id.empty()) {
    options.client_id = "glue-bridge-" + endpoint.config().endpoint_name;
  }
  auto state = std::make_shared<State>(endpoint, std::move(options));
  State& s = *state;
  s.self = endpoint.config().endpoint_id;
  s.network = absl::StrCat(endpoint.config().network_id);
  // The bridges of the segment, and the mappings each serves.
  GLUE_ASSIGN_OR_RETURN(s.bridges, endpoint.OpenModel(kBridgeModel));
  for (const std::string& id : s.mapping_ids) {
    GLUE_RETURN_IF_ERROR(s.bridges->Put(absl::StrCat("m/", id, "/", s.self),
                                        endpoint.config().endpoint_name,
                                        {.ephemeral = true}));
  }
  GLUE_RETURN_IF_ERROR(
      s.bridges
          ->Watch("m/+/+",
                  [weak = std::weak_ptr<State>(state)](const model::WatchEvent&) {
                    if (auto st = weak.lock()) st->ReadMembers();
                  })
          .status());
  // What the others hold, before deciding which mappings are this one's.
  if (s.bridges->replicas() > 0) {
    s.bridges->Sync(absl::Now() + s.options.connect_timeout).IgnoreError();
  }
  s.ReadMembers();
  // Set up here, then used by the loop thread alone.
  s.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (s.wake_fd < 0) {
    return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));
  }
  mosquitto* client =
      mosquitto_new(s.options.client_id.c_str(), /*clean_session=*/true, &s);
  if (client == nullptr) return absl::ResourceExhaustedError("mosquitto_new failed");
  s.client = client;
  auto fail = [&](absl::Status status) {
    s.StopLoop();
    mosquitto_destroy(client);
    return status;
  };
  mosquitto_int_option(client, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(client, MOSQ_OPT_TCP_NODELAY, 1);
  mosquitto_connect_v5_callback_set(
      client, [](mosquitto*, void* self, int rc, int, const mosquitto_property*) {
        static_cast<State*>(self)->OnConnect(rc);
      });
  mosquitto_disconnect_v5_callback_set(
      client, [](mosquitto*, void* self, int rc, const mosquitto_property*) {
        static_cast<State*>(self)->OnDisconnect(rc);
      });
  mosquitto_message_v5_callback_set(
      client, [](mosquitto*, void* self, const mosquitto_message* message,
                 const mosquitto_property* props) {
        static_cast<State*>(self)->OnMessage(*message, props);
      });
  // libmosquitto says why a TLS handshake failed only in its log; before the first
  // CONNACK that ends the wait, with the reason.
  mosquitto_log_callback_set(
      client, [](mosquitto*, void* self, int level, const char* text) {
        if ((level & MOSQ_LOG_ERR) == 0 || text == nullptr) return;
        State& st = *static_cast<State*>(self);
        MutexLock lock(&st.mu);
        st.last_error = text;
        if (st.connect_result < 0 && st.failed_before_connack == 0 &&
            absl::StartsWith(text, "OpenSSL Error")) {
          st.failed_before_connack = MOSQ_ERR_TLS;
          st.mu.NotifyAll();
        }
      });
  if (url.tls) {
    // The broker's certificate is verified against the CA file, and its name against
    // the URL's host; with a client certificate, ours goes with it.
    const int rc = mosquitto_tls_set(
        client, s.options.cafile.c_str(), nullptr,
        s.options.certfile.empty() ? nullptr : s.options.certfile.c_str(),
        s.options.keyfile.empty() ? nullptr : s.options.keyfile.c_str(), nullptr);
    if (rc != MOSQ_ERR_SUCCESS) {
      return fail(absl::InvalidArgumentError(
          absl::StrCat("the TLS files (--cafile ", s.options.cafile,
                       s.options.certfile.empty() ? "" : ", --cert ", s.options.certfile,
                       s.options.keyfile.empty() ? "" : ", --key ", s.options.keyfile,
                       ") do not read: ", mosquitto_strerror(rc))));
    }
  }
  if (!s.options.username.empty()) {
    mosquitto_username_pw_set(
        client, s.options.username.c_str(),
        s.options.password.empty() ? nullptr : s.options.password.c_str());
  }
  const int keepalive =
      static_cast<int>(std::max<int64_t>(5, absl::ToInt64Seconds(s.options.keepalive)));
  if (const int rc = mosquitto_connect_bind_v5(client, url.host.c_str(), url.port,
                                               keepalive, nullptr, nullptr);
      rc != MOSQ_ERR_SUCCESS) {
    return fail(absl::UnavailableError(absl::StrCat(
        "cannot reach the broker ", s.options.broker, ": ",
        s.Why(rc == MOSQ_ERR_ERRNO ? std::strerror(errno) : mosquitto_strerror(rc), rc,
              /*with_log=*/rc == MOSQ_ERR_TLS))));
  }
  // libmosquitto's own thread (mosquitto_loop_start) would take each message that
  // glue hands over with a wakeup of its own; this loop takes what came together in
  // one, and writes it at once (README, "Why a thread of its own").
  s.loop = std::thread([&s] {
    ::pthread_setname_np(::pthread_self(), "glue-mqtt");  // as top -H shows it
    s.Run();
  });
  int result = -1;
  int failure = 0;
  {
    MutexLock lock(&s.mu);
    s.mu.AwaitUntil(
        [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return s.connect_result >= 0 || s.failed_before_connack != 0;
        },
        absl::Now() + s.options.connect_timeout);
    result = s.connect_result;
    failure = s.failed_before_connack;
  }
  if (result < 0 && failure != 0) {
    return fail(absl::UnavailableError(
        absl::StrCat("cannot connect to the broker ", s.options.broker, ": ",
                     s.Why(mosquitto_strerror(failure), failure, /*with_log=*/true))));
  }
  if (result < 0) {
    return fail(absl::DeadlineExceededError(
        absl::StrCat("the broker ", s.options.broker, " did not answer within ",
                     absl::FormatDuration(s.options.connect_timeout))));
  }
  if (result != 0) {
    const bool credentials = result == MQTT_RC_NOT_AUTHORIZED ||
                             result == MQTT_RC_BAD_USERNAME_OR_PASSWORD || result == 4 ||
                             result == 5;  // MQTT 3's codes
    return fail(absl::Status(credentials ? absl::StatusCode::kPermissionDenied
                                         : absl::StatusCode::kUnavailable,
                             absl::StrCat("the broker ", s.options.broker, " refused: ",
                                          mosquitto_reason_string(result))));
  }
  // One subscription per local filter, for every out mapping that has it (the endpoint
  // takes one subscription a filter).
  std::map<std::string, std::vector<size_t>> by_filter;
  for (size_t i = 0; i < s.options.mappings.size(); ++i) {
    const Mapping& m = s.options.mappings[i];
    if (m.direction == Mapping::Direction::kOut) by_filter[m.local_filter()].push_back(i);
  }
  for (const auto& [filter, indices] : by_filter) {
    if (absl::Status sub = endpoint.Subscribe(filter, topics::kAnyType,
                                              [state, indices](const Message& message) {
                                                for (size_t i : indices) {
                                                  state->OnGlue(i, message);
                                                }
                                              });
        !sub.ok()) {
      for (const std::string& made : s.subscribed) {
        endpoint.Unsubscribe(made).IgnoreError();
      }
      return fail(absl::Status(sub.code(), absl::StrCat("subscribing to '", filter,
                                                        "' on glue: ", sub.message())));
    }
    s.subscribed.push_back(filter);
  }
  return std::unique_ptr<MqttBridge>(new MqttBridge(std::move(state)));
}

MqttBridge::~MqttBridge() {
  State& s = *state_;
  for (const std::string& filter : s.subscribed) {
    s.endpoint.Unsubscribe(filter).IgnoreError();
  }
  // The loop ends first; the client is then this thread's, to say goodbye with.
  s.StopLoop();
  mosquitto_disconnect_v5(s.client, MQTT_RC_NORMAL_DISCONNECTION, nullptr);
  mosquitto_destroy(s.client);
  s.client = nullptr;
  MutexLock lock(&s.mu);
  s.counters.dropped += s.waiting.size();
}

BridgeCounters MqttBridge::counters() const {
  MutexLock lock(&state_->mu);
  return state_->counters;
}

bool MqttBridge::connected() const {
  MutexLock lock(&state_->mu);
  return state_->connected;
}

}  // namespace glue::bridge
