#include "glue/network/interfaces.h"

#include <fstream>

#include "glue/base/skip.h"
#include "glue/base/status_matchers.h"

namespace glue::network {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ListInterfaces, IncludesLoopbackWithItsAddress) {
  ASSERT_OK_AND_ASSIGN(std::vector<Interface> interfaces, ListInterfaces());
  const auto lo = std::find_if(interfaces.begin(), interfaces.end(),
                               [](const Interface& i) { return i.name == "lo"; });
  ASSERT_NE(lo, interfaces.end());
  EXPECT_TRUE(lo->loopback);
  EXPECT_GT(lo->index, 0u);
  EXPECT_EQ(lo->FirstV4(), boost::asio::ip::make_address_v4("127.0.0.1"));
  for (size_t i = 1; i < interfaces.size(); ++i) {
    EXPECT_LT(interfaces[i - 1].index, interfaces[i].index);
  }
  // Each MTU is the one sysfs shows.
  for (const Interface& i : interfaces) {
    std::ifstream file("/sys/class/net/" + i.name + "/mtu");
    unsigned mtu = 0;
    if (!(file >> mtu)) continue;
    EXPECT_EQ(i.mtu, mtu) << i.name;
  }
  EXPECT_GE(lo->mtu, 1280u);
}

TEST(FindInterface, FindsLoopbackAndNamesTheMissingOne) {
  ASSERT_OK_AND_ASSIGN(Interface lo, FindInterface("lo"));
  EXPECT_TRUE(lo.loopback);
  EXPECT_THAT(FindInterface("glue-none0"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'glue-none0'")));
  EXPECT_THAT(FindInterface("bad/name"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(ParseDefaultRouteV4, PicksTheDefaultRouteWithTheLowestMetric) {
  const char* table =
      "Iface\tDestination\tGateway "
      "\tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth1\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
      "eth0\t00000000\t0100000A\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
      "eth2\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth3\t00000000\t0100000A\t0002\t0\t0\t0\t00000000\t0\t0\t0\n";
  EXPECT_EQ(ParseDefaultRouteV4(table), "eth0");
}

TEST(ParseDefaultRouteV4, ReturnsEmptyWithoutDefaultRoute) {
  EXPECT_EQ(ParseDefaultRouteV4(""), "");
  EXPECT_EQ(
      ParseDefaultRouteV4("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\t"
                          "Mask\tMTU\tWindow\tIRTT\n"
                          "eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"),
      "");
  EXPECT_EQ(ParseDefaultRouteV4("garbage\nmore garbage without columns\n"), "");
}

TEST(ParseDefaultRouteV6, PicksTheDefaultRouteAndSkipsRejectRoutes) {
  const std::string zero(32, '0');
  const std::string table = zero + " 00 " + zero +
                            " 00 fe800000000000000000000000000001 00000400 00000001 "
                            "00000000 00000003 eth0\n" +
                            zero + " 00 " + zero + " 00 " + zero +
                            " 00000100 00000001 00000000 00000003 eth1\n" + zero +
                            " 00 " + zero + " 00 " + zero +
                            " ffffffff 00000001 00000000 00200200 lo\n" +
                            "fe800000000000000000000000000000 40 " + zero + " 00 " +
                            zero + " 00000100 00000001 00000000 00000001 eth2\n";
  EXPECT_EQ(ParseDefaultRouteV6(table), "eth1");
  EXPECT_EQ(ParseDefaultRouteV6(""), "");
}

TEST(DefaultRouteInterface, NamesAnExistingInterfaceOrSaysThereIsNone) {
  absl::StatusOr<std::string> name = DefaultRouteInterface();
  if (!name.ok()) {
    EXPECT_THAT(name, StatusIs(absl::StatusCode::kNotFound));
    return;
  }
  EXPECT_OK(FindInterface(*name));
}

TEST(SourceAddressFor, ChoosesLoopbackForLoopback) {
  ASSERT_OK_AND_ASSIGN(Address destination, ParseAddress("127.0.0.1:9"));
  ASSERT_OK_AND_ASSIGN(boost::asio::ip::address source, SourceAddressFor(destination));
  EXPECT_EQ(source, boost::asio::ip::make_address("127.0.0.1"));
}

TEST(SourceAddressFor, IsUnavailableWithoutARoute) {
  if (DefaultRouteInterface().ok()) {
    GLUE_SKIP_UNLESS_CI(
        "this host has a default route; run inside a namespace with only "
        "loopback (scripts/test.sh does) to check the error");
  }
  // TEST-NET-1: connect() only looks the route up; nothing is sent.
  ASSERT_OK_AND_ASSIGN(Address destination, ParseAddress("192.0.2.1:9"));
  EXPECT_THAT(SourceAddressFor(destination),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("192.0.2.1:9")));
}

}  // namespace
}  // namespace glue::network
