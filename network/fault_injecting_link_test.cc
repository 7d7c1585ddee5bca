#include "glue/network/fault_injecting_link.h"

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "glue/base/run_until.h"
#include "glue/base/status_matchers.h"
#include "glue/network/udp_socket.h"

namespace glue::network {
namespace {

using ::glue::testing::RunUntil;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

// RecordingLink is a DatagramLink that keeps what it is asked to send, and refuses
// sends with `refusal` while that is not OK.
class RecordingLink final : public DatagramLink {
 public:
  struct Sent {
    Address destination;
    std::vector<uint8_t> bytes;
  };

  absl::Status Start(ReceiveHandler h) override {
    handler = std::move(h);
    return absl::OkStatus();
  }
  void Stop() override { stopped = true; }
  absl::Status Send(const Address& destination,
                    absl::Span<const uint8_t> bytes) override {
    if (!refusal.ok()) return refusal;
    sent.push_back({destination, std::vector<uint8_t>(bytes.begin(), bytes.end())});
    return absl::OkStatus();
  }
  absl::StatusOr<size_t> SendBatch(absl::Span<const OutgoingDatagram> batch) override {
    if (!refusal.ok()) return refusal;
    for (const OutgoingDatagram& d : batch) {
      sent.push_back(
          {d.destination, std::vector<uint8_t>(d.bytes.begin(), d.bytes.end())});
    }
    return batch.size();
  }
  Address local_address() const override { return Address(); }
  LinkCounters counters() const override { return LinkCounters(); }

  std::vector<Sent> sent;
  absl::Status refusal;
  bool stopped = false;
  ReceiveHandler handler;  // what Start was given: a test calls it as the network would
};

const Address kPeer(boost::asio::ip::make_address("127.0.0.1"), 9);

std::vector<uint8_t> Numbered(uint32_t n) {
  return {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
}

uint32_t Number(const std::vector<uint8_t>& bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) |
         (uint32_t{bytes[2]} << 8) | bytes[3];
}

uint64_t LoggedSeed() {
  const uint64_t seed = std::random_device{}();
  std::printf("fault seed: %llu\n", static_cast<unsigned long long>(seed));
  return seed;
}

class FaultInjectingLinkTest : public ::testing::Test {
 protected:
  // Wraps a RecordingLink, which stays reachable through recording_.
  std::unique_ptr<FaultInjectingLink> Wrap(const FaultOptions& options) {
    auto inner = std::make_unique<RecordingLink>();
    recording_ = inner.get();
    auto link = FaultInjectingLink::Create(io_.get_executor(), std::move(inner), options);
    EXPECT_OK(link);
    return link.ok() ? *std::move(link) : nullptr;
  }

  void SendNumbered(FaultInjectingLink& link, uint32_t count) {
    for (uint32_t i = 0; i < count; ++i) ASSERT_OK(link.Send(kPeer, Numbered(i)));
  }

  boost::asio::io_context io_;
  RecordingLink* recording_ = nullptr;
};

TEST_F(FaultInjectingLinkTest, PassesEverythingThroughWithoutFaults) {
  auto link = Wrap(FaultOptions{});
  SendNumbered(*link, 100);
  ASSERT_EQ(recording_->sent.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(Number(recording_->sent[i].bytes), i);
  EXPECT_EQ(link->fault_counters().datagrams, 100u);
  EXPECT_EQ(link->fault_counters().dropped, 0u);
}

TEST_F(FaultInjectingLinkTest, DropsAboutTheConfiguredShareAndCountsIt) {
  FaultOptions options;
  options.drop = 0.2;
  options.seed = LoggedSeed();
  auto link = Wrap(options);
  SendNumbered(*link, 10000);
  const FaultCounters counters = link->fault_counters();
  EXPECT_EQ(recording_->sent.size() + counters.dropped, 10000u);
  // 0.2 * 10000 with a standard deviation of 40: six deviations either way.
  EXPECT_GT(counters.dropped, 1760u);
  EXPECT_LT(counters.dropped, 2240u);
  for (size_t i = 1; i < recording_->sent.size(); ++i) {
    EXPECT_LT(Number(recording_->sent[i - 1].bytes), Number(recording_->sent[i].bytes));
  }
}

TEST_F(FaultInjectingLinkTest, TheSameSeedGivesTheSameOutcome) {
  FaultOptions options;
  options.drop = 0.3;
  options.duplicate = 0.1;
  options.corrupt = 0.1;
  options.seed = LoggedSeed();
  auto first = Wrap(options);
  RecordingLink* first_recording = recording_;
  SendNumbered(*first, 1000);
  auto second = Wrap(options);
  SendNumbered(*second, 1000);
  ASSERT_EQ(first_recording->sent.size(), recording_->sent.size());
  for (size_t i = 0; i < recording_->sent.size(); ++i) {
    EXPECT_EQ(first_recording->sent[i].bytes, recording_->sent[i].bytes);
  }
  options.seed += 1;
  auto third = Wrap(options);
  SendNumbered(*third, 1000);
  EXPECT_NE(third->fault_counters().dropped, 0u);
  bool differs = recording_->sent.size() != first_recording->sent.size();
  for (size_t i = 0; !differs && i < recording_->sent.size(); ++i) {
    differs = first_recording->sent[i].bytes != recording_->sent[i].bytes;
  }
  EXPECT_TRUE(differs);
}

TEST_F(FaultInjectingLinkTest, DuplicatesSendTheDatagramTwice) {
  FaultOptions options;
  options.duplicate = 1.0;
  auto link = Wrap(options);
  SendNumbered(*link, 3);
  ASSERT_EQ(recording_->sent.size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(Number(recording_->sent[i].bytes), i / 2);
  EXPECT_EQ(link->fault_counters().duplicated, 3u);
}

TEST_F(FaultInjectingLinkTest, CorruptionFlipsOneBitOfACopy) {
  FaultOptions options;
  options.corrupt = 1.0;
  options.seed = LoggedSeed();
  auto link = Wrap(options);
  const std::vector<uint8_t> original(64, 0x5a);
  for (int i = 0; i < 100; ++i) ASSERT_OK(link->Send(kPeer, original));
  ASSERT_EQ(recording_->sent.size(), 100u);
  for (const auto& sent : recording_->sent) {
    int flipped = 0;
    for (size_t b = 0; b < original.size(); ++b) {
      flipped += __builtin_popcount(static_cast<unsigned>(sent.bytes[b] ^ original[b]));
    }
    EXPECT_EQ(flipped, 1);
  }
  EXPECT_EQ(link->fault_counters().corrupted, 100u);
}

TEST_F(FaultInjectingLinkTest, DelayHoldsDatagramsUntilTheirTime) {
  FaultOptions options;
  options.delay = 1.0;
  options.delay_duration = absl::Milliseconds(30);
  auto link = Wrap(options);
  const auto start = std::chrono::steady_clock::now();
  SendNumbered(*link, 5);
  EXPECT_TRUE(recording_->sent.empty());
  ASSERT_TRUE(RunUntil(io_, [&] { return recording_->sent.size() == 5; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(30));
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(Number(recording_->sent[i].bytes), i);
  EXPECT_EQ(link->fault_counters().delayed, 5u);
}

TEST_F(FaultInjectingLinkTest, ReorderedDatagramsAreOvertakenButAllArrive) {
  FaultOptions options;
  options.reorder = 0.3;
  options.reorder_delay = absl::Milliseconds(5);
  options.seed = LoggedSeed();
  auto link = Wrap(options);
  SendNumbered(*link, 200);
  ASSERT_TRUE(RunUntil(io_, [&] { return recording_->sent.size() == 200; }));
  std::vector<uint32_t> order;
  for (const auto& sent : recording_->sent) order.push_back(Number(sent.bytes));
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  std::sort(order.begin(), order.end());
  for (uint32_t i = 0; i < 200; ++i) EXPECT_EQ(order[i], i);
  EXPECT_GT(link->fault_counters().reordered, 0u);
}

TEST_F(FaultInjectingLinkTest, HoldsAtMostItsBoundAndSendsTheRestAtOnce) {
  FaultOptions options;
  options.delay = 1.0;
  options.delay_duration = absl::Seconds(10);
  options.max_held_datagrams = 2;
  auto link = Wrap(options);
  SendNumbered(*link, 5);
  EXPECT_EQ(recording_->sent.size(), 3u);
  EXPECT_EQ(link->fault_counters().hold_overflow, 3u);
  link->Stop();
  EXPECT_EQ(link->fault_counters().discarded_at_stop, 2u);
  EXPECT_TRUE(recording_->stopped);
  EXPECT_THAT(link->Send(kPeer, Numbered(9)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(FaultInjectingLinkTest, CountsWhatTheInnerLinkRefusesLikeALossyNetwork) {
  auto link = Wrap(FaultOptions{});
  recording_->refusal = absl::UnavailableError("socket buffer full");
  EXPECT_OK(link->Send(kPeer, Numbered(1)));
  EXPECT_EQ(link->fault_counters().inner_refused, 1u);
  recording_->refusal = absl::InvalidArgumentError("wrong family");
  EXPECT_THAT(link->Send(kPeer, Numbered(2)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(FaultInjectingLinkTest, APartitionSwitchedOnWhileRunningCutsBothWaysUntilOff) {
  auto link = Wrap(FaultOptions{});
  int received = 0;
  ASSERT_OK(link->Start([&received](const ReceivedDatagram&) { ++received; }));
  const std::vector<uint8_t> bytes = {1, 2, 3};
  auto receive = [&] {
    recording_->handler(ReceivedDatagram{.source = kPeer, .bytes = bytes});
  };
  SendNumbered(*link, 10);
  receive();
  EXPECT_EQ(recording_->sent.size(), 10u);
  EXPECT_EQ(received, 1);

  ASSERT_OK(link->SetOptions({.partitioned = true}));
  SendNumbered(*link, 10);
  receive();
  receive();
  EXPECT_EQ(recording_->sent.size(), 10u) << "nothing sent while partitioned";
  EXPECT_EQ(received, 1) << "nothing received while partitioned";
  EXPECT_EQ(link->fault_counters().partitioned_sent, 10u);
  EXPECT_EQ(link->fault_counters().dropped, 10u);
  EXPECT_EQ(link->fault_counters().partitioned_received, 2u);

  // Healed, with loss now: some go, and what comes in is handed on again.
  ASSERT_OK(link->SetOptions({.drop = 0.5}));
  SendNumbered(*link, 1000);
  receive();
  EXPECT_EQ(received, 2);
  EXPECT_GT(recording_->sent.size(), 10u + 350);
  EXPECT_LT(recording_->sent.size(), 10u + 650);
  EXPECT_THAT(link->SetOptions({.drop = 2}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("drop=2")));
}

TEST_F(FaultInjectingLinkTest, RejectsOptionsOutOfRangeNamingThem) {
  struct Case {
    FaultOptions options;
    const char* name;
  };
  std::vector<Case> cases(6);
  cases[0].options.drop = 1.5, cases[0].name = "drop";
  cases[1].options.duplicate = -0.1, cases[1].name = "duplicate";
  cases[2].options.reorder = 2, cases[2].name = "reorder";
  cases[3].options.corrupt = std::nan(""), cases[3].name = "corrupt";
  cases[4].options.delay = 7, cases[4].name = "delay";
  cases[5].options.delay_duration = absl::Milliseconds(-1),
  cases[5].name = "delay_duration";
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_THAT(FaultInjectingLink::Create(io_.get_executor(),
                                           std::make_unique<RecordingLink>(), c.options),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.name)));
  }
  EXPECT_THAT(FaultInjectingLink::Create(io_.get_executor(), nullptr, FaultOptions{}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FaultOptionsFromEnvironment, NoVariablesMeansNoFaults) {
  ASSERT_OK_AND_ASSIGN(std::optional<FaultOptions> options,
                       FaultOptionsFromEnvironment(MapEnvironment({})));
  EXPECT_FALSE(options.has_value());
  // A seed alone injects nothing either.
  ASSERT_OK_AND_ASSIGN(
      options, FaultOptionsFromEnvironment(MapEnvironment({{"GLUE_FAULT_SEED", "7"}})));
  EXPECT_FALSE(options.has_value());
}

TEST(FaultOptionsFromEnvironment, ReadsEveryVariable) {
  ASSERT_OK_AND_ASSIGN(std::optional<FaultOptions> options,
                       FaultOptionsFromEnvironment(MapEnvironment({
                           {"GLUE_FAULT_LOSS", "0.1"},
                           {"GLUE_FAULT_DUPLICATE", "0.05"},
                           {"GLUE_FAULT_REORDER", "0.2"},
                           {"GLUE_FAULT_CORRUPT", "0.01"},
                           {"GLUE_FAULT_DELAY_MILLISECONDS", "30"},
                           {"GLUE_FAULT_SEED", "42"},
                       })));
  ASSERT_TRUE(options.has_value());
  EXPECT_EQ(options->drop, 0.1);
  EXPECT_EQ(options->duplicate, 0.05);
  EXPECT_EQ(options->reorder, 0.2);
  EXPECT_EQ(options->corrupt, 0.01);
  EXPECT_EQ(options->delay, 1.0);
  EXPECT_EQ(options->delay_duration, absl::Milliseconds(30));
  EXPECT_EQ(options->seed, 42u);
  EXPECT_OK(FaultInjectingLink::ValidateFaultOptions(*options));
}

TEST(FaultOptionsFromEnvironment, RejectsMalformedValuesNamingThem) {
  const std::pair<const char*, const char*> cases[] = {
      {"GLUE_FAULT_LOSS", "1.5"},
      {"GLUE_FAULT_LOSS", "lots"},
      {"GLUE_FAULT_DUPLICATE", "-0.1"},
      {"GLUE_FAULT_REORDER", "nan"},
      {"GLUE_FAULT_CORRUPT", ""},
      {"GLUE_FAULT_DELAY_MILLISECONDS", "60001"},
      {"GLUE_FAULT_DELAY_MILLISECONDS", "1.5"},
      {"GLUE_FAULT_SEED", "-3"},
  };
  for (const auto& [name, value] : cases) {
    SCOPED_TRACE(absl::StrCat(name, "=", value));
    EXPECT_THAT(FaultOptionsFromEnvironment(MapEnvironment({{name, value}})),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(name)));
  }
}

TEST(FaultInjectingLinkOverUdp, LosesExactlyWhatItCountsOnLoopback) {
  boost::asio::io_context io;
  UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::make_address("127.0.0.1"), 0);
  ASSERT_OK_AND_ASSIGN(auto receiver, UdpSocket::Open(io.get_executor(), options));
  ASSERT_OK_AND_ASSIGN(auto socket, UdpSocket::Open(io.get_executor(), options));
  FaultOptions faults;
  faults.drop = 0.5;
  faults.seed = LoggedSeed();
  ASSERT_OK_AND_ASSIGN(auto link, FaultInjectingLink::Create(io.get_executor(),
                                                             std::move(socket), faults));
  size_t received = 0;
  ASSERT_OK(receiver->Start([&](const ReceivedDatagram&) { ++received; }));
  // Chunks small enough for the receive buffer, drained between chunks.
  for (uint32_t chunk = 0; chunk < 10; ++chunk) {
    std::vector<std::vector<uint8_t>> payloads;
    std::vector<OutgoingDatagram> batch;
    for (uint32_t i = 0; i < 100; ++i) payloads.push_back(Numbered(chunk * 100 + i));
    for (const auto& p : payloads) batch.push_back({receiver->local_address(), p});
    ASSERT_OK_AND_ASSIGN(size_t accepted, link->SendBatch(batch));
    ASSERT_EQ(accepted, 100u);
    const uint64_t expected = link->counters().datagrams_sent;
    ASSERT_TRUE(RunUntil(io, [&] { return received == expected; }));
  }
  EXPECT_EQ(received + link->fault_counters().dropped, 1000u);
  EXPECT_GT(link->fault_counters().dropped, 0u);
}

}  // namespace
}  // namespace glue::network
