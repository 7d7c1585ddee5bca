#include "glue/services/registry.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "glue/base/fnv1a.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "glue/network/address.h"
#include "nlohmann/json.hpp"

namespace glue::services {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

namespace {

constexpr char kHooks[] = "web-hooks";
constexpr size_t kMaxNameBytes = 128;
constexpr size_t kMaxHeaderBytes = 16 * 1024;

// Url is an http:// address a webhook is posted to.
struct Url {
  std::string host;
  std::string port = "80";
  std::string target = "/";
};

absl::StatusOr<Url> ParseHttpUrl(absl::string_view text) {
  if (!absl::ConsumePrefix(&text, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("endpoint '", text, "' must be an http:// URL"));
  }
  Url url;
  const size_t slash = text.find('/');
  absl::string_view authority = text.substr(0, slash);
  if (slash != absl::string_view::npos) url.target = std::string(text.substr(slash));
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("endpoint: an IPv6 address without ']'");
    }
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty() && !absl::ConsumePrefix(&authority, ":")) {
      return absl::InvalidArgumentError("endpoint: junk after the IPv6 address");
    }
    if (!authority.empty()) url.port = std::string(authority);
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos)
      url.port = std::string(authority.substr(colon + 1));
  }
  uint32_t port = 0;
  if (url.host.empty() || !absl::SimpleAtoi(url.port, &port) || port == 0 ||
      port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "endpoint 'http://", text, "' needs a host and a port of 1 to 65535"));
  }
  return url;
}

std::string VersionOf(const char* event, const model::Version& v) {
  return absl::StrFormat("%s-%x-%x-%d", event, v.writer.endpoint_id, v.writer.incarnation,
                         v.counter);
}

std::string Rfc3339(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone());
}

// Shown is an entry as GET shows it: the object stored, with when and by which
// endpoint it was written, and the time it has left to live, if it has a bound.
Json Shown(const model::Entry& e) {
  Json j = Json::parse(e.value.view(), nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) j = Json::object();
  j["updated_at"] = Rfc3339(e.version.time.time());
  j["updated_by"] = e.writer_name;
  if (e.time_to_live != absl::InfiniteDuration()) {
    j["ttl"] = absl::ToDoubleSeconds(e.time_to_live);
  }
  return j;
}

// Response is what a request gets.
struct Response {
  http::status status = http::status::ok;
  std::string body;  // JSON, or empty
  std::vector<std::pair<http::field, std::string>> headers;
};

Response Error(http::status status, absl::string_view message) {
  return {status, Json{{"error", std::string(message)}}.dump() + "\n", {}};
}

Response Ok(const Json& body, http::status status = http::status::ok) {
  return {status, body.dump() + "\n", {}};
}

// WriteFailed answers a write the model refused: 413 beyond its bounds, 503 otherwise.
Response WriteFailed(const absl::Status& status) {
  return Error(absl::IsResourceExhausted(status) ? http::status::payload_too_large
                                                 : http::status::service_unavailable,
               status.message());
}

// Deleted answers a Delete: 204, 404 saying `missing` when there was nothing to
// delete, 503 when the model refused.
Response Deleted(const absl::Status& status, absl::string_view missing) {
  if (absl::IsNotFound(status)) return Error(http::status::not_found, missing);
  if (!status.ok()) return Error(http::status::service_unavailable, status.message());
  return {http::status::no_content, "", {}};
}

Response NotAllowed(absl::string_view allow) {
  Response r = Error(http::status::method_not_allowed,
                     absl::StrCat("method not allowed; allowed: ", allow));
  r.headers.emplace_back(http::field::allow, std::string(allow));
  return r;
}

}  // namespace

absl::Status ValidateResourceName(absl::string_view name) {
  const bool ok = !name.empty() && name.size() <= kMaxNameBytes && name != "." &&
                  name != ".." && std::all_of(name.begin(), name.end(), [](char c) {
                    return absl::ascii_isalnum(static_cast<unsigned char>(c)) ||
                           c == '-' || c == '_' || c == '.';
                  });
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("name '", name, "' must be 1 to ", kMaxNameBytes,
                     " letters, digits, '-', '_' or '.', and not . or .."));
  }
  return absl::OkStatus();
}

// A change of a resource, for the webhooks and the streams.
struct Change {
  std::string kind;           // "app" or "srv"
  std::string name;           // the application or service
  std::string host;           // srv: the host; empty for app
  std::string event;          // put, delete, expire
  std::string version;        // names the change
  std::optional<Json> value;  // put: the object shown
};

// Delivery is one POST of a change to a webhook.
struct Delivery {
  std::string body;
  int attempts = 0;
  absl::Time due;
};

struct HookQueue {
  Url url;
  std::string endpoint;
  std::deque<Delivery> pending;
};

namespace internal {
class RegistrySession;
}  // namespace internal
using internal::RegistrySession;

struct Registry::State {
  State(model::Model& a, model::Model& s, model::Model& h, RegistryOptions o)
      : app(a), srv(s), hooks(h), options(std::move(o)) {}

  Response Handle(const http::request<http::string_body>& request,
                  std::shared_ptr<RegistrySession> session);
  Response HandleApp(http::verb method, const std::vector<std::string>& path,
                     const http::request<http::string_body>& request);
  // `query` is the request's, parsed once by Handle (?ttl= for PUT).
  Response HandleSrv(http::verb method, const std::vector<std::string>& path,
                     const std::map<std::string, std::string>& query,
                     const http::request<http::string_body>& request);
  Response HandleHooks(http::verb method, const std::string& kind,
                       const std::string& name, const std::vector<std::string>& path,
                       const http::request<http::string_body>& request);
  // Listing is the JSON of GET for a path of /app or /srv; nullopt when not found.
  std::optional<Json> Listing(const std::string& kind, const std::string& name,
                              const std::string& host) const;
  void Accept();
  void OnChange(const std::string& kind, const model::WatchEvent& event);
  void Deliver();  // the delivery thread
  void Count(uint64_t RegistryCounters::*field) {
    MutexLock lock(&mu);
    ++(counters.*field);
  }

  model::Model& app;
  model::Model& srv;
  model::Model& hooks;
  const RegistryOptions options;
  std::string public_url;
  uint16_t port = 0;

  std::thread server;
  std::atomic<size_t> connections{0};
  std::vector<uint64_t> watches;  // app's, srv's

  // The streams: sessions sending server-sent events, by the resource they follow
  // (/app, /app/NAME, /srv, /srv/NAME). Only on the server thread.
  std::multimap<std::string, std::weak_ptr<RegistrySession>> streams;

  mutable Mutex mu;
  bool stopping ABSL_GUARDED_BY(mu) = false;
  std::deque<Change> changes ABSL_GUARDED_BY(mu);
  std::map<std::string, HookQueue> queues ABSL_GUARDED_BY(mu);  // by hook key
  size_t pending ABSL_GUARDED_BY(mu) = 0;
  RegistryCounters counters ABSL_GUARDED_BY(mu);
  std::thread deliverer;
  // Last: destroyed first, with the handlers it still holds, and the sessions in them
  // (which count themselves out of the members above).
  net::io_context io{1};
  std::optional<tcp::acceptor> acceptor;
};

namespace internal {

// RegistrySession is one HTTP connection, on the server thread.
class RegistrySession : public std::enable_shared_from_this<RegistrySession> {
 public:
  RegistrySession(tcp::socket socket, Registry::State& state)
      : stream_(std::move(socket)), state_(state), ping_(stream_.get_executor()) {
    ++state_.connections;
  }
  ~RegistrySession() { --state_.connections; }

  void Start(bool refuse) {
    if (refuse) {
      state_.Count(&RegistryCounters::refused);
      Respond(Error(http::status::service_unavailable, "too many connections"), false);
      return;
    }
    Read();
  }

  // Stream switches the connection to server-sent events of `resource`, after
  // `first` (the state now).
  void Stream(const std::string& resource, std::string first) {
    streaming_ = true;
    resource_ = resource;
    state_.streams.emplace(resource, weak_from_this());
    auto header = std::make_shared<std::string>(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: "
        "no-cache\r\nConnection: close\r\n\r\n");
    Send(std::move(*header));
    Send(std::move(first));
    Ping();
  }

  // Send queues `text` for the stream; a stream too far behind is closed.
  void Send(std::string text) {
    if (outbox_.size() >= state_.options.max_watch_backlog) {
      state_.Count(&RegistryCounters::watchers_dropped);
      Close();
      return;
    }
    outbox_.push_back(std::move(text));
    if (!writing_) WriteNext();
  }

  const std::string& resource() const { return resource_; }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(state_.options.max_body_bytes);
    parser_->header_limit(kMaxHeaderBytes);
    stream_.expires_after(absl::ToChronoMilliseconds(state_.options.read_timeout));
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  void OnRead(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof ||
        ec == net::error::connection_reset) {
      return Close();
    }
    if (ec == beast::error::timeout) {
      state_.Count(&RegistryCounters::timeouts);
      return Close();
    }
    if (ec == http::error::body_limit) {
      return Respond(Error(http::status::payload_too_large,
                           absl::StrCat("the body is larger than ",
                                        state_.options.max_body_bytes, " bytes")),
                     false);
    }
    if (ec == http::error::header_limit) {
      return Respond(
          Error(http::status::request_header_fields_too_large,
                absl::StrCat("the header is larger than ", kMaxHeaderBytes, " bytes")),
          false);
    }
    if (ec) {
      return Respond(Error(http::status::bad_request,
                           absl::StrCat("malformed request: ", ec.message())),
                     false);
    }
    http::request<http::string_body> request = parser_->release();
    Response response = state_.Handle(request, shared_from_this());
    if (streaming_) return;
    // After HEAD the connection closes: `curl -X HEAD`, as Nesoi's README has it, waits
    // for the body the length announces until the server closes.
    const bool head = request.method() == http::verb::head;
    Respond(std::move(response), request.keep_alive() && !head, head);
  }

  void Respond(Response r, bool keep_alive, bool head = false) {
    auto res = std::make_shared<http::response<http::string_body>>(r.status, 11);
    res->set(http::field::server, "glue-registry");
    if (!r.body.empty()) res->set(http::field::content_type, "application/json");
    for (auto& [field, value] : r.headers) res->set(field, value);
    res->keep_alive(keep_alive);
    res->body() = std::move(r.body);
    res->prepare_payload();
    if (head) res->body().clear();  // the length stays that of the body GET would give
    {
      MutexLock lock(&state_.mu);
      ++state_.counters.requests;
      if (static_cast<int>(r.status) >= 400) ++state_.counters.errors;
    }
    stream_.expires_after(absl::ToChronoMilliseconds(state_.options.write_timeout));
    auto serializer =
        std::make_shared<http::response_serializer<http::string_body>>(*res);
    if (head) serializer->split(true);
    auto done = [self = shared_from_this(), res, serializer, keep_alive](
                    beast::error_code ec, size_t) {
      if (ec) {
        if (ec == beast::error::timeout) self->state_.Count(&RegistryCounters::timeouts);
        return self->Close();
      }
      if (keep_alive) return self->Read();
      self->Close();
    };
    if (head) {
      http::async_write_header(stream_, *serializer, std::move(done));
    } else {
      http::async_write(stream_, *serializer, std::move(done));
    }
  }

  void WriteNext() {
    if (outbox_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    stream_.expires_after(absl::ToChronoMilliseconds(state_.options.write_timeout));
    net::async_write(stream_, net::buffer(outbox_.front()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) {
                         if (ec == beast::error::timeout) {
                           self->state_.Count(&RegistryCounters::timeouts);
                         }
                         return self->Close();
                       }
                       self->outbox_.pop_front();
                       self->WriteNext();
                     });
  }

  // Ping sends a comment on an idle stream, which also finds a client gone.
  void Ping() {
    ping_.expires_after(absl::ToChronoMilliseconds(state_.options.watch_keepalive));
    ping_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec || self->closed_) return;
      self->Send(": keep-alive\n\n");
      self->Ping();
    });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    ping_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    if (streaming_) {
      {
        MutexLock lock(&state_.mu);
        --state_.counters.watchers;
      }
      for (auto it = state_.streams.begin(); it != state_.streams.end();) {
        it = it->second.lock().get() == this || it->second.expired()
                 ? state_.streams.erase(it)
                 : std::next(it);
      }
    }
  }

  beast::tcp_stream stream_;
  Registry::State& state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool streaming_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::string resource_;
  std::deque<std::string> outbox_;
  net::steady_timer ping_;
};

}  // namespace internal

namespace {

// Path splits a target's path into its segments, and says whether ?watch=1 is set;
// the query's other parameters go to `query`.
std::vector<std::string> SplitPath(absl::string_view target,
                                   std::map<std::string, std::string>* query) {
  const size_t mark = target.find('?');
  if (mark != absl::string_view::npos) {
    for (absl::string_view pair :
         absl::StrSplit(target.substr(mark + 1), '&', absl::SkipEmpty())) {
      const size_t eq = pair.find('=');
      (*query)[std::string(pair.substr(0, eq))] =
          eq == absl::string_view::npos ? "" : std::string(pair.substr(eq + 1));
    }
    target = target.substr(0, mark);
  }
  return absl::StrSplit(target, '/', absl::SkipEmpty());
}

absl::StatusOr<Json> ParseBody(const std::string& body) {
  Json j;
  try {
    j = Json::parse(body);
  } catch (const Json::parse_error& e) {
    absl::string_view what = e.what();
    if (const size_t b = what.find("] "); b != absl::string_view::npos) {
      what.remove_prefix(b + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("the body is not JSON: ", what));
  }
  if (!j.is_object()) return absl::InvalidArgumentError("the body must be a JSON object");
  return j;
}

absl::string_view Target(const http::request<http::string_body>& request) {
  return absl::string_view(request.target().data(), request.target().size());
}

std::string EventText(const std::string& event, const std::string& id, const Json& data) {
  return absl::StrCat("event: ", event, "\nid: ", id, "\ndata: ", data.dump(), "\n\n");
}

}  // namespace

std::optional<Json> Registry::State::Listing(const std::string& kind,
                                             const std::string& name,
                                             const std::string& host) const {
  model::Model& m = kind == "app" ? app : srv;
  if (kind == "app" && !name.empty()) {
    absl::StatusOr<model::Entry> e = m.Get(name);
    if (!e.ok()) return std::nullopt;
    return Shown(*e);
  }
  if (!host.empty()) {
    absl::StatusOr<model::Entry> e = m.Get(absl::StrCat(name, "/", host));
    if (!e.ok()) return std::nullopt;
    return Shown(*e);
  }
  absl::StatusOr<model::ModelSnapshot> snapshot =
      m.Snapshot(name.empty() ? "#" : absl::StrCat(name, "/+"));
  Json out = Json::object();
  if (!snapshot.ok()) return out;
  for (const model::Entry& e : snapshot->entries) {
    if (kind == "app") {
      out[e.key] = Shown(e);
      continue;
    }
    const size_t slash = e.key.find('/');
    if (slash == std::string::npos) continue;
    if (name.empty()) {
      out[e.key.substr(0, slash)][e.key.substr(slash + 1)] = Shown(e);
    } else {
      out[e.key.substr(slash + 1)] = Shown(e);
    }
  }
  return out;
}

Response Registry::State::Handle(const http::request<http::string_body>& request,
                                 std::shared_ptr<RegistrySession> session) {
  std::map<std::string, std::string> query;
  const std::vector<std::string> path = SplitPath(Target(request), &query);
  if (path.empty() || (path[0] != "app" && path[0] != "srv")) {
    return Error(http::status::not_found,
                 absl::StrCat("no resource ", Target(request),
                              ": the registry serves /app and /srv"));
  }
  for (const std::string& segment : path) {
    if (absl::Status valid = ValidateResourceName(segment); !valid.ok()) {
      return Error(http::status::bad_request, valid.message());
    }
  }
  const std::string& kind = path[0];
  if (path.size() >= 3 && path[2] == kHooks) {
    return HandleHooks(request.method(), kind, path[1], path, request);
  }
  // A stream: GET /app, /app/NAME, /srv or /srv/NAME with ?watch=1.
  if (auto watch = query.find("watch"); watch != query.end() && watch->second != "0" &&
                                        request.method() == http::verb::get &&
                                        path.size() <= 2) {
    if (session == nullptr) return Error(http::status::bad_request, "no stream here");
    {
      MutexLock lock(&mu);
      if (counters.watchers >= options.max_watchers) {
        return Error(http::status::service_unavailable,
                     absl::StrCat("too many streams (", options.max_watchers, ")"));
      }
      ++counters.watchers;
      ++counters.requests;
    }
    const std::string resource = absl::StrCat("/", absl::StrJoin(path, "/"));
    const std::optional<Json> now = Listing(kind, path.size() > 1 ? path[1] : "", "");
    session->Stream(resource, EventText("snapshot", "0",
                                        Json{{"uri", public_url + resource},
                                             {"value", now.value_or(Json::object())}}));
    return {};
  }
  return kind == "app" ? HandleApp(request.method(), path, request)
                       : HandleSrv(request.method(), path, query, request);
}

Response Registry::State::HandleApp(http::verb method,
                                    const std::vector<std::string>& path,
                                    const http::request<http::string_body>& request) {
  if (path.size() == 1) {
    if (method != http::verb::get) return NotAllowed("GET");
    return Ok(*Listing("app", "", ""));
  }
  if (path.size() != 2) {
    return Error(http::status::not_found, "no such resource below /app/NAME");
  }
  const std::string& name = path[1];
  switch (method) {
    case http::verb::get:
    case http::verb::head: {
      std::optional<Json> shown = Listing("app", name, "");
      if (!shown)
        return Error(http::status::not_found, absl::StrCat("no app '", name, "'"));
      Response r = Ok(*shown);
      r.headers.emplace_back(http::field::link,
                             absl::StrCat("<", public_url, "/app/", name, "/", kHooks,
                                          ">; rel=\"Subscriptions\""));
      return r;
    }
    case http::verb::put: {
      absl::StatusOr<Json> body = ParseBody(request.body());
      if (!body.ok()) return Error(http::status::bad_request, body.status().message());
      if (!body->contains("name") || !(*body)["name"].is_string()) {
        return Error(http::status::bad_request, "missing field: name (a string)");
      }
      if ((*body)["name"] != name) {
        return Error(http::status::bad_request,
                     absl::StrCat("name ", (*body)["name"].dump(), " is not '", name,
                                  "' of the path"));
      }
      if (!body->contains("config")) {
        return Error(http::status::bad_request, "missing field: config");
      }
      if (absl::Status put = app.Put(name, body->dump()); !put.ok()) {
        return WriteFailed(put);
      }
      return Ok(*Listing("app", name, ""));
    }
    case http::verb::delete_:
      return Deleted(app.Delete(name), absl::StrCat("no app '", name, "'"));
    default:
      return NotAllowed("GET, HEAD, PUT, DELETE");
  }
}

Response Registry::State::HandleSrv(http::verb method,
                                    const std::vector<std::string>& path,
                                    const std::map<std::string, std::string>& query,
                                    const http::request<http::string_body>& request) {
  if (path.size() == 1) {
    if (method != http::verb::get) return NotAllowed("GET");
    return Ok(*Listing("srv", "", ""));
  }
  const std::string& name = path[1];
  if (path.size() == 2) {
    if (method != http::verb::get && method != http::verb::head)
      return NotAllowed("GET, HEAD");
    Response r = Ok(*Listing("srv", name, ""));
    r.headers.emplace_back(http::field::link,
                           absl::StrCat("<", public_url, "/srv/", name, "/", kHooks,
                                        ">; rel=\"Subscriptions\""));
    return r;
  }
  if (path.size() != 3) {
    return Error(http::status::not_found, "no such resource below /srv/NAME/HOST");
  }
  const std::string& host = path[2];
  const std::string key = absl::StrCat(name, "/", host);
  switch (method) {
    case http::verb::get:
    case http::verb::head: {
      std::optional<Json> shown = Listing("srv", name, host);
      if (!shown) {
        return Error(http::status::not_found,
                     absl::StrCat("no host '", host, "' of service '", name, "'"));
      }
      return Ok(*shown);
    }
    case http::verb::put: {
      model::PutOptions put_options;
      if (auto ttl = query.find("ttl"); ttl != query.end()) {
        double seconds = 0;
        if (!absl::SimpleAtod(ttl->second, &seconds) || !(seconds >= 0.001) ||
            seconds > 31'536'000) {
          return Error(http::status::bad_request,
                       absl::StrCat("ttl '", ttl->second,
                                    "' must be seconds, from 0.001 to 31536000"));
        }
        put_options.time_to_live = absl::Seconds(seconds);
      }
      absl::StatusOr<Json> body = ParseBody(request.body());
      if (!body.ok()) return Error(http::status::bad_request, body.status().message());
      if (!body->contains("name") || !(*body)["name"].is_string()) {
        return Error(http::status::bad_request, "missing field: name (a string)");
      }
      if ((*body)["name"] != host) {
        return Error(http::status::bad_request,
                     absl::StrCat("name ", (*body)["name"].dump(), " is not '", host,
                                  "' of the path"));
      }
      if (!body->contains("endpoints") || !(*body)["endpoints"].is_object()) {
        return Error(http::status::bad_request, "missing field: endpoints (an object)");
      }
      if (absl::Status put = srv.Put(key, body->dump(), put_options); !put.ok()) {
        return WriteFailed(put);
      }
      return Ok(*Listing("srv", name, host));
    }
    case http::verb::delete_:
      return Deleted(srv.Delete(key),
                     absl::StrCat("no host '", host, "' of service '", name, "'"));
    default:
      return NotAllowed("GET, HEAD, PUT, DELETE");
  }
}

Response Registry::State::HandleHooks(http::verb method, const std::string& kind,
                                      const std::string& name,
                                      const std::vector<std::string>& path,
                                      const http::request<http::string_body>& request) {
  const std::string prefix = absl::StrCat(kind, "/", name);
  if (path.size() == 3) {
    if (method == http::verb::get) {
      Json out = Json::object();
      absl::StatusOr<model::ModelSnapshot> snapshot = hooks.Snapshot(prefix + "/+");
      if (snapshot.ok()) {
        for (const model::Entry& e : snapshot->entries) {
          out[e.key.substr(prefix.size() + 1)] = Shown(e);
        }
      }
      return Ok(out);
    }
    if (method != http::verb::post) return NotAllowed("GET, POST");
    absl::StatusOr<Json> body = ParseBody(request.body());
    if (!body.ok()) return Error(http::status::bad_request, body.status().message());
    if (!body->contains("name") || !(*body)["name"].is_string()) {
      return Error(http::status::bad_request, "missing field: name (a string)");
    }
    if (!body->contains("endpoint") || !(*body)["endpoint"].is_string()) {
      return Error(http::status::bad_request, "missing field: endpoint (a string)");
    }
    const std::string hook = (*body)["name"];
    if (absl::Status valid = ValidateResourceName(hook); !valid.ok()) {
      return Error(http::status::bad_request, valid.message());
    }
    if (absl::StatusOr<Url> url = ParseHttpUrl((*body)["endpoint"].get<std::string>());
        !url.ok()) {
      return Error(http::status::bad_request, url.status().message());
    }
    const Json stored{{"name", hook}, {"endpoint", (*body)["endpoint"]}};
    if (absl::Status put = hooks.Put(absl::StrCat(prefix, "/", hook), stored.dump());
        !put.ok()) {
      return Error(http::status::service_unavailable, put.message());
    }
    Response r = Ok(stored, http::status::created);
    r.headers.emplace_back(http::field::location,
                           absl::StrCat(public_url, "/", prefix, "/", kHooks, "/", hook));
    return r;
  }
  if (path.size() != 4)
    return Error(http::status::not_found, "no such web-hooks resource");
  const std::string key = absl::StrCat(prefix, "/", path[3]);
  if (method == http::verb::get) {
    absl::StatusOr<model::Entry> e = hooks.Get(key);
    if (!e.ok())
      return Error(http::status::not_found, absl::StrCat("no webhook '", path[3], "'"));
    return Ok(Shown(*e));
  }
  if (method != http::verb::delete_) return NotAllowed("GET, DELETE");
  return Deleted(hooks.Delete(key), absl::StrCat("no webhook '", path[3], "'"));
}

void Registry::State::Accept() {
  // `this` outlives the handler: it runs on the server thread, joined before the
  // State goes, and io_context holds it until then.
  acceptor->async_accept([self = this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == net::error::operation_aborted) return;
      GLUE_LOG(kWarning, "registry: accept: %s", ec.message());
    } else {
      const bool refuse = self->connections.load() >= self->options.max_connections;
      std::make_shared<RegistrySession>(std::move(socket), *self)->Start(refuse);
    }
    self->Accept();
  });
}

void Registry::State::OnChange(const std::string& kind, const model::WatchEvent& event) {
  if (event.kind == model::WatchEvent::Kind::kOverflow) {
    GLUE_LOG(kWarning, "registry: the watch of %s fell behind; changes were not notified",
             kind);
    return;
  }
  Change c;
  c.kind = kind;
  if (kind == "app") {
    c.name = event.key;
  } else {
    const size_t slash = event.key.find('/');
    if (slash == std::string::npos) return;
    c.name = event.key.substr(0, slash);
    c.host = event.key.substr(slash + 1);
  }
  switch (event.kind) {
    case model::WatchEvent::Kind::kPut:
      c.event = "put";
      c.version = VersionOf("put", event.new_entry->version);
      c.value = Shown(*event.new_entry);
      break;
    case model::WatchEvent::Kind::kDelete:
      c.event = "delete";
      c.version =
          event.old_entry ? VersionOf("delete", event.old_entry->version) : "delete";
      break;
    default:
      c.event = "expire";
      c.version =
          event.old_entry ? VersionOf("expire", event.old_entry->version) : "expire";
      break;
  }
  {
    MutexLock lock(&mu);
    if (stopping) return;
    ++counters.changes;
    changes.push_back(c);
    mu.NotifyAll();
  }
  // The streams, on the server thread.
  net::post(io, [self = this, c = std::move(c)] {
    const std::string resource = absl::StrCat("/", c.kind, "/", c.name);
    const std::string uri =
        self->public_url + resource + (c.host.empty() ? "" : "/" + c.host);
    Json data{{"uri", uri}, {"event", c.event}, {"version", c.version}};
    if (c.value) data["value"] = *c.value;
    const std::string text = EventText(c.event, c.version, data);
    std::vector<std::shared_ptr<RegistrySession>> to;
    for (const std::string& r : {std::string("/") + c.kind, resource}) {
      auto [begin, end] = self->streams.equal_range(r);
      for (auto it = begin; it != end; ++it) {
        if (auto s = it->second.lock()) to.push_back(std::move(s));
      }
    }
    for (const std::shared_ptr<RegistrySession>& s : to) {
      s->Send(text);
      self->Count(&RegistryCounters::watch_events);
    }
  });
}

namespace {

// Post sends one POST and waits for the answer, within `timeout`: OK for a 2xx.
absl::Status Post(const Url& url, const std::string& body, absl::Duration timeout) {
  net::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.host + ":" + url.port);
  request.set(http::field::user_agent, "glue-registry");
  request.set(http::field::content_type, "application/json");
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  beast::error_code failure;
  const auto limit = absl::ToChronoMilliseconds(timeout);
  stream.expires_after(limit);
  resolver.async_resolve(
      url.host, url.port, [&](beast::error_code ec, tcp::resolver::results_type results) {
        if (ec) {
          failure = ec;
          return;
        }
        stream.async_connect(results, [&](beast::error_code ec, const tcp::endpoint&) {
          if (ec) {
            failure = ec;
            return;
          }
          http::async_write(stream, request, [&](beast::error_code ec, size_t) {
            if (ec) {
              failure = ec;
              return;
            }
            http::async_read(stream, buffer, response,
                             [&](beast::error_code ec, size_t) { failure = ec; });
          });
        });
      });
  io.run();
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  if (failure) return absl::UnavailableError(failure.message());
  if (response.result_int() / 100 != 2) {
    return absl::UnavailableError(absl::StrCat("answered ", response.result_int()));
  }
  return absl::OkStatus();
}

}  // namespace

void Registry::State::Deliver() {
  for (;;) {
    std::deque<Change> taken;
    std::string hook_key;
    Url url;
    std::string body;
    {
      MutexLock lock(&mu);
      auto earliest = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
        absl::Time t = absl::InfiniteFuture();
        for (const auto& [key, q] : queues) {
          if (!q.pending.empty()) t = std::min(t, q.pending.front().due);
        }
        return t;
      };
      mu.AwaitUntil(
          [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
            return stopping || !changes.empty() || earliest() <= absl::Now();
          },
          earliest());
      if (stopping) return;
      taken.swap(changes);
      if (taken.empty()) {
        const absl::Time now = absl::Now();
        for (auto& [key, q] : queues) {
          if (!q.pending.empty() && q.pending.front().due <= now) {
            hook_key = key;
            url = q.url;
            body = q.pending.front().body;
            break;
          }
        }
      }
    }
    if (!taken.empty()) {
      // Which hooks, and whether this endpoint is the one to post to them.
      absl::StatusOr<model::ModelSnapshot> members = hooks.Snapshot("members/+");
      std::vector<std::string> alive;
      if (members.ok()) {
        for (const model::Entry& e : members->entries) alive.push_back(e.key.substr(8));
      }
      const std::string self_id = absl::StrCat(options.member_id);
      if (std::find(alive.begin(), alive.end(), self_id) == alive.end()) {
        alive.push_back(self_id);
      }
      for (const Change& c : taken) {
        absl::StatusOr<model::ModelSnapshot> targets =
            hooks.Snapshot(absl::StrCat(c.kind, "/", c.name, "/+"));
        if (!targets.ok()) continue;
        for (const model::Entry& hook : targets->entries) {
          std::string chosen;
          uint64_t best = 0;
          for (const std::string& m : alive) {
            const uint64_t score = Fnv1a64(absl::StrCat(m, "|", hook.key));
            if (chosen.empty() || score > best || (score == best && m < chosen)) {
              chosen = m;
              best = score;
            }
          }
          if (chosen != self_id) {
            Count(&RegistryCounters::not_ours);
            continue;
          }
          const Json stored = Json::parse(hook.value.view(), nullptr, false);
          if (!stored.is_object() || !stored.contains("endpoint")) continue;
          const std::string endpoint = stored["endpoint"].get<std::string>();
          absl::StatusOr<Url> parsed = ParseHttpUrl(endpoint);
          if (!parsed.ok()) continue;
          const std::string uri = absl::StrCat(public_url, "/", c.kind, "/", c.name,
                                               c.host.empty() ? "" : "/" + c.host);
          const Json notice{{"name", stored.value("name", "")},
                            {"uri", uri},
                            {"event", c.event},
                            {"version", c.version}};
          MutexLock lock(&mu);
          HookQueue& q = queues[hook.key];
          if (q.endpoint != endpoint) {  // new, or its endpoint changed
            q.endpoint = endpoint;
            q.url = *parsed;
          }
          if (pending >= options.max_pending_deliveries && !q.pending.empty()) {
            q.pending.pop_front();
            --pending;
            ++counters.deliveries_dropped;
            GLUE_LOG(kWarning,
                     "registry: webhook %s: a notification dropped: %d pending, the "
                     "bound",
                     hook.key, options.max_pending_deliveries);
          }
          q.pending.push_back({notice.dump(), 0, absl::Now()});
          ++pending;
          counters.pending_deliveries = pending;
        }
      }
      continue;
    }
    if (hook_key.empty()) continue;
    const absl::Status posted = Post(url, body, options.delivery_timeout);
    MutexLock lock(&mu);
    auto it = queues.find(hook_key);
    if (it == queues.end() || it->second.pending.empty()) continue;
    Delivery& d = it->second.pending.front();
    if (posted.ok()) {
      ++counters.deliveries;
    } else {
      ++counters.delivery_failures;
      ++d.attempts;
      if (d.attempts < options.max_delivery_attempts) {
        const absl::Duration delay =
            std::min(options.max_retry,
                     options.first_retry * (int64_t{1} << std::min(d.attempts - 1, 20)));
        d.due = absl::Now() + delay;
        GLUE_LOG(kInfo, "registry: webhook %s (%s): %s; again in %s", hook_key,
                 it->second.endpoint, posted.message(), absl::FormatDuration(delay));
        continue;
      }
      ++counters.deliveries_dropped;
      GLUE_LOG(kWarning, "registry: webhook %s (%s): %s; given up after %d attempts",
               hook_key, it->second.endpoint, posted.message(), d.attempts);
    }
    it->second.pending.pop_front();
    --pending;
    counters.pending_deliveries = pending;
  }
}

Registry::Registry(std::shared_ptr<State> state) : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<Registry>> Registry::Start(model::Model& app,
                                                          model::Model& srv,
                                                          model::Model& hooks,
                                                          RegistryOptions options) {
  GLUE_ASSIGN_OR_RETURN(const network::Address address,
                        network::ParseAddress(options.listen));
  if (options.max_connections == 0 || options.max_body_bytes == 0 ||
      options.max_delivery_attempts < 1 || options.max_pending_deliveries == 0 ||
      options.max_watch_backlog == 0) {
    return absl::InvalidArgumentError(
        "registry: max_connections, max_body_bytes, max_delivery_attempts, "
        "max_pending_deliveries and max_watch_backlog must be at least 1");
  }
  auto state = std::make_shared<State>(app, srv, hooks, std::move(options));
  State& s = *state;
  const tcp::endpoint endpoint(address.address(), address.port());
  beast::error_code ec;
  s.acceptor.emplace(s.io);
  s.acceptor->open(endpoint.protocol(), ec);
  if (!ec) s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(endpoint, ec);
  if (!ec) s.acceptor->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("registry: cannot listen on ",
                                               s.options.listen, ": ", ec.message()));
  }
  s.port = s.acceptor->local_endpoint().port();
  s.public_url = s.options.public_url;
  if (s.public_url.empty()) {
    s.public_url = absl::StrCat(
        "http://",
        address.address().is_v6() ? absl::StrCat("[", address.address().to_string(), "]")
                                  : address.address().to_string(),
        ":", s.port);
  }
  while (!s.public_url.empty() && s.public_url.back() == '/') s.public_url.pop_back();
  // This endpoint among the registries alive: bound to its liveness.
  if (absl::Status member = hooks.Put(absl::StrCat("members/", s.options.member_id),
                                      s.options.member_name, {.ephemeral = true});
      !member.ok()) {
    return member;
  }
  std::weak_ptr<State> weak = state;
  for (auto [m, kind] : {std::pair{&app, "app"}, std::pair{&srv, "srv"}}) {
    absl::StatusOr<uint64_t> watch =
        m->Watch("#", [weak, kind = std::string(kind)](const model::WatchEvent& e) {
          if (std::shared_ptr<State> s = weak.lock()) s->OnChange(kind, e);
        });
    if (!watch.ok()) return watch.status();
    s.watches.push_back(*watch);
  }
  s.Accept();
  s.server = std::thread([&s] { s.io.run(); });
  s.deliverer = std::thread([&s] { s.Deliver(); });
  GLUE_LOG(kInfo, "registry: serving %s", s.public_url);
  return std::unique_ptr<Registry>(new Registry(std::move(state)));
}

Registry::~Registry() {
  State& s = *state_;
  s.app.Unwatch(s.watches[0]);
  s.srv.Unwatch(s.watches[1]);
  {
    MutexLock lock(&s.mu);
    s.stopping = true;
    s.mu.NotifyAll();
    s.counters.deliveries_dropped += s.pending;
  }
  s.deliverer.join();
  net::post(s.io, [&s] {
    beast::error_code ignored;
    s.acceptor->close(ignored);
    s.io.stop();
  });
  s.server.join();
  s.streams.clear();
}

uint16_t Registry::port() const { return state_->port; }

RegistryCounters Registry::counters() const {
  MutexLock lock(&state_->mu);
  RegistryCounters c = state_->counters;
  c.connections = state_->connections.load();
  return c;
}

}  // namespace glue::services
