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

Verdict PeerTable::OnAnnouncement(const Sender& sender, absl::Time heard,
                                  std::vector<PeerEvent>* events) {
  return Admit(sender, heard, /*from_record=*/false, events);
}

Verdict PeerTable::OnPeerRecord(const Sender& sender, absl::Time heard,
                                std::vector<PeerEvent>* events) {
  Sender paced = sender;
  paced.rate = std::max(sender.rate, options_.own_rate);
  return Admit(paced, heard, /*from_record=*/true, events);
}

Verdict PeerTable::Admit(const Sender& sender, absl::Time heard, bool from_record,
                         std::vector<PeerEvent>* events) {
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
    if (const uint64_t n = own_id_clash_log_.Admit(heard)) {
      GLUE_LOG(kWarning,
               "discovery: ignoring '%s' at %s: it uses our endpoint id %d under another "
               "name (we are '%s'); %d such announcements since the last such line",
               sender.name, network::FormatAddress(sender.data_address), sender.id,
               options_.own_name, n);
    }
    return Verdict::kIgnoredOwnIdClash;
  }
  // A live endpoint of another id owns this name (or it is ours): the newcomer is
  // ignored, whatever else it says.
  const auto owner =
      ids_by_name_.find(absl::string_view(sender.name.data(), sender.name.size()));
  const bool name_taken_by_other =
      owner != ids_by_name_.end() && owner->second != sender.id;
  if (name_taken_by_other || sender.name == options_.own_name) {
    ++counters_.ignored_name_clash;
    if (const uint64_t n = name_clash_log_.Admit(heard)) {
      const uint64_t holder = name_taken_by_other ? owner->second : options_.own_id;
      GLUE_LOG(kWarning,
               "discovery: ignoring endpoint id %d at %s: its name '%s' belongs to live "
               "endpoint id %d; %d such announcements since the last such line",
               sender.id, network::FormatAddress(sender.data_address), sender.name,
               holder, n);
    }
    return Verdict::kIgnoredNameClash;
  }

  auto it = peers_.find(sender.id);
  const bool known = it != peers_.end();
  if (known) {
    Peer& peer = it->second;
    const bool same =
        peer.name == sender.name && peer.data_address == sender.data_address;
    if (same) {
      if (heard <= peer.last_heard) {
        if (from_record) {
          ++counters_.ignored_stale;
          return Verdict::kIgnoredStale;
        }
      } else {
        peer.last_heard = heard;
      }
      peer.rate = sender.rate;
      ++counters_.refreshed;
      return Verdict::kRefreshed;
    }
    if (from_record) {
      ++counters_.ignored_stale;
      return Verdict::kIgnoredStale;
    }
    Remove(sender.id, RemovalReason::kReplaced, events);
  } else if (peers_.size() >= options_.max_peers) {
    ++counters_.ignored_table_full;
    return Verdict::kIgnoredTableFull;
  }

  Peer peer{sender.id, std::string(sender.name), sender.data_address, sender.rate, heard};
  ids_by_name_[peer.name] = peer.id;
  events->push_back({PeerEvent::Kind::kAdded, peer});
  peers_.emplace(peer.id, std::move(peer));
  ++counters_.added;
  return known ? Verdict::kReplaced : Verdict::kAdded;
}

bool PeerTable::OnGoodbye(uint64_t network_id, uint64_t id, std::string_view name,
                          std::vector<PeerEvent>* events) {
  if (network_id != options_.network_id) {
    ++counters_.ignored_foreign_network;
    return false;
  }
  const auto it = peers_.find(id);
  if (it == peers_.end() || it->second.name != name) return false;
  Remove(id, RemovalReason::kGoodbye, events);
  return true;
}

void PeerTable::Remove(uint64_t id, RemovalReason reason,
                       std::vector<PeerEvent>* events) {
  auto it = peers_.find(id);
  if (it == peers_.end()) return;
  ids_by_name_.erase(it->second.name);
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
  events->push_back({PeerEvent::Kind::kRemoved, std::move(it->second), reason});
  peers_.erase(it);
}

absl::Time PeerTable::ExpiryOf(const Peer& peer) const {
  return peer.last_heard + peer.rate * static_cast<int64_t>(options_.timeout_multiplier);
}

void PeerTable::Expire(absl::Time now, std::vector<PeerEvent>* events) {
  std::vector<uint64_t> silent;
  for (const auto& [id, peer] : peers_) {
    if (ExpiryOf(peer) <= now) silent.push_back(id);
  }
  std::sort(silent.begin(), silent.end());
  for (uint64_t id : silent) Remove(id, RemovalReason::kExpired, events);
}

std::optional<absl::Time> PeerTable::NextExpiry() const {
  std::optional<absl::Time> next;
  for (const auto& [id, peer] : peers_) {
    const absl::Time expiry = ExpiryOf(peer);
    if (!next || expiry < *next) next = expiry;
  }
  return next;
}

const Peer* PeerTable::Find(uint64_t id) const {
  const auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : &it->second;
}

std::vector<Peer> PeerTable::Peers() const {
  std::vector<Peer> peers;
  peers.reserve(peers_.size());
  for (const auto& [id, peer] : peers_) peers.push_back(peer);
  std::sort(peers.begin(), peers.end(),
            [](const Peer& a, const Peer& b) { return a.id < b.id; });
  return peers;
}

}  // namespace glue::discovery
