// What the bridge's tests and benchmark run on the MQTT side: MosquittoBroker, a real
// Mosquitto broker as a child process on 127.0.0.1, and MqttClient, an MQTT 5 client
// of libmosquitto that publishes and records or counts what it receives. Test and
// benchmark code only; run it only where nothing can leave the machine (a network
// namespace of the test's own).
//
//   absl::StatusOr<std::unique_ptr<MosquittoBroker>> broker = MosquittoBroker::Create();
//   if (absl::IsFailedPrecondition(broker.status())) GLUE_SKIP_UNLESS_CI(...);
//   ASSERT_OK((*broker)->Start());           // mqtt://127.0.0.1:PORT is (*broker)->url()
//   auto client = MqttClient::Connect((*broker)->port(), "watcher");
//   ASSERT_OK((*client)->Subscribe("a/#", 1));
//   ASSERT_TRUE((*client)->WaitForCount(1, absl::Seconds(10)));
#ifndef GLUE_BRIDGE_MOSQUITTO_BROKER_H_
#define GLUE_BRIDGE_MOSQUITTO_BROKER_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/base/child_process.h"
#include "glue/base/mutex.h"

struct mosquitto;
struct mosquitto_message;
struct mqtt5__property;

namespace glue::bridge::testing {

// MosquittoBroker owns at most one mosquitto process at a time, listening on
// 127.0.0.1 only, and a temporary directory for its configuration and log. Not
// thread-safe: one thread drives it.
class MosquittoBroker {
 public:
  // Create finds mosquitto; nothing runs yet. Errors: kFailedPrecondition when it is
  // not installed (tests skip, or fail under CI); kInternal when the directory cannot
  // be made.
  static absl::StatusOr<std::unique_ptr<MosquittoBroker>> Create();
  ~MosquittoBroker();  // stops it and removes the directory
  MosquittoBroker(const MosquittoBroker&) = delete;
  MosquittoBroker& operator=(const MosquittoBroker&) = delete;

  // Start runs mosquitto with anonymous clients allowed, no persistence, and the
  // configuration lines `extra`, and waits until it takes connections. It listens on
  // the port of the last run (a restart), or a free one the first time. Errors:
  // kFailedPrecondition when it runs; kUnavailable, with its log, when it exited or
  // took no connection within 10 s.
  absl::Status Start(const std::vector<std::string>& extra = {});

  // Stop ends it (SIGTERM; its clients see the connection close). Idempotent.
  void Stop();

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }  // -1 when it does not run
  std::string url() const;                      // mqtt://127.0.0.1:PORT
  std::string log() const;                      // what it wrote, for a failure message

 private:
  MosquittoBroker(std::string program, std::filesystem::path dir)
      : program_(std::move(program)), dir_(std::move(dir)) {}

  const std::string program_;
  const std::filesystem::path dir_;
  uint16_t port_ = 0;
  glue::testing::ChildProcess process_;
};

// ReceivedMessage is what an MqttClient received, with its MQTT 5 properties.
struct ReceivedMessage {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
  std::map<std::string, std::string> user_properties;
  uint32_t expiry_interval = 0;  // seconds; 0 when it had none
};

// MqttClient is one MQTT 5 connection to a broker on 127.0.0.1, driven by
// libmosquitto's own thread. Thread-safe.
class MqttClient {
 public:
  struct Options {
    // Record every message (messages()); otherwise only count them.
    bool record = true;
    // Nagle's algorithm off, as the bridge has it: what is written goes at once.
    bool tcp_nodelay = true;
  };

  // Connect connects and waits up to 10 s for the broker's answer. Error:
  // kUnavailable when it does not connect.
  static absl::StatusOr<std::unique_ptr<MqttClient>> Connect(uint16_t port,
                                                             absl::string_view client_id,
                                                             Options options);
  static absl::StatusOr<std::unique_ptr<MqttClient>> Connect(
      uint16_t port, absl::string_view client_id) {
    return Connect(port, client_id, Options());
  }
  ~MqttClient();  // disconnects
  MqttClient(const MqttClient&) = delete;
  MqttClient& operator=(const MqttClient&) = delete;

  // Subscribe subscribes to `filter` and waits for the broker's acknowledgement.
  absl::Status Subscribe(absl::string_view filter, int qos);

  // Publish hands one message to libmosquitto (which sends it from its thread, and
  // at QoS 1 resends it until acknowledged). `user_properties` go with it.
  absl::Status Publish(absl::string_view topic, absl::string_view payload, int qos,
                       bool retain = false,
                       const std::map<std::string, std::string>& user_properties = {});

  // WaitForCount says whether `n` messages have arrived within `timeout`.
  bool WaitForCount(uint64_t n, absl::Duration timeout);
  uint64_t count() const;
  std::vector<ReceivedMessage> messages() const;

 private:
  explicit MqttClient(Options options) : options_(options) {}
  void OnMessage(const mosquitto_message& message, const mqtt5__property* props);

  const Options options_;
  mosquitto* client_ = nullptr;
  mutable Mutex mu_;
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<ReceivedMessage> messages_ ABSL_GUARDED_BY(mu_);
  int connack_ ABSL_GUARDED_BY(mu_) = -1;
  int subscribed_ ABSL_GUARDED_BY(mu_) = 0;  // SUBACKs received
};

}  // namespace glue::bridge::testing

#endif  // GLUE_BRIDGE_MOSQUITTO_BROKER_H_
