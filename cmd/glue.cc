// glue: publish, subscribe and watch peers from a shell, on the Endpoint API and the
// GLUE_* variables like any application.
//
// clang-format off
//   glue sub -t 'sensors/#' -v              # in one shell
//   glue pub -t sensors/a -m hello          # in another: the first prints "sensors/a hello"
//   seq 1000 | glue pub -t n -l             # one message a line
//   glue peers --watch                      # endpoints joining and leaving
//   glue model cfg put a 1                  # a key of the replicated model "cfg"
//   glue keygen site-2026 >> keyring        # a key line for GLUE_KEYRING_FILE
// clang-format on
//
// Exit status: 0 done; 1 a mistake of use (with the usage); 2 a configuration error (the
// variable named); 3 pub found no subscriber within --wait-subscribers (model put and
// del: no other replica within --timeout); 4 pub's messages were not all acknowledged
// (model: the change was not held in time, or get found no such key); 27 sub heard
// nothing for -W seconds (as mosquitto_sub).
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cmd/glue_bridge.h"
#include "cmd/glue_command.h"
#include "cmd/glue_features.h"
#include "cmd/glue_registry.h"
#include "glue/base/mutex.h"
#include "glue/endpoint/endpoint.h"
#include "glue/model/model.h"
#include "glue/security/keyring.h"

namespace glue::cmd {
namespace {

// The type of what pub sends when --type is not given; sub takes any type unless told.
constexpr char kDefaultType[] = "text";

// --- keygen ---

int Keygen(const std::string& id) {
  const bool id_ok = !id.empty() && id.size() <= security::kMaxKeyIdLength &&
                     std::all_of(id.begin(), id.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '-' || c == '_';
                     });
  if (!id_ok) {
    std::fprintf(stderr,
                 "glue keygen: ID '%s' must be 1 to %zu letters, digits, '-' or '_'\n",
                 id.c_str(), security::kMaxKeyIdLength);
    return kUsageError;
  }
  std::ifstream random("/dev/urandom", std::ios::binary);
  std::string key(security::kKeyBytes, '\0');
  if (!random.read(key.data(), static_cast<std::streamsize>(key.size()))) {
    std::fprintf(stderr, "glue keygen: cannot read /dev/urandom\n");
    return kConfigurationError;
  }
  const std::string line = absl::StrCat(id, " ", absl::Base64Escape(key));
  // The line must read back as a keyring: that checks the id by the keyring's rules.
  if (absl::StatusOr<security::Keyring> keyring =
          security::ParseKeyring(line, "glue keygen");
      !keyring.ok()) {
    std::fprintf(stderr, "glue keygen: %s\n",
                 std::string(keyring.status().message()).c_str());
    return kUsageError;
  }
  std::printf("%s\n", line.c_str());
  return 0;
}

// --- pub ---

struct PubFlags {
  std::string topic;
  std::string type = kDefaultType;
  std::optional<std::string> message;
  std::optional<std::string> file;
  bool lines = false;
  bool stdin_whole = false;
  bool empty = false;
  double expiry_ms = 60000;
  bool best_effort = false;
  size_t history = 1;
  size_t repeat = 1;
  double repeat_delay = 0;
  double wait_subscribers = 2;
};

int Pub(const PubFlags& f) {
  const int sources =
      f.message.has_value() + f.file.has_value() + f.lines + f.stdin_whole + f.empty;
  if (sources != 1) {
    std::fprintf(stderr,
                 "glue pub: give exactly one of -m TEXT, -f FILE, -l, -s or -n\n");
    return kUsageError;
  }
  std::vector<std::string> payloads;
  if (f.message) payloads.push_back(*f.message);
  if (f.empty) payloads.emplace_back();
  if (f.file) {
    std::ifstream in(*f.file, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "glue pub: cannot read %s\n", f.file->c_str());
      return kUsageError;
    }
    payloads.emplace_back(std::istreambuf_iterator<char>(in),
                          std::istreambuf_iterator<char>());
  }
  if (f.stdin_whole) {
    payloads.emplace_back(std::istreambuf_iterator<char>(std::cin),
                          std::istreambuf_iterator<char>());
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("pub", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("pub", started);
  }
  // A subscriber first: a message published before anyone wants it goes nowhere
  // (beyond the history a late subscriber gets).
  const absl::Time give_up = absl::Now() + absl::Seconds(f.wait_subscribers);
  std::vector<discovery::Peer> subscribers = e.Subscribers(f.topic, f.type);
  uint64_t seen = 0;
  while (subscribers.empty() && absl::Now() < give_up) {
    if (stopper.Await(std::min(give_up, absl::Now() + absl::Milliseconds(10)), &seen))
      break;
    subscribers = e.Subscribers(f.topic, f.type);
  }
  if (subscribers.empty()) {
    std::fprintf(stderr, "glue pub: no subscriber of %s (type %s) appeared within %gs\n",
                 f.topic.c_str(), f.type.c_str(), f.wait_subscribers);
    return kNoSubscriber;
  }
  const PublishOptions options{.reliable = !f.best_effort,
                               .history_depth = f.history,
                               .max_blocking = absl::Seconds(30)};
  const absl::Duration expiry = absl::Milliseconds(f.expiry_ms);
  auto publish = [&](const std::string& payload) {
    return e.Publish(f.topic, f.type, expiry,
                     absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(payload.data()),
                                         payload.size()),
                     options);
  };
  for (size_t round = 0; round < f.repeat && !stopper.stopped(); ++round) {
    if (round > 0 && f.repeat_delay > 0) {
      stopper.Await(absl::Now() + absl::Seconds(f.repeat_delay), &seen);
    }
    if (f.lines) {
      std::string line;
      while (!stopper.stopped() && std::getline(std::cin, line)) {
        if (absl::Status s = publish(line); !s.ok()) {
          std::fprintf(stderr, "glue pub: %s\n", s.ToString().c_str());
          return kNotAcknowledged;
        }
      }
      continue;
    }
    for (const std::string& payload : payloads) {
      if (absl::Status s = publish(payload); !s.ok()) {
        std::fprintf(stderr, "glue pub: %s\n", s.ToString().c_str());
        return kNotAcknowledged;
      }
    }
  }
  // Done when what was sent is acknowledged, or the linger ends: then the subscribers
  // still owing acknowledgements are named.
  if (f.best_effort || e.Flush(e.linger())) {
    e.Stop();
    return 0;
  }
  std::vector<std::string> owing;
  for (const discovery::Peer& p : subscribers) {
    std::optional<transport::PeerCounters> c = e.peer_counters(p.id);
    if (c.has_value() && c->bytes_unacknowledged > 0) {
      owing.push_back(absl::StrCat(p.name, " (", network::FormatAddress(p.data_address),
                                   ", ", c->bytes_unacknowledged, " bytes)"));
    }
  }
  const size_t unacknowledged =
      e.counters().topics.messages.transport.bytes_unacknowledged;
  const size_t queued = e.counters().topics.messages.bytes_queued;
  e.Stop();
  std::fprintf(stderr,
               "glue pub: not all acknowledged within the linger of %s "
               "(GLUE_LINGER_MILLISECONDS): %zu byte(s) unacknowledged, %zu queued%s%s\n",
               absl::FormatDuration(e.linger()).c_str(), unacknowledged, queued,
               owing.empty() ? "" : "; owed by ", absl::StrJoin(owing, ", ").c_str());
  return kNotAcknowledged;
}

// --- sub ---

struct SubFlags {
  std::vector<std::string> filters;
  std::string type{topics::kAnyType};
  bool verbose = false;
  size_t count = 0;    // 0: no end
  double idle_s = 0;   // 0: no end
  std::string format;  // -F
  bool json = false;
};

// Formatted applies -F's format: %t topic, %p payload, %l payload length, %P publisher
// name, %T receive time (RFC 3339), %h history (1 or 0), %y type, %% a percent sign.
std::string Formatted(const std::string& format, const Message& m, absl::Time received) {
  std::string out;
  for (size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%' || i + 1 == format.size()) {
      out += format[i];
      continue;
    }
    switch (format[++i]) {
      case 't':
        out += m.topic;
        break;
      case 'p':
        out += Printable(m.payload);
        break;
      case 'l':
        absl::StrAppend(&out, m.payload.size());
        break;
      case 'P':
        out += m.publisher_name;
        break;
      case 'T':
        out += absl::FormatTime(absl::RFC3339_full, received, absl::UTCTimeZone());
        break;
      case 'h':
        out += m.history ? "1" : "0";
        break;
      case 'y':
        out += m.type;
        break;
      case '%':
        out += '%';
        break;
      default:
        out += '%';
        out += format[i];
    }
  }
  return out;
}

int Sub(const SubFlags& f) {
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("sub", endpoint.status());
  Endpoint& e = **endpoint;
  std::atomic<size_t> received = 0;
  Mutex out_mu;
  auto on_message = [&](const Message& m) {
    const absl::Time now = absl::Now();
    std::string line;
    if (f.json) {
      line = absl::StrCat(
          "{\"topic\":", JsonString(m.topic), ",\"type\":", JsonString(m.type),
          ",\"publisher\":", JsonString(m.publisher_name),
          ",\"history\":", m.history ? "true" : "false", ",\"received\":",
          JsonString(absl::FormatTime(absl::RFC3339_full, now, absl::UTCTimeZone())),
          ",\"payload\":",
          JsonString(std::string(reinterpret_cast<const char*>(m.payload.data()),
                                 m.payload.size())),
          "}");
    } else if (!f.format.empty()) {
      line = Formatted(f.format, m, now);
    } else if (f.verbose) {
      line = absl::StrCat(m.topic, " ", Printable(m.payload));
    } else {
      line = Printable(m.payload);
    }
    {
      MutexLock lock(&out_mu);
      if (f.count > 0 && received.load() >= f.count) return;
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fputc('\n', stdout);
      std::fflush(stdout);
      ++received;
    }
    stopper.Poke();
  };
  for (const std::string& filter : f.filters) {
    if (absl::Status s = e.Subscribe(filter, f.type, on_message); !s.ok()) {
      std::fprintf(stderr, "glue sub: -t %s: %s\n", filter.c_str(),
                   std::string(s.message()).c_str());
      return kUsageError;
    }
  }
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("sub", started);
  }
  uint64_t seen = 0;
  size_t last = 0;
  absl::Time idle_until = absl::Now() + absl::Seconds(f.idle_s);
  for (;;) {
    const absl::Time deadline = f.idle_s > 0 ? idle_until : absl::InfiniteFuture();
    if (stopper.Await(deadline, &seen)) break;
    if (f.count > 0 && received.load() >= f.count) break;
    if (received.load() != last) {
      last = received.load();
      idle_until = absl::Now() + absl::Seconds(f.idle_s);
    } else if (f.idle_s > 0 && absl::Now() >= idle_until) {
      e.Stop();
      std::fprintf(stderr, "glue sub: no message for %gs\n", f.idle_s);
      return kTimedOut;
    }
  }
  e.Stop();
  return 0;
}

// --- peers ---

// PeerRow is what `glue peers` shows of one peer: discovery's view, and this
// endpoint's session with it.
struct PeerRow {
  discovery::Peer peer;
  std::optional<transport::PeerCounters> session;
};

std::vector<PeerRow> PeerRows(const Endpoint& e) {
  std::vector<PeerRow> rows;
  for (discovery::Peer& p : e.peers()) {
    std::optional<transport::PeerCounters> c = e.peer_counters(p.id);
    rows.push_back({std::move(p), std::move(c)});
  }
  std::sort(rows.begin(), rows.end(), [](const PeerRow& a, const PeerRow& b) {
    return std::tie(a.peer.name, a.peer.id) < std::tie(b.peer.name, b.peer.id);
  });
  return rows;
}

// Ago says how long before `now` `then` was, to the tenth of a second.
std::string Ago(absl::Time then, absl::Time now) {
  return absl::StrFormat(
      "%.1fs", absl::ToDoubleSeconds(std::max(now - then, absl::ZeroDuration())));
}

std::string Rtt(const PeerRow& row) {
  if (!row.session || row.session->session.smoothed_rtt == absl::ZeroDuration()) {
    return "-";
  }
  return absl::StrFormat("%.2fms",
                         absl::ToDoubleMilliseconds(row.session->session.smoothed_rtt));
}

std::string PeerJson(const PeerRow& row, absl::Time now) {
  const discovery::Peer& p = row.peer;
  const uint64_t in = row.session ? row.session->session.delivered : 0;
  const uint64_t out = row.session ? row.session->session.data_sent : 0;
  const int64_t rtt_us =
      row.session ? absl::ToInt64Microseconds(row.session->session.smoothed_rtt) : 0;
  return absl::StrCat(
      "{\"name\":", JsonString(p.name), ",\"id\":\"", p.id, "\"",
      ",\"address\":", JsonString(network::FormatAddress(p.data_address)),
      ",\"providers\":", JsonString(absl::StrJoin(p.providers, ",")),
      ",\"last_heard_ms_ago\":",
      absl::ToInt64Milliseconds(std::max(now - p.last_heard, absl::ZeroDuration())),
      ",\"rtt_us\":", rtt_us, ",\"frames_in\":", in, ",\"frames_out\":", out, "}");
}

std::string PeerTable(const std::vector<PeerRow>& rows, absl::Time now) {
  std::string out =
      absl::StrFormat("%-24s %-20s %-22s %-10s %7s %9s %9s %9s\n", "NAME", "ID",
                      "ADDRESS", "FOUND-BY", "HEARD", "RTT", "FRAMES-IN", "OUT");
  for (const PeerRow& row : rows) {
    const discovery::Peer& p = row.peer;
    absl::StrAppendFormat(&out, "%-24s %-20d %-22s %-10s %7s %9s %9d %9d\n", p.name, p.id,
                          network::FormatAddress(p.data_address),
                          p.providers.empty() ? "-" : absl::StrJoin(p.providers, ","),
                          Ago(p.last_heard, now), Rtt(row),
                          row.session ? row.session->session.delivered : 0,
                          row.session ? row.session->session.data_sent : 0);
  }
  return out;
}

int Peers(bool watch, bool json, double wait_s) {
  Stopper stopper;
  stopper.Arm();
  // On a terminal, --watch redraws the table in place (and the last events under it);
  // elsewhere it prints one line an event.
  const bool redraw = watch && !json && isatty(STDOUT_FILENO) == 1;
  constexpr size_t kEventsShown = 8;
  Mutex out_mu;
  std::vector<std::string> events;  // the last kEventsShown, when redrawing
  auto print_event = [&](const char* what, const discovery::Peer& p, const char* reason) {
    std::string line;
    if (json) {
      line = absl::StrCat(
          "{\"event\":\"", what, "\",\"name\":", JsonString(p.name), ",\"id\":\"", p.id,
          "\"", ",\"address\":", JsonString(network::FormatAddress(p.data_address)),
          reason != nullptr ? absl::StrCat(",\"reason\":", JsonString(reason)) : "", "}");
    } else {
      line = absl::StrCat(what, " ", p.name, " id=", p.id,
                          " address=", network::FormatAddress(p.data_address),
                          reason != nullptr ? absl::StrCat(" reason=", reason) : "");
    }
    MutexLock lock(&out_mu);
    if (redraw) {
      events.push_back(absl::StrCat(
          absl::FormatTime("%H:%M:%S ", absl::Now(), absl::LocalTimeZone()), line));
      if (events.size() > kEventsShown) events.erase(events.begin());
      return;
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  };
  EndpointOptions options;
  if (watch) {
    options.on_peer_added = [&](const discovery::Peer& p) {
      print_event("added", p, nullptr);
    };
    options.on_peer_removed = [&](const discovery::Peer& p, discovery::RemovalReason r) {
      print_event("removed", p, std::string(discovery::RemovalReasonName(r)).c_str());
    };
  }
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint(std::move(options));
  if (!endpoint.ok()) return ConfigurationError("peers", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("peers", started);
  }
  uint64_t seen = 0;
  if (redraw) {
    do {
      const absl::Time now = absl::Now();
      const std::vector<PeerRow> rows = PeerRows(e);
      std::string screen =
          absl::StrCat("\x1b[H\x1b[2J", "glue peers: ", rows.size(), " known to ",
                       e.config().endpoint_name, " at ",
                       absl::FormatTime("%H:%M:%S", now, absl::LocalTimeZone()),
                       " (Ctrl-C to quit)\n\n", PeerTable(rows, now));
      {
        MutexLock lock(&out_mu);
        if (!events.empty()) {
          absl::StrAppend(&screen, "\n", absl::StrJoin(events, "\n"), "\n");
        }
      }
      std::fwrite(screen.data(), 1, screen.size(), stdout);
      std::fflush(stdout);
    } while (!stopper.Await(absl::Now() + absl::Seconds(1), &seen));
    e.Stop();
    return 0;
  }
  if (watch) {
    while (!stopper.Await(absl::InfiniteFuture(), &seen)) {
    }
    e.Stop();
    return 0;
  }
  // The peers known after a period of announcements.
  stopper.Await(absl::Now() + absl::Seconds(wait_s), &seen);
  const absl::Time now = absl::Now();
  const std::vector<PeerRow> rows = PeerRows(e);
  e.Stop();
  if (json) {
    for (const PeerRow& row : rows) std::printf("%s\n", PeerJson(row, now).c_str());
  } else {
    std::printf("%s", PeerTable(rows, now).c_str());
  }
  return 0;
}

// --- model ---

struct ModelFlags {
  std::string name;
  std::string action;  // get, put, del, ls, watch
  std::vector<std::string> args;
  double ttl_s = 0;  // 0: forever
  bool hold = false;
  double timeout_s = 5;  // for a replica to hold the change, or to sync
};

int Model(const ModelFlags& f) {
  const size_t want = f.action == "put"                        ? 2
                      : f.action == "get" || f.action == "del" ? 1
                                                               : 0;
  const bool optional_filter = f.action == "ls" || f.action == "watch";
  if (f.action != "get" && f.action != "put" && f.action != "del" && !optional_filter) {
    std::fprintf(stderr, "glue model: '%s' is not one of get, put, del, ls, watch\n",
                 f.action.c_str());
    return kUsageError;
  }
  if (optional_filter ? f.args.size() > 1 : f.args.size() != want) {
    std::fprintf(stderr, "glue model %s: %s\n", f.action.c_str(),
                 f.action == "put" ? "takes KEY VALUE"
                 : optional_filter ? "takes at most a FILTER"
                                   : "takes KEY");
    return kUsageError;
  }
  if ((f.hold || f.ttl_s > 0) && f.action != "put") {
    std::fprintf(stderr, "glue model %s: --hold and --ttl are for put\n",
                 f.action.c_str());
    return kUsageError;
  }
  if (absl::Status valid = model::ValidateModelName(f.name); !valid.ok()) {
    std::fprintf(stderr, "glue model: %s\n", std::string(valid.message()).c_str());
    return kUsageError;
  }
  Stopper stopper;
  stopper.Arm();
  absl::StatusOr<std::unique_ptr<Endpoint>> endpoint = MakeEndpoint();
  if (!endpoint.ok()) return ConfigurationError("model", endpoint.status());
  Endpoint& e = **endpoint;
  if (absl::Status started = e.Start(); !started.ok()) {
    return ConfigurationError("model", started);
  }
  absl::StatusOr<std::unique_ptr<model::Model>> opened = e.OpenModel(f.name);
  if (!opened.ok()) return ConfigurationError("model", opened.status());
  model::Model& m = **opened;
  const absl::Time deadline = absl::Now() + absl::Seconds(f.timeout_s);
  uint64_t seen = 0;
  // Another replica first: this one starts empty.
  auto await_replica = [&] {
    while (m.replicas() == 0 && absl::Now() < deadline) {
      if (stopper.Await(std::min(deadline, absl::Now() + absl::Milliseconds(10)),
                        &seen)) {
        return false;
      }
    }
    return m.replicas() > 0;
  };
  auto fail = [&](const absl::Status& status) {
    std::fprintf(stderr, "glue model %s: %s\n", f.action.c_str(),
                 std::string(status.message()).c_str());
    e.Stop();
    return kNotAcknowledged;
  };
  const std::string filter = f.args.empty() ? "#" : f.args[0];
  if (f.action == "watch") {
    Mutex out_mu;
    absl::StatusOr<uint64_t> watch = m.Watch(filter, [&](const model::WatchEvent& event) {
      MutexLock lock(&out_mu);
      switch (event.kind) {
        case model::WatchEvent::Kind::kPut:
          std::printf("put %s %s\n", event.key.c_str(),
                      PrintableText(event.new_entry->value.view()).c_str());
          break;
        case model::WatchEvent::Kind::kDelete:
          std::printf("del %s\n", event.key.c_str());
          break;
        case model::WatchEvent::Kind::kExpire:
          std::printf("expire %s\n", event.key.c_str());
          break;
        case model::WatchEvent::Kind::kOverflow:
          std::printf("overflow\n");
          break;
      }
      std::fflush(stdout);
    });
    if (!watch.ok()) return fail(watch.status());
    while (!stopper.Await(absl::InfiniteFuture(), &seen)) {
    }
    e.Stop();
    return 0;
  }
  if (f.action == "get" || f.action == "ls") {
    // What the peers present hold, before answering.
    if (await_replica()) {
      if (absl::Status synced = m.Sync(deadline); !synced.ok()) return fail(synced);
    }
    if (f.action == "get") {
      absl::StatusOr<model::Entry> entry = m.Get(f.args[0]);
      e.Stop();
      if (!entry.ok()) {
        std::fprintf(stderr, "glue model get: %s\n",
                     std::string(entry.status().message()).c_str());
        return kNotAcknowledged;
      }
      std::printf("%s\n", PrintableText(entry->value.view()).c_str());
      return 0;
    }
    absl::StatusOr<model::ModelSnapshot> snapshot = m.Snapshot(filter);
    if (!snapshot.ok()) return fail(snapshot.status());
    for (const model::Entry& entry : snapshot->entries) {
      std::printf("%s %s\n", entry.key.c_str(),
                  PrintableText(entry.value.view()).c_str());
    }
    e.Stop();
    return 0;
  }
  // put and del: done when another replica holds the change.
  if (!await_replica()) {
    std::fprintf(stderr, "glue model %s: no other replica of %s within %gs\n",
                 f.action.c_str(), f.name.c_str(), f.timeout_s);
    e.Stop();
    return kNoSubscriber;
  }
  if (f.action == "del") {
    // What the others hold first: the key may be there only.
    if (absl::Status synced = m.Sync(deadline); !synced.ok()) return fail(synced);
    if (absl::Status deleted =
            m.Delete(f.args[0], {.wait_for_replicas = 1, .deadline = deadline});
        !deleted.ok()) {
      return fail(deleted);
    }
    e.Stop();
    return 0;
  }
  model::PutOptions options{
      .ephemeral = f.hold, .wait_for_replicas = 1, .deadline = deadline};
  if (f.ttl_s > 0) options.time_to_live = absl::Seconds(f.ttl_s);
  if (absl::Status put = m.Put(f.args[0], f.args[1], options); !put.ok())
    return fail(put);
  if (f.hold) {
    while (!stopper.Await(absl::InfiniteFuture(), &seen)) {
    }
  }
  e.Stop();
  return 0;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "glue: publish, subscribe and watch peers from a shell (brokerless, on "
      "the GLUE_* variables)",
      "glue"};
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  glue sub -t 'sensors/#' -v\n"
      "  glue pub -t sensors/a -m hello\n"
      "  seq 1000 | glue pub -t n -l\n"
      "  glue peers --watch\n"
      "  glue keygen site-2026 >> keyring\n"
      "  glue model cfg put a 1\n"
      "Exit status: 0 done, 1 a mistake of use, 2 a configuration error, 3 no "
      "subscriber (pub) or replica (model put, del), 4 not acknowledged (pub, model) or "
      "no such key (model get), 27 nothing for -W seconds (sub).");

  PubFlags pub;
  CLI::App* pub_cmd = app.add_subcommand("pub", "publish one message or several");
  pub_cmd->add_option("-t,--topic", pub.topic, "the topic")->required();
  pub_cmd->add_option("--type", pub.type, "the type (default text)");
  pub_cmd->add_option("-m,--message", pub.message, "the message's text");
  pub_cmd->add_option("-f,--file", pub.file, "a file as one message");
  pub_cmd->add_flag("-l,--lines", pub.lines, "one message a line of standard input");
  pub_cmd->add_flag("-s,--stdin", pub.stdin_whole,
                    "all of standard input as one message");
  pub_cmd->add_flag("-n,--null", pub.empty, "an empty message");
  pub_cmd->add_option("--expiry", pub.expiry_ms, "milliseconds the message lives")
      ->check(CLI::Range(1.0, 86400000.0));
  pub_cmd->add_flag("--best-effort", pub.best_effort, "send once, unacknowledged");
  pub_cmd->add_option("--history", pub.history, "messages kept for late subscribers")
      ->check(CLI::Range(0, 1024));
  pub_cmd->add_option("--repeat", pub.repeat, "send the message(s) N times")
      ->check(CLI::Range(1, 1000000));
  pub_cmd->add_option("--repeat-delay", pub.repeat_delay, "seconds between repeats")
      ->check(CLI::Range(0.0, 3600.0));
  pub_cmd
      ->add_option("--wait-subscribers", pub.wait_subscribers,
                   "seconds to wait for a subscriber (default 2)")
      ->check(CLI::Range(0.0, 3600.0));
  pub_cmd->footer("Example: glue pub -t sensors/a -m hello");

  SubFlags sub;
  CLI::App* sub_cmd = app.add_subcommand("sub", "print the messages of topics");
  sub_cmd->add_option("-t,--topic", sub.filters, "a topic filter (+ and # wildcards)")
      ->required();
  sub_cmd->add_option("--type", sub.type, "only messages of this type (default: any)");
  sub_cmd->add_flag("-v,--verbose", sub.verbose, "print the topic before the payload");
  sub_cmd->add_option("-C,--count", sub.count, "exit after COUNT messages");
  sub_cmd
      ->add_option("-W,--timeout", sub.idle_s,
                   "exit with 27 after SECONDS without a message")
      ->check(CLI::Range(0.0, 86400.0));
  sub_cmd->add_option("-F,--format", sub.format,
                      "%t topic, %p payload, %l length, %P publisher, %T time, %h "
                      "history, %y type");
  sub_cmd->add_flag("--json", sub.json, "one JSON object a message");
  sub_cmd->footer("Example: glue sub -t 'sensors/#' -v");

  bool watch = false, json = false;
  double wait_s = 1.5;
  CLI::App* peers_cmd = app.add_subcommand(
      "peers",
      "the endpoints this one finds: name, id, address, how found, last heard, round "
      "trip, frames in and out");
  peers_cmd->add_flag("--watch", watch,
                      "print peers joining and leaving until Ctrl-C (on a terminal: the "
                      "table, redrawn each second)");
  peers_cmd->add_flag("--json", json, "one JSON object a line");
  peers_cmd
      ->add_option("--wait", wait_s, "seconds to listen before listing (default 1.5)")
      ->check(CLI::Range(0.0, 3600.0));
  peers_cmd->footer("Examples:\n  glue peers\n  glue peers --watch\n  glue peers --json");

  std::string key_id;
  CLI::App* keygen_cmd =
      app.add_subcommand("keygen", "a new key line for a keyring file");
  keygen_cmd->add_option("ID", key_id, "the key's id: letters, digits, - and _")
      ->required();
  keygen_cmd->footer("Example: glue keygen site-2026 >> keyring   # GLUE_KEYRING_FILE");

  ModelFlags model_flags;
  CLI::App* model_cmd = app.add_subcommand(
      "model",
      "read, write and watch a replicated model: NAME get KEY | put KEY VALUE | "
      "del KEY | ls [FILTER] | watch [FILTER]");
  model_cmd->add_option("NAME", model_flags.name, "the model's name")->required();
  model_cmd->add_option("ACTION", model_flags.action, "get, put, del, ls or watch")
      ->required();
  model_cmd->add_option("ARGS", model_flags.args, "KEY [VALUE] or FILTER");
  model_cmd->add_option("--ttl", model_flags.ttl_s, "put: seconds the value lives")
      ->check(CLI::Range(0.001, 31536000.0));
  model_cmd->add_flag("--hold", model_flags.hold,
                      "put: keep running; the key goes when this exits");
  model_cmd
      ->add_option("--timeout", model_flags.timeout_s,
                   "seconds to wait for another replica (default 5)")
      ->check(CLI::Range(0.0, 3600.0));
  model_cmd->footer(
      "Examples:\n  glue model cfg watch\n  glue model cfg put a 1\n  glue model cfg get "
      "a");

  FeaturesFlags features;
  CLI::App* features_cmd = AddFeaturesCommand(app, &features);
  RegistryFlags registry;
  CLI::App* registry_cmd = AddRegistryCommand(app, &registry);
  BridgeFlags bridge;
  CLI::App* bridge_cmd = AddBridgeCommand(app, &bridge);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : kUsageError;
  }
  if (*pub_cmd) return Pub(pub);
  if (*sub_cmd) return Sub(sub);
  if (*peers_cmd) return Peers(watch, json, wait_s);
  if (*keygen_cmd) return Keygen(key_id);
  if (*model_cmd) return Model(model_flags);
  if (*features_cmd) return RunFeatures(features);
  if (*registry_cmd) return RunRegistry(registry);
  if (*bridge_cmd) return RunBridge(bridge);
  return kUsageError;
}

}  // namespace
}  // namespace glue::cmd

int main(int argc, char** argv) { return glue::cmd::Main(argc, argv); }
