// glue bridge --broker mqtt://HOST:PORT --out FILTER[=PREFIX] --in FILTER[=PREFIX]:
// the bridge of bridge/mqtt_bridge.h on this endpoint, until Ctrl-C.
#include "cmd/glue_bridge.h"

#include <cstdio>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "glue/bridge/mqtt_bridge.h"

namespace glue::cmd {

CLI::App* AddBridgeCommand(CLI::App& app, BridgeFlags* f) {
  CLI::App* cmd = app.add_subcommand(
      "bridge", "this segment's topics to and from an MQTT broker (MQTT 5)");
  cmd->add_option("--broker", f->broker, "mqtt://HOST:PORT, or mqtts://HOST:PORT (TLS)")
      ->required();
  cmd->add_option("--cafile", f->cafile,
                  "mqtts: the CA certificate that verifies the broker");
  cmd->add_option("--cert", f->cert, "mqtts: a client certificate, for brokers that ask");
  cmd->add_option("--key", f->key, "mqtts: the client certificate's key");
  cmd->add_option("--client-id", f->client_id,
                  "the MQTT client id (default glue-bridge-ENDPOINT_NAME)");
  cmd->add_option("--username", f->username, "for the broker");
  cmd->add_option("--password-file", f->password_file,
                  "a file holding the password (its first line)");
  cmd->add_option("--out", f->out,
                  "FILTER[=REMOTE_PREFIX]: glue topics FILTER matches go to the broker");
  cmd->add_option("--in", f->in,
                  "FILTER[=LOCAL_PREFIX]: broker topics FILTER matches come to glue");
  cmd->add_option("--both", f->both, "FILTER: both ways");
  cmd->add_option("--config", f->config,
                  "a file of mappings, one a line as Mosquitto's bridge has them: topic "
                  "PATTERN [out|in|both [QOS [LOCAL_PREFIX REMOTE_PREFIX]]]");
  cmd->add_option("--qos", f->qos,
                  "0 or 1, for the mappings of --out, --in and --both (default 1)")
      ->check(CLI::Range(0, 1));
  cmd->add_flag("--retain", f->retain,
                "retained messages <-> a topic's history of depth 1, both ways");
  cmd->footer(
      "Examples:\n"
      "  glue bridge --broker mqtt://127.0.0.1:1883 --out 'a/#' --in 'b/#'\n"
      "  glue bridge --broker mqtt://broker:1883 --out 'sensors/#=site1/' --in "
      "'site1/cmd/#'\n"
      "  glue bridge --broker mqtt://broker:1883 --config bridge.conf   # topic a/# out "
      "1 "
      "\"\" site1/");
  return cmd;
}

int RunBridge(const BridgeFlags& f) {
  bridge::BridgeOptions options{.broker = f.broker,
                                .client_id = f.client_id,
                                .username = f.username,
                                .cafile = f.cafile,
                                .certfile = f.cert,
                                .keyfile = f.key,
                                .retain = f.retain};
  if (!f.password_file.empty()) {
    std::ifstream in(f.password_file);
    if (!in || !std::getline(in, options.password)) {
      std::fprintf(stderr, "glue bridge: cannot read --password-file %s\n",
                   f.password_file.c_str());
      return kUsageError;
    }
    absl::StripTrailingAsciiWhitespace(&options.password);
  }
  auto add = [&](bridge::Mapping::Direction direction, const std::string& text) {
    absl::StatusOr<bridge::Mapping> m = bridge::ParseMapping(direction, text, f.qos);
    if (!m.ok()) {
      std::fprintf(stderr, "glue bridge: %s\n",
                   std::string(m.status().message()).c_str());
      return false;
    }
    options.mappings.push_back(*std::move(m));
    return true;
  };
  for (const std::string& m : f.out) {
    if (!add(bridge::Mapping::Direction::kOut, m)) return kUsageError;
  }
  for (const std::string& m : f.in) {
    if (!add(bridge::Mapping::Direction::kIn, m)) return kUsageError;
  }
  for (const std::string& m : f.both) {
    if (!add(bridge::Mapping::Direction::kOut, m) ||
        !add(bridge::Mapping::Direction::kIn, m)) {
      return kUsageError;
    }
  }
  if (!f.config.empty()) {
    std::ifstream in(f.config);
    if (!in) {
      std::fprintf(stderr, "glue bridge: cannot read --config %s\n", f.config.c_str());
      return kUsageError;
    }
    const std::string text((std::istreambuf_iterator<char>(in)),
                           std::istreambuf_iterator<char>());
    absl::StatusOr<std::vector<bridge::Mapping>> read =
        bridge::ParseBridgeConfig(text, f.config);
    if (!read.ok()) {
      std::fprintf(stderr, "glue bridge: %s\n",
                   std::string(read.status().message()).c_str());
      return kUsageError;
    }
    options.mappings.insert(options.mappings.end(), read->begin(), read->end());
  }
  if (absl::Status valid = bridge::CheckBridgeOptions(options).status(); !valid.ok()) {
    std::fprintf(stderr, "glue bridge: %s\n", std::string(valid.message()).c_str());
    return kUsageError;
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("bridge", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("bridge", started);
  }
  absl::StatusOr<std::unique_ptr<bridge::MqttBridge>> b =
      bridge::MqttBridge::Start(e, std::move(options));
  if (!b.ok()) {
    e.Stop();
    return ConfigurationError("bridge", b.status());
  }
  std::printf("glue bridge: bridging %s as %s\n", f.broker.c_str(),
              e.config().endpoint_name.c_str());
  std::fflush(stdout);
  ServeUntilStopped(stopper, e, "bridge");
  const bridge::BridgeCounters c = (*b)->counters();
  b->reset();
  e.Stop();
  std::fprintf(
      stderr, "glue bridge: %llu out, %llu in, %llu dropped at the buffer's bound\n",
      static_cast<unsigned long long>(c.out), static_cast<unsigned long long>(c.in),
      static_cast<unsigned long long>(c.dropped));
  return 0;
}

}  // namespace glue::cmd
