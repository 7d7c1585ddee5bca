#include "glue/network/udp_socket.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "glue/base/run_until.h"
#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"
#include "glue/network/interfaces.h"
#include "glue/network/private_network.h"

namespace glue::network {
namespace {

using ::glue::network::testing::RunInPrivateNetwork;
using ::glue::testing::RunFor;
using ::glue::testing::RunUntil;
using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

// A datagram as a test keeps it after the handler returns.
struct Copy {
  Address source;
  Address destination;
  std::string bytes;
};

absl::Span<const uint8_t> Bytes(absl::string_view text) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

Address Loopback(unsigned short port = 0) {
  return Address(boost::asio::ip::make_address("127.0.0.1"), port);
}

class UdpSocketTest : public ::testing::Test {
 protected:
  std::unique_ptr<UdpSocket> Open(UdpSocketOptions options) {
    auto socket = UdpSocket::Open(io_.get_executor(), options);
    EXPECT_OK(socket);
    return socket.ok() ? *std::move(socket) : nullptr;
  }

  std::unique_ptr<UdpSocket> OpenLoopback() {
    UdpSocketOptions options;
    options.bind_address = Loopback();
    return Open(options);
  }

  // Starts `socket` so that what it receives is appended to `into`.
  void Collect(UdpSocket& socket, std::vector<Copy>* into) {
    ASSERT_OK(socket.Start([into](const ReceivedDatagram& d) {
      into->push_back(
          {d.source, d.destination,
           std::string(reinterpret_cast<const char*>(d.bytes.data()), d.bytes.size())});
    }));
  }

  boost::asio::io_context io_;
};

TEST_F(UdpSocketTest, BindsAFreePortAndReportsIt) {
  auto socket = OpenLoopback();
  ASSERT_NE(socket, nullptr);
  EXPECT_EQ(socket->local_address().address(), Loopback().address());
  EXPECT_NE(socket->local_address().port(), 0);
}

TEST_F(UdpSocketTest, DeliversSourceDestinationAndBytes) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  std::vector<Copy> received;
  Collect(*receiver, &received);
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("hello")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0].bytes, "hello");
  EXPECT_EQ(received[0].source, sender->local_address());
  EXPECT_EQ(received[0].destination, receiver->local_address());
  EXPECT_EQ(sender->counters().datagrams_sent, 1u);
  EXPECT_EQ(sender->counters().bytes_sent, 5u);
  EXPECT_EQ(receiver->counters().datagrams_received, 1u);
  EXPECT_EQ(receiver->counters().bytes_received, 5u);
}

TEST_F(UdpSocketTest, WorksOverIpv6Loopback) {
  UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::address_v6::loopback(), 0);
  auto v6 = UdpSocket::Open(io_.get_executor(), options);
  if (!v6.ok()) GLUE_SKIP_UNLESS_CI("no IPv6 loopback here: " << v6.status());
  auto receiver = Open(options);
  std::vector<Copy> received;
  Collect(*receiver, &received);
  ASSERT_OK((*v6)->Send(receiver->local_address(), Bytes("six")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0].bytes, "six");
  EXPECT_EQ(received[0].destination, receiver->local_address());
  EXPECT_EQ(FormatAddress(received[0].source), FormatAddress((*v6)->local_address()));
}

TEST_F(UdpSocketTest, BatchesSendsAndReceivesIntoFewerSystemCalls) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  std::vector<Copy> received;
  Collect(*receiver, &received);
  std::vector<std::string> payloads;
  for (int i = 0; i < 64; ++i) payloads.push_back("datagram " + std::to_string(i));
  std::vector<OutgoingDatagram> batch;
  for (const std::string& p : payloads)
    batch.push_back({receiver->local_address(), Bytes(p)});
  ASSERT_OK_AND_ASSIGN(size_t sent, sender->SendBatch(batch));
  EXPECT_EQ(sent, 64u);
  EXPECT_EQ(sender->counters().send_calls, 1u);
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 64; }));
  for (int i = 0; i < 64; ++i) EXPECT_EQ(received[i].bytes, payloads[i]);
  EXPECT_LE(receiver->counters().receive_calls, 64u / 32u + 1);
}

// Runs of equal-size datagrams to one destination go as one segmented send; each
// still arrives as its own datagram, whether the receiver takes coalesced runs or not.
TEST_F(UdpSocketTest, SegmentedRunsArriveAsSeparateDatagramsInOrder) {
  for (const bool receiver_coalesces : {true, false}) {
    for (const bool offload : {true, false}) {
      SCOPED_TRACE(
          absl::StrCat("receiver_coalesces=", receiver_coalesces, " offload=", offload));
      UdpSocketOptions options;
      options.bind_address = Loopback();
      options.segmentation_offload = offload;
      auto sender = Open(options);
      options.max_datagram_bytes = receiver_coalesces ? 65536 : 1024;
      auto receiver = Open(options);
      auto other = OpenLoopback();
      std::vector<Copy> received, received_other;
      Collect(*receiver, &received);
      Collect(*other, &received_other);
      // 100 datagrams of 300 bytes, an empty one, a short one, then 3 to another
      // destination.
      std::vector<std::string> payloads;
      for (int i = 0; i < 100; ++i)
        payloads.push_back(std::string(300, static_cast<char>(i)));
      payloads.push_back("");
      payloads.push_back("short");
      constexpr size_t kToReceiver = 102;
      for (int i = 0; i < 3; ++i) payloads.push_back(std::string(300, 'o'));
      std::vector<OutgoingDatagram> batch;
      for (size_t i = 0; i < payloads.size(); ++i) {
        batch.push_back(
            {i < kToReceiver ? receiver->local_address() : other->local_address(),
             Bytes(payloads[i])});
      }
      ASSERT_OK_AND_ASSIGN(size_t sent, sender->SendBatch(batch));
      EXPECT_EQ(sent, batch.size());
      EXPECT_EQ(sender->counters().datagrams_sent, batch.size());
      EXPECT_EQ(sender->counters().bytes_sent, 100u * 300 + 5 + 3 * 300);
      ASSERT_TRUE(RunUntil(io_, [&] {
        return received.size() == kToReceiver && received_other.size() == 3;
      }));
      for (size_t i = 0; i < kToReceiver; ++i) {
        EXPECT_EQ(received[i].bytes, payloads[i]);
        EXPECT_EQ(received[i].source, sender->local_address());
      }
      EXPECT_EQ(receiver->counters().datagrams_received, kToReceiver);
      EXPECT_EQ(receiver->counters().truncated, 0u);
    }
  }
}

TEST_F(UdpSocketTest, ReceivesOneDatagramPerCallWhenTheBatchIsOne) {
  auto sender = OpenLoopback();
  UdpSocketOptions options;
  options.bind_address = Loopback();
  options.receive_batch = 1;
  auto receiver = Open(options);
  std::vector<Copy> received;
  Collect(*receiver, &received);
  for (int i = 0; i < 10; ++i)
    ASSERT_OK(sender->Send(receiver->local_address(), Bytes("x")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 10; }));
  EXPECT_EQ(receiver->counters().receive_calls, 10u);
  EXPECT_EQ(sender->counters().send_calls, 10u);
}

TEST_F(UdpSocketTest, DropsAndCountsDatagramsLargerThanItsSlots) {
  auto sender = OpenLoopback();
  UdpSocketOptions options;
  options.bind_address = Loopback();
  options.max_datagram_bytes = 100;
  auto receiver = Open(options);
  std::vector<Copy> received;
  Collect(*receiver, &received);
  const std::string big(200, 'b');
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes(big)));
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("small")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0].bytes, "small");
  EXPECT_EQ(receiver->counters().truncated, 1u);
}

TEST_F(UdpSocketTest, RefusesInvalidOptionsNamingThem) {
  UdpSocketOptions options;
  options.bind_address = Loopback();
  options.receive_batch = 0;
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("receive_batch")));
  options.receive_batch = 8;
  options.max_datagram_bytes = 70000;
  EXPECT_THAT(
      UdpSocket::Open(io_.get_executor(), options),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_datagram_bytes")));
  options.max_datagram_bytes = 1500;
  options.multicast_hops = 256;
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("multicast_hops")));
  options.multicast_hops = 1;
  options.bind_to_device = true;
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("interface")));
}

TEST_F(UdpSocketTest, RefusesAnUnknownOrMalformedInterface) {
  UdpSocketOptions options;
  options.bind_address = Loopback();
  options.interface = "glue-none0";
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'glue-none0'")));
  options.interface = "no/such";
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'no/such'")));
}

TEST_F(UdpSocketTest, ReceivesWhenBoundToANamedDevice) {
  UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::address_v4::any(), 0);
  options.interface = "lo";
  options.bind_to_device = true;
  auto bound = UdpSocket::Open(io_.get_executor(), options);
  if (absl::IsPermissionDenied(bound.status())) {
    GLUE_SKIP_UNLESS_CI("SO_BINDTODEVICE needs CAP_NET_RAW: " << bound.status());
  }
  ASSERT_OK(bound);
  std::vector<Copy> received;
  Collect(**bound, &received);
  auto sender = OpenLoopback();
  ASSERT_OK(sender->Send(Loopback((*bound)->local_address().port()), Bytes("on lo")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0].bytes, "on lo");
  EXPECT_EQ((*bound)->interface_index(), FindInterface("lo")->index);
}

TEST_F(UdpSocketTest, RefusesAnAddressInUseUnlessShared) {
  auto first = OpenLoopback();
  UdpSocketOptions options;
  options.bind_address = first->local_address();
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kAlreadyExists,
                       HasSubstr(FormatAddress(first->local_address()))));
}

TEST_F(UdpSocketTest, RefusesToBindAnAddressThatIsNotLocal) {
  UdpSocketOptions options;
  options.bind_address = Address(boost::asio::ip::make_address("192.0.2.1"), 0);
  EXPECT_THAT(UdpSocket::Open(io_.get_executor(), options),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("192.0.2.1:0")));
}

TEST_F(UdpSocketTest, RefusesToSendWhatUdpCannotCarry) {
  auto socket = OpenLoopback();
  const Address v6(boost::asio::ip::address_v6::loopback(), 9);
  EXPECT_THAT(socket->Send(v6, Bytes("x")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[::1]:9")));
  const std::string huge(65508, 'h');
  EXPECT_THAT(socket->Send(socket->local_address(), Bytes(huge)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("65508")));
  const OutgoingDatagram bad[] = {{v6, Bytes("x")}};
  EXPECT_THAT(socket->SendBatch(bad), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(UdpSocketTest, SendBatchStopsBeforeAnInvalidDatagram) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  const Address v6(boost::asio::ip::address_v6::loopback(), 9);
  const OutgoingDatagram batch[] = {{receiver->local_address(), Bytes("a")},
                                    {receiver->local_address(), Bytes("b")},
                                    {v6, Bytes("c")},
                                    {receiver->local_address(), Bytes("d")}};
  ASSERT_OK_AND_ASSIGN(size_t sent, sender->SendBatch(batch));
  EXPECT_EQ(sent, 2u);
  EXPECT_THAT(sender->SendBatch(absl::MakeConstSpan(batch).subspan(2)),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(UdpSocketTest, BroadcastNeedsTheBroadcastOption) {
  UdpSocketOptions listen;
  listen.bind_address = Address(boost::asio::ip::address_v4::any(), 0);
  auto receiver = Open(listen);
  std::vector<Copy> received;
  Collect(*receiver, &received);
  const Address broadcast(boost::asio::ip::make_address("127.255.255.255"),
                          receiver->local_address().port());

  auto plain = OpenLoopback();
  EXPECT_THAT(plain->Send(broadcast, Bytes("no")),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("broadcast")));
  EXPECT_EQ(plain->counters().send_errors, 1u);

  UdpSocketOptions options;
  options.bind_address = Loopback();
  options.broadcast = true;
  auto sender = Open(options);
  ASSERT_OK(sender->Send(broadcast, Bytes("yes")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  EXPECT_EQ(received[0].bytes, "yes");
  EXPECT_EQ(received[0].destination.address(), broadcast.address());
}

TEST_F(UdpSocketTest, StartTwiceOrAfterStopFails) {
  auto socket = OpenLoopback();
  ASSERT_OK(socket->Start([](const ReceivedDatagram&) {}));
  EXPECT_THAT(
      socket->Start([](const ReceivedDatagram&) {}),
      StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("already started")));
  socket->Stop();
  socket->Stop();  // idempotent
  EXPECT_THAT(socket->Start([](const ReceivedDatagram&) {}),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("stopped")));
  EXPECT_THAT(socket->Send(socket->local_address(), Bytes("x")),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  const OutgoingDatagram one[] = {{socket->local_address(), Bytes("x")}};
  EXPECT_THAT(socket->SendBatch(one), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(UdpSocketTest, NothingIsDeliveredAfterStop) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  std::vector<Copy> received;
  Collect(*receiver, &received);
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("before")));
  ASSERT_TRUE(RunUntil(io_, [&] { return received.size() == 1; }));
  receiver->Stop();
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("after")));
  RunFor(io_, std::chrono::milliseconds(50));
  EXPECT_EQ(received.size(), 1u);
}

TEST_F(UdpSocketTest, StopFromInsideTheHandlerEndsDelivery) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  int calls = 0;
  ASSERT_OK(receiver->Start([&](const ReceivedDatagram&) {
    ++calls;
    receiver->Stop();
  }));
  std::vector<OutgoingDatagram> batch(10, {receiver->local_address(), Bytes("x")});
  ASSERT_OK(sender->SendBatch(batch));
  ASSERT_TRUE(RunUntil(io_, [&] { return calls > 0; }));
  RunFor(io_, std::chrono::milliseconds(20));
  EXPECT_EQ(calls, 1);
}

TEST_F(UdpSocketTest, StopWaitsForAHandlerRunningOnAnotherThread) {
  auto sender = OpenLoopback();
  auto receiver = OpenLoopback();
  std::promise<void> entered;
  std::promise<void> stop_called;
  std::atomic<bool> stop_returned{false};
  std::atomic<bool> returned_before_handler_ended{false};
  std::atomic<int> calls{0};
  ASSERT_OK(receiver->Start([&](const ReceivedDatagram&) {
    if (calls.fetch_add(1) != 0) return;
    entered.set_value();
    stop_called.get_future().wait();
    returned_before_handler_ended = stop_returned.load();
  }));
  std::thread runner([&] { io_.run_for(std::chrono::seconds(10)); });
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("x")));
  entered.get_future().wait();
  std::thread stopper([&] {
    stop_called.set_value();
    receiver->Stop();
    stop_returned = true;
  });
  stopper.join();
  EXPECT_FALSE(returned_before_handler_ended.load());
  ASSERT_OK(sender->Send(receiver->local_address(), Bytes("y")));
  io_.stop();
  runner.join();
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(UdpSocketTest, OutlivesItsOwnerWhileAHandlerIsPending) {
  auto receiver = OpenLoopback();
  ASSERT_OK(receiver->Start([](const ReceivedDatagram&) {}));
  receiver.reset();  // the aborted wait still holds the socket's state
  // The aborted wait's handler runs after its owner is gone; it must touch only the
  // state it holds (the ASan build checks the memory).
  EXPECT_EQ(io_.poll(), 1u);
}

class MulticastTest : public UdpSocketTest {
 protected:
  static constexpr const char* kGroup = "239.255.77.1";

  void SetUp() override {
    auto lo = FindInterface("lo");
    ASSERT_OK(lo);
    if (!lo->multicast) {
      GLUE_SKIP_UNLESS_CI(
          "loopback has no MULTICAST flag; run inside scripts/test.sh or "
          "scripts/isolated.sh, which enable it");
    }
  }

  std::unique_ptr<UdpSocket> OpenListener(unsigned short port) {
    UdpSocketOptions options;
    options.bind_address = Address(boost::asio::ip::address_v4::any(), port);
    options.interface = "lo";
    options.reuse_address = true;
    return Open(options);
  }

  std::unique_ptr<UdpSocket> OpenSender() {
    UdpSocketOptions options;
    options.bind_address = Loopback();
    options.interface = "lo";
    return Open(options);
  }
};

TEST_F(MulticastTest, EveryListenerOnTheSharedPortGetsEachDatagram) {
  auto a = OpenListener(0);
  const unsigned short port = a->local_address().port();
  auto b = OpenListener(port);
  const auto group = boost::asio::ip::make_address(kGroup);
  ASSERT_OK(a->JoinGroup(group));
  ASSERT_OK(b->JoinGroup(group));
  std::vector<Copy> got_a, got_b;
  Collect(*a, &got_a);
  Collect(*b, &got_b);
  auto sender = OpenSender();
  ASSERT_OK(sender->Send(Address(group, port), Bytes("to all")));
  ASSERT_TRUE(RunUntil(io_, [&] { return got_a.size() == 1 && got_b.size() == 1; }));
  EXPECT_EQ(got_a[0].bytes, "to all");
  EXPECT_EQ(got_a[0].destination, Address(group, port));
  EXPECT_EQ(got_b[0].destination, Address(group, port));

  // After b leaves, only a hears the group.
  ASSERT_OK(b->LeaveGroup(group));
  ASSERT_OK(sender->Send(Address(group, port), Bytes("second")));
  ASSERT_TRUE(RunUntil(io_, [&] { return got_a.size() == 2; }));
  RunFor(io_, std::chrono::milliseconds(20));
  EXPECT_EQ(got_b.size(), 1u);
}

TEST_F(MulticastTest, UnicastToASharedPortReachesOnlyOneListener) {
  auto a = OpenListener(0);
  const unsigned short port = a->local_address().port();
  auto b = OpenListener(port);
  const auto group = boost::asio::ip::make_address(kGroup);
  ASSERT_OK(a->JoinGroup(group));
  ASSERT_OK(b->JoinGroup(group));
  std::vector<Copy> got_a, got_b;
  Collect(*a, &got_a);
  Collect(*b, &got_b);
  auto sender = OpenSender();
  ASSERT_OK(sender->Send(Loopback(port), Bytes("unicast")));
  // The multicast marker is queued behind the unicast datagram on each socket, so once
  // both have the marker, the unicast datagram has gone wherever it went.
  ASSERT_OK(sender->Send(Address(group, port), Bytes("marker")));
  auto has_marker = [](const std::vector<Copy>& got) {
    return std::any_of(got.begin(), got.end(),
                       [](const Copy& c) { return c.bytes == "marker"; });
  };
  ASSERT_TRUE(RunUntil(io_, [&] { return has_marker(got_a) && has_marker(got_b); }));
  EXPECT_EQ(got_a.size() + got_b.size(), 3u);
}

TEST_F(MulticastTest, MembershipErrorsAreNamed) {
  auto socket = OpenListener(0);
  const auto group = boost::asio::ip::make_address(kGroup);
  EXPECT_THAT(socket->JoinGroup(boost::asio::ip::make_address("127.0.0.1")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a multicast")));
  EXPECT_THAT(socket->JoinGroup(boost::asio::ip::make_address("ff02::1")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("family")));
  EXPECT_THAT(socket->LeaveGroup(group),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(kGroup)));
  ASSERT_OK(socket->JoinGroup(group));
  EXPECT_THAT(socket->JoinGroup(group),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr(kGroup)));
  ASSERT_OK(socket->LeaveGroup(group));
}

// Linux does not loop IPv6 multicast back over `lo`, so this runs over a veth pair in
// a namespace of its own: the sender sends out of veth0, the listener joined on veth1.
TEST(Ipv6Multicast, JoinsSendsAndLeavesOnAGivenInterface) {
  const absl::Status result = RunInPrivateNetwork(
      {"ip link add glue-v0 type veth peer name glue-v1", "ip link set glue-v0 up",
       "ip link set glue-v1 up"},
      [] {
        boost::asio::io_context io;
        UdpSocketOptions options;
        options.bind_address = Address(boost::asio::ip::address_v6::any(), 0);
        options.interface = "glue-v1";
        options.reuse_address = true;
        auto listener = UdpSocket::Open(io.get_executor(), options);
        const auto group = boost::asio::ip::make_address("ff12::77");
        if (!listener.ok() || !(*listener)->JoinGroup(group).ok()) return false;
        std::vector<std::string> got;
        Address destination;
        if (!(*listener)
                 ->Start([&](const ReceivedDatagram& d) {
                   got.emplace_back(reinterpret_cast<const char*>(d.bytes.data()),
                                    d.bytes.size());
                   destination = d.destination;
                 })
                 .ok()) {
          return false;
        }
        options.interface = "glue-v0";
        options.reuse_address = false;
        auto sender = UdpSocket::Open(io.get_executor(), options);
        const Address to(group, (*listener)->local_address().port());
        if (!sender.ok() || !(*sender)->Send(to, Bytes("six")).ok()) return false;
        if (!RunUntil(io, [&] { return got.size() == 1; })) {
          std::fprintf(stderr, "nothing arrived over IPv6 multicast\n");
          return false;
        }
        if (got[0] != "six" || destination.address() != group) return false;
        if (!(*listener)->LeaveGroup(group).ok()) return false;
        if (!(*sender)->Send(to, Bytes("again")).ok()) return false;
        RunFor(io, std::chrono::milliseconds(50));
        if (got.size() != 1) {
          std::fprintf(stderr, "received after leaving the group\n");
          return false;
        }
        return true;
      });
  if (absl::IsUnavailable(result)) GLUE_SKIP_UNLESS_CI(result);
  EXPECT_OK(result);
}

}  // namespace
}  // namespace glue::network
