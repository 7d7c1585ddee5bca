#include "glue/transport/session.h"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <iterator>
#include <map>
#include <random>
#include <set>
#include <string>
#include <variant>

#include "glue/base/status_matchers.h"

namespace glue::transport {
namespace {

using ::glue::testing::StatusIs;
using serialization::AckFrame;
using serialization::AckRange;
using serialization::DataFrame;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1000);
const absl::Time kFarFuture = kStart + absl::Hours(1);

std::vector<uint8_t> Bytes(size_t n, uint8_t value = 0x5a) {
  return std::vector<uint8_t>(n, value);
}

// A payload that carries `index`, so that the receiver can tell messages apart.
std::vector<uint8_t> Indexed(uint32_t index) {
  std::vector<uint8_t> payload(16, 0xab);
  std::memcpy(payload.data(), &index, sizeof(index));
  return payload;
}

uint32_t IndexOf(const std::vector<uint8_t>& payload) {
  uint32_t index = 0;
  std::memcpy(&index, payload.data(), sizeof(index));
  return index;
}

std::vector<uint64_t> Sequences(const Outgoing& out) {
  std::vector<uint64_t> sequences;
  for (const DataFrame& frame : out.data) sequences.push_back(frame.sequence);
  return sequences;
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

TEST(Session, ValidateNamesTheOffendingField) {
  struct Case {
    std::string name;
    void (*change)(SessionOptions&);
  };
  const Case cases[] = {
      {"max_bytes", [](SessionOptions& o) { o.window.max_bytes = 0; }},
      {"min_rto", [](SessionOptions& o) { o.rtt.min_rto = absl::ZeroDuration(); }},
      {"window", [](SessionOptions& o) { o.receive.window = 0; }},
      {"ack_delay", [](SessionOptions& o) { o.ack_delay = -absl::Milliseconds(1); }},
      {"ack_delay", [](SessionOptions& o) { o.ack_delay = absl::InfiniteDuration(); }},
      {"max_ack_ranges", [](SessionOptions& o) { o.max_ack_ranges = 0; }},
      {"ack_every_frames", [](SessionOptions& o) { o.ack_every_frames = 0; }},
      {"max_ack_ranges", [](SessionOptions& o) { o.max_ack_ranges = kMaxAckRanges + 1; }},
      {"max_best_effort_queue", [](SessionOptions& o) { o.max_best_effort_queue = 0; }},
  };
  EXPECT_OK(Session::Validate(SessionOptions{}));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SessionOptions options;
    c.change(options);
    EXPECT_THAT(Session::Validate(options), StatusIs(absl::StatusCode::kInvalidArgument,
                                                     ::testing::HasSubstr(c.name)));
  }
}

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

StreamResult RunReliableStream(uint32_t messages, bool ordered, LinkOptions link_options,
                               uint32_t seed) {
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

TEST(Session, ReliableMessagesArriveExactlyOnceOverALossyLink) {
  struct Case {
    bool ordered;
    uint32_t seed;
  };
  const Case cases[] = {{true, 20261124}, {false, 4242}};
  const LinkOptions link{.loss = 0.2, .duplicate = 0.05, .reorder = 0.1};
  constexpr uint32_t kMessages = 10000;
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::Message() << "ordered " << c.ordered << ", seed " << c.seed);
    std::cout << "seed " << c.seed << " (ordered " << c.ordered << ")\n";
    const StreamResult result = RunReliableStream(kMessages, c.ordered, link, c.seed);
    ASSERT_EQ(result.delivered.size(), kMessages);
    if (c.ordered) {
      for (uint32_t i = 0; i < kMessages; ++i) ASSERT_EQ(result.delivered[i], i);
    } else {
      std::vector<uint32_t> sorted = result.delivered;
      std::sort(sorted.begin(), sorted.end());
      for (uint32_t i = 0; i < kMessages; ++i) ASSERT_EQ(sorted[i], i);
    }
    EXPECT_EQ(result.sender.acked, kMessages);
    EXPECT_EQ(result.sender.expired, 0u);
    EXPECT_EQ(result.sender.unknown_acks, 0u);
    EXPECT_GT(result.sender.data_resent, 0u);
    EXPECT_GT(result.receiver.duplicates, 0u);
    EXPECT_EQ(result.receiver.delivered, kMessages);
    EXPECT_EQ(result.sender_bytes_held, 0u);
    EXPECT_EQ(result.receiver_bytes_held, 0u);
    std::cout << "  simulated " << result.elapsed << ", resent "
              << result.sender.data_resent << ", acks " << result.receiver.acks_sent
              << ", srtt " << result.sender.smoothed_rtt << "\n";
  }
}

TEST(Session, BestEffortIsNeverDeliveredTwiceAndItsLossesAreCounted) {
  const uint32_t seed = 777;
  std::cout << "seed " << seed << "\n";
  Session a;
  Session b;
  Link link({.loss = 0.2, .duplicate = 0.1, .reorder = 0.1}, seed);
  constexpr uint32_t kMessages = 5000;
  std::vector<Delivery> deliveries;
  std::vector<uint64_t> acknowledged;
  Outgoing out;
  absl::Time now = kStart;
  for (uint32_t i = 0; i < kMessages; ++i) {
    a.SendBestEffort(Indexed(i));
    if (i % 10 == 9) {
      a.Poll(now, &out);
      EXPECT_FALSE(out.ack.has_value());
      link.Send(out, now);
    }
    now += absl::Microseconds(100);
    link.Arrive(now, b, &deliveries, &acknowledged);
  }
  link.Arrive(now + absl::Seconds(1), b, &deliveries, &acknowledged);
  EXPECT_THAT(acknowledged, IsEmpty());

  std::set<uint64_t> sequences;
  uint64_t highest = 0;
  for (const Delivery& delivery : deliveries) {
    EXPECT_EQ(delivery.flags, 0u);
    EXPECT_TRUE(sequences.insert(delivery.sequence).second) << delivery.sequence;
    EXPECT_EQ(IndexOf(delivery.payload) + 1, delivery.sequence);
    highest = std::max(highest, delivery.sequence);
  }
  // The receiver can know only of losses below the highest sequence that arrived.
  const auto& dropped = link.best_effort_dropped();
  const uint64_t knowable =
      static_cast<uint64_t>(std::distance(dropped.begin(), dropped.lower_bound(highest)));
  EXPECT_GT(knowable, 0u);
  EXPECT_EQ(b.counters().best_effort_lost, knowable);
  EXPECT_EQ(b.counters().best_effort_lost, highest - sequences.size());
  EXPECT_GT(b.counters().duplicates, 0u);
  EXPECT_EQ(b.counters().delivered, sequences.size());
  EXPECT_EQ(a.counters().data_sent, kMessages);
  EXPECT_EQ(a.counters().data_resent, 0u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, BestEffortQueueDropsItsOldestFrameWhenFull) {
  SessionOptions options;
  options.max_best_effort_queue = 2;
  Session session(options);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  for (uint8_t i = 1; i <= 3; ++i) session.SendBestEffort(Bytes(4, i));
  EXPECT_EQ(session.bytes_held(), 8u);
  EXPECT_EQ(session.NextDeadline(), absl::InfinitePast());
  Outgoing out;
  session.Poll(kStart, &out);
  ASSERT_EQ(out.data.size(), 2u);
  EXPECT_EQ(out.data[0], (DataFrame{.sequence = 1, .flags = 0, .payload = Bytes(4, 2)}));
  EXPECT_EQ(out.data[1], (DataFrame{.sequence = 2, .flags = 0, .payload = Bytes(4, 3)}));
  EXPECT_EQ(session.counters().best_effort_queued, 3u);
  EXPECT_EQ(session.counters().best_effort_dropped_queue, 1u);
  EXPECT_EQ(session.bytes_held(), 0u);
}

// Frames from a peer, as its session would send them.
DataFrame Reliable(uint64_t sequence, const std::vector<uint8_t>& payload,
                   bool ordered = false) {
  return DataFrame{.sequence = sequence,
                   .flags = kFlagReliable | (ordered ? kFlagOrdered : 0u),
                   .payload = payload};
}

TEST(Session, AckRidesOnDataWhenThereIsSome) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 1u);
  ASSERT_OK(b.SendReliable(Bytes(4), kFarFuture, false, 7));
  Outgoing out;
  b.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  ASSERT_TRUE(out.ack.has_value());
  EXPECT_EQ(out.ack->cumulative, 1u);
  EXPECT_THAT(out.ack->ranges, IsEmpty());
  // Nothing is left for an ack-only Poll.
  b.Poll(kStart + absl::Milliseconds(2), &out);
  EXPECT_THAT(out.data, IsEmpty());
  EXPECT_FALSE(out.ack.has_value());
  EXPECT_EQ(b.counters().acks_sent, 1u);
}

TEST(Session, AckWithoutDataWaitsForTheAckDelay) {
  SessionOptions options;
  options.ack_delay = absl::Milliseconds(2);
  Session b(options);
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  b.OnData(Reliable(2, payload), kStart + absl::Milliseconds(1), &deliveries);
  EXPECT_EQ(b.NextDeadline(), kStart + absl::Milliseconds(2));
  Outgoing out;
  b.Poll(kStart + absl::Microseconds(1999), &out);
  EXPECT_FALSE(out.ack.has_value());
  b.Poll(kStart + absl::Milliseconds(2), &out);
  EXPECT_THAT(out.data, IsEmpty());
  ASSERT_TRUE(out.ack.has_value());
  EXPECT_EQ(out.ack->cumulative, 2u);
  EXPECT_EQ(b.NextDeadline(), std::nullopt);
}

TEST(Session, AnAckGoesAtOnceEveryAckEveryFramesFrames) {
  SessionOptions options;
  options.ack_every_frames = 3;
  Session b(options);
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  Outgoing out;
  for (uint64_t sequence = 1; sequence <= 6; ++sequence) {
    b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    const bool third = sequence % 3 == 0;
    EXPECT_EQ(b.NextDeadline(), third ? absl::InfinitePast() : kStart + options.ack_delay)
        << sequence;
    b.Poll(kStart, &out);
    EXPECT_EQ(out.ack.has_value(), third) << sequence;
  }
  EXPECT_EQ(out.ack->cumulative, 6u);
  EXPECT_EQ(b.counters().acks_sent, 2u);
}

TEST(Session, DuplicateOrOutOfOrderFrameIsAcknowledgedAtOnce) {
  struct Case {
    std::string name;
    std::vector<uint64_t> arrivals;
    uint64_t cumulative;
    std::vector<AckRange> ranges;
  };
  const Case cases[] = {
      {"duplicate", {1, 1}, 1, {}},
      {"out of order", {1, 3}, 1, {{3, 3}}},
      {"two gaps", {2, 4, 6}, 0, {{6, 6}, {4, 4}, {2, 2}}},
  };
  const std::vector<uint8_t> payload = Bytes(8);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Session b;
    std::vector<Delivery> deliveries;
    Outgoing out;
    for (uint64_t sequence : c.arrivals) {
      b.Poll(kStart, &out);  // clears what is owed
      b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    }
    EXPECT_EQ(b.NextDeadline(), absl::InfinitePast());
    b.Poll(kStart, &out);
    ASSERT_TRUE(out.ack.has_value());
    EXPECT_EQ(out.ack->cumulative, c.cumulative);
    EXPECT_EQ(std::vector<AckRange>(out.ack->ranges.begin(), out.ack->ranges.end()),
              c.ranges);
  }
}

TEST(Session, FramesInOrderAboveAnOldGapWaitForTheAckDelay) {
  // 1 is lost; 2 opens the gap and 5 fills nothing but jumps: both are acknowledged
  // at once. 3 and 4 follow the highest in order: every datagram behind a loss would
  // otherwise draw an ack of its own. 1, when it comes, fills the gap: at once.
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  Outgoing out;
  for (const auto& [sequence, at_once] : std::vector<std::pair<uint64_t, bool>>{
           {2, true}, {3, false}, {4, false}, {6, true}, {5, true}, {1, true}}) {
    b.Poll(kStart, &out);  // clears what is owed
    b.OnData(Reliable(sequence, payload), kStart, &deliveries);
    EXPECT_EQ(b.NextDeadline(),
              at_once ? absl::InfinitePast() : kStart + SessionOptions().ack_delay)
        << sequence;
  }
}

// Acknowledges `ranges` (and nothing cumulatively) at `session`.
std::vector<uint64_t> Ack(Session& session, uint64_t cumulative,
                          std::vector<AckRange> ranges, absl::Time now) {
  std::vector<uint64_t> acknowledged;
  session.OnAck(AckFrame{.cumulative = cumulative, .ranges = ranges}, now, &acknowledged);
  return acknowledged;
}

TEST(Session, FastRetransmitResendsALostFrameBeforeItsTimeout) {
  Session a;
  for (uint64_t token = 1; token <= 5; ++token) {
    ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, token));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1, 2, 3, 4, 5));
  const absl::Duration rto = a.counters().rto;
  // Frame 1 lost; 2..5 acknowledged.
  const absl::Time acked_at = kStart + absl::Milliseconds(1);
  EXPECT_THAT(Ack(a, 0, {{2, 5}}, acked_at), UnorderedElementsAre(2, 3, 4, 5));
  a.Poll(acked_at, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_LT(acked_at, kStart + rto);
  EXPECT_EQ(a.counters().data_resent, 1u);
  EXPECT_EQ(a.counters().fast_retransmits, 1u);
  EXPECT_EQ(a.counters().timeouts, 0u);
  // A fast retransmit is no timeout: the RTO stands on the sample alone.
  RttEstimator expected;
  expected.OnSample(absl::Milliseconds(1));
  EXPECT_EQ(a.counters().rto, expected.rto());
}

TEST(Session, TimeoutResendBacksOffAndAnRttSampleResetsIt) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 1));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  const absl::Duration initial = a.counters().rto;
  EXPECT_EQ(a.NextDeadline(), kStart + initial);
  a.Poll(kStart + initial - absl::Microseconds(1), &out);
  EXPECT_THAT(out.data, IsEmpty());
  // The first timeout resends without backing off: one loss says little.
  a.Poll(kStart + initial, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_EQ(a.counters().rto, initial);
  EXPECT_EQ(a.counters().data_resent, 1u);
  EXPECT_EQ(a.counters().timeouts, 1u);
  EXPECT_EQ(a.counters().fast_retransmits, 0u);
  // The resend timing out too does: twice the timeout until the next one.
  const absl::Time second = kStart + 2 * initial;
  a.Poll(second, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1));
  EXPECT_EQ(a.counters().rto, 2 * initial);
  EXPECT_EQ(a.NextDeadline(), second + 2 * initial);
  EXPECT_EQ(a.counters().data_resent, 2u);

  // Frame 2 is sent once, so its acknowledgement is a sample (Karn), which resets the
  // backoff.
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 2));
  const absl::Time sent_at = second + absl::Milliseconds(1);
  a.Poll(sent_at, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(2));
  EXPECT_THAT(Ack(a, 2, {}, sent_at + absl::Milliseconds(2)), UnorderedElementsAre(1, 2));
  RttEstimator expected;
  expected.OnSample(absl::Milliseconds(2));
  EXPECT_EQ(a.counters().rto, expected.rto());
  EXPECT_EQ(a.counters().smoothed_rtt, absl::Milliseconds(2));
}

TEST(Session, AFrameNeverAcknowledgedExpiresAndIsNeverResent) {
  Session a;
  const absl::Time expiry = kStart + absl::Seconds(1);
  ASSERT_OK(a.SendReliable(Bytes(100), expiry, true, 41));
  ASSERT_OK(a.SendReliable(Bytes(50), kFarFuture, true, 42));
  Outgoing out;
  std::vector<uint64_t> expired;
  // The peer is silent: resends with backoff until the expiry.
  uint64_t transmissions_of_1 = 0;
  for (absl::Time now = kStart; now < expiry; now += absl::Milliseconds(1)) {
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) transmissions_of_1 += frame.sequence == 1;
    a.Expire(now, &expired);
  }
  EXPECT_GT(transmissions_of_1, 1u);
  EXPECT_THAT(expired, IsEmpty());
  EXPECT_EQ(a.bytes_held(), 150u);
  a.Expire(expiry, &expired);
  EXPECT_THAT(expired, ElementsAre(41));
  EXPECT_EQ(a.counters().expired, 1u);
  EXPECT_EQ(a.bytes_held(), 50u);
  for (absl::Time now = expiry; now < expiry + absl::Seconds(10);
       now += absl::Milliseconds(10)) {
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) {
      if (frame.flags == kFlagSkip) {
        EXPECT_EQ(frame.sequence, 1u);  // the peer may give up 1
      } else {
        EXPECT_EQ(frame.sequence, 2u);
      }
    }
  }
  EXPECT_THAT(Ack(a, 2, {}, expiry + absl::Seconds(10)), ElementsAre(42));
  EXPECT_EQ(a.counters().unknown_acks, 0u);
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
}

TEST(Session, SendAtTheBoundIsRefusedUntilAcknowledged) {
  SessionOptions options;
  options.window.max_bytes = 100;
  Session a(options);
  ASSERT_OK(a.SendReliable(Bytes(60), kFarFuture, false, 1));
  ASSERT_OK(a.SendReliable(Bytes(40), kFarFuture, false, 2));
  EXPECT_THAT(a.SendReliable(Bytes(1), kFarFuture, false, 3),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(a.SendReliable(Bytes(101), kFarFuture, false, 4),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(a.bytes_held(), 100u);
  EXPECT_EQ(a.counters().reliable_queued, 2u);
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Sequences(out), ElementsAre(1, 2));
  EXPECT_THAT(Ack(a, 1, {}, kStart + absl::Milliseconds(1)), ElementsAre(1));
  EXPECT_EQ(a.bytes_held(), 40u);
  ASSERT_OK_AND_ASSIGN(const uint64_t sequence,
                       a.SendReliable(Bytes(60), kFarFuture, false, 5));
  EXPECT_EQ(sequence, 3u);
}

TEST(Session, AcksOfUnknownSequencesAreCountedAndIgnored) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 1));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(Ack(a, 0, {{5, 6}}, kStart), IsEmpty());
  EXPECT_EQ(a.counters().unknown_acks, 2u);
  EXPECT_EQ(a.bytes_held(), 8u);
}

TEST(Session, OrderedFramesWaitForTheGapAndUnorderedOnesDoNot) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  b.OnData(Reliable(3, payload, true), kStart, &deliveries);
  b.OnData(Reliable(4, payload, false), kStart, &deliveries);
  b.OnData(Reliable(5, payload, true), kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0].sequence, 4u);
  EXPECT_EQ(b.bytes_held(), 16u);
  b.OnData(Reliable(1, payload, true), kStart, &deliveries);
  b.OnData(Reliable(2, payload, false), kStart, &deliveries);
  std::vector<uint64_t> order;
  for (const Delivery& delivery : deliveries) order.push_back(delivery.sequence);
  EXPECT_THAT(order, ElementsAre(4, 1, 2, 3, 5));
  EXPECT_EQ(deliveries[3].flags, kFlagReliable | kFlagOrdered);
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, AnExpiredFrameIsSkippedAndTheOrderedFramesBehindItGoUp) {
  Session a;
  Session b;
  const absl::Time expiry = kStart + absl::Milliseconds(50);
  for (uint64_t token = 1; token <= 3; ++token) {
    ASSERT_OK(a.SendReliable(Indexed(token), token == 1 ? expiry : kFarFuture,
                             /*ordered=*/true, token));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_THAT(Sequences(out), ElementsAre(1, 2, 3));
  // Frame 1 is lost every time; 2 and 3 arrive and wait for it.
  std::vector<Delivery> deliveries;
  b.OnData(out.data[1], kStart, &deliveries);
  b.OnData(out.data[2], kStart, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  Outgoing back;
  b.Poll(kStart, &back);
  ASSERT_TRUE(back.ack.has_value());
  std::vector<uint64_t> acknowledged;
  a.OnAck(*back.ack, kStart, &acknowledged);
  EXPECT_THAT(acknowledged, ElementsAre(2, 3));

  std::vector<uint64_t> expired;
  a.Expire(expiry, &expired);
  EXPECT_THAT(expired, ElementsAre(1));
  EXPECT_EQ(a.NextDeadline(), absl::InfinitePast());
  a.Poll(expiry, &out);
  ASSERT_EQ(out.data.size(), 1u);
  EXPECT_EQ(out.data[0].flags, kFlagSkip);
  EXPECT_EQ(out.data[0].sequence, 3u);
  EXPECT_TRUE(out.data[0].payload.empty());
  // Lost too: resent after the timeout, not before.
  a.Poll(expiry + a.counters().rto / 2, &out);
  EXPECT_THAT(out.data, IsEmpty());
  const absl::Time resend = expiry + a.counters().rto;
  EXPECT_EQ(a.NextDeadline(), resend);
  a.Poll(resend, &out);
  ASSERT_EQ(out.data.size(), 1u);
  EXPECT_EQ(a.counters().skips_sent, 2u);

  b.OnData(out.data[0], resend, &deliveries);
  std::vector<uint32_t> indices;
  for (const Delivery& delivery : deliveries)
    indices.push_back(IndexOf(delivery.payload));
  EXPECT_THAT(indices, ElementsAre(2, 3));
  EXPECT_EQ(b.counters().skipped, 1u);
  EXPECT_EQ(b.bytes_held(), 0u);
  // Frame 1 turning up late is not handed up after the skip.
  b.OnData(Reliable(1, Indexed(1), true), resend, &deliveries);
  EXPECT_EQ(deliveries.size(), 2u);
  // The acknowledgement of the skip ends the resends.
  b.Poll(resend + absl::Seconds(1), &back);
  ASSERT_TRUE(back.ack.has_value());
  EXPECT_EQ(back.ack->cumulative, 3u);
  a.OnAck(*back.ack, resend + absl::Seconds(1), &acknowledged);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
}

TEST(Session, SendsFromTheCallersBufferAndCarriesMetaToTheOtherSide) {
  Session a;
  Session b;
  const auto buffer = std::make_shared<const std::vector<uint8_t>>(Indexed(7));
  const absl::Span<const uint8_t> whole = *buffer;
  Payload first = Payload::View(buffer, whole.subspan(0, 8));
  first.meta = {1, 2, 3};
  Payload second = Payload::View(buffer, whole.subspan(8));
  ASSERT_OK(a.SendReliable(std::move(second), kFarFuture, /*ordered=*/true, 2));
  ASSERT_OK(a.SendReliable(std::move(first), kFarFuture, /*ordered=*/true, 1));
  EXPECT_EQ(a.bytes_held(), whole.size() + 3);
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_EQ(out.data.size(), 2u);
  // No copy: the frames point into the caller's buffer, which the session keeps.
  EXPECT_EQ(out.data[0].payload.data(), whole.data() + 8);
  EXPECT_EQ(out.data[1].payload.data(), whole.data());
  EXPECT_THAT(out.data[1].meta, ElementsAre(1, 2, 3));
  EXPECT_EQ(buffer.use_count(), 3);
  // Sequence 2 arrives first and waits, meta and all.
  std::vector<Delivery> deliveries;
  b.OnData(out.data[1], kStart, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.bytes_held(), 8u + 3u);
  b.OnData(out.data[0], kStart, &deliveries);
  ASSERT_EQ(deliveries.size(), 2u);
  EXPECT_THAT(deliveries[0].meta, IsEmpty());
  EXPECT_THAT(deliveries[1].meta, ElementsAre(1, 2, 3));
  EXPECT_EQ(deliveries[1].payload,
            std::vector<uint8_t>(whole.begin(), whole.begin() + 8));
  std::vector<uint64_t> acknowledged;
  a.OnAck(AckFrame{.cumulative = 2}, kStart, &acknowledged);
  EXPECT_EQ(buffer.use_count(), 1);  // released with the frames
}

TEST(Session, FramesWithInvalidFlagsAreCountedAndDropped) {
  Session b;
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  const uint32_t invalid[] = {kFlagOrdered, 8, kFlagReliable | 16,
                              kFlagSkip | kFlagReliable};
  for (uint32_t flags : invalid) {
    b.OnData(DataFrame{.sequence = 1, .flags = flags, .payload = payload}, kStart,
             &deliveries);
  }
  // A skip frame carries no payload, and no meta.
  b.OnData(DataFrame{.sequence = 1, .flags = kFlagSkip, .payload = payload}, kStart,
           &deliveries);
  b.OnData(DataFrame{.sequence = 1, .flags = kFlagSkip, .meta = payload}, kStart,
           &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.counters().invalid_frames, 6u);
  EXPECT_EQ(b.NextDeadline(), std::nullopt);
  b.OnData(Reliable(1, payload), kStart, &deliveries);
  EXPECT_EQ(deliveries.size(), 1u);
}

TEST(Session, ReorderBufferBoundDropsUnacknowledgedAndTheResendFillsIn) {
  SessionOptions options;
  options.max_reorder_bytes = 20;
  Session a(options);
  Session b(options);
  for (uint32_t i = 0; i < 4; ++i) {
    ASSERT_OK(a.SendReliable(Bytes(10, static_cast<uint8_t>(i)), kFarFuture, true, i));
  }
  Outgoing out;
  a.Poll(kStart, &out);
  ASSERT_THAT(Sequences(out), ElementsAre(1, 2, 3, 4));
  // Frame 1 is lost; 2 and 3 fill the reorder buffer; 4 is dropped unacknowledged.
  std::vector<Delivery> deliveries;
  const absl::Time arrival = kStart + absl::Microseconds(500);
  for (size_t i = 1; i < out.data.size(); ++i)
    b.OnData(out.data[i], arrival, &deliveries);
  EXPECT_THAT(deliveries, IsEmpty());
  EXPECT_EQ(b.counters().reorder_dropped, 1u);
  EXPECT_EQ(b.bytes_held(), 20u);
  Outgoing ack;
  b.Poll(arrival, &ack);
  ASSERT_TRUE(ack.ack.has_value());
  EXPECT_EQ(ack.ack->cumulative, 0u);
  EXPECT_EQ(std::vector<AckRange>(ack.ack->ranges.begin(), ack.ack->ranges.end()),
            (std::vector<AckRange>{{2, 3}}));
  std::vector<uint64_t> acknowledged;
  a.OnAck(*ack.ack, kStart + absl::Milliseconds(1), &acknowledged);
  EXPECT_THAT(acknowledged, UnorderedElementsAre(1, 2));

  // Resends, by timeout, bring 1 and 4; everything is handed up in order.
  absl::Time now = kStart + absl::Milliseconds(1);
  while (deliveries.size() < 4 && now < kStart + absl::Seconds(1)) {
    now += absl::Milliseconds(1);
    a.Poll(now, &out);
    for (const DataFrame& frame : out.data) b.OnData(frame, now, &deliveries);
  }
  std::vector<uint8_t> order;
  for (const Delivery& delivery : deliveries) order.push_back(delivery.payload[0]);
  EXPECT_THAT(order, ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(b.bytes_held(), 0u);
}

TEST(Session, CloseReleasesEveryTokenAndLaterCallsDoNothing) {
  Session a;
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, true, 11));
  ASSERT_OK(a.SendReliable(Bytes(8), kFarFuture, false, 12));
  a.SendBestEffort(Bytes(8));
  std::vector<Delivery> deliveries;
  const std::vector<uint8_t> payload = Bytes(8);
  a.OnData(Reliable(2, payload, true), kStart, &deliveries);
  EXPECT_EQ(a.bytes_held(), 32u);
  std::vector<uint64_t> released;
  a.Close(&released);
  EXPECT_THAT(released, UnorderedElementsAre(11, 12));
  EXPECT_EQ(a.bytes_held(), 0u);
  EXPECT_EQ(a.NextDeadline(), std::nullopt);
  EXPECT_THAT(a.SendReliable(Bytes(8), kFarFuture, false, 13),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  Outgoing out;
  a.Poll(kStart, &out);
  EXPECT_THAT(out.data, IsEmpty());
  EXPECT_FALSE(out.ack.has_value());
}

}  // namespace
}  // namespace glue::transport
