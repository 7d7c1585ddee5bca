#include "glue/discovery/peer_table.h"

#include <algorithm>

#include "glue/base/log.h"

namespace glue::discovery {

absl::string_view RemovalReasonName(RemovalReason reason) {
  switch (reason) {
    case RemovalReason::kExpired:
      return "expired";
    case RemovalReason::kGoodbye:
      return "goodbye";
    case RemovalReason::kReplaced:
      return "replaced";
  }
  return "unknown";
}

PeerTable::PeerTable(Options options) : options_(std::move(options)) {}

absl::Duration PeerTable::Clamp(absl::Duration rate) {
  const absl::Duration clamped =
      std::clamp(rate, options_.min_rate, std::max(options_.min_rate, options_.max_rate));
  if (clamped != rate) ++counters_.rates_clamped;
  return clamped;
}

Verdict PeerTable::Screen(const Sender& sender) {
  if (sender.network_id != options_.network_id) {
    ++counters_.ignored_foreign_network;
    return Verdict::kIgnoredForeignNetwork;
  }
  if (sender.id == options_.own_id) {
    if (sender.name == options_.own_name) {
      ++counters_.ignored_own;
      return Verdict::kIgnoredOwn;
    }
    ++counters_.ignored_own_id_clash;
    return Verdict::kIgnoredOwnIdClash;
  }
  // A live endpoint of another id owns this name (or it is ours): the newcomer is
  // ignored, whatever else it says. Only endpoints in the table, which proved their
  // address, hold names.
  const auto owner =
      ids_by_name_.find(absl::string_view(sender.name.data(), sender.name.size()));
  if ((owner != ids_by_name_.end() && owner->second != sender.id) ||
      sender.name == options_.own_name) {
    ++counters_.ignored_name_clash;
    return Verdict::kIgnoredNameClash;
  }
  return Verdict::kAdded;
}

Verdict PeerTable::OnAnnouncement(const Sender& sender, absl::Time heard,
                                  std::vector<PeerEvent>* events) {
  if (const Verdict screened = Screen(sender); screened != Verdict::kAdded) {
    return screened;
  }
  const absl::Duration rate = Clamp(sender.rate);
  auto it = peers_.find(sender.id);
  const bool known = it != peers_.end();
  if (known) {
    Entry& entry = it->second;
    if (entry.peer.name == sender.name &&
        entry.peer.data_address == sender.data_address) {
      return RefreshEntry(entry, rate, heard, /*proven=*/true);
    }
    Remove(sender.id, RemovalReason::kReplaced, events);
  }
  // One endpoint receives at an address: another id proven there is the endpoint that
  // holds it now (the old one restarted under a new id), so that an endpoint with one
  // socket holds one entry, however many ids it answers for.
  bool replaced = known;
  if (const auto holder = ids_by_address_.find(sender.data_address);
      holder != ids_by_address_.end()) {
    Remove(holder->second, RemovalReason::kReplaced, events);
    replaced = true;
  }
  if (!replaced && peers_.size() >= options_.max_peers) {
    ++counters_.ignored_table_full;
    return Verdict::kIgnoredTableFull;
  }
  Entry entry{.peer = {sender.id, std::string(sender.name), sender.data_address, rate,
                       heard, heard}};
  ids_by_name_[entry.peer.name] = entry.peer.id;
  ids_by_address_[entry.peer.data_address] = entry.peer.id;
  events->push_back({PeerEvent::Kind::kAdded, entry.peer});
  peers_.emplace(sender.id, std::move(entry));
  ++counters_.added;
  return replaced ? Verdict::kReplaced : Verdict::kAdded;
}

Verdict PeerTable::Refresh(const Sender& sender, absl::Time heard) {
  const auto it = peers_.find(sender.id);
  if (it != peers_.end() && it->second.peer.name == sender.name &&
      it->second.peer.data_address == sender.data_address &&
      sender.network_id == options_.network_id) {
    return RefreshEntry(it->second, Clamp(sender.rate), heard, /*proven=*/false);
  }
  if (const Verdict screened = Screen(sender); screened != Verdict::kAdded) {
    return screened;
  }
  if (it == peers_.end() && peers_.size() >= options_.max_peers) {
    ++counters_.ignored_table_full;
    return Verdict::kIgnoredTableFull;
  }
  return Verdict::kUnverified;
}

Verdict PeerTable::OnPeerRecord(const Sender& sender, absl::Time heard) {
  const auto it = peers_.find(sender.id);
  if (it == peers_.end()) {
    if (const Verdict screened = Screen(sender); screened != Verdict::kAdded) {
      return screened;
    }
    if (peers_.size() >= options_.max_peers) {
      ++counters_.ignored_table_full;
      return Verdict::kIgnoredTableFull;
    }
    return Verdict::kUnverified;
  }
  Peer& peer = it->second.peer;
  if (sender.network_id != options_.network_id || peer.name != sender.name ||
      peer.data_address != sender.data_address || heard <= peer.last_heard) {
    ++counters_.ignored_stale;
    return Verdict::kIgnoredStale;
  }
  peer.last_heard = heard;
  peer.rate = std::max(Clamp(sender.rate), options_.own_rate);
  ++counters_.refreshed;
  return Verdict::kRefreshed;
}

Verdict PeerTable::RefreshEntry(Entry& entry, absl::Duration rate, absl::Time heard,
                                bool proven) {
  entry.peer.last_heard = std::max(entry.peer.last_heard, heard);
  entry.peer.rate = rate;
  if (proven) {
    entry.peer.last_proven = std::max(entry.peer.last_proven, heard);
    ClearSuspicion(entry);
  }
  ++counters_.refreshed;
  return Verdict::kRefreshed;
}

void PeerTable::OnSignOfLife(uint64_t id, absl::Time heard) {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Peer& peer = it->second.peer;
  peer.last_heard = std::max(peer.last_heard, heard);
  peer.last_proven = std::max(peer.last_proven, heard);
  ClearSuspicion(it->second);
}

void PeerTable::Suspect(Entry& entry, absl::Time now, absl::Duration window,
                        RemovalReason why) {
  if (!entry.suspect_until) ++counters_.suspected;
  entry.suspect_until = now + window;
  entry.suspicion = why;
  entry.probe_interval =
      std::max(window / std::max(1, options_.probes_per_period), absl::Milliseconds(1));
  entry.next_probe = now;
}

void PeerTable::ClearSuspicion(Entry& entry) {
  if (!entry.suspect_until) return;
  ++counters_.suspicions_refuted;
  if (entry.suspicion == RemovalReason::kGoodbye) ++counters_.goodbyes_refuted;
  entry.suspect_until.reset();
}

bool PeerTable::OnGoodbye(uint64_t network_id, uint64_t id, std::string_view name,
                          absl::Time now) {
  if (network_id != options_.network_id) {
    ++counters_.ignored_foreign_network;
    return false;
  }
  const auto it = peers_.find(id);
  if (it == peers_.end() || it->second.peer.name != name) return false;
  Suspect(it->second, now, std::min(options_.goodbye_window, it->second.peer.rate),
          RemovalReason::kGoodbye);
  return true;
}

void PeerTable::Remove(uint64_t id, RemovalReason reason,
                       std::vector<PeerEvent>* events) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  ids_by_name_.erase(it->second.peer.name);
  ids_by_address_.erase(it->second.peer.data_address);
  switch (reason) {
    case RemovalReason::kExpired:
      ++counters_.removed_expired;
      break;
    case RemovalReason::kGoodbye:
      ++counters_.removed_goodbye;
      break;
    case RemovalReason::kReplaced:
      ++counters_.removed_replaced;
      break;
  }
  events->push_back({PeerEvent::Kind::kRemoved, std::move(it->second.peer), reason});
  peers_.erase(it);
}

absl::Time PeerTable::ExpiryOf(const Peer& peer) const {
  const absl::Duration silence =
      peer.rate * static_cast<int64_t>(options_.timeout_multiplier);
  return std::min(peer.last_heard + silence,
                  peer.last_proven + silence * std::max(1, options_.unproven_periods));
}

absl::Time PeerTable::NextDue(const Entry& entry) const {
  if (entry.suspect_until) return std::min(entry.next_probe, *entry.suspect_until);
  return ExpiryOf(entry.peer);
}

void PeerTable::Expire(absl::Time now, std::vector<PeerEvent>* events,
                       std::vector<Peer>* probes) {
  std::vector<std::pair<uint64_t, RemovalReason>> gone;
  for (auto& [id, entry] : peers_) {
    if (!entry.suspect_until && ExpiryOf(entry.peer) <= now) {
      Suspect(entry, now, entry.peer.rate, RemovalReason::kExpired);
    }
    if (!entry.suspect_until) continue;
    if (*entry.suspect_until <= now) {
      gone.emplace_back(id, entry.suspicion);
    } else if (entry.next_probe <= now) {
      probes->push_back(entry.peer);
      entry.next_probe = std::max(entry.next_probe + entry.probe_interval, now);
      if (entry.next_probe == now) entry.next_probe += entry.probe_interval;
    }
  }
  std::sort(gone.begin(), gone.end());
  for (const auto& [id, reason] : gone) Remove(id, reason, events);
}

std::optional<absl::Time> PeerTable::NextExpiry() const {
  std::optional<absl::Time> next;
  for (const auto& [id, entry] : peers_) {
    const absl::Time due = NextDue(entry);
    if (!next || due < *next) next = due;
  }
  return next;
}

bool PeerTable::Suspected(uint64_t id) const {
  const auto it = peers_.find(id);
  return it != peers_.end() && it->second.suspect_until.has_value();
}

const Peer* PeerTable::Find(uint64_t id) const {
  const auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second.peer;
}

std::vector<Peer> PeerTable::Peers() const {
  std::vector<Peer> peers;
  peers.reserve(peers_.size());
  for (const auto& [id, entry] : peers_) peers.push_back(entry.peer);
  std::sort(peers.begin(), peers.end(),
            [](const Peer& a, const Peer& b) { return a.id < b.id; });
  return peers;
}

}  // namespace glue::discovery
