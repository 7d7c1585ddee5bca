// glue bridge: this segment's topics to and from an MQTT broker.
#ifndef GLUE_CMD_GLUE_BRIDGE_H_
#define GLUE_CMD_GLUE_BRIDGE_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cmd/glue_command.h"

namespace glue::cmd {

struct BridgeFlags {
  std::string broker;
  std::string client_id;
  std::string username;
  std::string password_file;
  std::string cafile, cert, key;
  std::vector<std::string> out, in, both;
  std::string config;  // a file of Mosquitto-style topic lines
  int qos = 1;
  bool retain = false;
};

// AddBridgeCommand adds the subcommand to `app`, its flags parsed into `flags`.
CLI::App* AddBridgeCommand(CLI::App& app, BridgeFlags* flags);
// RunBridge runs it; returns the exit status.
int RunBridge(const BridgeFlags& flags);

}  // namespace glue::cmd

#endif  // GLUE_CMD_GLUE_BRIDGE_H_
