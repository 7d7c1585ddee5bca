#include "glue/discovery/config.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glue/base/status_matchers.h"
#include "glue/network/interfaces.h"

namespace glue::discovery {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::StartsWith;

network::Address Parse(absl::string_view text) {
  absl::StatusOr<network::Address> address = network::ParseAddress(text);
  EXPECT_OK(address);
  return address.value_or(network::Address());
}

// The interface ConfigFromEnvironment should choose when GLUE_LISTEN_INTERFACE is
// unset, and why.
struct DefaultInterface {
  std::string name;
  absl::string_view origin;
};
DefaultInterface ExpectedDefaultInterface() {
  absl::StatusOr<std::string> route = network::DefaultRouteInterface();
  if (route.ok()) return {*route, kInterfaceFromDefaultRoute};
  return {"lo", kInterfaceFromLoopback};
}

TEST(ConfigFromEnvironment, AnEmptyEnvironmentGivesTheDefaults) {
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(MapEnvironment({})));
  EXPECT_EQ(config.network_id, 1u);
  EXPECT_NE(config.endpoint_id, 0u);
  EXPECT_EQ(config.endpoint_name, absl::StrFormat("%016x", config.endpoint_id));
  EXPECT_THAT(config.endpoint_name, MatchesRegex("[0-9a-f]{16}"));
  EXPECT_EQ(config.listen_address, Parse("0.0.0.0:0"));
  const DefaultInterface interface = ExpectedDefaultInterface();
  EXPECT_EQ(config.listen_interface, interface.name);
  EXPECT_EQ(config.listen_interface_origin, interface.origin);
  EXPECT_EQ(config.discovery_target, Parse("239.192.137.1:27320"));
  EXPECT_EQ(config.discovery_listen, Parse("239.192.137.1:27320"));
  EXPECT_EQ(config.rate, absl::Milliseconds(1000));
  EXPECT_EQ(config.rate_timeout_multiplier, 2u);
  EXPECT_EQ(config.peer_timeout(), absl::Seconds(2));
}

TEST(ConfigFromEnvironment, TheDefaultIdIsRandomPerCall) {
  ASSERT_OK_AND_ASSIGN(Config first, ConfigFromEnvironment(MapEnvironment({})));
  ASSERT_OK_AND_ASSIGN(Config second, ConfigFromEnvironment(MapEnvironment({})));
  EXPECT_NE(first.endpoint_id, 0u);
  EXPECT_NE(second.endpoint_id, 0u);
  EXPECT_NE(first.endpoint_id, second.endpoint_id);
  EXPECT_NE(first.endpoint_name, second.endpoint_name);
}

TEST(ConfigFromEnvironment, ASetIdKeepsItAndGivesTwoInstancesDifferentNames) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_ENDPOINT_ID", "42"}});
  ASSERT_OK_AND_ASSIGN(Config first, ConfigFromEnvironment(env));
  ASSERT_OK_AND_ASSIGN(Config second, ConfigFromEnvironment(env));
  EXPECT_EQ(first.endpoint_id, 42u);
  EXPECT_EQ(second.endpoint_id, 42u);
  EXPECT_THAT(first.endpoint_name, MatchesRegex("42-[0-9a-f]{6}"));
  EXPECT_THAT(second.endpoint_name, MatchesRegex("42-[0-9a-f]{6}"));
  EXPECT_NE(first.endpoint_name, second.endpoint_name);
}

TEST(ConfigFromEnvironment, ReadsEveryVariable) {
  const EnvironmentLookup env = MapEnvironment({
      {"GLUE_NETWORK_ID", "18446744073709551615"},
      {"GLUE_ENDPOINT_ID", "7"},
      {"GLUE_ENDPOINT_NAME", "TimeSyncProducer_123abc"},
      {"GLUE_LISTEN_ADDRESS", "127.0.0.1:5000"},
      {"GLUE_LISTEN_INTERFACE", "lo"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "127.0.0.1:27320"},
      {"GLUE_DISCOVERY_LISTEN_ADDRESS", "127.0.0.1:27321"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "250"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "5"},
  });
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(env));
  EXPECT_EQ(config.network_id, 18446744073709551615u);
  EXPECT_EQ(config.endpoint_id, 7u);
  EXPECT_EQ(config.endpoint_name, "TimeSyncProducer_123abc");
  EXPECT_EQ(config.listen_address, Parse("127.0.0.1:5000"));
  EXPECT_EQ(config.listen_interface, "lo");
  EXPECT_EQ(config.listen_interface_origin, "GLUE_LISTEN_INTERFACE");
  EXPECT_EQ(config.discovery_target, Parse("127.0.0.1:27320"));
  EXPECT_EQ(config.discovery_listen, Parse("127.0.0.1:27321"));
  EXPECT_EQ(config.rate, absl::Milliseconds(250));
  EXPECT_EQ(config.rate_timeout_multiplier, 5u);
  EXPECT_EQ(config.peer_timeout(), absl::Milliseconds(1250));
}

TEST(ConfigFromEnvironment, AcceptsTheEndsOfEveryRange) {
  const EnvironmentLookup low = MapEnvironment({
      {"GLUE_NETWORK_ID", "0"},
      {"GLUE_ENDPOINT_ID", "1"},
      {"GLUE_ENDPOINT_NAME", "!"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "1"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "1"},
  });
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(low));
  EXPECT_EQ(config.network_id, 0u);
  EXPECT_EQ(config.endpoint_id, 1u);
  EXPECT_EQ(config.endpoint_name, "!");
  EXPECT_EQ(config.peer_timeout(), absl::Milliseconds(1));

  const EnvironmentLookup high = MapEnvironment({
      {"GLUE_ENDPOINT_ID", "18446744073709551615"},
      {"GLUE_ENDPOINT_NAME", std::string(255, '~')},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "3600000"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "1000"},
  });
  ASSERT_OK_AND_ASSIGN(config, ConfigFromEnvironment(high));
  EXPECT_EQ(config.endpoint_id, 18446744073709551615u);
  EXPECT_EQ(config.endpoint_name, std::string(255, '~'));
  EXPECT_EQ(config.peer_timeout(), absl::Hours(1000));
}

TEST(ConfigFromEnvironment, ZeroTargetSendsNoAnnouncements) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_DISCOVERY_TARGET_ADDRESS", "0"}});
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(env));
  EXPECT_EQ(config.discovery_target, std::nullopt);
  EXPECT_EQ(config.discovery_listen, Parse("239.192.137.1:27320"));
}

TEST(ConfigFromEnvironment, TheDefaultListenAddressFollowsTheDiscoveryFamily) {
  const EnvironmentLookup env = MapEnvironment({
      {"GLUE_LISTEN_INTERFACE", "lo"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "[ff02::1:2]:27320"},
      {"GLUE_DISCOVERY_LISTEN_ADDRESS", "[ff02::1:2]:27320"},
  });
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(env));
  EXPECT_EQ(config.listen_address, Parse("[::]:0"));
  EXPECT_EQ(config.discovery_target, Parse("[ff02::1:2]:27320"));
}

TEST(ConfigFromEnvironment, ANonexistentInterfaceIsNotFound) {
  const EnvironmentLookup env = MapEnvironment({{"GLUE_LISTEN_INTERFACE", "glue-none0"}});
  EXPECT_THAT(ConfigFromEnvironment(env),
              StatusIs(absl::StatusCode::kNotFound,
                       "GLUE_LISTEN_INTERFACE='glue-none0': interface 'glue-none0' does "
                       "not exist"));
}

TEST(ConfigFromEnvironment, ZeroIsNoListenAddress) {
  for (const char* variable : {"GLUE_LISTEN_ADDRESS", "GLUE_DISCOVERY_LISTEN_ADDRESS"}) {
    SCOPED_TRACE(variable);
    EXPECT_THAT(ConfigFromEnvironment(MapEnvironment({{variable, "0"}})),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith(absl::StrCat(variable, "='0': "))));
  }
}

TEST(ConfigFromEnvironment, AMalformedVariableIsAnErrorThatNamesItAndItsValue) {
  struct Case {
    const char* variable;
    std::string value;
    const char* why = "";  // a part of the message after the quoted value
    absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  };
  const std::vector<Case> cases = {
      {"GLUE_NETWORK_ID", "one", "expected an integer in 0..18446744073709551615"},
      {"GLUE_NETWORK_ID", "-1"},
      {"GLUE_NETWORK_ID", "18446744073709551616"},
      {"GLUE_NETWORK_ID", "", "empty"},
      {"GLUE_NETWORK_ID", " 1", "whitespace"},
      {"GLUE_ENDPOINT_ID", "0", "expected an integer in 1..18446744073709551615"},
      {"GLUE_ENDPOINT_ID", "0x10"},
      {"GLUE_ENDPOINT_ID", "role"},
      {"GLUE_ENDPOINT_NAME", "", "empty"},
      {"GLUE_ENDPOINT_NAME", "a b", "printable ASCII without spaces"},
      {"GLUE_ENDPOINT_NAME", "tab\there", "printable ASCII without spaces"},
      {"GLUE_ENDPOINT_NAME", "caf\xc3\xa9", "printable ASCII without spaces"},
      {"GLUE_ENDPOINT_NAME", std::string(256, 'a'), "1..255 bytes"},
      {"GLUE_ENDPOINT_NAME", "name\n", "whitespace"},
      {"GLUE_LISTEN_ADDRESS", "1.2.3:5", "'1.2.3' is not an IPv4 address"},
      {"GLUE_LISTEN_ADDRESS", "127.0.0.1", "expected HOST:PORT"},
      {"GLUE_LISTEN_ADDRESS", "127.0.0.1:65536", "0..65535"},
      {"GLUE_LISTEN_ADDRESS", "[::1]", "expected ':port'"},
      {"GLUE_LISTEN_ADDRESS", "[::1]:0", "of one family"},
      {"GLUE_LISTEN_ADDRESS", ""},
      {"GLUE_LISTEN_INTERFACE", "", "empty"},
      {"GLUE_LISTEN_INTERFACE", "eth0/1", "invalid character"},
      {"GLUE_LISTEN_INTERFACE", "sixteen-bytes-xx", "at most 15"},
      {"GLUE_LISTEN_INTERFACE", "glue-none0", "does not exist",
       absl::StatusCode::kNotFound},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "", "empty"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "00", "expected HOST:PORT"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "239.192.137.1:x", "0..65535"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "239.192.137.1:0", "port must not be 0"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "0.0.0.0:27320", "unspecified address"},
      {"GLUE_DISCOVERY_TARGET_ADDRESS", "[ff02::1:2]:27320", "of one family"},
      {"GLUE_DISCOVERY_LISTEN_ADDRESS", "239.192.137.1", "expected HOST:PORT"},
      {"GLUE_DISCOVERY_LISTEN_ADDRESS", "239.192.137.1:0", "port must not be 0"},
      {"GLUE_DISCOVERY_LISTEN_ADDRESS", "239.192.137.1:27320 ", "whitespace"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "fast", "expected an integer in 1..3600000"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "0", "expected an integer in 1..3600000"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "3600001"},
      {"GLUE_DISCOVERY_RATE_MILLISECONDS", "1.5"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "0", "expected an integer in 1..1000"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "1001"},
      {"GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER", "twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.variable, "='", absl::CHexEscape(c.value), "'"));
    // The other variables are set to good values that agree with each other, so that
    // only the one under test can be wrong; the interface is looked up last, so it is
    // left unset.
    absl::flat_hash_map<std::string, std::string> values = {
        {"GLUE_ENDPOINT_ID", "5"},
        {"GLUE_DISCOVERY_TARGET_ADDRESS", "239.192.137.1:27320"},
    };
    values[c.variable] = c.value;
    EXPECT_THAT(
        ConfigFromEnvironment(MapEnvironment(std::move(values))),
        StatusIs(c.code, AllOf(StartsWith(absl::StrCat(c.variable, "='",
                                                       absl::CHexEscape(c.value), "': ")),
                               HasSubstr(c.why))));
  }
}

// ValidConfig returns a Config built in code that ValidateConfig accepts.
Config ValidConfig() {
  Config config;
  config.endpoint_id = 1;
  // Moved in, not assigned from literals: g++ 12 at -O3 warns (-Wrestrict) about its
  // own inlined copy of a short literal into a string, a known false positive.
  config.endpoint_name = std::string("a");
  config.listen_interface = std::string("lo");
  return config;
}

TEST(ValidateConfig, AcceptsWhatConfigFromEnvironmentBuilds) {
  ASSERT_OK_AND_ASSIGN(Config config, ConfigFromEnvironment(MapEnvironment({})));
  EXPECT_OK(ValidateConfig(config));
  EXPECT_OK(ValidateConfig(ValidConfig()));
}

TEST(ValidateConfig, ADefaultConstructedConfigLacksAnId) {
  EXPECT_THAT(ValidateConfig(Config()), StatusIs(absl::StatusCode::kInvalidArgument,
                                                 StartsWith("GLUE_ENDPOINT_ID='0'")));
}

TEST(ValidateConfig, AcceptsConfigsOutsideTheDefaults) {
  struct Case {
    const char* name;
    void (*change)(Config&);
  };
  const Case cases[] = {
      {"rendezvous", [](Config& c) { c.discovery_target.reset(); }},
      {"unicast without an interface",
       [](Config& c) {
         c.listen_interface.clear();
         c.discovery_target = Parse("192.0.2.1:27320");
         c.discovery_listen = Parse("0.0.0.0:27320");
       }},
      {"IPv6",
       [](Config& c) {
         c.listen_address = Parse("[::1]:0");
         c.discovery_target = Parse("[ff02::1:2]:27320");
         c.discovery_listen = Parse("[ff02::1:2]:27320");
       }},
      {"longest name", [](Config& c) { c.endpoint_name = std::string(255, 'x'); }},
      {"longest rate", [](Config& c) { c.rate = absl::Hours(1); }},
      {"largest multiplier", [](Config& c) { c.rate_timeout_multiplier = 1000; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Config config = ValidConfig();
    c.change(config);
    EXPECT_THAT(ValidateConfig(config), IsOk());
  }
}

TEST(ValidateConfig, RejectsEachFieldOutOfItsRange) {
  struct Case {
    void (*change)(Config&);
    const char* message_start;
    const char* why;
  };
  const Case cases[] = {
      {[](Config& c) { c.endpoint_id = 0; }, "GLUE_ENDPOINT_ID='0': ", "1.."},
      {[](Config& c) { c.endpoint_name.clear(); }, "GLUE_ENDPOINT_NAME='': ", "1..255"},
      {[](Config& c) { c.endpoint_name = "a b"; },
       "GLUE_ENDPOINT_NAME='a b': ", "without spaces"},
      {[](Config& c) { c.endpoint_name = std::string(256, 'x'); },
       "GLUE_ENDPOINT_NAME='x", "1..255"},
      {[](Config& c) { c.listen_interface = "bad/name"; },
       "GLUE_LISTEN_INTERFACE='bad/name': ", "invalid character"},
      {[](Config& c) { c.listen_interface.clear(); },
       "GLUE_DISCOVERY_LISTEN_ADDRESS='239.192.137.1:27320': ", "listen_interface"},
      {[](Config& c) {
         c.listen_interface.clear();
         c.discovery_listen = Parse("0.0.0.0:27320");
       },
       "GLUE_DISCOVERY_TARGET_ADDRESS='239.192.137.1:27320': ", "listen_interface"},
      {[](Config& c) { c.discovery_target = Parse("192.0.2.1:0"); },
       "GLUE_DISCOVERY_TARGET_ADDRESS='192.0.2.1:0': ", "port must not be 0"},
      {[](Config& c) { c.discovery_target = Parse("0.0.0.0:27320"); },
       "GLUE_DISCOVERY_TARGET_ADDRESS='0.0.0.0:27320': ", "unspecified"},
      {[](Config& c) { c.discovery_listen = Parse("239.192.137.1:0"); },
       "GLUE_DISCOVERY_LISTEN_ADDRESS='239.192.137.1:0': ", "port must not be 0"},
      {[](Config& c) { c.rate = absl::ZeroDuration(); },
       "GLUE_DISCOVERY_RATE_MILLISECONDS='0': ", "1..3600000"},
      {[](Config& c) { c.rate = -absl::Milliseconds(5); },
       "GLUE_DISCOVERY_RATE_MILLISECONDS='-5': ", "1..3600000"},
      {[](Config& c) { c.rate = absl::Microseconds(1500); },
       "GLUE_DISCOVERY_RATE_MILLISECONDS='1.5': ", "whole number of milliseconds"},
      {[](Config& c) { c.rate = absl::Hours(1) + absl::Milliseconds(1); },
       "GLUE_DISCOVERY_RATE_MILLISECONDS='3600001': ", "1..3600000"},
      {[](Config& c) { c.rate_timeout_multiplier = 0; },
       "GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER='0': ", "1..1000"},
      {[](Config& c) { c.rate_timeout_multiplier = 1001; },
       "GLUE_DISCOVERY_RATE_TIMEOUT_MULTIPLIER='1001': ", "1..1000"},
      {[](Config& c) { c.listen_address = Parse("[::]:0"); },
       "GLUE_LISTEN_ADDRESS='[::]:0': ",
       "IPv6 address, but GLUE_DISCOVERY_LISTEN_ADDRESS='239.192.137.1:27320' is IPv4"},
      {[](Config& c) { c.discovery_target = Parse("[ff02::1:2]:27320"); },
       "GLUE_DISCOVERY_TARGET_ADDRESS='[ff02::1:2]:27320': ", "of one family"},
      {[](Config& c) {
         c.listen_address = Parse("[::]:0");
         c.discovery_listen = Parse("[ff02::1:2]:27320");
       },
       "GLUE_DISCOVERY_TARGET_ADDRESS='239.192.137.1:27320': ", "of one family"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message_start);
    Config config = ValidConfig();
    c.change(config);
    EXPECT_THAT(ValidateConfig(config),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(StartsWith(c.message_start), HasSubstr(c.why))));
  }
}

TEST(Config, PeerTimeoutIsTheRateTimesTheMultiplier) {
  Config config;
  config.rate = absl::Milliseconds(300);
  config.rate_timeout_multiplier = 3;
  EXPECT_EQ(config.peer_timeout(), absl::Milliseconds(900));
}

TEST(ConfigFromEnvironment, TheDefaultProvidersFollowTheTarget) {
  ASSERT_OK_AND_ASSIGN(Config multicast, ConfigFromEnvironment(MapEnvironment({})));
  EXPECT_TRUE(multicast.providers.empty());
  EXPECT_EQ(ProvidersInUse(multicast), std::vector<std::string>{"multicast"});
  ASSERT_OK_AND_ASSIGN(Config client,
                       ConfigFromEnvironment(MapEnvironment(
                           {{"GLUE_DISCOVERY_TARGET_ADDRESS", "127.0.0.1:27320"}})));
  EXPECT_EQ(ProvidersInUse(client), std::vector<std::string>{"rendezvous"});
  ASSERT_OK_AND_ASSIGN(
      Config rendezvous,
      ConfigFromEnvironment(MapEnvironment({{"GLUE_DISCOVERY_TARGET_ADDRESS", "0"}})));
  EXPECT_TRUE(ProvidersInUse(rendezvous).empty());
}

TEST(ConfigFromEnvironment, ProvidersAreAListOfBuiltInNames) {
  ASSERT_OK_AND_ASSIGN(
      Config none,
      ConfigFromEnvironment(MapEnvironment({{"GLUE_DISCOVERY_PROVIDERS", "none"}})));
  EXPECT_TRUE(ProvidersInUse(none).empty());
  ASSERT_OK_AND_ASSIGN(
      Config multicast,
      ConfigFromEnvironment(MapEnvironment({{"GLUE_DISCOVERY_PROVIDERS", "multicast"}})));
  EXPECT_EQ(ProvidersInUse(multicast), std::vector<std::string>{"multicast"});
}

TEST(ConfigFromEnvironment, BadProvidersAreNamed) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"multicast,,", "none empty"},
      {"multicast,multicast", "'multicast' is named twice"},
      {"carrier-pigeon", "unknown provider 'carrier-pigeon'"},
      {"none,multicast", "names no other"},
      {"rendezvous", "names (IP:PORT, not a group)"},
  };
  for (const auto& [value, error] : cases) {
    EXPECT_THAT(
        ConfigFromEnvironment(MapEnvironment({{"GLUE_DISCOVERY_PROVIDERS", value}})),
        StatusIs(absl::StatusCode::kInvalidArgument,
                 AllOf(HasSubstr(absl::StrCat("GLUE_DISCOVERY_PROVIDERS='", value, "'")),
                       HasSubstr(error))))
        << value;
  }
  EXPECT_THAT(
      ConfigFromEnvironment(MapEnvironment({{"GLUE_DISCOVERY_PROVIDERS", "multicast"},
                                            {"GLUE_DISCOVERY_TARGET_ADDRESS", "0"}})),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("this endpoint is a rendezvous")));
}

}  // namespace
}  // namespace glue::discovery
