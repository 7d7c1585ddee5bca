#include "glue/bridge/mosquitto_broker.h"

#include <arpa/inet.h>
#include <mosquitto.h>
#include <mqtt_protocol.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace glue::bridge::testing {
namespace {

constexpr absl::Duration kWithin = absl::Seconds(10);

// LoopbackSocket is a TCP socket bound to 127.0.0.1:`port` (0: a free one), -1 on
// failure.
int LoopbackSocket(uint16_t port, sockaddr_in& address) {
  address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on now, or 0.
uint16_t FreePort() {
  sockaddr_in address;
  const int fd = LoopbackSocket(0, address);
  if (fd < 0) return 0;
  socklen_t length = sizeof(address);
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

// Accepts says whether something takes TCP connections on 127.0.0.1:`port`.
bool Accepts(uint16_t port) {
  sockaddr_in address;
  const int fd = LoopbackSocket(port, address);
  if (fd < 0) return false;
  const bool connected =
      ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return connected;
}

std::once_flag library_once;

}  // namespace

absl::StatusOr<std::unique_ptr<MosquittoBroker>> MosquittoBroker::Create() {
  std::string program = glue::testing::FindProgram("mosquitto");
  if (program.empty()) {
    return absl::FailedPreconditionError(
        "mosquitto is not installed (Debian: mosquitto; scripts/setup.sh installs it)");
  }
  std::string dir = (std::filesystem::temp_directory_path() / "glue-mqtt-XXXXXX");
  if (::mkdtemp(dir.data()) == nullptr) {
    return absl::InternalError(
        absl::StrCat("mkdtemp '", dir, "': ", std::strerror(errno)));
  }
  return std::unique_ptr<MosquittoBroker>(
      new MosquittoBroker(std::move(program), std::move(dir)));
}

MosquittoBroker::~MosquittoBroker() {
  Stop();
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

absl::Status MosquittoBroker::Start(const std::vector<std::string>& extra) {
  if (process_.running()) return absl::FailedPreconditionError("mosquitto runs already");
  // Another program may take the free port first: then mosquitto exits, and another
  // is tried; a restart keeps its port.
  const bool keep_port = port_ != 0;
  for (int attempt = 0; attempt < 5; ++attempt) {
    if (!keep_port) port_ = FreePort();
    // As root, mosquitto would switch to the user "mosquitto", who may not read the
    // directory: it stays the user it is started as.
    const passwd* user = ::getpwuid(::geteuid());
    std::vector<std::string> lines = {
        absl::StrCat("listener ", port_, " 127.0.0.1"), "allow_anonymous true",
        "persistence false", absl::StrCat("user ", user ? user->pw_name : "root")};
    lines.insert(lines.end(), extra.begin(), extra.end());
    const std::filesystem::path conf = dir_ / "mosquitto.conf";
    {
      std::ofstream out(conf);
      out << absl::StrJoin(lines, "\n") << "\n";
      if (!out.flush())
        return absl::InternalError(absl::StrCat("writing ", conf.string()));
    }
    if (absl::Status spawned =
            process_.Spawn({program_, "-c", conf.string()}, (dir_ / "log").string());
        !spawned.ok()) {
      return spawned;
    }
    const absl::Time deadline = absl::Now() + kWithin;
    while (!process_.Exited() && absl::Now() < deadline) {
      if (Accepts(port_)) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (process_.running() || keep_port) break;  // timed out, or its port is gone
  }
  Stop();
  return absl::UnavailableError(
      absl::StrCat("mosquitto on port ", port_, " did not start; its log:\n", log()));
}

void MosquittoBroker::Stop() { process_.Stop(); }

std::string MosquittoBroker::url() const {
  return absl::StrCat("mqtt://127.0.0.1:", port_);
}

std::string MosquittoBroker::log() const {
  std::ifstream in(dir_ / "log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::unique_ptr<MqttClient>> MqttClient::Connect(
    uint16_t port, absl::string_view client_id, Options options) {
  std::call_once(library_once, [] { mosquitto_lib_init(); });
  std::unique_ptr<MqttClient> c(new MqttClient(options));
  c->client_ = mosquitto_new(std::string(client_id).c_str(), true, c.get());
  if (c->client_ == nullptr) return absl::ResourceExhaustedError("mosquitto_new failed");
  mosquitto_int_option(c->client_, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
  mosquitto_int_option(c->client_, MOSQ_OPT_TCP_NODELAY, options.tcp_nodelay ? 1 : 0);
  mosquitto_connect_v5_callback_set(
      c->client_, [](mosquitto*, void* self, int rc, int, const mosquitto_property*) {
        MqttClient& me = *static_cast<MqttClient*>(self);
        MutexLock lock(&me.mu_);
        me.connack_ = rc;
        me.mu_.NotifyAll();
      });
  mosquitto_subscribe_v5_callback_set(
      c->client_,
      [](mosquitto*, void* self, int, int, const int*, const mosquitto_property*) {
        MqttClient& me = *static_cast<MqttClient*>(self);
        MutexLock lock(&me.mu_);
        ++me.subscribed_;
        me.mu_.NotifyAll();
      });
  mosquitto_message_v5_callback_set(
      c->client_, [](mosquitto*, void* self, const mosquitto_message* message,
                     const mosquitto_property* props) {
        static_cast<MqttClient*>(self)->OnMessage(*message, props);
      });
  if (const int rc =
          mosquitto_connect_bind_v5(c->client_, "127.0.0.1", port, 30, nullptr, nullptr);
      rc != MOSQ_ERR_SUCCESS) {
    return absl::UnavailableError(
        absl::StrCat("connecting to 127.0.0.1:", port, ": ", mosquitto_strerror(rc)));
  }
  if (mosquitto_loop_start(c->client_) != MOSQ_ERR_SUCCESS) {
    return absl::InternalError("mosquitto_loop_start failed");
  }
  MutexLock lock(&c->mu_);
  MqttClient* raw = c.get();
  if (!c->mu_.AwaitUntil(
          [raw]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(raw->mu_) { return raw->connack_ >= 0; },
          absl::Now() + kWithin) ||
      c->connack_ != 0) {
    return absl::UnavailableError(absl::StrCat("the broker on 127.0.0.1:", port,
                                               " did not take the connection (",
                                               c->connack_, ")"));
  }
  return c;
}

MqttClient::~MqttClient() {
  if (client_ == nullptr) return;
  mosquitto_disconnect(client_);
  mosquitto_loop_stop(client_, false);
  mosquitto_destroy(client_);
}

absl::Status MqttClient::Subscribe(absl::string_view filter, int qos) {
  int before = 0;
  {
    MutexLock lock(&mu_);
    before = subscribed_;
  }
  if (const int rc = mosquitto_subscribe_v5(client_, nullptr, std::string(filter).c_str(),
                                            qos, 0, nullptr);
      rc != MOSQ_ERR_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("subscribing to ", filter, ": ", mosquitto_strerror(rc)));
  }
  MutexLock lock(&mu_);
  if (!mu_.AwaitUntil(
          [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return subscribed_ > before; },
          absl::Now() + kWithin)) {
    return absl::DeadlineExceededError(absl::StrCat("no SUBACK for ", filter));
  }
  return absl::OkStatus();
}

absl::Status MqttClient::Publish(
    absl::string_view topic, absl::string_view payload, int qos, bool retain,
    const std::map<std::string, std::string>& user_properties) {
  mosquitto_property* props = nullptr;
  for (const auto& [name, value] : user_properties) {
    mosquitto_property_add_string_pair(&props, MQTT_PROP_USER_PROPERTY, name.c_str(),
                                       value.c_str());
  }
  const int rc = mosquitto_publish_v5(client_, nullptr, std::string(topic).c_str(),
                                      static_cast<int>(payload.size()), payload.data(),
                                      qos, retain, props);
  mosquitto_property_free_all(&props);
  if (rc != MOSQ_ERR_SUCCESS) {
    return absl::InternalError(
        absl::StrCat("publishing on ", topic, ": ", mosquitto_strerror(rc)));
  }
  return absl::OkStatus();
}

void MqttClient::OnMessage(const mosquitto_message& message,
                           const mosquitto_property* props) {
  if (!options_.record) {
    MutexLock lock(&mu_);
    ++count_;
    mu_.NotifyAll();
    return;
  }
  ReceivedMessage m{.topic = message.topic,
                    .payload = std::string(static_cast<const char*>(message.payload),
                                           static_cast<size_t>(message.payloadlen)),
                    .qos = message.qos,
                    .retain = message.retain};
  char* name = nullptr;
  char* value = nullptr;
  for (const mosquitto_property* p = mosquitto_property_read_string_pair(
           props, MQTT_PROP_USER_PROPERTY, &name, &value, false);
       p != nullptr; p = mosquitto_property_read_string_pair(p, MQTT_PROP_USER_PROPERTY,
                                                             &name, &value, true)) {
    m.user_properties[name] = value;
    ::free(name);
    ::free(value);
    name = value = nullptr;
  }
  mosquitto_property_read_int32(props, MQTT_PROP_MESSAGE_EXPIRY_INTERVAL,
                                &m.expiry_interval, false);
  MutexLock lock(&mu_);
  messages_.push_back(std::move(m));
  ++count_;
  mu_.NotifyAll();
}

bool MqttClient::WaitForCount(uint64_t n, absl::Duration timeout) {
  MutexLock lock(&mu_);
  return mu_.AwaitUntil([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return count_ >= n; },
                        absl::Now() + timeout);
}

uint64_t MqttClient::count() const {
  MutexLock lock(&mu_);
  return count_;
}

std::vector<ReceivedMessage> MqttClient::messages() const {
  MutexLock lock(&mu_);
  return messages_;
}

}  // namespace glue::bridge::testing
