// MqttBridge: an endpoint's topics to and from an MQTT broker (MQTT 5, libmosquitto),
// for users who outgrow one segment. Mappings mean what the lines of Mosquitto's own
// bridge mean:
//
//   out FILTER [REMOTE_PREFIX]: glue messages whose topic FILTER matches go to the
//       broker as REMOTE_PREFIX + topic;
//   in FILTER [LOCAL_PREFIX]:   MQTT messages whose topic FILTER matches are published
//       on glue as LOCAL_PREFIX + topic.
//
// Reliable glue messages go at the mapping's QoS (1: at least once; the broker may
// deliver one twice, which glue's exactly-once does not undo), best-effort ones at QoS
// 0; MQTT messages come in reliable at QoS 1, best-effort at QoS 0. A glue message's
// expiry goes out as the MQTT 5 message expiry interval (the whole seconds it has
// left), and an MQTT message's comes in as the glue expiry. The payload is
// carried unchanged; the glue type travels as the MQTT 5 user property "glue-type"
// (and back; "mqtt" when an MQTT message has none). With `retain`, what goes out is
// retained by the broker, and what comes in retained is kept as the topic's history
// (depth 1) for late glue subscribers.
//
// No loops, no duplicates from several bridges: a message a bridge published on glue is
// not sent out again by any bridge of the segment (its publisher is a bridge); what a
// bridge sends to the broker carries the user property "glue-network", and no bridge
// of that network brings it back in (nor does the broker return it to its sender: the
// bridge subscribes with MQTT 5's no-local option). With several bridges on a segment,
// each mapping is served by one: of the live bridges that have it (the model
// "glue-bridges" lists them, ephemeral keys), the one a hash of the bridge and the
// mapping ranks first (rendezvous hashing). During a partition of the segment each side
// may choose its own, and a message be bridged twice.
//
// While the broker is away, messages for it wait in a bounded buffer
// (max_buffered_messages, max_buffered_bytes); beyond it the oldest are dropped,
// counted and logged once a period. The client reconnects with backoff (1 s doubling
// to 30 s) and sends what waited.
//
// Threads: the bridge's own thread ("glue-mqtt") alone drives libmosquitto. It waits
// in poll(2) on the broker's socket and on an eventfd, after polling for the
// endpoint's spin (GLUE_SPIN_MICROSECONDS) when it has just worked; glue's callbacks
// put messages for the broker in the buffer and wake it once for what comes while it
// has not run, and it writes them a batch at a time, the socket corked meanwhile.
// MQTT messages are published on glue from that thread. (libmosquitto's own thread,
// mosquitto_loop_start, took a wakeup a message and read one packet a wakeup; the
// endpoint's network thread is no place for libmosquitto's blocking connect and name
// lookup. bench/bridge_bench.cc measures both ways; README, "Why a thread of its own".)
#ifndef GLUE_BRIDGE_MQTT_BRIDGE_H_
#define GLUE_BRIDGE_MQTT_BRIDGE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/endpoint/endpoint.h"

namespace glue::bridge {

// Mapping is one line of Mosquitto's bridge configuration,
// `topic PATTERN out|in QOS LOCAL_PREFIX REMOTE_PREFIX`: the messages of topic
// LOCAL_PREFIX + X on glue and REMOTE_PREFIX + X on the broker, for the X that PATTERN
// matches, go the mapping's way.
struct Mapping {
  enum class Direction { kOut, kIn };
  Direction direction = Direction::kOut;
  std::string pattern;        // an MQTT filter (+ and #)
  std::string local_prefix;   // on glue
  std::string remote_prefix;  // on the broker
  int qos = 1;                // 0 or 1

  std::string local_filter() const { return local_prefix + pattern; }
  std::string remote_filter() const { return remote_prefix + pattern; }
};

// ParseMapping parses the command line's "FILTER" or "FILTER=PREFIX": for kOut the
// prefix is the remote one (glue topic T goes out as PREFIX + T), for kIn the local
// one. kInvalidArgument for an empty or bad filter, a prefix with a wildcard, or a qos
// other than 0 and 1.
absl::StatusOr<Mapping> ParseMapping(Mapping::Direction direction, absl::string_view text,
                                     int qos);

// ParseBridgeConfig reads mappings in the form of Mosquitto's bridge lines, one a
// line: `topic PATTERN [out|in|both [QOS [LOCAL_PREFIX REMOTE_PREFIX]]]` (default both
// and QOS 1; "" is an empty prefix), with blank lines and # comments. `both` makes two
// mappings. kInvalidArgument naming `name`:LINE for a line that does not read.
absl::StatusOr<std::vector<Mapping>> ParseBridgeConfig(absl::string_view text,
                                                       absl::string_view name);

// BrokerUrl is mqtt://HOST[:PORT] (1883), or mqtts://HOST[:PORT] (8883) over TLS.
struct BrokerUrl {
  std::string host;
  int port = 1883;
  bool tls = false;
};
absl::StatusOr<BrokerUrl> ParseBrokerUrl(absl::string_view url);

struct BridgeOptions {
  std::string broker;     // mqtt://HOST:PORT
  std::string client_id;  // empty: glue-bridge- and the endpoint's name
  std::string username;
  std::string password;
  // mqtts://: the CA certificate(s) that verify the broker (required), and a client
  // certificate and key, for brokers that ask for one.
  std::string cafile;
  std::string certfile;
  std::string keyfile;
  std::vector<Mapping> mappings;
  bool retain = false;
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration keepalive = absl::Seconds(30);
  // Glue messages that come in from MQTT without an expiry live this long.
  absl::Duration default_expiry = absl::Minutes(1);
  size_t max_buffered_messages = 100'000;
  size_t max_buffered_bytes = 64 << 20;
};

// CheckBridgeOptions finds what Start refuses before it reaches for the broker: a bad
// URL, no mapping, mqtts:// without --cafile, a certificate without its key or the
// reverse. Returns the broker's URL; kInvalidArgument saying what is wrong.
absl::StatusOr<BrokerUrl> CheckBridgeOptions(const BridgeOptions& options);

struct BridgeCounters {
  uint64_t out = 0;        // glue messages handed to the broker
  uint64_t in = 0;         // MQTT messages published on glue
  uint64_t in_failed = 0;  // ... that glue refused (logged)
  uint64_t buffered = 0;   // glue messages that waited for the broker
  uint64_t dropped = 0;    // ... dropped at the buffer's bound
  uint64_t expired = 0;    // ... whose glue expiry passed before the broker was back
  // Messages a bridge of this network brought from the other side: not sent back.
  uint64_t looped = 0;
  // Messages of a mapping that another live bridge serves: left to it.
  uint64_t not_ours = 0;
  uint64_t connects = 0;  // connections made (the first and each reconnection)
  uint64_t disconnects = 0;
  size_t waiting = 0;  // now, in the buffer
};

class MqttBridge {
 public:
  // Start connects to the broker (waiting up to connect_timeout for its answer),
  // subscribes, and bridges from then on, on its own thread and the endpoint's.
  // `endpoint` must be started and outlive the bridge. It should be the bridge's
  // own: what it publishes itself is taken for what the bridge brought in, and not
  // sent out. Errors: kInvalidArgument for a
  // bad URL or mapping; kUnavailable when the broker cannot be reached;
  // kPermissionDenied when it refuses the credentials; kDeadlineExceeded when it does
  // not answer.
  static absl::StatusOr<std::unique_ptr<MqttBridge>> Start(Endpoint& endpoint,
                                                           BridgeOptions options);
  ~MqttBridge();  // disconnects; what waited for the broker is dropped, counted
  MqttBridge(const MqttBridge&) = delete;
  MqttBridge& operator=(const MqttBridge&) = delete;

  BridgeCounters counters() const;
  bool connected() const;

  struct State;

 private:
  explicit MqttBridge(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace glue::bridge

#endif  // GLUE_BRIDGE_MQTT_BRIDGE_H_
