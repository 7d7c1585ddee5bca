// glue features: the feature directory (services/feature_directory.h) from a shell.
//
//   glue features serve --config-dir /etc/glue/features --state-dir /run/glue
//   glue features set db '{"port":5432}' --config-dir /etc/glue/features
//   glue features unset db --config-dir /etc/glue/features
//   glue features ls [FEATURE]         # FEATURE HOST PARAMETERS, a line each
//   glue features monitor [FEATURE]    # set ... and unset ... as they happen
#include "cmd/glue_features.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "glue/base/log.h"
#include "glue/model/model.h"
#include "glue/services/feature_directory.h"

namespace glue::cmd {
namespace {

namespace fs = std::filesystem;

int Usage(const std::string& message) {
  std::fprintf(stderr, "glue features: %s\n", message.c_str());
  return kUsageError;
}

// SplitKey splits a key FEATURE/HOST; false for a key of another shape.
bool SplitKey(const std::string& key, std::string* feature, std::string* host) {
  const size_t slash = key.find('/');
  if (slash == std::string::npos) return false;
  *feature = key.substr(0, slash);
  *host = key.substr(slash + 1);
  return true;
}

// Line is how ls and monitor print a feature of a host: "FEATURE HOST PARAMETERS", the
// parameters as one line of JSON.
std::string Line(const std::string& key, absl::string_view value) {
  std::string feature, host;
  if (!SplitKey(key, &feature, &host)) return PrintableText(key);
  absl::StatusOr<std::string> compact = services::CompactJson(value);
  return absl::StrCat(feature, " ", host, " ",
                      compact.ok() ? *compact : PrintableText(value));
}

int Serve(const FeaturesFlags& f) {
  if (f.config_dir.empty() || f.state_dir.empty()) {
    return Usage("serve takes --config-dir DIR and --state-dir DIR");
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("features", endpoint.status());
  Endpoint& e = **endpoint;
  const std::string host = e.config().endpoint_name;
  if (absl::Status valid = services::ValidateHostName(host); !valid.ok()) {
    return ConfigurationError("features", valid);
  }
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("features", started);
  }
  absl::StatusOr<std::unique_ptr<model::Model>> model =
      e.OpenModel(services::kFeatureModelName);
  if (!model.ok()) return ConfigurationError("features", model.status());
  absl::StatusOr<std::unique_ptr<services::FeatureDirectory>> directory =
      services::FeatureDirectory::Start(
          **model, {.config_dir = f.config_dir, .state_dir = f.state_dir, .host = host});
  if (!directory.ok()) {
    e.Stop();
    return Usage(std::string(directory.status().message()));
  }
  GLUE_LOG(kInfo, "features: %s serves %s; the network's features in %s/features", host,
           f.config_dir, f.state_dir);
  ServeUntilStopped(stopper, e, "features");
  directory->reset();
  e.Stop();  // closes the model: this host's features leave every tree
  return 0;
}

int Set(const FeaturesFlags& f) {
  if (f.args.size() != 2 || f.config_dir.empty()) {
    return Usage("set takes NAME JSON and --config-dir DIR");
  }
  const std::string& name = f.args[0];
  if (absl::Status valid = services::ValidateFeatureName(name); !valid.ok()) {
    return Usage(std::string(valid.message()));
  }
  if (absl::Status json = services::ValidateJson(f.args[1]); !json.ok()) {
    return Usage(absl::StrCat("the parameters of ", name, ": ", json.message()));
  }
  std::error_code error;
  if (!fs::is_directory(f.config_dir, error)) {
    return Usage(absl::StrCat("--config-dir ", f.config_dir, " is not a directory"));
  }
  const std::string path = (fs::path(f.config_dir) / name).string();
  if (absl::Status written = services::WriteFileAtomically(path, f.args[1] + "\n");
      !written.ok()) {
    std::fprintf(stderr, "glue features: %s\n", std::string(written.message()).c_str());
    return kConfigurationError;
  }
  return 0;
}

int Unset(const FeaturesFlags& f) {
  if (f.args.size() != 1 || f.config_dir.empty()) {
    return Usage("unset takes NAME and --config-dir DIR");
  }
  const std::string& name = f.args[0];
  if (absl::Status valid = services::ValidateFeatureName(name); !valid.ok()) {
    return Usage(std::string(valid.message()));
  }
  const std::string path = (fs::path(f.config_dir) / name).string();
  if (::unlink(path.c_str()) != 0) {
    const int error = errno;
    std::fprintf(stderr, "glue features: cannot remove %s: %s\n", path.c_str(),
                 std::strerror(error));
    return error == ENOENT ? kNotAcknowledged : kConfigurationError;
  }
  return 0;
}

// LsOrMonitor reads the network's features: ls prints them once synced with the
// directory services present; monitor prints them, then each change.
int LsOrMonitor(const FeaturesFlags& f, bool monitor) {
  if (f.args.size() > 1) return Usage(absl::StrCat(f.action, " takes at most a FEATURE"));
  std::string filter = "#";
  if (!f.args.empty()) {
    if (absl::Status valid = services::ValidateFeatureName(f.args[0]); !valid.ok()) {
      return Usage(std::string(valid.message()));
    }
    filter = f.args[0] + "/+";
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("features", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("features", started);
  }
  absl::StatusOr<std::unique_ptr<model::Model>> opened =
      e.OpenModel(services::kFeatureModelName);
  if (!opened.ok()) return ConfigurationError("features", opened.status());
  model::Model& m = **opened;
  const absl::Time deadline = absl::Now() + absl::Seconds(f.timeout_s);
  uint64_t seen = 0;
  while (m.replicas() == 0 && absl::Now() < deadline) {
    if (stopper.Await(std::min(deadline, absl::Now() + absl::Milliseconds(10)), &seen)) {
      e.Stop();
      return 0;
    }
  }
  if (m.replicas() == 0) {
    std::fprintf(stderr, "glue features %s: no directory service found within %gs\n",
                 f.action.c_str(), f.timeout_s);
    e.Stop();
    return kNoSubscriber;
  }
  if (absl::Status synced = m.Sync(deadline); !synced.ok()) {
    // What arrived is printed; the peers that did not answer are named.
    std::fprintf(stderr, "glue features %s: %s\n", f.action.c_str(),
                 std::string(synced.message()).c_str());
  }
  Mutex out_mu;
  absl::StatusOr<model::ModelSnapshot> snapshot = m.Snapshot(filter);
  if (!snapshot.ok()) return Usage(std::string(snapshot.status().message()));
  {
    MutexLock lock(&out_mu);
    for (const model::Entry& entry : snapshot->entries) {
      std::printf("%s%s\n", monitor ? "set " : "",
                  Line(entry.key, entry.value.view()).c_str());
    }
    std::fflush(stdout);
  }
  if (!monitor) {
    e.Stop();
    return 0;
  }
  absl::StatusOr<uint64_t> watch = m.Watch(
      filter,
      [&](const model::WatchEvent& event) {
        MutexLock lock(&out_mu);
        if (event.kind == model::WatchEvent::Kind::kPut) {
          std::printf("set %s\n", Line(event.key, event.new_entry->value.view()).c_str());
        } else if (event.kind == model::WatchEvent::Kind::kOverflow) {
          std::printf("overflow\n");  // fell behind: what follows may miss changes
        } else {
          std::string feature, host;
          if (SplitKey(event.key, &feature, &host)) {
            std::printf("unset %s %s\n", feature.c_str(), host.c_str());
          }
        }
        std::fflush(stdout);
      },
      snapshot->revision);
  if (!watch.ok()) return Usage(std::string(watch.status().message()));
  while (!stopper.Await(absl::InfiniteFuture(), &seen)) {
  }
  e.Stop();
  return 0;
}

}  // namespace

CLI::App* AddFeaturesCommand(CLI::App& app, FeaturesFlags* f) {
  CLI::App* cmd = app.add_subcommand(
      "features",
      "which host offers which feature: serve DIRs | set NAME JSON | unset NAME | ls "
      "[FEATURE] | monitor [FEATURE]");
  cmd->add_option("ACTION", f->action, "serve, set, unset, ls or monitor")->required();
  cmd->add_option("ARGS", f->args, "NAME [JSON], or FEATURE");
  cmd->add_option("--config-dir", f->config_dir,
                  "serve, set, unset: this host's features, a file of JSON each");
  cmd->add_option("--state-dir", f->state_dir,
                  "serve: where the network's features are written, as "
                  "features/FEATURE/HOST");
  cmd->add_option("--timeout", f->timeout_s,
                  "ls, monitor: seconds to wait for a directory service (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  cmd->footer(
      "Examples:\n"
      "  glue features serve --config-dir /etc/glue/features --state-dir /run/glue\n"
      "  glue features set db '{\"port\":5432}' --config-dir /etc/glue/features\n"
      "  glue features unset db --config-dir /etc/glue/features\n"
      "  glue features ls\n"
      "  glue features monitor db\n"
      "A host is named by its endpoint's name (GLUE_ENDPOINT_NAME).");
  return cmd;
}

int RunFeatures(const FeaturesFlags& f) {
  if (f.action == "serve") {
    if (!f.args.empty()) return Usage("serve takes no arguments");
    return Serve(f);
  }
  if (f.action == "set") return Set(f);
  if (f.action == "unset") return Unset(f);
  if (f.action == "ls") return LsOrMonitor(f, false);
  if (f.action == "monitor") return LsOrMonitor(f, true);
  return Usage(
      absl::StrCat("'", f.action, "' is not one of serve, set, unset, ls, monitor"));
}

}  // namespace glue::cmd
