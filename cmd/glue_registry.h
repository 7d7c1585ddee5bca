// glue registry: the configuration and service registry over HTTP.
#ifndef GLUE_CMD_GLUE_REGISTRY_H_
#define GLUE_CMD_GLUE_REGISTRY_H_

#include <CLI/CLI.hpp>
#include <string>

#include "cmd/glue_command.h"

namespace glue::cmd {

struct RegistryFlags {
  std::string action;  // serve
  std::string http = "127.0.0.1:6553";
  std::string public_url;
  double read_timeout_s = 10;
  size_t max_connections = 256;
  size_t max_body_bytes = 1 << 20;
};

// AddRegistryCommand adds the subcommand to `app`, its flags parsed into `flags`.
CLI::App* AddRegistryCommand(CLI::App& app, RegistryFlags* flags);
// RunRegistry runs it; returns the exit status.
int RunRegistry(const RegistryFlags& flags);

}  // namespace glue::cmd

#endif  // GLUE_CMD_GLUE_REGISTRY_H_
