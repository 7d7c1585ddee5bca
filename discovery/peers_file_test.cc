#include "glue/discovery/peers_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "glue/base/status_matchers.h"

namespace glue::discovery {
namespace {

using ::glue::testing::IsOk;
using ::glue::testing::IsOkAndHolds;
using ::glue::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A file as the Go package writes it (json.MarshalIndent of its Peers), with the
// members glue does not read: info's metadata, pid, description, domain, aws_instance.
constexpr absl::string_view kGoFile = R"({
  "info": {
    "num_replicas": 3,
    "updated": "2017-07-14T11:02:41.964591-04:00",
    "generated_by": "fluidfs peers sync",
    "extra": {"anything": [1, 2.5e3, null, true, false, {"deep": "\u00e9"}]}
  },
  "replicas": [
    {
      "pid": 1,
      "name": "apollo",
      "description": "Dell Optiplex in the lab",
      "hostname": "apollo",
      "ip_address": "192.168.1.10",
      "domain": "apollo.example.com",
      "port": 3264,
      "aws_instance": {
        "availability_zone": "us-east-1c",
        "instance_id": "i-0a1b2c3d4e5f67890"
      }
    },
    {
      "pid": 2,
      "name": "hyperion",
      "hostname": "hyperion",
      "ip_address": "192.168.1.10",
      "port": 3265
    },
    {
      "pid": 3,
      "name": "lethe",
      "description": "",
      "ip_address": "2001:db8::12",
      "domain": "lethe.example.com",
      "port": 3264
    }
  ]
}
)";

// A plain file of one peer, for the tests that need a file to exist.
constexpr absl::string_view kOnePeer = "10.0.0.1:5\n";

network::Address Parse(absl::string_view text) {
  absl::StatusOr<network::Address> address = network::ParseAddress(text);
  EXPECT_OK(address);
  return address.value_or(network::Address());
}

PeersFileEntry Entry(absl::string_view address, std::string name = "",
                     std::string hostname = "", int line = 0) {
  return {Parse(address), std::move(name), std::move(hostname), line};
}

// WithoutLines returns `entries` as built in code: where they stood is not compared.
std::vector<PeersFileEntry> WithoutLines(std::vector<PeersFileEntry> entries) {
  for (PeersFileEntry& entry : entries) entry.line = 0;
  return entries;
}

// WriteFile puts `contents` at `path`, making its directories.
void WriteFile(const std::string& path, absl::string_view contents) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// TempDirectory is a directory of its own under the test's temporary directory,
// removed with everything in it at the end of the test.
class TempDirectory {
 public:
  TempDirectory() {
    std::string pattern =
        (std::filesystem::path(::testing::TempDir()) / "peers_file_test_XXXXXX").string();
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    path_ = pattern;
  }
  ~TempDirectory() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDirectory(const TempDirectory&) = delete;
  TempDirectory& operator=(const TempDirectory&) = delete;

  const std::string& path() const { return path_; }

  // Write puts `contents` in the file `name` (making its directories) and returns
  // its path.
  std::string Write(absl::string_view name, absl::string_view contents) const {
    const std::string file = absl::StrCat(path_, "/", name);
    WriteFile(file, contents);
    return file;
  }

  // Names lists the directory's entries.
  std::set<std::string> Names() const {
    std::set<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.insert(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::string path_;
};

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
}

TEST(ParsePeersFile, ReadsAFileTheGoPackageWrote) {
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries,
                       ParsePeersFile(kGoFile, "peers.json"));
  EXPECT_THAT(entries, ElementsAre(Entry("192.168.1.10:3264", "apollo", "apollo", 9),
                                   Entry("192.168.1.10:3265", "hyperion", "hyperion", 22),
                                   Entry("[2001:db8::12]:3264", "lethe", "", 29)));
}

TEST(ParsePeersFile, TakesWhatGoWritesForNothing) {
  // A Go Peers without peers has a nil slice, written as null; so may its info be,
  // and an unset string member read from an edited file.
  EXPECT_THAT(ParsePeersFile(R"({"info": null, "replicas": null})", "p"),
              IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(ParsePeersFile(R"({"replicas": []})", "p"), IsOkAndHolds(IsEmpty()));
  EXPECT_THAT(
      ParsePeersFile(
          R"({"replicas": [{"name": null, "hostname": null, "ip_address": "10.0.0.1", "port": 1}]})",
          "p"),
      IsOkAndHolds(ElementsAre(Entry("10.0.0.1:1", "", "", 1))));
}

TEST(ParsePeersFile, TakesAPortWrittenAsAStringOfDigitsAndTheEndsOfTheRange) {
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries,
                       ParsePeersFile(R"({"replicas": [
                           {"ip_address": "10.0.0.1", "port": "27400"},
                           {"ip_address": "10.0.0.2", "port": 1},
                           {"port": 65535, "ip_address": "fe80::1"}]})",
                                      "p"));
  EXPECT_THAT(WithoutLines(entries),
              ElementsAre(Entry("10.0.0.1:27400"), Entry("10.0.0.2:1"),
                          Entry("[fe80::1]:65535")));
}

TEST(ParsePeersFile, KeepsEntriesInOrderWithDuplicatesAndDecodesNames) {
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries,
                       ParsePeersFile(R"({"replicas": [
    {"ip_address": "10.0.0.1", "port": 5, "name": "caf\u00e9 \"one\""},
    {"ip_address": "10.0.0.1", "port": 5, "name": "\ud83d\ude00"}]})",
                                      "p"));
  EXPECT_THAT(entries, ElementsAre(Entry("10.0.0.1:5", "caf\xc3\xa9 \"one\"", "", 2),
                                   Entry("10.0.0.1:5", "\xf0\x9f\x98\x80", "", 3)));
}

TEST(ParsePeersFile, MembersNotReadMayRepeatAndHoldAnything) {
  EXPECT_THAT(ParsePeersFile(R"({"info": {"a": 1, "a": [2]}, "other": {"x": {}},
      "replicas": [{"pid": 1, "pid": 2, "ip_address": "10.0.0.1", "port": 5,
                    "aws_instance": {"k": "v", "k": "w"}}], "info": "again"})",
                             "p"),
              IsOkAndHolds(ElementsAre(Entry("10.0.0.1:5", "", "", 2))));
}

TEST(ParsePeersFile, ReadsOneAddressALine) {
  const std::string text =
      "# the replicas of the lab\n"
      "10.0.0.1:27400\n"
      "\n"
      "   10.0.0.1:27401   # a second endpoint on the same host\r\n"
      "\t[2001:db8::1]:27400\n"
      "[fe80::1%1]:5\n"
      "   # the end\n";
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries, ParsePeersFile(text, "p"));
  ASSERT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries[0], Entry("10.0.0.1:27400", "", "", 2));
  EXPECT_EQ(entries[1], Entry("10.0.0.1:27401", "", "", 4));
  EXPECT_EQ(entries[2], Entry("[2001:db8::1]:27400", "", "", 5));
  EXPECT_EQ(entries[3].line, 6);
  EXPECT_EQ(entries[3].address.port(), 5);
  EXPECT_EQ(entries[3].address.address().to_v6().scope_id(), 1u);
  // A file of comments lists no peers, on purpose.
  EXPECT_THAT(ParsePeersFile("# none yet\n", "p"), IsOkAndHolds(IsEmpty()));
}

TEST(ParsePeersFile, TheFirstCharacterThatIsNotWhitespaceDecidesTheForm) {
  // JSON after blank lines and a byte order mark; `[` starts an IPv6 address, not a
  // JSON array.
  EXPECT_THAT(ParsePeersFile("\xef\xbb\xbf\n\n  {\"replicas\": [{\"ip_address\": "
                             "\"10.0.0.1\", \"port\": 5}]}",
                             "p"),
              IsOkAndHolds(ElementsAre(Entry("10.0.0.1:5", "", "", 3))));
  EXPECT_THAT(ParsePeersFile("\xef\xbb\xbf[::1]:5\n", "p"),
              IsOkAndHolds(ElementsAre(Entry("[::1]:5", "", "", 1))));
}

TEST(ParsePeersFile, EveryErrorNamesTheFileAndWhere) {
  struct Case {
    std::string text;
    std::string message;
    absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  };
  // A replica in a file, for the cases about its members.
  auto replica = [](absl::string_view members) {
    return absl::StrCat("{\"replicas\": [\n  {", members, "}\n]}");
  };
  const std::vector<Case> cases = {
      // Not a peers file at all.
      {"", "peers file p is empty; expected a JSON object or lines of IP:PORT"},
      {" \n\t\r\n", "peers file p is empty"},
      {"{}", "peers file p:1:1: the object has no \"replicas\""},
      {R"({"info": {}})", "peers file p:1:1: the object has no \"replicas\""},
      // Truncated, or not JSON.
      {"{\"replicas\": [", "peers file p:1:15: unexpected end of the text"},
      {R"({"replicas": [{"ip_address": "10.0.0.1", "port": 7000})",
       "peers file p:1:55: expected ',' or ']', found the end of the text"},
      {R"({"replicas": [{"ip_address": "10.0.0.1", "port": 7000}])",
       "peers file p:1:56: expected ',' or '}', found the end of the text"},
      {R"({"replicas": [],})", "peers file p:1:17: expected a member name"},
      {R"({"replicas": []} {})", "peers file p:1:18: expected the end of the text"},
      {"{\"replicas\": []}\n// written by hand", "peers file p:2:1: expected the end"},
      {R"({'replicas': []})",
       "peers file p:1:2: expected a member name in double quotes"},
      {R"({"info": {"a": "\x"}, "replicas": []})", "peers file p:1:17: invalid escape"},
      {R"({"info": "\ud800", "replicas": []})", "peers file p:1:11: unpaired surrogate"},
      {"{\"info\": \"\xff\", \"replicas\": []}",
       "peers file p:1:11: byte 0xFF is not valid UTF-8"},
      // Members of the wrong type.
      {R"({"replicas": {}})",
       "peers file p:1:14: \"replicas\": expected an array, found an object"},
      {R"({"replicas": ["10.0.0.1:7000"]})",
       "peers file p:1:15: replicas[0]: expected an object, found a string"},
      {replica(R"("ip_address": 10, "port": 7000)"),
       "peers file p:2:18: replicas[0].ip_address: expected a string, found a number"},
      {replica(R"("ip_address": "10.0.0.1", "port": true)"),
       "peers file p:2:38: replicas[0].port: expected a number in 1..65535 (or a "
       "string of its digits), found true"},
      {replica(R"("ip_address": "10.0.0.1", "port": null)"), "found null"},
      {replica(R"("ip_address": "10.0.0.1", "port": 5, "name": 5)"),
       "peers file p:2:49: replicas[0].name: expected a string, found a number"},
      {replica(R"("ip_address": "10.0.0.1", "port": 5, "hostname": [])"),
       "replicas[0].hostname: expected a string, found an array"},
      // Ports out of range or not integers.
      {replica(R"("ip_address": "10.0.0.1", "port": 0)"),
       "peers file p:2:38: replicas[0].port: '0' is not a port in 1..65535"},
      {replica(R"("ip_address": "10.0.0.1", "port": 65536)"), "'65536' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": -1)"), "'-1' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": 7000.0)"), "'7000.0' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": 7e3)"), "'7e3' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": "")"), "'' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": " 7000")"), "' 7000' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": "70a")"), "'70a' is not a port"},
      {replica(R"("ip_address": "10.0.0.1", "port": 07)"),
       "peers file p:2:39: a number must not have leading zeros"},
      // Addresses that are no peer's.
      {replica(R"("ip_address": "db1.example.com", "port": 5)"),
       "peers file p:2:18: replicas[0].ip_address: 'db1.example.com' is a host name; a "
       "peers file takes IP addresses only (names are not looked up)"},
      {replica(R"("ip_address": "localhost", "port": 5)"), "'localhost' is a host name"},
      {replica(R"("ip_address": "10.0.0.1:7000", "port": 5)"),
       "replicas[0].ip_address: '10.0.0.1:7000' is not an IPv4 or IPv6 address"},
      {replica(R"("ip_address": "[::1]", "port": 5)"), "'[::1]' is not an IPv4 or IPv6"},
      {replica(R"("ip_address": "10.0.0.256", "port": 5)"), "'10.0.0.256' is not an"},
      {replica(R"("ip_address": "", "port": 5)"), "'' is not an IPv4 or IPv6 address"},
      {replica(R"("ip_address": "0.0.0.0", "port": 5)"),
       "peers file p:2:18: replicas[0].ip_address: 0.0.0.0 is the unspecified address"},
      {replica(R"("ip_address": "::", "port": 5)"), ":: is the unspecified address"},
      // Members missing or given twice.
      {R"({"replicas": [{"ip_address": "10.0.0.1", "port": 5},
                  {"port": 5}]})",
       "peers file p:2:19: replicas[1] has no \"ip_address\""},
      {replica(R"("ip_address": "10.0.0.1", "pid": 5)"),
       "peers file p:2:3: replicas[0] has no \"port\""},
      {replica(R"("ip_address": "10.0.0.1", "port": 5, "port": 6)"),
       "peers file p:2:41: replicas[0].port is given twice"},
      {replica(R"("name": "a", "ip_address": "10.0.0.1", "port": 5, "name": "b")"),
       "replicas[0].name is given twice"},
      {R"({"replicas": [], "replicas": []})",
       "peers file p:1:18: \"replicas\" is given twice"},
      // The plain form.
      {"10.0.0.1", "peers file p:1:1: address '10.0.0.1': expected HOST:PORT"},
      {"# c\n  10.0.0.1:0\n",
       "peers file p:2:3: address '10.0.0.1:0': port 0 takes no announcements"},
      {"db1:7000",
       "peers file p:1:1: address 'db1:7000': 'db1' is a host name; a peers file takes "
       "IP addresses only"},
      {"10.0.0.1:7000 10.0.0.2:7000",
       "peers file p:1:1: '10.0.0.1:7000 10.0.0.2:7000': expected one address per line"},
      {"0.0.0.0:7000", "0.0.0.0 is the unspecified address"},
      {"[::1]:70000", "port '70000' is not a number"},
      {"::1:7000", "an IPv6 address must be written in brackets"},
      {"10.0.0.1:7000\n\n 300.1.1.1:7000",
       "peers file p:3:2: address '300.1.1.1:7000': '300.1.1.1' is not an IPv4"},
      {"replicas: 10.0.0.1:7000", "expected one address per line"},
      {std::string("10.0.0.1:70\0\x01", 13),
       "peers file p:1:1: '10.0.0.1:70\\x00\\x01': a byte that is not printable ASCII"},
      {"\x7f"
       "ELF\x02\x01",
       "peers file p:1:1: '\\x7f\\x45LF\\x02\\x01': a byte"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::CHexEscape(c.text));
    EXPECT_THAT(ParsePeersFile(c.text, "p"), StatusIs(c.code, HasSubstr(c.message)));
    EXPECT_THAT(ParsePeersFile(c.text, "p"),
                StatusIs(c.code, StartsWith("peers file p")));
  }
}

TEST(ParsePeersFile, EveryTruncationIsAnError) {
  const absl::string_view text = absl::StripTrailingAsciiWhitespace(kGoFile);
  for (size_t length = 0; length < text.size(); ++length) {
    SCOPED_TRACE(length);
    EXPECT_THAT(ParsePeersFile(text.substr(0, length), "p"),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("peers file p")));
  }
}

TEST(ParsePeersFile, ACorruptedByteIsReadOrRefusedNeverMisread) {
  // Every byte replaced by each of a few that matter to the grammar: the reader must
  // either take the text or refuse it with a message, never crash.
  const std::string replacements = std::string("\"{}[],:\\0x \n\xff\x80") + '\0';
  for (size_t at = 0; at < kGoFile.size(); ++at) {
    for (const char replacement : replacements) {
      std::string text(kGoFile);
      text[at] = replacement;
      absl::StatusOr<std::vector<PeersFileEntry>> entries = ParsePeersFile(text, "p");
      if (!entries.ok()) {
        ASSERT_THAT(entries, StatusIs(absl::StatusCode::kInvalidArgument,
                                      StartsWith("peers file p:")))
            << "byte " << at << " replaced by "
            << absl::CHexEscape(std::string(1, replacement));
      } else {
        EXPECT_LE(entries->size(), 3u);
      }
    }
  }
}

TEST(ParsePeersFile, TheBoundsAreResourceExhausted) {
  // Size: a valid file padded to the bound is read; one byte more is not.
  std::string text = R"({"replicas": []})";
  text.resize(kMaxPeersFileBytes, ' ');
  EXPECT_OK(ParsePeersFile(text, "p"));
  text.push_back(' ');
  EXPECT_THAT(ParsePeersFile(text, "p"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "peers file p is larger than 1048576 bytes, the most a peers "
                       "file may be"));

  // Depth: the top object is 1, so 63 arrays in it reach the bound.
  auto nested = [](int arrays) {
    return absl::StrCat(R"({"info": )", std::string(arrays, '['),
                        std::string(arrays, ']'), R"(, "replicas": []})");
  };
  EXPECT_OK(ParsePeersFile(nested(kMaxPeersFileDepth - 1), "p"));
  EXPECT_THAT(ParsePeersFile(nested(kMaxPeersFileDepth), "p"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "peers file p:1:73: objects and arrays nest deeper than 64 "
                       "levels"));

  // Entries, in either form.
  std::string json = R"({"replicas": [)";
  std::string lines;
  for (size_t i = 0; i < kMaxPeersFileEntries; ++i) {
    absl::StrAppend(&json, i == 0 ? "" : ",",
                    "\n{\"ip_address\": \"10.0.0.1\", \"port\": ", i + 1, "}");
    absl::StrAppend(&lines, "10.0.0.1:", i + 1, "\n");
  }
  EXPECT_THAT(ParsePeersFile(absl::StrCat(json, "]}"), "p"),
              IsOkAndHolds(::testing::SizeIs(kMaxPeersFileEntries)));
  EXPECT_THAT(ParsePeersFile(lines, "p"),
              IsOkAndHolds(::testing::SizeIs(kMaxPeersFileEntries)));
  EXPECT_THAT(
      ParsePeersFile(
          absl::StrCat(json, ",\n{\"ip_address\": \"10.0.0.2\", \"port\": 1}]}"), "p"),
      StatusIs(absl::StatusCode::kResourceExhausted,
               "peers file p:4098:1: more than 4096 replicas"));
  EXPECT_THAT(ParsePeersFile(absl::StrCat(lines, "10.0.0.2:1\n"), "p"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "peers file p:4097:1: more than 4096 addresses"));
}

TEST(ReadPeersFile, ReadsWhatParsePeersFileReads) {
  TempDirectory dir;
  const std::string path = dir.Write("peers.json", kGoFile);
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries, ReadPeersFile(path));
  EXPECT_EQ(entries, *ParsePeersFile(kGoFile, path));
}

TEST(ReadPeersFile, ErrorsNameThePath) {
  TempDirectory dir;
  const std::string missing = absl::StrCat(dir.path(), "/none.json");
  EXPECT_THAT(
      ReadPeersFile(missing),
      StatusIs(absl::StatusCode::kNotFound,
               absl::StrCat("peers file ", missing, ": No such file or directory")));
  EXPECT_THAT(
      ReadPeersFile(dir.path()),
      StatusIs(absl::StatusCode::kFailedPrecondition,
               absl::StrCat("peers file ", dir.path(), " is not a regular file")));
  const std::string fifo = absl::StrCat(dir.path(), "/fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_THAT(ReadPeersFile(fifo), StatusIs(absl::StatusCode::kFailedPrecondition,
                                            HasSubstr("is not a regular file")));
  const std::string malformed = dir.Write("bad.json", "{\"replicas\": [}");
  EXPECT_THAT(ReadPeersFile(malformed),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       absl::StrCat("peers file ", malformed,
                                    ":1:15: expected a value, found '}'")));
  // Only a byte beyond the bound is read from a larger file.
  const std::string large =
      dir.Write("large.json", std::string(kMaxPeersFileBytes + (1 << 20), ' '));
  EXPECT_THAT(ReadPeersFile(large), StatusIs(absl::StatusCode::kResourceExhausted,
                                             HasSubstr("is larger than 1048576 bytes")));
}

// Where `auto` looks, made in a temporary directory: a working directory, a HOME and
// a system file, none of which exists until a test writes it.
class AutoSearch {
 public:
  AutoSearch()
      : cwd_(absl::StrCat(dir_.path(), "/cwd")),
        home_(absl::StrCat(dir_.path(), "/home")),
        system_(absl::StrCat(dir_.path(), "/etc/glue/peers.json")) {
    std::filesystem::create_directories(cwd_);
    std::filesystem::create_directories(home_);
  }

  PeersSearch search() const {
    return {.working_directory = cwd_, .system_file = system_};
  }
  std::string cwd_file() const { return absl::StrCat(cwd_, "/peers.json"); }
  std::string home_file() const { return absl::StrCat(home_, "/.glue/peers.json"); }
  const std::string& system_file() const { return system_; }
  const std::string& home() const { return home_; }

 private:
  TempDirectory dir_;
  std::string cwd_;
  std::string home_;
  std::string system_;
};

TEST(ResolvePeersPath, NoVariableAsksForNoFileWhateverFilesLieAround) {
  AutoSearch where;
  WriteFile(where.cwd_file(), kOnePeer);
  WriteFile(where.home_file(), kOnePeer);
  WriteFile(where.system_file(), kOnePeer);
  ASSERT_OK_AND_ASSIGN(
      PeersPath path,
      ResolvePeersPath(MapEnvironment({{"HOME", where.home()}}), where.search()));
  EXPECT_EQ(path.path, "");
  EXPECT_EQ(path.variable, "");
  EXPECT_FALSE(path.write);
}

TEST(ResolvePeersPath, GluePeersPathComesBeforeTheGoPackagesVariable) {
  ASSERT_OK_AND_ASSIGN(PeersPath path, ResolvePeersPath(MapEnvironment({
                                           {"GLUE_PEERS_PATH", "/srv/a.json"},
                                           {"PEERS_PATH", "/srv/b.json"},
                                           {"GLUE_PEERS_WRITE", "1"},
                                       })));
  EXPECT_EQ(path.path, "/srv/a.json");
  EXPECT_EQ(path.variable, "GLUE_PEERS_PATH");
  EXPECT_EQ(path.value, "/srv/a.json");
  EXPECT_EQ(path.origin, "GLUE_PEERS_PATH");
  EXPECT_TRUE(path.write);

  ASSERT_OK_AND_ASSIGN(path,
                       ResolvePeersPath(MapEnvironment({{"PEERS_PATH", "b.json"}})));
  EXPECT_EQ(path.path, "b.json");
  EXPECT_EQ(path.variable, "PEERS_PATH");
  EXPECT_EQ(path.origin, "PEERS_PATH");
  EXPECT_FALSE(path.write);

  // PEERS_PATH is the Go package's: empty is unset, as there, and `auto` a path.
  ASSERT_OK_AND_ASSIGN(path, ResolvePeersPath(MapEnvironment({{"PEERS_PATH", ""}})));
  EXPECT_EQ(path.path, "");
  ASSERT_OK_AND_ASSIGN(path, ResolvePeersPath(MapEnvironment({{"PEERS_PATH", "auto"}})));
  EXPECT_EQ(path.path, "auto");
}

TEST(ResolvePeersPath, AutoTakesTheFirstThatExistsOfCwdHomeAndSystem) {
  AutoSearch where;
  const EnvironmentLookup env =
      MapEnvironment({{"GLUE_PEERS_PATH", "auto"}, {"HOME", where.home()}});
  WriteFile(where.cwd_file(), kOnePeer);
  WriteFile(where.home_file(), kOnePeer);
  WriteFile(where.system_file(), kOnePeer);
  ASSERT_OK_AND_ASSIGN(PeersPath path, ResolvePeersPath(env, where.search()));
  EXPECT_EQ(path.path, where.cwd_file());
  EXPECT_EQ(path.variable, "GLUE_PEERS_PATH");
  EXPECT_EQ(path.value, "auto");
  EXPECT_EQ(path.origin,
            absl::StrCat("GLUE_PEERS_PATH=auto: the first that exists of ./peers.json, "
                         "$HOME/.glue/peers.json, ",
                         where.system_file()));

  std::filesystem::remove(where.cwd_file());
  ASSERT_OK_AND_ASSIGN(path, ResolvePeersPath(env, where.search()));
  EXPECT_EQ(path.path, where.home_file());

  std::filesystem::remove(where.home_file());
  ASSERT_OK_AND_ASSIGN(path, ResolvePeersPath(env, where.search()));
  EXPECT_EQ(path.path, where.system_file());

  // Without HOME, the second candidate is passed over.
  WriteFile(where.home_file(), kOnePeer);
  ASSERT_OK_AND_ASSIGN(
      path,
      ResolvePeersPath(MapEnvironment({{"GLUE_PEERS_PATH", "auto"}}), where.search()));
  EXPECT_EQ(path.path, where.system_file());
}

TEST(ResolvePeersPath, AutoFindingNoneIsNotFoundListingWhereItLooked) {
  AutoSearch where;
  EXPECT_THAT(
      ResolvePeersPath(
          MapEnvironment({{"GLUE_PEERS_PATH", "auto"}, {"HOME", where.home()}}),
          where.search()),
      StatusIs(absl::StatusCode::kNotFound,
               absl::StrCat("GLUE_PEERS_PATH='auto': none of ", where.cwd_file(), ", ",
                            where.home_file(), ", ", where.system_file(), " exists")));
  EXPECT_THAT(
      ResolvePeersPath(MapEnvironment({{"GLUE_PEERS_PATH", "auto"}}), where.search()),
      StatusIs(absl::StatusCode::kNotFound,
               absl::StrCat("GLUE_PEERS_PATH='auto': none of ", where.cwd_file(),
                            ", $HOME/.glue/peers.json (HOME is unset), ",
                            where.system_file(), " exists")));
}

TEST(ResolvePeersPath, AutoLooksInTheCurrentDirectoryByDefault) {
  const std::string expected = (std::filesystem::current_path() / "peers.json").string();
  absl::StatusOr<PeersPath> path =
      ResolvePeersPath(MapEnvironment({{"GLUE_PEERS_PATH", "auto"}}),
                       {.system_file = "/nonexistent/glue/peers.json"});
  if (path.ok()) {
    EXPECT_EQ(path->path, expected);
  } else {
    EXPECT_THAT(path, StatusIs(absl::StatusCode::kNotFound, HasSubstr(expected)));
  }
}

TEST(ResolvePeersPath, AMalformedVariableIsAnErrorNamingIt) {
  struct Case {
    absl::flat_hash_map<std::string, std::string> env;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"GLUE_PEERS_PATH", ""}},
       "GLUE_PEERS_PATH='': empty; expected a non-empty value"},
      {{{"GLUE_PEERS_PATH", "peers.json "}},
       "GLUE_PEERS_PATH='peers.json ': leading or trailing whitespace; expected a "
       "non-empty value"},
      {{{"PEERS_PATH", " peers.json"}},
       "PEERS_PATH=' peers.json': leading or trailing whitespace; expected a non-empty "
       "value"},
      {{{"GLUE_PEERS_PATH", "a"}, {"GLUE_PEERS_WRITE", "2"}},
       "GLUE_PEERS_WRITE='2': expected an integer in 0..1"},
      {{{"GLUE_PEERS_PATH", "a"}, {"GLUE_PEERS_WRITE", "yes"}},
       "GLUE_PEERS_WRITE='yes': expected an integer in 0..1"},
      {{{"GLUE_PEERS_WRITE", "1"}},
       "GLUE_PEERS_WRITE='1': names no file to keep; set GLUE_PEERS_PATH too"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    EXPECT_THAT(ResolvePeersPath(MapEnvironment(c.env)),
                StatusIs(absl::StatusCode::kInvalidArgument, c.message));
  }
}

TEST(ReadPeersFile, AnErrorAtStartNamesTheVariableTheFileAndTheLine) {
  AutoSearch where;
  WriteFile(where.home_file(), "10.0.0.1:5\n10.0.0.1:0\n");
  ASSERT_OK_AND_ASSIGN(PeersPath path,
                       ResolvePeersPath(MapEnvironment({{"GLUE_PEERS_PATH", "auto"},
                                                        {"HOME", where.home()}}),
                                        where.search()));
  EXPECT_THAT(
      ReadPeersFile(path),
      StatusIs(absl::StatusCode::kInvalidArgument,
               absl::StrCat("GLUE_PEERS_PATH='auto': peers file ", where.home_file(),
                            ":2:1: address '10.0.0.1:0': port 0 takes no "
                            "announcements; expected a port in 1..65535")));

  ASSERT_OK_AND_ASSIGN(path,
                       ResolvePeersPath(MapEnvironment({{"PEERS_PATH", "/none/p"}})));
  EXPECT_THAT(
      ReadPeersFile(path),
      StatusIs(absl::StatusCode::kNotFound,
               "PEERS_PATH='/none/p': peers file /none/p: No such file or directory"));

  WriteFile(where.system_file(), kOnePeer);
  ASSERT_OK_AND_ASSIGN(
      path, ResolvePeersPath(MapEnvironment({{"GLUE_PEERS_PATH", where.system_file()}})));
  EXPECT_THAT(ReadPeersFile(path),
              IsOkAndHolds(ElementsAre(Entry("10.0.0.1:5", "", "", 1))));
}

TEST(CheckPeersFamily, NamesTheFileAndLineOfAPeerOfTheOtherFamily) {
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> entries,
                       ParsePeersFile("10.0.0.1:5\n\n[2001:db8::1]:7000\n", "p"));
  EXPECT_THAT(CheckPeersFamily(entries, Parse("0.0.0.0:0"), "p"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peers file p:3: [2001:db8::1]:7000 is an IPv6 address, but this "
                       "endpoint's GLUE_LISTEN_ADDRESS 0.0.0.0:0 is IPv4; announcements "
                       "go to addresses of its family only"));
  EXPECT_THAT(CheckPeersFamily(entries, Parse("[::]:0"), "p"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("peers file p:1: 10.0.0.1:5 is an IPv4 address")));
  entries.pop_back();
  EXPECT_OK(CheckPeersFamily(entries, Parse("127.0.0.1:9"), "p"));
  EXPECT_OK(CheckPeersFamily({}, Parse("[::1]:9"), "p"));
}

const absl::Time kUpdated = absl::FromUnixMillis(1'714'564'800'500);  // 2024-05-01

TEST(FormatPeersFile, WritesTheGoPackagesFormat) {
  EXPECT_THAT(FormatPeersFile({Entry("10.0.0.1:7000", "a", "h1"),
                               Entry("[2001:db8::1]:7001", "b\"", "")},
                              kUpdated),
              IsOkAndHolds(std::string(R"({
  "info": {
    "written_by": "glue",
    "updated": "2024-05-01T12:00:00.5Z"
  },
  "replicas": [
    {
      "name": "a",
      "hostname": "h1",
      "ip_address": "10.0.0.1",
      "port": 7000
    },
    {
      "name": "b\"",
      "ip_address": "2001:db8::1",
      "port": 7001
    }
  ]
}
)")));
  EXPECT_THAT(FormatPeersFile({}, absl::FromUnixSeconds(0)), IsOkAndHolds(std::string(R"({
  "info": {
    "written_by": "glue",
    "updated": "1970-01-01T00:00:00Z"
  },
  "replicas": []
}
)")));
}

TEST(FormatPeersFile, RefusesWhatTheReaderWouldRefuse) {
  EXPECT_THAT(FormatPeersFile({Entry("10.0.0.1:1"), Entry("10.0.0.1:0")}, kUpdated),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer 1 (10.0.0.1:0): port 0 takes no announcements; expected a "
                       "port in 1..65535"));
  EXPECT_THAT(FormatPeersFile({Entry("[::]:5")}, kUpdated),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("peer 0 ([::]:5): :: is the unspecified address")));
  EXPECT_THAT(FormatPeersFile({Entry("10.0.0.1:1", "\xff")}, kUpdated),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "peer 0 (10.0.0.1:1): its name or hostname is not UTF-8, which "
                       "JSON cannot carry"));
  EXPECT_THAT(FormatPeersFile(std::vector<PeersFileEntry>(kMaxPeersFileEntries + 1,
                                                          Entry("10.0.0.1:1")),
                              kUpdated),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       "4097 peers; a peers file holds at most 4096"));
  EXPECT_THAT(FormatPeersFile({Entry("10.0.0.1:1", std::string(kMaxPeersFileBytes, 'n'))},
                              kUpdated),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("; a peers file is at most 1048576")));
}

TEST(WritePeersFile, WhatItWritesReadsBack) {
  TempDirectory dir;
  const std::string path = absl::StrCat(dir.path(), "/peers.json");
  const std::vector<PeersFileEntry> entries = {
      Entry("10.0.0.1:27400", "caf\xc3\xa9 \"1\"\n", "host-1"),
      Entry("10.0.0.1:27401", "", "host-1"),
      Entry("[2001:db8::1]:27400", "\\", ""),
  };
  ASSERT_OK(WritePeersFile(path, entries, kUpdated));
  ASSERT_OK_AND_ASSIGN(std::vector<PeersFileEntry> read, ReadPeersFile(path));
  EXPECT_EQ(WithoutLines(read), entries);
  EXPECT_EQ(read[0].line, 7);
  EXPECT_EQ(dir.Names(), std::set<std::string>{"peers.json"});
  EXPECT_EQ(std::filesystem::status(path).permissions(), std::filesystem::perms(0644));
}

TEST(WritePeersFile, ReplacesTheOldFileWholeAndLeavesNoTemporaryFile) {
  TempDirectory dir;
  const std::string old_contents = "10.0.0.1:1\n10.0.0.1:2\n";
  const std::string path = dir.Write("peers.json", old_contents);
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  // A reader that opened the file before the write goes on reading the old one whole:
  // the new file is another, renamed over the name, not the old one rewritten.
  const int reader = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(reader, 0);

  const std::vector<PeersFileEntry> entries = {Entry("10.0.0.2:3", "new")};
  ASSERT_OK(WritePeersFile(path, entries, kUpdated));

  std::string seen(256, '\0');
  const ssize_t n = ::pread(reader, seen.data(), seen.size(), 0);
  ::close(reader);
  ASSERT_GE(n, 0);
  seen.resize(static_cast<size_t>(n));
  EXPECT_EQ(seen, old_contents);
  EXPECT_EQ(Contents(path), *FormatPeersFile(entries, kUpdated));
  EXPECT_EQ(dir.Names(), std::set<std::string>{"peers.json"});
  EXPECT_EQ(std::filesystem::status(path).permissions(), std::filesystem::perms(0640));
}

TEST(WritePeersFile, AFailedWriteLeavesTheOldFileAndNoTemporaryFile) {
  TempDirectory dir;
  const std::string path = dir.Write("peers.json", "10.0.0.1:1\n");
  EXPECT_THAT(WritePeersFile(path, {Entry("10.0.0.1:0")}, kUpdated),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // A directory where the file should be: the rename fails after the temporary file
  // is written.
  const std::string occupied = absl::StrCat(dir.path(), "/occupied");
  std::filesystem::create_directories(absl::StrCat(occupied, "/x"));
  EXPECT_THAT(WritePeersFile(occupied, {Entry("10.0.0.1:1")}, kUpdated),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr(absl::StrCat("renaming ", occupied, ".tmp-"))));
  EXPECT_EQ(Contents(path), "10.0.0.1:1\n");
  EXPECT_EQ(dir.Names(), (std::set<std::string>{"occupied", "peers.json"}));
}

TEST(WritePeersFile, AMissingDirectoryIsNotFoundAndNotMade) {
  TempDirectory dir;
  const std::string directory = absl::StrCat(dir.path(), "/missing");
  EXPECT_THAT(
      WritePeersFile(absl::StrCat(directory, "/peers.json"), {}, kUpdated),
      StatusIs(absl::StatusCode::kNotFound,
               absl::StrCat("the directory ", directory, " of peers file ", directory,
                            "/peers.json (it is not made): No such file or "
                            "directory")));
  EXPECT_FALSE(std::filesystem::exists(directory));
}

TEST(PeersFileWatcher, ReportsTheFileFirstThenEachChangeOnly) {
  TempDirectory dir;
  const std::string path = absl::StrCat(dir.path(), "/peers.json");
  ASSERT_OK(WritePeersFile(path, {Entry("10.0.0.1:1")}, kUpdated));
  PeersFileWatcher watcher(path);
  EXPECT_THAT(
      watcher.Poll(),
      IsOkAndHolds(::testing::Optional(ElementsAre(Entry("10.0.0.1:1", "", "", 7)))));
  EXPECT_THAT(watcher.Poll(), IsOkAndHolds(std::nullopt));

  // Replaced at once, however soon after the last poll.
  ASSERT_OK(WritePeersFile(path, {Entry("10.0.0.1:1"), Entry("10.0.0.1:2")}, kUpdated));
  ASSERT_OK_AND_ASSIGN(std::optional<std::vector<PeersFileEntry>> change, watcher.Poll());
  ASSERT_TRUE(change.has_value());
  EXPECT_THAT(WithoutLines(*change),
              ElementsAre(Entry("10.0.0.1:1"), Entry("10.0.0.1:2")));

  // Rewritten with the same bytes: nothing to reload.
  ASSERT_OK(WritePeersFile(path, {Entry("10.0.0.1:1"), Entry("10.0.0.1:2")}, kUpdated));
  EXPECT_THAT(watcher.Poll(), IsOkAndHolds(std::nullopt));

  // Edited in place to the same size, within the same tick of the file system's clock.
  std::string edited = Contents(path);
  absl::StrReplaceAll({{"10.0.0.1", "10.0.0.9"}}, &edited);
  WriteFile(path, edited);
  ASSERT_OK_AND_ASSIGN(change, watcher.Poll());
  ASSERT_TRUE(change.has_value());
  EXPECT_THAT(WithoutLines(*change),
              ElementsAre(Entry("10.0.0.9:1"), Entry("10.0.0.9:2")));
}

TEST(PeersFileWatcher, ReportsAnErrorOncePerChangeAndThenTheRepairedFile) {
  TempDirectory dir;
  const std::string path = dir.Write("peers", "10.0.0.1:1\n");
  PeersFileWatcher watcher(path);
  ASSERT_THAT(watcher.Poll(), IsOk());

  dir.Write("peers", "10.0.0.1:1\n10.0.0.1\n");
  EXPECT_THAT(watcher.Poll(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith(absl::StrCat("peers file ", path, ":2:1: "))));
  EXPECT_THAT(watcher.Poll(), IsOkAndHolds(std::nullopt));

  std::filesystem::remove(path);
  EXPECT_THAT(watcher.Poll(), StatusIs(absl::StatusCode::kNotFound, HasSubstr(path)));
  EXPECT_THAT(watcher.Poll(), IsOkAndHolds(std::nullopt));

  dir.Write("peers", "10.0.0.1:1\n");
  EXPECT_THAT(
      watcher.Poll(),
      IsOkAndHolds(::testing::Optional(ElementsAre(Entry("10.0.0.1:1", "", "", 1)))));
}

TEST(PeersFileWatcher, ItsOwnWriteIsNoChangeButAnotherWriterIs) {
  TempDirectory dir;
  const std::string path = dir.Write("peers.json", "10.0.0.1:1\n");
  PeersFileWatcher watcher(path);
  ASSERT_THAT(watcher.Poll(), IsOk());

  ASSERT_OK(
      watcher.Write({Entry("10.0.0.1:1", "one"), Entry("10.0.0.1:2", "two")}, kUpdated));
  EXPECT_THAT(watcher.Poll(), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(ReadPeersFile(path), IsOkAndHolds(::testing::SizeIs(2)));

  ASSERT_OK(WritePeersFile(path, {Entry("10.0.0.1:3")}, kUpdated));
  ASSERT_OK_AND_ASSIGN(std::optional<std::vector<PeersFileEntry>> change, watcher.Poll());
  ASSERT_TRUE(change.has_value());
  EXPECT_THAT(WithoutLines(*change), ElementsAre(Entry("10.0.0.1:3")));
}

}  // namespace
}  // namespace glue::discovery
