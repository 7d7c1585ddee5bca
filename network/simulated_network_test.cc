#include "glue/network/simulated_network.h"

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "glue/base/simulated_clock.h"
#include "gtest/gtest.h"

namespace glue::network::testing {
namespace {

using boost::asio::ip::make_address;
using ::glue::testing::RunSimulatedFor;
using ::glue::testing::RunSimulatedUntil;
using ::glue::testing::SimulatedClock;

const boost::asio::ip::address kHostA = make_address("127.0.1.1");
const boost::asio::ip::address kHostB = make_address("127.0.1.2");
const boost::asio::ip::address kHostC = make_address("127.0.1.3");
const boost::asio::ip::address kGroup = make_address("239.255.0.1");

// A link and what it received, as text.
struct Station {
  std::unique_ptr<DatagramLink> link;
  std::vector<std::string> received;
  std::vector<Address> sources;
};

class SimulatedNetworkTest : public ::testing::Test {
 protected:
  std::unique_ptr<Station> Open(const boost::asio::ip::address& host, Address bind,
                                std::vector<boost::asio::ip::address> groups = {},
                                bool reuse = false) {
    UdpSocketOptions options;
    options.bind_address = bind;
    options.reuse_address = reuse;
    auto station = std::make_unique<Station>();
    absl::StatusOr<std::unique_ptr<DatagramLink>> link =
        network_.Host(host).Open(io_.get_executor(), options, groups);
    EXPECT_TRUE(link.ok()) << link.status();
    if (!link.ok()) return nullptr;
    station->link = std::move(*link);
    Station* s = station.get();
    EXPECT_TRUE(s->link
                    ->Start([s](const ReceivedDatagram& d) {
                      s->received.emplace_back(d.bytes.begin(), d.bytes.end());
                      s->sources.push_back(d.source);
                    })
                    .ok());
    return station;
  }

  static absl::Span<const uint8_t> Bytes(const std::string& text) {
    return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()),
                               text.size());
  }

  SimulatedClock clock_;
  boost::asio::io_context io_;
  SimulatedNetwork network_{clock_, 7};
};

TEST_F(SimulatedNetworkTest, UnicastReachesTheLinkBoundToTheAddressAndPort) {
  auto a = Open(kHostA, Address(kHostA, 0));
  auto b = Open(kHostB, Address({}, 5000));  // unspecified: the host's address
  ASSERT_TRUE(a && b);
  EXPECT_EQ(b->link->local_address(), Address(kHostB, 5000));
  ASSERT_TRUE(a->link->Send(Address(kHostB, 5000), Bytes("hello")).ok());
  ASSERT_TRUE(RunSimulatedUntil(io_, clock_, [&] { return b->received.size() == 1; }));
  EXPECT_EQ(b->received[0], "hello");
  EXPECT_EQ(b->sources[0], a->link->local_address());
  EXPECT_TRUE(a->received.empty());
  EXPECT_TRUE(a->link->Send(Address(kHostC, 5000), Bytes("nobody")).ok());
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_EQ(network_.counters().unreachable, 1u);
}

TEST_F(SimulatedNetworkTest, MulticastReachesEveryMemberOfTheGroupTheSenderIncluded) {
  auto a = Open(kHostA, Address(kGroup, 6000), {kGroup}, true);
  auto b = Open(kHostB, Address(kGroup, 6000), {kGroup}, true);
  auto c = Open(kHostC, Address(kGroup, 6000), {}, true);  // not a member
  auto sender = Open(kHostA, Address(kHostA, 0));
  ASSERT_TRUE(a && b && c && sender);
  ASSERT_TRUE(sender->link->Send(Address(kGroup, 6000), Bytes("all")).ok());
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_EQ(a->received, std::vector<std::string>{"all"});
  EXPECT_EQ(b->received, std::vector<std::string>{"all"});
  EXPECT_TRUE(c->received.empty());
  EXPECT_EQ(a->sources[0], sender->link->local_address());
}

TEST_F(SimulatedNetworkTest, APortInUseIsRefusedUnlessBothReuseIt) {
  auto a = Open(kHostA, Address(kHostA, 7000));
  ASSERT_TRUE(a);
  UdpSocketOptions options;
  options.bind_address = Address(kHostA, 7000);
  EXPECT_TRUE(absl::IsAlreadyExists(
      network_.Host(kHostA).Open(io_.get_executor(), options, {}).status()));
  options.bind_address = Address(kHostB, 7000);
  EXPECT_TRUE(absl::IsInvalidArgument(
      network_.Host(kHostA).Open(io_.get_executor(), options, {}).status()));
}

TEST_F(SimulatedNetworkTest, APartitionLosesEverythingBetweenItsSidesUntilHealed) {
  auto a = Open(kHostA, Address(kHostA, 5000));
  auto b = Open(kHostB, Address(kHostB, 5000));
  auto c = Open(kHostC, Address(kHostC, 5000));
  ASSERT_TRUE(a && b && c);
  network_.Partition({kHostA}, {kHostB});
  EXPECT_TRUE(a->link->Send(Address(kHostB, 5000), Bytes("cut")).ok());
  EXPECT_TRUE(b->link->Send(Address(kHostA, 5000), Bytes("cut")).ok());
  EXPECT_TRUE(a->link->Send(Address(kHostC, 5000), Bytes("through")).ok());
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_TRUE(a->received.empty());
  EXPECT_TRUE(b->received.empty());
  EXPECT_EQ(c->received, std::vector<std::string>{"through"});
  EXPECT_EQ(network_.counters().partitioned, 2u);
  network_.Heal();
  EXPECT_TRUE(a->link->Send(Address(kHostB, 5000), Bytes("healed")).ok());
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_EQ(b->received, std::vector<std::string>{"healed"});
}

// What host A's faults let through to B of 200 numbered datagrams, in order.
std::vector<std::string> ThroughFaults(uint64_t seed) {
  SimulatedClock clock;
  boost::asio::io_context io;
  SimulatedNetwork network(clock, seed);
  network.SetFaults(kHostA, {.drop = 0.3,
                             .duplicate = 0.1,
                             .reorder = 0.2,
                             .reorder_delay = absl::Milliseconds(5)});
  UdpSocketOptions options;
  options.bind_address = Address(kHostA, 0);
  auto a = network.Host(kHostA).Open(io.get_executor(), options, {});
  options.bind_address = Address(kHostB, 5000);
  auto b = network.Host(kHostB).Open(io.get_executor(), options, {});
  EXPECT_TRUE(a.ok() && b.ok());
  std::vector<std::string> received;
  EXPECT_TRUE((*b)->Start([&](const ReceivedDatagram& d) {
                    received.emplace_back(d.bytes.begin(), d.bytes.end());
                  })
                  .ok());
  EXPECT_TRUE((*a)->Start([](const ReceivedDatagram&) {}).ok());
  for (int i = 0; i < 200; ++i) {
    const std::string text = std::to_string(i);
    EXPECT_TRUE(
        (*a)->Send(Address(kHostB, 5000),
                   absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()),
                                       text.size()))
            .ok());
    clock.AdvanceBy(absl::Milliseconds(1));
    io.poll();
  }
  RunSimulatedFor(io, clock, absl::Seconds(1));
  return received;
}

TEST(SimulatedNetworkFaults, TheSameSeedGivesTheSameLossesDuplicatesAndOrder) {
  const std::vector<std::string> first = ThroughFaults(11);
  SCOPED_TRACE("seed 11");
  EXPECT_EQ(first, ThroughFaults(11));
  EXPECT_NE(first, ThroughFaults(12));
  // About 30% lost, 10% duplicated: far from all, far from none.
  EXPECT_GT(first.size(), 100u);
  EXPECT_LT(first.size(), 190u);
  EXPECT_FALSE(std::is_sorted(first.begin(), first.end(), [](auto& x, auto& y) {
    return std::stoi(x) < std::stoi(y);
  })) << "some datagrams are overtaken";
}

TEST_F(SimulatedNetworkTest, AStoppedLinkReceivesNothingMoreAndRefusesToSend) {
  auto a = Open(kHostA, Address(kHostA, 5000));
  auto b = Open(kHostB, Address(kHostB, 5000));
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(a->link->Send(Address(kHostB, 5000), Bytes("queued")).ok());
  b->link->Stop();
  RunSimulatedFor(io_, clock_, absl::Seconds(1));
  EXPECT_TRUE(b->received.empty());
  EXPECT_TRUE(
      absl::IsFailedPrecondition(b->link->Send(Address(kHostA, 5000), Bytes("x"))));
}

}  // namespace
}  // namespace glue::network::testing
