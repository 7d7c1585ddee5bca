// Test support for transport/session: two sessions driven in virtual time over a
// simulated Link that loses, duplicates, delays and reorders frames from a seed, as
// the sans-IO Session is meant to be tested. Test code only.
#ifndef GLUE_TRANSPORT_SESSION_LINK_H_
#define GLUE_TRANSPORT_SESSION_LINK_H_

#include <cstring>
#include <map>
#include <random>
#include <set>
#include <variant>
#include <vector>

#include "absl/time/time.h"
#include "glue/base/status_matchers.h"
#include "glue/transport/session.h"
#include "gtest/gtest.h"

namespace glue::transport::testing {

using ::glue::testing::StatusIs;
using serialization::AckFrame;
using serialization::AckRange;
using serialization::DataFrame;

inline const absl::Time kStart = absl::FromUnixSeconds(1000);
inline const absl::Time kFarFuture = kStart + absl::Hours(1);

inline std::vector<uint8_t> Bytes(size_t n, uint8_t value = 0x5a) {
  return std::vector<uint8_t>(n, value);
}

// A payload that carries `index`, so that the receiver can tell messages apart.
inline std::vector<uint8_t> Indexed(uint32_t index) {
  std::vector<uint8_t> payload(16, 0xab);
  std::memcpy(payload.data(), &index, sizeof(index));
  return payload;
}

inline uint32_t IndexOf(const std::vector<uint8_t>& payload) {
  uint32_t index = 0;
  std::memcpy(&index, payload.data(), sizeof(index));
  return index;
}

inline std::vector<uint64_t> Sequences(const Outgoing& out) {
  std::vector<uint64_t> sequences;
  for (const DataFrame& frame : out.data) sequences.push_back(frame.sequence);
  return sequences;
}

// Reliable is a frame from a peer, as its session would send it.
inline DataFrame Reliable(uint64_t sequence, const std::vector<uint8_t>& payload,
                          bool ordered = false) {
  return DataFrame{.sequence = sequence,
                   .flags = kFlagReliable | (ordered ? kFlagOrdered : 0u),
                   .payload = payload};
}

// LinkOptions say how a simulated link mistreats each frame.
struct LinkOptions {
  double loss = 0;
  double duplicate = 0;
  double reorder = 0;  // delayed by up to max_extra_delay, so later frames overtake it
  absl::Duration delay = absl::Microseconds(500);
  absl::Duration max_extra_delay = absl::Milliseconds(3);
};

// Link carries one direction between two sessions: it copies every frame of an
// Outgoing (whose views die with the sender's next call) and hands it to the
// receiving session when its time comes, losing, duplicating and delaying frames as
// its seeded generator decides.
class Link {
 public:
  Link(LinkOptions options, uint32_t seed) : options_(options), random_(seed) {}

  void Send(const Outgoing& out, absl::Time now) {
    for (const DataFrame& frame : out.data) {
      Carry(OwnedData{frame.sequence, frame.flags,
                      std::vector<uint8_t>(frame.payload.begin(), frame.payload.end())},
            now);
    }
    if (out.ack) {
      Carry(OwnedAck{out.ack->cumulative, std::vector<AckRange>(out.ack->ranges.begin(),
                                                                out.ack->ranges.end())},
            now);
    }
  }

  // Arrive hands `to` every frame due by `now`.
  void Arrive(absl::Time now, Session& to, std::vector<Delivery>* deliveries,
              std::vector<uint64_t>* acknowledged) {
    while (!in_flight_.empty() && in_flight_.begin()->first <= now) {
      const Item item = std::move(in_flight_.begin()->second);
      in_flight_.erase(in_flight_.begin());
      if (const auto* data = std::get_if<OwnedData>(&item)) {
        to.OnData(DataFrame{data->sequence, data->flags, data->payload}, now, deliveries);
      } else {
        const auto& ack = std::get<OwnedAck>(item);
        to.OnAck(AckFrame{ack.cumulative, ack.ranges}, now, acknowledged);
      }
    }
  }

  // Sequences of best-effort frames every copy of which the link dropped.
  const std::set<uint64_t>& best_effort_dropped() const { return best_effort_dropped_; }

 private:
  struct OwnedData {
    uint64_t sequence;
    uint32_t flags;
    std::vector<uint8_t> payload;
  };
  struct OwnedAck {
    uint64_t cumulative;
    std::vector<AckRange> ranges;
  };
  using Item = std::variant<OwnedData, OwnedAck>;

  bool Chance(double p) { return std::bernoulli_distribution(p)(random_); }

  void Carry(Item item, absl::Time now) {
    const int copies = Chance(options_.duplicate) ? 2 : 1;
    int carried = 0;
    for (int i = 0; i < copies; ++i) {
      if (Chance(options_.loss)) continue;
      absl::Duration delay = options_.delay;
      if (Chance(options_.reorder)) {
        delay += options_.max_extra_delay *
                 std::uniform_real_distribution<double>(0, 1)(random_);
      }
      in_flight_.emplace(now + delay, item);
      ++carried;
    }
    const auto* data = std::get_if<OwnedData>(&item);
    if (carried == 0 && data != nullptr && !(data->flags & kFlagReliable)) {
      best_effort_dropped_.insert(data->sequence);
    }
  }

  const LinkOptions options_;
  std::mt19937 random_;
  std::multimap<absl::Time, Item> in_flight_;
  std::set<uint64_t> best_effort_dropped_;
};

// Drives two sessions A -> B over lossy links in both directions until every message
// is acknowledged; returns the payload indexes in the order B handed them up.
struct StreamResult {
  std::vector<uint32_t> delivered;
  SessionCounters sender;
  SessionCounters receiver;
  size_t sender_bytes_held = 0;
  size_t receiver_bytes_held = 0;
  absl::Duration elapsed;
};

inline StreamResult RunReliableStream(uint32_t messages, bool ordered,
                                      LinkOptions link_options, uint32_t seed) {
  SessionOptions options;
  options.window.max_frames = 256;  // flow control paces the stream
  Session a(options);
  Session b(options);
  Link a_to_b(link_options, seed);
  Link b_to_a(link_options, seed + 1);
  StreamResult result;
  std::set<uint64_t> unacknowledged;
  uint32_t queued = 0;
  absl::Time now = kStart;
  const absl::Duration step = absl::Microseconds(250);
  std::vector<Delivery> deliveries;
  std::vector<uint64_t> tokens;
  Outgoing out;
  while ((queued < messages || !unacknowledged.empty()) &&
         now < kStart + absl::Seconds(120)) {
    while (queued < messages) {
      absl::StatusOr<uint64_t> sequence =
          a.SendReliable(Indexed(queued), kFarFuture, ordered, queued);
      if (!sequence.ok()) {
        EXPECT_THAT(sequence, StatusIs(absl::StatusCode::kResourceExhausted));
        break;
      }
      unacknowledged.insert(queued++);
    }
    a.Poll(now, &out);
    a_to_b.Send(out, now);
    b.Poll(now, &out);
    b_to_a.Send(out, now);
    now += step;
    deliveries.clear();
    a_to_b.Arrive(now, b, &deliveries, &tokens);
    for (const Delivery& delivery : deliveries) {
      result.delivered.push_back(IndexOf(delivery.payload));
    }
    tokens.clear();
    b_to_a.Arrive(now, a, &deliveries, &tokens);
    for (uint64_t token : tokens) EXPECT_EQ(unacknowledged.erase(token), 1u) << token;
    a.Expire(now, &tokens);
    b.Expire(now, &tokens);
  }
  result.sender = a.counters();
  result.receiver = b.counters();
  result.sender_bytes_held = a.bytes_held();
  result.receiver_bytes_held = b.bytes_held();
  result.elapsed = now - kStart;
  return result;
}

}  // namespace glue::transport::testing

#endif  // GLUE_TRANSPORT_SESSION_LINK_H_
