// glue registry serve --http ADDRESS:PORT: the registry of services/registry.h on
// this endpoint, until Ctrl-C.
#include "cmd/glue_registry.h"

#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "glue/model/model.h"
#include "glue/services/registry.h"

namespace glue::cmd {

CLI::App* AddRegistryCommand(CLI::App& app, RegistryFlags* f) {
  CLI::App* cmd = app.add_subcommand(
      "registry",
      "a configuration and service registry over HTTP (/app, /srv, webhooks), the same "
      "on every registry endpoint of the network: serve");
  cmd->add_option("ACTION", f->action, "serve")->required();
  cmd->add_option("--http", f->http, "ADDRESS:PORT to serve on (default 127.0.0.1:6553)");
  cmd->add_option("--public-url", f->public_url,
                  "the registry's URL in notifications and Link headers (default: "
                  "http://ADDRESS:PORT)");
  cmd->add_option("--read-timeout", f->read_timeout_s,
                  "seconds a request may take to arrive, and an idle connection stay "
                  "(default 10)")
      ->check(CLI::Range(0.1, 3600.0));
  cmd->add_option("--max-connections", f->max_connections,
                  "connections at once; beyond, 503 (default 256)")
      ->check(CLI::Range(1, 100000));
  cmd->add_option("--max-body-bytes", f->max_body_bytes,
                  "the largest request body; beyond, 413 (default 1048576)")
      ->check(CLI::Range(1, 1 << 30));
  cmd->footer(
      "Examples:\n"
      "  glue registry serve --http 127.0.0.1:6553\n"
      "  curl -X PUT -d '{\"name\":\"dm\",\"config\":{}}' http://127.0.0.1:6553/app/dm\n"
      "  curl -X PUT -d "
      "'{\"name\":\"host1\",\"endpoints\":{\"http\":\"http://h1:80/\"}}' "
      "'http://127.0.0.1:6553/srv/dm/host1?ttl=30'\n"
      "  curl http://127.0.0.1:6553/srv/dm\n"
      "  curl -X POST -d '{\"name\":\"dm-1\",\"endpoint\":\"http://127.0.0.1:4322/\"}' "
      "http://127.0.0.1:6553/app/dm/web-hooks\n"
      "  curl -N 'http://127.0.0.1:6553/app/dm?watch=1'");
  return cmd;
}

int RunRegistry(const RegistryFlags& f) {
  if (f.action != "serve") {
    std::fprintf(stderr, "glue registry: '%s' is not serve\n", f.action.c_str());
    return kUsageError;
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("registry", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("registry", started);
  }
  std::unique_ptr<model::Model> models[3];
  const char* names[3] = {services::kAppModelName, services::kServiceModelName,
                          services::kHookModelName};
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::unique_ptr<model::Model>> opened = e.OpenModel(names[i]);
    if (!opened.ok()) return ConfigurationError("registry", opened.status());
    models[i] = *std::move(opened);
  }
  absl::StatusOr<std::unique_ptr<services::Registry>> registry =
      services::Registry::Start(*models[0], *models[1], *models[2],
                                {.listen = f.http,
                                 .public_url = f.public_url,
                                 .member_id = e.config().endpoint_id,
                                 .member_name = e.config().endpoint_name,
                                 .max_connections = f.max_connections,
                                 .max_body_bytes = f.max_body_bytes,
                                 .read_timeout = absl::Seconds(f.read_timeout_s)});
  if (!registry.ok()) {
    e.Stop();
    std::fprintf(stderr, "glue registry: --http %s: %s\n", f.http.c_str(),
                 std::string(registry.status().message()).c_str());
    return absl::IsInvalidArgument(registry.status()) ? kUsageError : kConfigurationError;
  }
  std::printf("glue registry: serving http://%s as %s\n", f.http.c_str(),
              e.config().endpoint_name.c_str());
  std::fflush(stdout);
  ServeUntilStopped(stopper, e, "registry");
  registry->reset();
  e.Stop();
  return 0;
}

}  // namespace glue::cmd
