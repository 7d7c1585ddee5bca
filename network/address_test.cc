#include "glue/network/address.h"

#include "glue/base/status_matchers.h"

namespace glue::network {
namespace {

using ::glue::testing::StatusIs;
using ::testing::HasSubstr;

TEST(ParseAddress, ReadsIpv4Ipv6AndLocalHostNames) {
  struct Case {
    const char* text;
    const char* address;
    unsigned short port;
  };
  const Case cases[] = {
      {"192.0.2.4:5", "192.0.2.4", 5},
      {"239.192.137.1:27320", "239.192.137.1", 27320},
      {"0.0.0.0:0", "0.0.0.0", 0},
      {"127.0.0.1:65535", "127.0.0.1", 65535},
      {"[::1]:5", "::1", 5},
      {"[ff02::1]:27320", "ff02::1", 27320},
      {"localhost:80", "127.0.0.1", 80},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    ASSERT_OK_AND_ASSIGN(Address address, ParseAddress(c.text));
    EXPECT_EQ(address.address().to_string(), c.address);
    EXPECT_EQ(address.port(), c.port);
  }
}

TEST(ParseAddress, RejectsMalformedTextNamingIt) {
  const char* cases[] = {
      "",
      "192.0.2.4",
      "192.0.2.4:",
      "192.0.2.4:65536",
      "192.0.2.4:-1",
      "192.0.2.4:5x",
      "::1:5",
      "[::1]5",
      "[::1",
      "[zz]:5",
      "1.2.3:5",
      "300.1.1.1:5",
      ":5",
      "[::1]:",
      "[192.0.2.4]:5",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    EXPECT_THAT(ParseAddress(text), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr(absl::StrCat("'", text, "'"))));
  }
}

TEST(ParseAddress, AsksTheResolverForHostNamesOnly) {
  std::vector<std::string> asked;
  const HostResolver resolver =
      [&](const std::string& host) -> absl::StatusOr<boost::asio::ip::address> {
    asked.push_back(host);
    if (host == "rendezvous") return boost::asio::ip::make_address("127.0.0.7");
    return absl::NotFoundError(absl::StrCat("host '", host, "' does not resolve"));
  };
  ASSERT_OK_AND_ASSIGN(Address address, ParseAddress("rendezvous:27320", resolver));
  EXPECT_EQ(FormatAddress(address), "127.0.0.7:27320");
  EXPECT_THAT(ParseAddress("nowhere:1", resolver),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("'nowhere:1'")));
  ASSERT_OK(ParseAddress("192.0.2.1:1", resolver));
  EXPECT_THAT(asked, ::testing::ElementsAre("rendezvous", "nowhere"));
}

TEST(ParseOptionalAddress, ZeroMeansDisabled) {
  ASSERT_OK_AND_ASSIGN(std::optional<Address> none, ParseOptionalAddress("0"));
  EXPECT_FALSE(none.has_value());
  ASSERT_OK_AND_ASSIGN(std::optional<Address> some,
                       ParseOptionalAddress("127.0.0.1:27320"));
  ASSERT_TRUE(some.has_value());
  EXPECT_EQ(some->port(), 27320);
  EXPECT_THAT(ParseOptionalAddress("00"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(FormatAddress, IsReadBackByParseAddress) {
  for (const char* text : {"192.0.2.4:5", "[::1]:27320", "[ff02::1]:0"}) {
    SCOPED_TRACE(text);
    ASSERT_OK_AND_ASSIGN(Address address, ParseAddress(text));
    EXPECT_EQ(FormatAddress(address), text);
    ASSERT_OK_AND_ASSIGN(Address again, ParseAddress(FormatAddress(address)));
    EXPECT_EQ(again, address);
  }
}

TEST(ValidateInterfaceName, AcceptsLinuxNamesAndRejectsOthers) {
  for (const char* name : {"lo", "eth0", "veth-a.100", "wlp2s0", "abcdefghijklmno"}) {
    SCOPED_TRACE(name);
    EXPECT_OK(ValidateInterfaceName(name));
  }
  for (const char* name : {"", "abcdefghijklmnop", "a/b", "a b", "eth0:1", "\t"}) {
    SCOPED_TRACE(name);
    EXPECT_THAT(ValidateInterfaceName(name),
                StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(ValidateInterfaceName("a/b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'a/b'")));
}

}  // namespace
}  // namespace glue::network
