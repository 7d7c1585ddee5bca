// bridge_example: the MQTT bridge (glue::bridge) built against an installed glue: what
// glue publishes under FILTER goes to the broker at URL (mqtt://HOST:PORT), under the
// same topic, at QoS 0 (QoS 1 for reliable topics is `glue bridge --qos 1`). Runs until
// SIGINT or SIGTERM; exits 2 when it cannot start. Configured by the GLUE_*
// environment.
//
//   bridge_example URL FILTER
#include <csignal>
#include <cstdio>
#include <memory>

#include "glue/bridge/mqtt_bridge.h"
#include "glue/endpoint/endpoint.h"

namespace {

// Fail says why the program cannot start, and gives its exit status.
int Fail(const absl::Status& why) {
  std::fprintf(stderr, "bridge_example: %s\n", why.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: bridge_example URL FILTER\n");
    return 2;
  }
  // Blocked before any thread starts, so that sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto mapping = glue::bridge::ParseMapping(glue::bridge::Mapping::Direction::kOut,
                                            argv[2], /*qos=*/0);
  if (!mapping.ok()) return Fail(mapping.status());
  auto endpoint = glue::Endpoint::FromEnvironment();
  if (!endpoint.ok()) return Fail(endpoint.status());
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) return Fail(started);
  glue::bridge::BridgeOptions options;
  options.broker = argv[1];
  options.mappings.push_back(*mapping);
  auto bridge = glue::bridge::MqttBridge::Start(**endpoint, options);
  if (!bridge.ok()) return Fail(bridge.status());
  int signal = 0;
  sigwait(&signals, &signal);
  bridge->reset();
  (*endpoint)->Stop();
  return 0;
}
