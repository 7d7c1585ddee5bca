// features_example: the feature directory (glue::services, nameq's job) built against
// an installed glue: this host's features, one file a feature in CONFIG_DIR holding
// its parameters as JSON, published as HOST; every host's, in
// STATE_DIR/features/FEATURE/HOST. Runs until SIGINT or SIGTERM; exits 2 when it cannot
// start. Configured by the GLUE_* environment.
//
//   features_example CONFIG_DIR STATE_DIR HOST
#include <csignal>
#include <cstdio>
#include <memory>

#include "glue/endpoint/endpoint.h"
#include "glue/services/feature_directory.h"

namespace {

// Fail says why the program cannot start, and gives its exit status.
int Fail(const absl::Status& why) {
  std::fprintf(stderr, "features_example: %s\n", why.ToString().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: features_example CONFIG_DIR STATE_DIR HOST\n");
    return 2;
  }
  // Blocked before any thread starts, so that sigwait below takes them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto endpoint = glue::Endpoint::FromEnvironment();
  if (!endpoint.ok()) return Fail(endpoint.status());
  if (absl::Status started = (*endpoint)->Start(); !started.ok()) return Fail(started);
  auto model = (*endpoint)->OpenModel(glue::services::kFeatureModelName);
  if (!model.ok()) return Fail(model.status());
  auto directory = glue::services::FeatureDirectory::Start(
      **model, {.config_dir = argv[1], .state_dir = argv[2], .host = argv[3]});
  if (!directory.ok()) return Fail(directory.status());
  std::printf("features_example: %zu feature(s) of %s published\n",
              (*directory)->counters().features, argv[3]);
  std::fflush(stdout);
  int signal = 0;
  sigwait(&signals, &signal);
  directory->reset();
  (*model)->Close();  // withdraws this host's features from every tree
  (*endpoint)->Stop();
  return 0;
}
