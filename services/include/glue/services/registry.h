// Registry: a configuration and service registry over HTTP, in the manner of Nesoi,
// on three models every registry endpoint of the network shares: `app` (application
// configurations), `srv` (instances of services) and `hooks` (webhooks, and the
// registry endpoints alive). Any registry endpoint can be asked; each answers from
// its replica.
//
//   GET    /app                        every configuration: {"NAME": {...}, ...}
//   GET    /app/NAME                   {"name": NAME, "config": ..., "updated_at": ...}
//   PUT    /app/NAME                   {"name": NAME, "config": ...}
//   DELETE /app/NAME
//   HEAD   /app/NAME                   Link: <.../app/NAME/web-hooks>;
//   rel="Subscriptions" GET    /srv                        {"NAME": {"HOST": {...}, ...},
//   ...} GET    /srv/NAME                   {"HOST": {...}, ...} GET    /srv/NAME/HOST
//   PUT    /srv/NAME/HOST[?ttl=S]      {"name": HOST, "endpoints": {...}}; with ttl, gone
//                                      unless PUT again within S seconds
//   DELETE /srv/NAME/HOST
//   POST   /app/NAME/web-hooks         {"name": HOOK, "endpoint": "http://..."} (201,
//                                      Location); also /srv/NAME/web-hooks
//   GET    /app/NAME/web-hooks[/HOOK], DELETE /app/NAME/web-hooks/HOOK
//   GET    /app/NAME?watch=1           server-sent events, one a change (and /app,
//                                      /srv, /srv/NAME)
//
// A change of /app/NAME, or of a host of /srv/NAME, is POSTed to each webhook of that
// resource as {"name": HOOK, "uri": ".../app/NAME", "event": "put"|"delete"|
// "expire", "version": V} by one registry endpoint: of those alive, the one a hash of
// the webhook and its id ranks first (rendezvous hashing), so without faults exactly
// one POST a change reaches a hook. During a partition each side may choose its own,
// and a change be posted twice: V names the change, for a receiver to drop repeats.
// Delivery is at least once: a failed POST is tried again with a growing delay, in
// order a webhook, up to max_delivery_attempts; past the bound of pending deliveries
// the oldest of a hook are dropped, counted and logged.
//
// Errors are JSON, {"error": "..."}, with 400 (bad JSON, a missing field, a bad name),
// 404, 405 (with Allow), 413 (a body over max_body_bytes) or 503 (at
// max_connections). A client that sends too slowly is cut off after read_timeout.
#ifndef GLUE_SERVICES_REGISTRY_H_
#define GLUE_SERVICES_REGISTRY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/model/model.h"

namespace glue::services {

namespace internal {
class RegistrySession;
}  // namespace internal

// The models the registry endpoints of a network share.
inline constexpr char kAppModelName[] = "app";
inline constexpr char kServiceModelName[] = "srv";
inline constexpr char kHookModelName[] = "hooks";

// ValidateResourceName: an application, service, host or webhook name: 1 to 128
// letters, digits, '-', '_' and '.', not "." or "..".
absl::Status ValidateResourceName(absl::string_view name);

struct RegistryOptions {
  // Where to listen: IP:port (port 0: any free one; Registry::port says which).
  std::string listen = "127.0.0.1:6553";
  // How the registry is named in the "uri" of notifications and in Link headers;
  // empty: http:// and the address it listens on.
  std::string public_url;
  // This registry endpoint, among those alive (the `hooks` model's members/ID):
  // unique on the network, as an endpoint id is.
  uint64_t member_id = 0;
  std::string member_name;

  size_t max_connections = 256;  // beyond: 503, and closed
  size_t max_body_bytes = 1 << 20;
  size_t max_watchers = 64;  // server-sent event streams, within max_connections
  // A request's header and body must arrive within this; an idle connection kept
  // alive is closed after it too.
  absl::Duration read_timeout = absl::Seconds(10);
  absl::Duration write_timeout = absl::Seconds(10);
  absl::Duration watch_keepalive = absl::Seconds(15);  // a comment line on idle streams
  size_t max_watch_backlog = 1024;  // events queued for a slow stream; beyond: closed

  size_t max_pending_deliveries = 10'000;
  int max_delivery_attempts = 8;
  absl::Duration first_retry = absl::Milliseconds(250);
  absl::Duration max_retry = absl::Seconds(30);
  absl::Duration delivery_timeout = absl::Seconds(5);
};

struct RegistryCounters {
  uint64_t requests = 0;
  uint64_t errors = 0;             // responses of 4xx and 5xx
  uint64_t refused = 0;            // connections over max_connections
  uint64_t timeouts = 0;           // connections cut off at read_timeout or write_timeout
  uint64_t changes = 0;            // changes of /app and /srv seen
  uint64_t deliveries = 0;         // webhook POSTs answered 2xx
  uint64_t delivery_failures = 0;  // attempts that failed (each retry counts)
  uint64_t deliveries_dropped = 0;  // given up: attempts spent, or the bound
  uint64_t not_ours = 0;  // changes another registry endpoint was chosen to post
  uint64_t watch_events = 0;
  uint64_t watchers_dropped = 0;  // streams closed behind by max_watch_backlog
  size_t connections = 0;         // now
  size_t watchers = 0;            // now
  size_t pending_deliveries = 0;  // now
};

class Registry {
 public:
  // Start listens and serves on threads of its own. The models (opened by the caller
  // as kAppModelName, kServiceModelName and kHookModelName) must outlive the
  // Registry. Errors: kInvalidArgument for a bad listen address or option; those of
  // binding the address.
  static absl::StatusOr<std::unique_ptr<Registry>> Start(model::Model& app,
                                                         model::Model& srv,
                                                         model::Model& hooks,
                                                         RegistryOptions options);
  ~Registry();  // stops serving and delivering; what was pending is dropped, counted
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  uint16_t port() const;
  RegistryCounters counters() const;

 private:
  friend class internal::RegistrySession;
  struct State;
  explicit Registry(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace glue::services

#endif  // GLUE_SERVICES_REGISTRY_H_
