// glue features: serve, set, unset, ls and monitor the feature directory.
#ifndef GLUE_CMD_GLUE_FEATURES_H_
#define GLUE_CMD_GLUE_FEATURES_H_

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "cmd/glue_command.h"

namespace glue::cmd {

struct FeaturesFlags {
  std::string action;  // serve, set, unset, ls, monitor
  std::vector<std::string> args;
  std::string config_dir;
  std::string state_dir;
  double timeout_s = 5;
};

// AddFeaturesCommand adds the subcommand to `app`, its flags parsed into `flags`.
CLI::App* AddFeaturesCommand(CLI::App& app, FeaturesFlags* flags);
// RunFeatures runs it; returns the exit status.
int RunFeatures(const FeaturesFlags& flags);

}  // namespace glue::cmd

#endif  // GLUE_CMD_GLUE_FEATURES_H_
