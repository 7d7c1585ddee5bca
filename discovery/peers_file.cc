#include "glue/discovery/peers_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/cleanup/cleanup.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "discovery/json.h"
#include "glue/base/status_macros.h"
#include "glue/base/utf8.h"
#include "glue/discovery/config.h"

namespace glue::discovery {
namespace {

using internal::JsonReader;
using internal::LocatedError;
using internal::TextLocation;

constexpr absl::string_view kByteOrderMark = "\xef\xbb\xbf";

std::string Source(absl::string_view path) { return absl::StrCat("peers file ", path); }

// CheckDestination returns why `address` cannot take announcements, or OK.
absl::Status CheckDestination(const network::Address& address) {
  if (address.port() == 0) {
    return absl::InvalidArgumentError(
        "port 0 takes no announcements; expected a port in 1..65535");
  }
  if (address.address().is_unspecified()) {
    return absl::InvalidArgumentError(
        absl::StrCat(address.address().to_string(),
                     " is the unspecified address, no destination; expected the "
                     "address of the peer"));
  }
  return absl::OkStatus();
}

// RefuseHostName is the resolver for ParseAddress in a peers file: a name would be
// looked up at every read, by a resolver that may ask the network, and could change
// where announcements go without the file changing.
absl::StatusOr<boost::asio::ip::address> RefuseHostName(const std::string& host) {
  return absl::InvalidArgumentError(
      absl::StrCat("'", absl::CHexEscape(host),
                   "' is a host name; a peers file takes IP addresses only (names "
                   "are not looked up)"));
}

// ParseIp reads the `ip_address` of a replica.
absl::StatusOr<boost::asio::ip::address> ParseIp(const std::string& text) {
  boost::system::error_code ec;
  const boost::asio::ip::address ip = boost::asio::ip::make_address(text, ec);
  if (!ec) return ip;
  const bool looks_like_a_name =
      !text.empty() && text.find(':') == std::string::npos &&
      absl::c_any_of(text, [](char c) { return absl::ascii_isalpha(c); }) &&
      absl::c_all_of(text, [](char c) {
        return absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_';
      });
  if (looks_like_a_name) return RefuseHostName(text);
  return absl::InvalidArgumentError(
      absl::StrCat("'", absl::CHexEscape(text), "' is not an IPv4 or IPv6 address"));
}

// ParsePort reads the digits of a port, written as a JSON number or string.
absl::StatusOr<uint16_t> ParsePort(absl::string_view digits) {
  unsigned value = 0;
  const char* end = digits.data() + digits.size();
  const auto [ptr, ec] = std::from_chars(digits.data(), end, value);
  if (digits.empty() || ec != std::errc() || ptr != end || value < 1 || value > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", absl::CHexEscape(digits), "' is not a port in 1..65535"));
  }
  return static_cast<uint16_t>(value);
}

// ReplicaReader reads one element of "replicas".
class ReplicaReader {
 public:
  ReplicaReader(JsonReader* reader, size_t index) : reader_(*reader), index_(index) {}

  absl::StatusOr<PeersFileEntry> Read() {
    GLUE_ASSIGN_OR_RETURN(const JsonReader::Type type, reader_.Next());
    const TextLocation at = reader_.Where();
    if (type != JsonReader::Type::kObject) {
      return Error(
          at, absl::StrCat(": expected an object, found ", JsonReader::TypeName(type)));
    }
    GLUE_RETURN_IF_ERROR(reader_.ReadObject(
        [this](const std::string& name, TextLocation name_at) -> absl::Status {
          return ReadMember(name, name_at);
        }));
    if (!ip_.has_value()) return Error(at, " has no \"ip_address\"");
    if (!port_.has_value()) return Error(at, " has no \"port\"");
    PeersFileEntry entry;
    entry.address = network::Address(*ip_, *port_);
    if (absl::Status destination = CheckDestination(entry.address); !destination.ok()) {
      return Error(ip_at_, absl::StrCat(".ip_address: ", destination.message()));
    }
    entry.name = std::move(name_);
    entry.hostname = std::move(hostname_);
    entry.line = at.line;
    return entry;
  }

 private:
  absl::Status ReadMember(const std::string& name, TextLocation name_at) {
    if (name != "ip_address" && name != "port" && name != "name" && name != "hostname") {
      return reader_.Skip();
    }
    if (!seen_.insert(name).second) {
      return Error(name_at, absl::StrCat(".", name, " is given twice"));
    }
    GLUE_ASSIGN_OR_RETURN(const JsonReader::Type type, reader_.Next());
    const TextLocation at = reader_.Where();
    if (name == "ip_address") {
      if (type != JsonReader::Type::kString) return WrongType(at, name, "a string", type);
      GLUE_ASSIGN_OR_RETURN(const std::string text, reader_.ReadString());
      absl::StatusOr<boost::asio::ip::address> ip = ParseIp(text);
      if (!ip.ok()) {
        return Error(at, absl::StrCat(".ip_address: ", ip.status().message()));
      }
      ip_ = *ip;
      ip_at_ = at;
      return absl::OkStatus();
    }
    if (name == "port") {
      // Go writes a number; some writers quote it.
      std::string digits;
      if (type == JsonReader::Type::kNumber) {
        GLUE_ASSIGN_OR_RETURN(absl::string_view number, reader_.ReadNumber());
        digits = std::string(number);
      } else if (type == JsonReader::Type::kString) {
        GLUE_ASSIGN_OR_RETURN(digits, reader_.ReadString());
      } else {
        return WrongType(at, name, "a number in 1..65535 (or a string of its digits)",
                         type);
      }
      absl::StatusOr<uint16_t> port = ParsePort(digits);
      if (!port.ok()) return Error(at, absl::StrCat(".port: ", port.status().message()));
      port_ = *port;
      return absl::OkStatus();
    }
    // "name" or "hostname": null is Go's zero value.
    std::string* field = name == "name" ? &name_ : &hostname_;
    if (type == JsonReader::Type::kNull) return reader_.Skip();
    if (type != JsonReader::Type::kString) return WrongType(at, name, "a string", type);
    GLUE_ASSIGN_OR_RETURN(*field, reader_.ReadString());
    return absl::OkStatus();
  }

  absl::Status WrongType(TextLocation at, absl::string_view name,
                         absl::string_view expected, JsonReader::Type type) {
    return Error(at, absl::StrCat(".", name, ": expected ", expected, ", found ",
                                  JsonReader::TypeName(type)));
  }

  // Error points at `at`, naming the replica as a JSON path: `why` starts with the
  // member (".port: ...") or a space.
  absl::Status Error(TextLocation at, absl::string_view why) {
    return reader_.Error(at, absl::StatusCode::kInvalidArgument,
                         absl::StrCat("replicas[", index_, "]", why));
  }

  JsonReader& reader_;
  const size_t index_;
  std::set<std::string, std::less<>> seen_;  // the members read, to refuse them twice
  std::optional<boost::asio::ip::address> ip_;
  TextLocation ip_at_;
  std::optional<uint16_t> port_;
  std::string name_;
  std::string hostname_;
};

absl::StatusOr<std::vector<PeersFileEntry>> ParseJson(absl::string_view contents,
                                                      const std::string& source) {
  JsonReader reader(contents, source, kMaxPeersFileDepth);
  const TextLocation top = reader.Where();
  std::vector<PeersFileEntry> entries;
  std::optional<TextLocation> replicas_at;
  GLUE_RETURN_IF_ERROR(reader.ReadObject([&](const std::string& name,
                                             TextLocation name_at) -> absl::Status {
    if (name != "replicas") return reader.Skip();
    if (replicas_at.has_value()) {
      return reader.Error(name_at, absl::StatusCode::kInvalidArgument,
                          "\"replicas\" is given twice");
    }
    replicas_at = name_at;
    GLUE_ASSIGN_OR_RETURN(const JsonReader::Type type, reader.Next());
    if (type == JsonReader::Type::kNull) return reader.Skip();
    if (type != JsonReader::Type::kArray) {
      return reader.Error(reader.Where(), absl::StatusCode::kInvalidArgument,
                          absl::StrCat("\"replicas\": expected an array, found ",
                                       JsonReader::TypeName(type)));
    }
    return reader.ReadArray([&](size_t index) -> absl::Status {
      if (index == kMaxPeersFileEntries) {
        return reader.Error(
            reader.Where(), absl::StatusCode::kResourceExhausted,
            absl::StrCat("more than ", kMaxPeersFileEntries, " replicas"));
      }
      GLUE_ASSIGN_OR_RETURN(PeersFileEntry entry, ReplicaReader(&reader, index).Read());
      entries.push_back(std::move(entry));
      return absl::OkStatus();
    });
  }));
  GLUE_RETURN_IF_ERROR(reader.ReadEnd());
  if (!replicas_at.has_value()) {
    return reader.Error(top, absl::StatusCode::kInvalidArgument,
                        "the object has no \"replicas\"; a peers file is "
                        "{\"replicas\": [{\"ip_address\": ..., \"port\": ...}, ...]}");
  }
  return entries;
}

absl::StatusOr<std::vector<PeersFileEntry>> ParseLines(absl::string_view contents,
                                                       const std::string& source) {
  std::vector<PeersFileEntry> entries;
  int line_number = 0;
  for (const absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    const absl::string_view text =
        absl::StripAsciiWhitespace(line.substr(0, line.find('#')));
    if (text.empty()) continue;
    // Only ASCII whitespace comes before the address, so bytes count columns.
    const TextLocation at{line_number, static_cast<int>(text.data() - line.data()) + 1};
    if (absl::c_any_of(text, [](char c) { return absl::ascii_isspace(c); })) {
      return LocatedError(
          absl::StatusCode::kInvalidArgument, source, at,
          absl::StrCat("'", absl::CHexEscape(text),
                       "': expected one address per line, IP:PORT or [IPv6]:PORT"));
    }
    if (!absl::c_all_of(text, [](char c) { return absl::ascii_isgraph(c); })) {
      // Text, not bytes, for a file that is not one: ParseAddress quotes as it is.
      return LocatedError(absl::StatusCode::kInvalidArgument, source, at,
                          absl::StrCat("'", absl::CHexEscape(text),
                                       "': a byte that is not printable ASCII; "
                                       "expected IP:PORT or [IPv6]:PORT"));
    }
    if (entries.size() == kMaxPeersFileEntries) {
      return LocatedError(absl::StatusCode::kResourceExhausted, source, at,
                          absl::StrCat("more than ", kMaxPeersFileEntries, " addresses"));
    }
    absl::StatusOr<network::Address> address =
        network::ParseAddress(text, RefuseHostName);
    absl::Status valid = address.ok() ? CheckDestination(*address) : address.status();
    if (!valid.ok()) {
      // ParseAddress's messages quote the text already.
      return LocatedError(absl::StatusCode::kInvalidArgument, source, at,
                          address.ok()
                              ? absl::StrCat("address '", text, "': ", valid.message())
                              : valid.message());
    }
    entries.push_back({.address = *address, .line = line_number});
  }
  return entries;
}

// ReadContents reads the file at `path`, refusing what is not a regular file and
// reading no more than one byte beyond the bound, which ParsePeersFile then refuses.
absl::StatusOr<std::string> ReadContents(const std::string& path) {
  // O_NONBLOCK, so that a FIFO at `path` is refused below rather than waited on.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return absl::ErrnoToStatus(errno, Source(path));
  absl::Cleanup closer = [fd] { ::close(fd); };
  struct stat st {};
  if (::fstat(fd, &st) != 0) return absl::ErrnoToStatus(errno, Source(path));
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(Source(path), " is not a regular file"));
  }
  std::string contents;
  char buffer[1 << 16];
  while (contents.size() <= kMaxPeersFileBytes) {
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, Source(path));
    }
    if (n == 0) break;
    contents.append(buffer, static_cast<size_t>(n));
  }
  return contents;
}

absl::Status WriteAll(int fd, absl::string_view bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::ErrnoToStatus(errno, absl::StrCat("writing ", path));
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

// ReplaceFile puts `contents` at `path` through a temporary file renamed over it.
absl::Status ReplaceFile(const std::string& path, absl::string_view contents) {
  // The text before the last '/' (not std::filesystem::path::parent_path, whose
  // inlined copy GCC 12 at -O3 takes for an overflow and refuses under -Werror).
  const size_t slash = path.rfind('/');
  const std::string directory = slash == std::string::npos ? "."
                                : slash == 0               ? "/"
                                                           : path.substr(0, slash);
  struct stat st {};
  if (::stat(directory.c_str(), &st) != 0) {
    // A mistyped path should make no directories, so a missing one is an error.
    const int error = errno;
    return absl::ErrnoToStatus(
        error, absl::StrCat("the directory ", directory, " of ", Source(path),
                            error == ENOENT ? " (it is not made)" : ""));
  }
  if (!S_ISDIR(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat(directory, ", the directory of ", Source(path), ", is not one"));
  }
  const mode_t mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;

  std::string temporary = absl::StrCat(path, ".tmp-XXXXXX");
  const int fd = ::mkostemp(temporary.data(), O_CLOEXEC);
  if (fd < 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("making a temporary file for ", path));
  }
  absl::Cleanup remove = [&temporary] { ::unlink(temporary.c_str()); };
  absl::Cleanup closer = [fd] { ::close(fd); };
  GLUE_RETURN_IF_ERROR(WriteAll(fd, contents, temporary));
  if (::fchmod(fd, mode) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("chmod ", temporary));
  }
  if (::fsync(fd) != 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("syncing ", temporary));
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("renaming ", temporary, " to ", path));
  }
  std::move(remove).Cancel();
  // The rename is durable once the directory is synced; until then a crash may leave
  // the old file, which is whole too.
  const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (directory_fd < 0)
    return absl::ErrnoToStatus(errno, absl::StrCat("opening ", directory));
  const int synced = ::fsync(directory_fd);
  const int error = errno;
  ::close(directory_fd);
  if (synced != 0) return absl::ErrnoToStatus(error, absl::StrCat("syncing ", directory));
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindAuto(const EnvironmentLookup& env,
                                     const PeersSearch& search) {
  std::string working_directory = search.working_directory;
  if (working_directory.empty()) {
    std::error_code ec;
    working_directory = std::filesystem::current_path(ec).string();
    if (ec) {
      return VariableError(kPeersPathVariable, kPeersPathAuto,
                           absl::ErrnoToStatusCode(ec.value()),
                           absl::StrCat("the current directory: ", ec.message()));
    }
  }
  std::vector<std::string> candidates = {absl::StrCat(working_directory, "/peers.json")};
  std::vector<std::string> described = candidates;
  const std::optional<std::string> home = env("HOME");
  if (home.has_value() && !home->empty()) {
    candidates.push_back(absl::StrCat(*home, "/.glue/peers.json"));
    described.push_back(candidates.back());
  } else {
    described.push_back("$HOME/.glue/peers.json (HOME is unset)");
  }
  candidates.push_back(search.system_file);
  described.push_back(search.system_file);
  for (const std::string& candidate : candidates) {
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0) return candidate;
    const int error = errno;
    if (error != ENOENT && error != ENOTDIR) {
      return VariableError(kPeersPathVariable, kPeersPathAuto,
                           absl::ErrnoToStatusCode(error),
                           absl::StrCat("cannot tell whether ", candidate,
                                        " exists: ", std::strerror(error)));
    }
  }
  return VariableError(
      kPeersPathVariable, kPeersPathAuto, absl::StatusCode::kNotFound,
      absl::StrCat("none of ", absl::StrJoin(described, ", "), " exists"));
}

}  // namespace

absl::StatusOr<std::vector<PeersFileEntry>> ParsePeersFile(
    absl::string_view contents, absl::string_view path_for_errors) {
  const std::string source = Source(path_for_errors);
  if (contents.size() > kMaxPeersFileBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(source, " is larger than ", kMaxPeersFileBytes,
                     " bytes, the most a peers file may be"));
  }
  absl::ConsumePrefix(&contents, kByteOrderMark);
  const size_t first = contents.find_first_not_of(" \t\r\n\v\f");
  if (first == absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        " is empty; expected a JSON object or lines of IP:PORT (to list no peers, "
        "write {\"replicas\": []} or a comment)"));
  }
  if (contents[first] == '{') return ParseJson(contents, source);
  return ParseLines(contents, source);
}

absl::StatusOr<std::vector<PeersFileEntry>> ReadPeersFile(const std::string& path) {
  GLUE_ASSIGN_OR_RETURN(const std::string contents, ReadContents(path));
  return ParsePeersFile(contents, path);
}

absl::StatusOr<PeersPath> ResolvePeersPath(const EnvironmentLookup& env,
                                           const PeersSearch& search) {
  PeersPath where;
  GLUE_ASSIGN_OR_RETURN(const uint64_t write,
                        GetUint64(env, kPeersWriteVariable, 0, 0, 1));
  where.write = write == 1;
  GLUE_ASSIGN_OR_RETURN(std::optional<std::string> glue_path,
                        GetOptionalString(env, kPeersPathVariable));
  if (glue_path.has_value()) {
    where.variable = std::string(kPeersPathVariable);
    where.value = *glue_path;
    if (*glue_path == kPeersPathAuto) {
      GLUE_ASSIGN_OR_RETURN(where.path, FindAuto(env, search));
      where.origin = absl::StrCat(kPeersPathVariable, "=", kPeersPathAuto,
                                  ": the first that exists of ./peers.json, "
                                  "$HOME/.glue/peers.json, ",
                                  search.system_file);
    } else {
      where.path = *std::move(glue_path);
      where.origin = where.variable;
    }
    return where;
  }
  if (const std::optional<std::string> go_path = env(kGoPeersPathVariable);
      go_path.has_value() && !go_path->empty()) {
    GLUE_ASSIGN_OR_RETURN(where.path, GetString(env, kGoPeersPathVariable, ""));
    where.variable = std::string(kGoPeersPathVariable);
    where.value = where.path;
    where.origin = where.variable;
    return where;
  }
  if (where.write) {
    return VariableError(
        kPeersWriteVariable, "1", absl::StatusCode::kInvalidArgument,
        absl::StrCat("names no file to keep; set ", kPeersPathVariable, " too"));
  }
  return where;
}

absl::StatusOr<std::vector<PeersFileEntry>> ReadPeersFile(const PeersPath& where) {
  absl::StatusOr<std::vector<PeersFileEntry>> entries = ReadPeersFile(where.path);
  if (!entries.ok()) {
    return VariableError(where.variable, where.value, entries.status().code(),
                         entries.status().message());
  }
  return entries;
}

absl::Status CheckPeersFamily(absl::Span<const PeersFileEntry> entries,
                              const network::Address& listen_address,
                              absl::string_view path_for_errors) {
  auto family = [](const network::Address& address) -> absl::string_view {
    return address.address().is_v4() ? "IPv4" : "IPv6";
  };
  for (const PeersFileEntry& entry : entries) {
    if (entry.address.protocol() == listen_address.protocol()) continue;
    return absl::InvalidArgumentError(absl::StrCat(
        Source(path_for_errors), ":", entry.line, ": ",
        network::FormatAddress(entry.address), " is an ", family(entry.address),
        " address, but this endpoint's ", kListenAddressVariable, " ",
        network::FormatAddress(listen_address), " is ", family(listen_address),
        "; announcements go to addresses of its family only"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FormatPeersFile(absl::Span<const PeersFileEntry> entries,
                                            absl::Time updated) {
  if (entries.size() > kMaxPeersFileEntries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        entries.size(), " peers; a peers file holds at most ", kMaxPeersFileEntries));
  }
  std::string out = "{\n  \"info\": {\n    \"written_by\": \"glue\",\n    \"updated\": ";
  internal::AppendJsonString(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", updated, absl::UTCTimeZone()), &out);
  out.append("\n  },\n  \"replicas\": [");
  for (size_t i = 0; i < entries.size(); ++i) {
    const PeersFileEntry& entry = entries[i];
    if (absl::Status destination = CheckDestination(entry.address); !destination.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer ", i, " (", network::FormatAddress(entry.address),
                       "): ", destination.message()));
    }
    if (!IsValidUtf8(entry.name) || !IsValidUtf8(entry.hostname)) {
      return absl::InvalidArgumentError(
          absl::StrCat("peer ", i, " (", network::FormatAddress(entry.address),
                       "): its name or hostname is not UTF-8, which JSON cannot carry"));
    }
    out.append(i == 0 ? "\n    {\n      \"name\": " : ",\n    {\n      \"name\": ");
    internal::AppendJsonString(entry.name, &out);
    if (!entry.hostname.empty()) {
      out.append(",\n      \"hostname\": ");
      internal::AppendJsonString(entry.hostname, &out);
    }
    out.append(",\n      \"ip_address\": ");
    internal::AppendJsonString(entry.address.address().to_string(), &out);
    absl::StrAppend(&out, ",\n      \"port\": ", entry.address.port(), "\n    }");
  }
  out.append(entries.empty() ? "]\n}\n" : "\n  ]\n}\n");
  if (out.size() > kMaxPeersFileBytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the peers file would be ", out.size(),
                     " bytes; a peers file is at most ", kMaxPeersFileBytes));
  }
  return out;
}

absl::Status WritePeersFile(const std::string& path,
                            absl::Span<const PeersFileEntry> entries,
                            absl::Time updated) {
  GLUE_ASSIGN_OR_RETURN(const std::string contents, FormatPeersFile(entries, updated));
  return ReplaceFile(path, contents);
}

PeersFileWatcher::PeersFileWatcher(std::string path) : path_(std::move(path)) {}

absl::StatusOr<std::optional<std::vector<PeersFileEntry>>> PeersFileWatcher::Poll() {
  absl::StatusOr<std::string> contents = ReadContents(path_);
  if (last_.has_value() && *last_ == contents) return std::nullopt;
  last_ = contents;
  if (!contents.ok()) return contents.status();
  GLUE_ASSIGN_OR_RETURN(std::vector<PeersFileEntry> entries,
                        ParsePeersFile(*contents, path_));
  return entries;
}

absl::Status PeersFileWatcher::Write(absl::Span<const PeersFileEntry> entries,
                                     absl::Time updated) {
  GLUE_ASSIGN_OR_RETURN(std::string contents, FormatPeersFile(entries, updated));
  GLUE_RETURN_IF_ERROR(ReplaceFile(path_, contents));
  last_ = std::move(contents);
  return absl::OkStatus();
}

}  // namespace glue::discovery
