// What handling an announcement costs, without sockets: encoding an announcement
// datagram and decoding it (the serialization codec, as discovery uses it);
// PeerTable::OnAnnouncement for a peer already known (the steady state: every peer
// refreshes itself once a period) in tables of 1, 64 and 1024 peers, alone and with
// the NextExpiry that Discovery computes after every announcement; the whole of it
// (decode, refresh, NextExpiry); and the expiry sweep. One thread, in memory, a clock
// of its own, so nothing waits.
//
//   build-release/bench/discovery_bench
#include <boost/asio/ip/address_v4.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "benchmark/benchmark.h"
#include "glue/discovery/peer_table.h"
#include "glue/network/address.h"
#include "glue/serialization/codec.h"

namespace glue::discovery {
namespace {

using serialization::Announcement;
using serialization::DatagramDecoder;
using serialization::DatagramEncoder;
using serialization::DecodedDatagram;
using serialization::PeerRecord;

// Discovery's default datagram budget (Discovery::Options::datagram_budget).
constexpr size_t kBudget = 1472;
constexpr uint64_t kNetworkId = 1;
constexpr uint64_t kOwnId = 1;
constexpr absl::Duration kRate = absl::Seconds(1);
constexpr uint32_t kTimeoutMultiplier = 2;

// Id is peer `i`'s endpoint id (never our own).
uint64_t Id(int64_t i) { return 0x1000 + static_cast<uint64_t>(i); }

// Name is what discovery names an endpoint whose name is not configured: its id in 16
// hex digits, one more than std::string keeps without allocating.
std::string Name(uint64_t id) { return absl::StrFormat("%016x", id); }

network::Address DataAddress(int64_t i) {
  return network::Address(boost::asio::ip::make_address_v4("127.0.0.1"),
                          static_cast<uint16_t>(20000 + i));
}

PeerTable::Options TableOptions() {
  return {.network_id = kNetworkId,
          .own_id = kOwnId,
          .own_name = Name(kOwnId),
          .timeout_multiplier = kTimeoutMultiplier,
          .own_rate = kRate};
}

// Peers is `count` other endpoints: their names, and what their announcements say.
struct Peers {
  explicit Peers(int64_t count) {
    names.reserve(static_cast<size_t>(count));
    for (int64_t i = 0; i < count; ++i) names.push_back(Name(Id(i)));
    for (int64_t i = 0; i < count; ++i) {
      senders.push_back({.network_id = kNetworkId,
                         .id = Id(i),
                         .name = names[static_cast<size_t>(i)],
                         .data_address = DataAddress(i),
                         .rate = kRate});
    }
  }

  std::vector<std::string> names;  // what the senders' views point at
  std::vector<Sender> senders;
};

// Fill adds every peer to `table`, peer i heard at `start` + i ms.
bool Fill(PeerTable& table, const Peers& peers, absl::Time start) {
  std::vector<PeerEvent> events;
  for (size_t i = 0; i < peers.senders.size(); ++i) {
    const absl::Time heard = start + absl::Milliseconds(static_cast<int64_t>(i));
    if (table.OnAnnouncement(peers.senders[i], heard, &events) != Verdict::kAdded) {
      return false;
    }
  }
  return true;
}

// Announcement datagrams: endpoint i's own announcement, or, with `known_peers`, a
// rendezvous's answer listing that many others.
struct Datagrams {
  Datagrams(int64_t count, int64_t known_peers) : peers(count + known_peers) {
    DatagramEncoder encoder = *DatagramEncoder::Create(kBudget);
    std::vector<PeerRecord> records;
    for (int64_t k = 0; k < known_peers; ++k) {
      const Sender& other = peers.senders[static_cast<size_t>(count + k)];
      records.push_back({.endpoint_id = other.id,
                         .endpoint_name = other.name,
                         .data_address = other.data_address,
                         .rate_milliseconds = 1000,
                         .age_milliseconds = 250});
    }
    for (int64_t i = 0; i < count; ++i) {
      const Sender& sender = peers.senders[static_cast<size_t>(i)];
      const serialization::Header header{.network_id = kNetworkId,
                                         .endpoint_id = sender.id,
                                         .endpoint_name = sender.name};
      const Announcement announcement{.data_address = sender.data_address,
                                      .rate_milliseconds = 1000,
                                      .known_peers = records};
      absl::StatusOr<absl::Span<const uint8_t>> bytes =
          encoder.EncodeAnnouncement(header, announcement);
      if (!bytes.ok()) {
        status = bytes.status();
        return;
      }
      datagrams.emplace_back(bytes->begin(), bytes->end());
    }
  }

  Peers peers;
  absl::Status status;
  std::vector<std::vector<uint8_t>> datagrams;
};

// Encoding one announcement, listing state.range(0) known peers (0: an endpoint's own
// announcement; more: a rendezvous's answer), with one encoder kept for every call.
void BM_EncodeAnnouncement(benchmark::State& state) {
  const Datagrams made(1, state.range(0));
  if (!made.status.ok()) {
    state.SkipWithError(made.status.ToString().c_str());
    return;
  }
  DecodedDatagram decoded;
  if (!DatagramDecoder().Decode(made.datagrams[0], &decoded).ok()) {
    state.SkipWithError("the announcement does not decode");
    return;
  }
  DatagramEncoder encoder = *DatagramEncoder::Create(kBudget);
  for (auto _ : state) {
    absl::StatusOr<absl::Span<const uint8_t>> bytes =
        encoder.EncodeAnnouncement(decoded.header, decoded.announcement);
    benchmark::DoNotOptimize(bytes);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["bytes"] = static_cast<double>(made.datagrams[0].size());
}

// The same as Discovery sends its announcements: a new encoder (and its buffer of
// kBudget bytes) for each, and the datagram copied out of it.
void BM_EncodeAnnouncementNewEncoder(benchmark::State& state) {
  const Datagrams made(1, state.range(0));
  DecodedDatagram decoded;
  if (!made.status.ok() || !DatagramDecoder().Decode(made.datagrams[0], &decoded).ok()) {
    state.SkipWithError("the announcement does not encode or decode");
    return;
  }
  for (auto _ : state) {
    absl::StatusOr<DatagramEncoder> encoder = DatagramEncoder::Create(kBudget);
    absl::StatusOr<absl::Span<const uint8_t>> bytes =
        encoder->EncodeAnnouncement(decoded.header, decoded.announcement);
    std::vector<uint8_t> copy(bytes->begin(), bytes->end());
    benchmark::DoNotOptimize(copy.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// Decoding and validating one announcement (checksum, header, fields, known peers)
// into a DecodedDatagram reused for every call, as Discovery does.
void BM_DecodeAnnouncement(benchmark::State& state) {
  const Datagrams made(1, state.range(0));
  if (!made.status.ok()) {
    state.SkipWithError(made.status.ToString().c_str());
    return;
  }
  const DatagramDecoder decoder;
  DecodedDatagram decoded;
  for (auto _ : state) {
    const absl::Status status = decoder.Decode(made.datagrams[0], &decoded);
    if (!status.ok() || decoded.kind != DecodedDatagram::Kind::kAnnouncement) {
      state.SkipWithError("the announcement does not decode");
      return;
    }
    benchmark::DoNotOptimize(decoded.announcement.known_peers.data());
  }
  state.SetItemsProcessed(state.iterations());
}

// OnAnnouncement for peers already known, in a table of state.range(0) peers, each
// in turn as a period of announcements brings them; every verdict is kRefreshed. With
// `next_expiry`, each is followed by NextExpiry, as Discovery does after every
// announcement to arm its expiry timer.
void RefreshPeers(benchmark::State& state, bool next_expiry) {
  const Peers peers(state.range(0));
  PeerTable table(TableOptions());
  absl::Time now = absl::UnixEpoch();
  if (!Fill(table, peers, now)) {
    state.SkipWithError("a peer was not added");
    return;
  }
  std::vector<PeerEvent> events;
  size_t next = 0;
  for (auto _ : state) {
    now += absl::Microseconds(1);
    const Verdict verdict = table.OnAnnouncement(peers.senders[next], now, &events);
    if (verdict != Verdict::kRefreshed) {
      state.SkipWithError("an announcement did not refresh its peer");
      return;
    }
    if (next_expiry) {
      std::optional<absl::Time> expiry = table.NextExpiry();
      benchmark::DoNotOptimize(expiry);
    }
    if (++next == peers.senders.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_OnAnnouncementRefresh(benchmark::State& state) { RefreshPeers(state, false); }
void BM_OnAnnouncementAndNextExpiry(benchmark::State& state) {
  RefreshPeers(state, true);
}

// What Discovery does with an announcement datagram from a known peer, less the
// socket, the lock and the timer: decode it, refresh the peer, find the next expiry.
// A table of state.range(0) peers, whose datagrams arrive in turn.
void BM_HandleAnnouncement(benchmark::State& state) {
  const Datagrams made(state.range(0), 0);
  if (!made.status.ok()) {
    state.SkipWithError(made.status.ToString().c_str());
    return;
  }
  PeerTable table(TableOptions());
  absl::Time now = absl::UnixEpoch();
  if (!Fill(table, made.peers, now)) {
    state.SkipWithError("a peer was not added");
    return;
  }
  const DatagramDecoder decoder;
  DecodedDatagram decoded;
  std::vector<PeerEvent> events;
  size_t next = 0;
  for (auto _ : state) {
    now += absl::Microseconds(1);
    if (!decoder.Decode(made.datagrams[next], &decoded).ok()) {
      state.SkipWithError("an announcement does not decode");
      return;
    }
    const Sender sender{decoded.header.network_id, decoded.header.endpoint_id,
                        decoded.header.endpoint_name, decoded.announcement.data_address,
                        absl::Milliseconds(decoded.announcement.rate_milliseconds)};
    if (table.OnAnnouncement(sender, now, &events) != Verdict::kRefreshed) {
      state.SkipWithError("an announcement did not refresh its peer");
      return;
    }
    std::optional<absl::Time> expiry = table.NextExpiry();
    benchmark::DoNotOptimize(expiry);
    if (++next == made.datagrams.size()) next = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

// An expiry sweep as Discovery's timer runs it, in a table of state.range(0) peers
// heard 1 ms apart: Expire when the oldest falls silent, which suspects it and asks
// for a probe, and NextExpiry to arm the timer again. The peer then answers (a sign
// of life), so that every sweep finds the table as the last one did; that is timed too.
void BM_ExpireOne(benchmark::State& state) {
  const Peers peers(state.range(0));
  PeerTable table(TableOptions());
  const absl::Time start = absl::UnixEpoch();
  if (!Fill(table, peers, start)) {
    state.SkipWithError("a peer was not added");
    return;
  }
  const absl::Duration timeout = kRate * kTimeoutMultiplier;
  const absl::Duration step = absl::Milliseconds(1);
  std::vector<PeerEvent> events;
  std::vector<Peer> probes;
  size_t oldest = 0;
  // The oldest peer, heard at `heard`, falls silent at heard + timeout.
  absl::Time heard = start;
  for (auto _ : state) {
    const absl::Time now = heard + timeout;
    probes.clear();
    table.Expire(now, &events, &probes);
    std::optional<absl::Time> expiry = table.NextExpiry();
    benchmark::DoNotOptimize(expiry);
    if (probes.size() != 1 || !events.empty()) {
      state.SkipWithError("a sweep did not suspect exactly the oldest peer");
      return;
    }
    // The peer answers: heard one step after the previous newest.
    table.OnSignOfLife(probes[0].id,
                       now - timeout + step * static_cast<int64_t>(peers.senders.size()));
    heard += step;
    if (++oldest == peers.senders.size()) oldest = 0;
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_EncodeAnnouncement)->ArgName("known_peers")->Arg(0)->Arg(30);
BENCHMARK(BM_EncodeAnnouncementNewEncoder)->ArgName("known_peers")->Arg(0)->Arg(30);
BENCHMARK(BM_DecodeAnnouncement)->ArgName("known_peers")->Arg(0)->Arg(30);
BENCHMARK(BM_OnAnnouncementRefresh)->ArgName("peers")->Arg(1)->Arg(64)->Arg(1024);
BENCHMARK(BM_OnAnnouncementAndNextExpiry)->ArgName("peers")->Arg(1)->Arg(64)->Arg(1024);
BENCHMARK(BM_HandleAnnouncement)->ArgName("peers")->Arg(1)->Arg(64)->Arg(1024);
BENCHMARK(BM_ExpireOne)->ArgName("peers")->Arg(1)->Arg(64)->Arg(1024);

}  // namespace
}  // namespace glue::discovery

BENCHMARK_MAIN();
