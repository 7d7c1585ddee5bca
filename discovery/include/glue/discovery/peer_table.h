// PeerTable: the endpoints discovery knows of, and the rules that add, refresh and
// remove them. It does no I/O and reads no clock: callers pass the time, so that tests
// drive expiry themselves. The discovery layer; Discovery wraps it with sockets.
//
//   PeerTable table({.network_id = 1, .own_id = 7, .own_name = "a", ...});
//   std::vector<PeerEvent> events;
//   table.OnAnnouncement(sender, now, &events);   // may add or replace
//   table.Expire(now, &events);                    // removes the silent
#ifndef GLUE_DISCOVERY_PEER_TABLE_H_
#define GLUE_DISCOVERY_PEER_TABLE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/base/log_limiter.h"
#include "glue/network/address.h"

namespace glue::discovery {

// Peer is another endpoint: who it is, where its data goes, how often it announces.
struct Peer {
  uint64_t id = 0;
  std::string name;
  network::Address data_address;
  absl::Duration rate;    // its own announcement period
  absl::Time last_heard;  // when it, or a rendezvous on its behalf, last vouched for it

  friend bool operator==(const Peer&, const Peer&) = default;
};

// RemovalReason says why a peer was removed.
enum class RemovalReason {
  kExpired,   // silent for its rate times the timeout multiplier
  kGoodbye,   // it said goodbye
  kReplaced,  // it restarted: the same id spoke with another name or address
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
  };

  explicit PeerTable(Options options);

  // OnAnnouncement records that `sender` vouched for itself at `heard`: adds it,
  // refreshes it or replaces an older entry of its id. Events go to `events`.
  Verdict OnAnnouncement(const Sender& sender, absl::Time heard,
                         std::vector<PeerEvent>* events);

  // OnPeerRecord records what a rendezvous says of another endpoint, last heard at
  // `heard` (the rendezvous's time less the record's age). Like OnAnnouncement, but it
  // never moves last_heard backwards; the peer's rate is taken as at least own_rate,
  // the pace at which such records come; and a record that disagrees with a live entry
  // of the same id (another name or address) is stale rather than a replacement: only
  // the endpoint itself can say it restarted.
  Verdict OnPeerRecord(const Sender& sender, absl::Time heard,
                       std::vector<PeerEvent>* events);

  // OnGoodbye removes the peer `id` if it is known under `name` in our network.
  // Returns whether it was.
  bool OnGoodbye(uint64_t network_id, uint64_t id, std::string_view name,
                 std::vector<PeerEvent>* events);

  // Expire removes every peer silent for its rate times the timeout multiplier.
  void Expire(absl::Time now, std::vector<PeerEvent>* events);

  // NextExpiry is when the next peer will expire unless it speaks, if any.
  std::optional<absl::Time> NextExpiry() const;

  // Find returns the peer `id`, or nullptr. Valid until the table next changes.
  const Peer* Find(uint64_t id) const;

  // Peers returns every peer, ordered by id.
  std::vector<Peer> Peers() const;

  size_t size() const { return peers_.size(); }
  const PeerTableCounters& counters() const { return counters_; }
  const Options& options() const { return options_; }

 private:
  Verdict Admit(const Sender& sender, absl::Time heard, bool from_record,
                std::vector<PeerEvent>* events);
  void Remove(uint64_t id, RemovalReason reason, std::vector<PeerEvent>* events);
  absl::Time ExpiryOf(const Peer& peer) const;

  const Options options_;
  absl::flat_hash_map<uint64_t, Peer> peers_;
  absl::flat_hash_map<std::string, uint64_t> ids_by_name_;
  // A warning line per reason and period, however many announcements (or forged ones)
  // clash: each line gives the last and counts those it stands for. Driven by the
  // times passed in.
  LogLimiter own_id_clash_log_;
  LogLimiter name_clash_log_;
  PeerTableCounters counters_;
};

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_PEER_TABLE_H_
