// PeerTable: the endpoints discovery knows of, and the rules that add, refresh, suspect
// and remove them. It does no I/O and reads no clock: callers pass the time, so that
// tests drive expiry themselves. The discovery layer; Discovery wraps it with sockets.
//
//   PeerTable table({.network_id = 1, .own_id = 7, .own_name = "a", ...});
//   std::vector<PeerEvent> events;
//   std::vector<Peer> probes;
//   table.OnAnnouncement(proven, now, &events);   // may add or replace
//   table.Expire(now, &events, &probes);          // suspects the silent, probes them,
//                                                 // removes those that stay silent
//
// Only what the caller has verified adds an endpoint (OnAnnouncement): an endpoint that
// echoed a challenge sent to its data address. The word of an announcement alone only
// refreshes an endpoint known under the same name and address (Refresh). A peer silent
// for its rate times the multiplier is not removed at once but suspected: the caller
// probes it (`probes_per_period` times over one more period of its own) and any sign of
// life (OnSignOfLife) clears it, so that loss alone does not remove a live peer. Words
// anyone could repeat (announcements not proven, a rendezvous's records) keep a peer
// only so long: one not proven for `unproven_periods` times as long as silence is
// allowed is probed too, so that replayed announcements of a dead endpoint do not keep
// it.
#ifndef GLUE_DISCOVERY_PEER_TABLE_H_
#define GLUE_DISCOVERY_PEER_TABLE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/network/address.h"

namespace glue::discovery {

// Peer is another endpoint: who it is, where its data goes, how often it announces.
struct Peer {
  uint64_t id = 0;
  std::string name;
  network::Address data_address;
  absl::Duration rate;     // its own announcement period
  absl::Time last_heard;   // when it, or a rendezvous on its behalf, last vouched for it
  absl::Time last_proven;  // when it last proved it is alive at its address
  // The providers that know it (Discovery::peers() says; empty elsewhere): those
  // whose addresses hold its data address, "multicast" when its announcements reach
  // our group, "rendezvous" when a rendezvous lists it or it answers as one.
  std::vector<std::string> providers;

  friend bool operator==(const Peer&, const Peer&) = default;
};

// RemovalReason says why a peer was removed.
enum class RemovalReason {
  kExpired,   // silent for its rate times the timeout multiplier
  kGoodbye,   // it said goodbye
  kReplaced,  // it restarted: the same id spoke with another name or address, or
              // another id proved the same address
};

// RemovalReasonName returns "expired", "goodbye" or "replaced".
absl::string_view RemovalReasonName(RemovalReason reason);

// PeerEvent is a change to the table, for the callbacks of the layers above.
struct PeerEvent {
  enum class Kind { kAdded, kRemoved };
  Kind kind;
  Peer peer;
  RemovalReason reason = RemovalReason::kExpired;  // for kRemoved
};

// Verdict says what the table made of one announcement or peer record.
enum class Verdict {
  kAdded,
  kRefreshed,
  kReplaced,               // an entry of the same id was removed, this one added
  kIgnoredOwn,             // our own announcement, looped back
  kIgnoredOwnIdClash,      // another endpoint uses our id under another name
  kIgnoredForeignNetwork,  // another network id
  kIgnoredNameClash,       // a live peer of another id has this name
  kIgnoredTableFull,       // max_peers reached
  kIgnoredStale,           // a record older than what we already know
  kUnverified,             // unknown, or known under another name or address: the
                           // caller challenges it before it counts
};

// PeerTableCounters count what the table did and ignored.
struct PeerTableCounters {
  uint64_t added = 0;
  uint64_t refreshed = 0;
  uint64_t removed_expired = 0;
  uint64_t removed_goodbye = 0;
  uint64_t removed_replaced = 0;
  uint64_t ignored_own = 0;
  uint64_t ignored_own_id_clash = 0;
  uint64_t ignored_foreign_network = 0;
  uint64_t ignored_name_clash = 0;
  uint64_t ignored_table_full = 0;
  uint64_t ignored_stale = 0;
  uint64_t rates_clamped = 0;       // announced rates outside min_rate..max_rate
  uint64_t suspected = 0;           // silent peers probed before removal
  uint64_t suspicions_refuted = 0;  // suspects that showed a sign of life
  uint64_t goodbyes_refuted = 0;    // of those, suspected on a goodbye (a forged one)
};

// Sender is what an announcement or a rendezvous's peer record says of an endpoint.
struct Sender {
  uint64_t network_id = 0;
  uint64_t id = 0;
  std::string_view name;  // a view, like the codec's
  network::Address data_address;
  absl::Duration rate;
};

// PeerTable is not thread-safe: one owner, one thread (or strand) at a time.
class PeerTable {
 public:
  struct Options {
    uint64_t network_id = 1;
    uint64_t own_id = 0;
    std::string own_name;
    uint32_t timeout_multiplier = 2;
    // Our own announcement period. A rendezvous speaks of others only when we
    // announce, so a peer known from its records is refreshed no faster than this.
    absl::Duration own_rate = absl::Seconds(1);
    // At most this many peers; announcements of new ones beyond it are ignored and
    // counted (ignored_table_full) until some leave.
    size_t max_peers = 4096;
    // Announced rates are held within these bounds (rates_clamped counts those that
    // were not): a peer cannot make us keep it for days, nor probe it without pause.
    absl::Duration min_rate = absl::Milliseconds(10);
    absl::Duration max_rate = absl::Hours(1);
    // A suspect is probed this many times over one of its periods before removal: at
    // 30 % loss each way a probe's round trip fails half the time, and 32 lost in a
    // row happen once in 4 billion suspicions. (16, once in 65,000, removed a live
    // peer in about one run of 130 of ten minutes at 30 % loss, which suspects
    // hundreds of times.)
    int probes_per_period = 32;
    // A peer that says goodbye is probed over at most this long before removal: a
    // goodbye can be forged, and the probes tell a live peer from a gone one.
    absl::Duration goodbye_window = absl::Milliseconds(200);
    // A peer is suspected, and probed, when it has not proved it is alive (an echo, or
    // frames of a live session) for this many times its rate times the multiplier,
    // however many announcements not proven came meanwhile: those anyone can replay.
    // A peer that exchanges data proves itself all the time; a quiet one is probed
    // once in so long.
    int unproven_periods = 4;
  };

  explicit PeerTable(Options options);

  // OnAnnouncement records that `sender`, which proved it receives at its data address,
  // vouched for itself at `heard`: adds it, refreshes it (clearing a suspicion) or
  // replaces an older entry of its id. Events go to `events`.
  Verdict OnAnnouncement(const Sender& sender, absl::Time heard,
                         std::vector<PeerEvent>* events);

  // Refresh takes an announcement not proven: it refreshes (kRefreshed) the peer known
  // under the same id, name and address, but clears no suspicion: only a proof (a
  // probe's echo) does, as anyone can repeat an announcement. Otherwise it says
  // why it ignores the sender, or kUnverified: a newcomer or a restart, for the caller
  // to challenge.
  Verdict Refresh(const Sender& sender, absl::Time heard);

  // OnPeerRecord takes what a rendezvous says of another endpoint, last heard at
  // `heard` (the rendezvous's time less the record's age): it refreshes the peer known
  // under the same name and address, never moving last_heard backwards, and takes its
  // rate as at least own_rate, the pace at which such records come. A record of an
  // unknown endpoint is kUnverified (the caller challenges it, and only its own echo
  // adds it); one that disagrees with a live entry of the same id is stale: only the
  // endpoint itself can say it restarted.
  Verdict OnPeerRecord(const Sender& sender, absl::Time heard);

  // OnSignOfLife records that peer `id` proved at `heard` that it is alive at its
  // address (it echoed a probe, or sent frames of a live session): refreshes it and
  // clears its suspicion.
  void OnSignOfLife(uint64_t id, absl::Time heard);

  // OnGoodbye suspects the peer `id`, if it is known under `name` in our network, and
  // has it probed over goodbye_window from `now`: removed (kGoodbye) unless it answers.
  // Returns whether it is known.
  bool OnGoodbye(uint64_t network_id, uint64_t id, std::string_view name, absl::Time now);

  // Expire suspects every peer silent for its rate times the timeout multiplier, appends
  // to `probes` the suspects due a probe at `now`, and removes the suspects whose
  // probing is over.
  void Expire(absl::Time now, std::vector<PeerEvent>* events, std::vector<Peer>* probes);

  // NextExpiry is when Expire next has something to do, if ever.
  std::optional<absl::Time> NextExpiry() const;

  // Suspected says whether peer `id` is being probed.
  bool Suspected(uint64_t id) const;

  // Find returns the peer `id`, or nullptr. Valid until the table next changes.
  const Peer* Find(uint64_t id) const;

  // Peers returns every peer, ordered by id.
  std::vector<Peer> Peers() const;

  size_t size() const { return peers_.size(); }
  const PeerTableCounters& counters() const { return counters_; }
  const Options& options() const { return options_; }

 private:
  // Entry is a peer and, while it is suspected, its probing.
  struct Entry {
    Peer peer;
    std::optional<absl::Time> suspect_until;  // removed then unless it shows life
    absl::Time next_probe;
    absl::Duration probe_interval;
    RemovalReason suspicion = RemovalReason::kExpired;
  };

  // Screen says why `sender` is ignored whoever vouches for it, or kAdded if it is not.
  Verdict Screen(const Sender& sender);
  absl::Duration Clamp(absl::Duration rate);
  // RefreshEntry records that the peer of `entry`, announcing every `rate`, was heard
  // at `heard` (never moving back); `proven`, that it proved it then, which clears its
  // suspicion.
  Verdict RefreshEntry(Entry& entry, absl::Duration rate, absl::Time heard, bool proven);
  void Suspect(Entry& entry, absl::Time now, absl::Duration window, RemovalReason why);
  void ClearSuspicion(Entry& entry);
  void Remove(uint64_t id, RemovalReason reason, std::vector<PeerEvent>* events);
  // ExpiryOf is when the peer is suspected: silent for its rate times the multiplier,
  // or not proven for unproven_periods times that.
  absl::Time ExpiryOf(const Peer& peer) const;
  absl::Time NextDue(const Entry& entry) const;

  const Options options_;
  absl::flat_hash_map<uint64_t, Entry> peers_;
  absl::flat_hash_map<std::string, uint64_t> ids_by_name_;
  std::map<network::Address, uint64_t> ids_by_address_;
  PeerTableCounters counters_;
};

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_PEER_TABLE_H_
