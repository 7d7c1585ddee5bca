// model_example: the README's model example. Run two copies at once, in one private
// network namespace or with GLUE_LISTEN_INTERFACE=lo: each opens the model "demo",
// writes keys of its own and one key both write, waits for the other copy, reads,
// watches, syncs and deletes, prints what it sees, and closes after about 5 s. Exit
// status 0, 1 when a call failed, 2 when the endpoint cannot be made or started.
// Configured by the GLUE_* environment.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "glue/endpoint/endpoint.h"

namespace {

void Print(const std::string& line) { std::printf("%s\n", line.c_str()); }

const char* KindName(glue::model::WatchEvent::Kind kind) {
  switch (kind) {
    case glue::model::WatchEvent::Kind::kPut:
      return "put";
    case glue::model::WatchEvent::Kind::kDelete:
      return "delete";
    case glue::model::WatchEvent::Kind::kExpire:
      return "expire";
    case glue::model::WatchEvent::Kind::kOverflow:
      return "overflow";
  }
  return "?";
}

}  // namespace

int main() {
  auto endpoint = glue::Endpoint::FromEnvironment();
  if (!endpoint.ok() || !(*endpoint)->Start().ok()) return 2;
  const std::string me = (*endpoint)->config().endpoint_name;
  auto opened = (*endpoint)->OpenModel("demo");
  if (!opened.ok()) {
    Print(opened.status().ToString());
    return 1;
  }
  glue::model::Model& model = **opened;

  // Written before the two copies know each other: neither write saw the other, so
  // both stay, as siblings, with the same winner on both sides.
  absl::Status status = model.Put("app/leader", me);
  // A key of this copy's own; one shown only while this endpoint is present; one that
  // lives 3 s from when each replica received it.
  if (status.ok()) status = model.Put("app/" + me + "/port", "8080");
  if (status.ok()) status = model.Put("members/" + me, "up", {.ephemeral = true});
  if (status.ok()) {
    status = model.Put("leases/" + me, "held", {.time_to_live = absl::Seconds(3)});
  }
  if (!status.ok()) {
    Print(status.ToString());
    return 1;
  }

  // What "app/#" holds now, then every change after it: nothing missed, nothing twice.
  absl::StatusOr<glue::model::ModelSnapshot> snapshot = model.Snapshot("app/#");
  if (!snapshot.ok()) return 1;
  Print(absl::StrCat(me, ": ", snapshot->entries.size(), " key(s) at revision ",
                     snapshot->revision));
  absl::StatusOr<uint64_t> watch = model.Watch(
      "app/#",
      [me](const glue::model::WatchEvent& event) {
        // On the endpoint's threads; one watch's calls come in order, never overlapping.
        Print(absl::StrCat(
            me, ": ", KindName(event.kind), " ", event.key,
            event.new_entry ? absl::StrCat(" = ", *event.new_entry->value) : ""));
      },
      snapshot->revision);
  if (!watch.ok()) return 1;

  // Wait up to 10 s for the other copy's replica.
  for (int i = 0; i < 200 && model.replicas() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Print(absl::StrCat(me, ": ", model.replicas(), " other replica(s)"));

  // A write that returns once another replica holds it, or fails at the deadline saying
  // how many did (the write stands either way).
  status =
      model.Put("app/" + me + "/status", "ready",
                {.wait_for_replicas = 1, .deadline = absl::Now() + absl::Seconds(5)});
  Print(absl::StrCat(me, ": put waiting for a replica: ", status.ToString()));
  // Everything the other replicas hold, here.
  status = model.Sync(absl::Now() + absl::Seconds(5));
  Print(absl::StrCat(me, ": sync: ", status.ToString()));

  absl::StatusOr<glue::model::Entry> leader = model.Get("app/leader");
  if (leader.ok()) {
    Print(absl::StrCat(me, ": app/leader = ", *leader->value, " (written by ",
                       leader->writer_name, ", ", leader->siblings, " sibling(s))"));
  }
  for (const glue::model::Entry& e : model.Siblings("app/leader")) {
    Print(
        absl::StrCat(me, ":   ", *e.value, " at ", glue::model::Format(e.version.time)));
  }
  for (const char* filter : {"members/#", "leases/#"}) {
    absl::StatusOr<glue::model::ModelSnapshot> s = model.Snapshot(filter);
    if (!s.ok()) return 1;
    for (const glue::model::Entry& e : s->entries) {
      Print(absl::StrCat(me, ": ", e.key, " = ", *e.value,
                         e.ephemeral ? " (ephemeral)" : ""));
    }
  }

  std::this_thread::sleep_for(std::chrono::seconds(3));  // the leases expire
  status = model.Delete("app/" + me + "/port");
  Print(absl::StrCat(me, ": delete: ", status.ToString(),
                     "; leases left: ", model.Snapshot("leases/#")->entries.size()));
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the other copy's delete

  const glue::model::ModelCounters c = model.counters();
  Print(absl::StrCat(me, ": puts=", c.puts, " deletes=", c.deletes,
                     " deltas_sent=", c.deltas_sent, " writes_applied=", c.writes_applied,
                     " expired=", c.expired, " keys=", c.keys));
  model.Unwatch(*watch);
  model.Close();        // removes members/<me> everywhere, sends what is pending
  (*endpoint)->Stop();  // lingers for what it sent, then says goodbye
}
