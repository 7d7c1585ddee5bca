// The peers file: the data addresses an endpoint announces itself to, for networks
// where multicast does not reach. The discovery layer reads it; it does no I/O beyond
// the file itself and reads no clock.
//
// Two forms, told apart by the first character that is not whitespace. `{` starts the
// JSON of the Go `peers` package, whose files keep working (other members, `info`
// included, are ignored whatever they hold):
//
//   {"info": {...},
//    "replicas": [{"name": "a", "hostname": "h1", "ip_address": "10.0.0.1",
//                  "port": 27400}, ...]}
//
// Anything else is the plain form, an address a line, `#` starting a comment:
//
//   10.0.0.1:27400    # a replica's GLUE_LISTEN_ADDRESS
//   [2001:db8::1]:27400
//
// A replica's `ip_address` and `port` are that endpoint's data address
// (GLUE_LISTEN_ADDRESS, which takes announcements too), so endpoints sharing a host
// are listed by port.
//
//   GLUE_ASSIGN_OR_RETURN(PeersPath where, ResolvePeersPath());
//   if (!where.path.empty()) {
//     log where.path and where.origin;
//     GLUE_ASSIGN_OR_RETURN(std::vector<PeersFileEntry> peers, ReadPeersFile(where));
//     PeersFileWatcher watcher(where.path);   // then, on the caller's timer:
//     absl::StatusOr<std::optional<std::vector<PeersFileEntry>>> change = watcher.Poll();
//   }
#ifndef GLUE_DISCOVERY_PEERS_FILE_H_
#define GLUE_DISCOVERY_PEERS_FILE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "glue/base/environment.h"
#include "glue/network/address.h"

namespace glue::discovery {

// The variables ResolvePeersPath reads. GLUE_PEERS_PATH names the file, or is `auto`;
// PEERS_PATH, the Go package's variable, names it when GLUE_PEERS_PATH is unset.
// GLUE_PEERS_WRITE=1 asks the endpoint to keep the file current with the peers it
// sees.
inline constexpr absl::string_view kPeersPathVariable = "GLUE_PEERS_PATH";
inline constexpr absl::string_view kGoPeersPathVariable = "PEERS_PATH";
inline constexpr absl::string_view kPeersWriteVariable = "GLUE_PEERS_WRITE";

// kPeersPathAuto, as GLUE_PEERS_PATH, takes the first file that exists of
// ./peers.json, $HOME/.glue/peers.json and /etc/glue/peers.json.
inline constexpr absl::string_view kPeersPathAuto = "auto";

// Bounds of a peers file, so that a wrong file (a log, a disk image) is refused
// rather than read: its size, how deep its JSON nests (the top object is depth 1), and
// how many peers it lists. Hitting one is kResourceExhausted.
inline constexpr size_t kMaxPeersFileBytes = size_t{1} << 20;
inline constexpr int kMaxPeersFileDepth = 64;
inline constexpr size_t kMaxPeersFileEntries = 4096;

// PeersFileEntry is one peer of the file. A plain value.
struct PeersFileEntry {
  // The peer's data address: an IP address (never a host name) and a port in
  // 1..65535, not the unspecified address.
  network::Address address;
  // The Go format's `name` and `hostname`, empty when absent (and in the plain form):
  // for logs (escaped there: they may hold any UTF-8, control characters included);
  // nothing is looked up by them.
  std::string name;
  std::string hostname;
  // Where the entry starts in its file, from 1: the line of the replica's `{`, or of
  // the address. 0 in an entry built in code.
  int line = 0;

  friend bool operator==(const PeersFileEntry&, const PeersFileEntry&) = default;
};

// ParsePeersFile reads the text of a peers file in either form; `path_for_errors`
// names it in messages. The entries come in the file's order, duplicates kept.
//
// JSON: strict RFC 8259 (UTF-8; no comments, trailing commas or other extensions).
// The top value is an object whose "replicas" is an array of objects, or null (as Go
// writes a collection without peers). In a replica, "ip_address" is an IPv4 or IPv6
// literal, optionally with a zone (`fe80::1%eth0`); "port" a number or a string of
// digits in 1..65535; "name" and "hostname" strings or null. Member names match
// exactly (Go would also take `IP_Address`). A member read here given twice in one
// object is an error: Go takes the last one silently, and either may be the one meant.
// Other members are read as JSON and dropped.
//
// Plain: each line holds one address, `IP:PORT` or `[IPv6]:PORT`, or nothing; `#`
// starts a comment that runs to the end of the line; CRLF line ends are accepted.
//
// A leading UTF-8 byte order mark is skipped. A file of nothing but whitespace is an
// error (a file meant to list no peers says so: `{"replicas": []}`, or a comment),
// since an emptied file more often means a failed write than no peers.
//
// Errors (messages start `peers file PATH:LINE:COLUMN: `, and name the replica as
// `replicas[INDEX]`): kInvalidArgument for anything malformed, a host name where an
// address belongs, port 0 or the unspecified address, a replica without ip_address
// or port, or a JSON top value without "replicas"; kResourceExhausted for a bound
// above. Thread-safe; pure.
absl::StatusOr<std::vector<PeersFileEntry>> ParsePeersFile(
    absl::string_view contents, absl::string_view path_for_errors);

// ReadPeersFile reads and parses the file at `path`, which must be a regular file.
// Errors: those of ParsePeersFile; those of the system, naming the path and the
// system's words (kNotFound for a missing file, kPermissionDenied...);
// kFailedPrecondition for a directory or another file that is not regular. A caller
// that cannot proceed without its peers reports any error at start; one that reloads
// keeps the peers it had (PeersFileWatcher). Blocking file I/O; thread-safe.
absl::StatusOr<std::vector<PeersFileEntry>> ReadPeersFile(const std::string& path);

// PeersSearch is where `auto` looks besides $HOME: the process's by default; tests
// give others.
struct PeersSearch {
  // The directory of `./peers.json`; empty: the current directory when
  // ResolvePeersPath runs.
  std::string working_directory;
  // The system-wide file.
  std::string system_file = "/etc/glue/peers.json";
};

// PeersPath is which peers file, if any, the environment asks for.
struct PeersPath {
  // The file to read, relative to the current directory unless absolute; empty when
  // no variable asks for a file: then none is read, so that a stray peers.json sends
  // announcements nowhere.
  std::string path;
  // The variable that chose it and its value, for messages; empty with `path`.
  std::string variable;
  std::string value;
  // Why this file, for the log line at start: `GLUE_PEERS_PATH`, `PEERS_PATH`, or for
  // `auto` the candidates in order.
  std::string origin;
  // GLUE_PEERS_WRITE=1: the endpoint keeps the file current (WritePeersFile).
  bool write = false;
};

// ResolvePeersPath reads GLUE_PEERS_PATH, else PEERS_PATH, and GLUE_PEERS_WRITE (0 or
// 1, default 0). GLUE_PEERS_PATH follows the rules of EnvironmentLookup's readers (set
// means non-empty); PEERS_PATH set to the empty text counts as unset, as it does for
// the Go package, and is a path even when it reads `auto`. `auto` takes the first of
// SEARCH.working_directory/peers.json, $HOME/.glue/peers.json (HOME read from `env`;
// skipped when unset) and SEARCH.system_file that exists (as any kind of file:
// reading it then says what is wrong with it). A path that does not exist is not an
// error here: ReadPeersFile reports it.
// Errors (each message starts `NAME='value': `): kInvalidArgument for a malformed
// variable, or GLUE_PEERS_WRITE=1 with no file named; kNotFound when `auto` finds none
// (the message lists the candidates); the system's code when whether a candidate
// exists cannot be told (a directory without search permission). Thread-safe when
// `env` is; asks the file system under `auto`.
absl::StatusOr<PeersPath> ResolvePeersPath(
    const EnvironmentLookup& env = ProcessEnvironment(), const PeersSearch& search = {});

// ReadPeersFile reads `where.path` (not empty), as ReadPeersFile(path) does, with
// errors that start `NAME='value': ` too: the error at start names the variable,
// the file and the line.
absl::StatusOr<std::vector<PeersFileEntry>> ReadPeersFile(const PeersPath& where);

// CheckPeersFamily checks that every entry is of the family (IPv4 or IPv6) of
// `listen_address`, the endpoint's GLUE_LISTEN_ADDRESS: discovery sends from sockets
// of that family only, so a peer of the other would never hear from it.
// Error: kInvalidArgument naming the file, the entry's line and both addresses.
// Thread-safe; pure.
absl::Status CheckPeersFamily(absl::Span<const PeersFileEntry> entries,
                              const network::Address& listen_address,
                              absl::string_view path_for_errors);

// FormatPeersFile returns the JSON form of `entries`, readable by the Go package:
// {"info": {"written_by": "glue", "updated": RFC 3339 time in UTC}, "replicas":
// [{"name", "hostname" (left out when empty), "ip_address", "port"}]}, indented, with
// a final newline. Errors: kInvalidArgument for an entry ParsePeersFile would refuse
// (port 0, the unspecified address, a name or hostname that is not UTF-8), naming its
// index; kResourceExhausted for more than kMaxPeersFileEntries entries or a text
// above kMaxPeersFileBytes. Thread-safe; pure.
absl::StatusOr<std::string> FormatPeersFile(absl::Span<const PeersFileEntry> entries,
                                            absl::Time updated);

// WritePeersFile replaces the file at `path` with FormatPeersFile(entries, updated),
// atomically: a temporary file in the same directory (`PATH.tmp-XXXXXX`) is written,
// synced and renamed over `path`, and the directory synced, so that a reader sees the
// old file or the new one whole, and after a crash one of them is there (with, at
// worst, a temporary file left beside it, which nothing reads). The new file
// has the permissions of the one it replaces, else 0644. Only glue's members are
// written: what else an earlier file held (Go's pid, description...; a plain file's
// comments) is not kept. A symbolic link at `path` is replaced, not followed.
// Errors: those of FormatPeersFile (nothing written); kNotFound when the directory is
// missing (it is not created: a mistyped path should not make directories);
// otherwise the system's, naming the path; the temporary file is removed on every
// error. Blocking file I/O; thread-safe: concurrent writes of one path each leave a
// whole file, the one renamed last stays.
absl::Status WritePeersFile(const std::string& path,
                            absl::Span<const PeersFileEntry> entries, absl::Time updated);

// PeersFileWatcher tells a caller, which polls on its own timer, when the file at its
// path has changed. It compares the file's bytes with those it saw last, so that a
// change is never missed however quickly it follows the last one, and a file touched
// but not changed is not reloaded. A reading costs at most kMaxPeersFileBytes.
// One thread at a time.
class PeersFileWatcher {
 public:
  explicit PeersFileWatcher(std::string path);
  PeersFileWatcher(const PeersFileWatcher&) = delete;
  PeersFileWatcher& operator=(const PeersFileWatcher&) = delete;

  // Poll reads the file. It returns std::nullopt when the file holds what it held at
  // the last Poll or Write (or still fails to read the same way); otherwise the
  // entries it now holds, or the error of ReadPeersFile. So an error is returned once
  // per change that causes it, not at every poll, and the caller keeps the peers it
  // had meanwhile. The first Poll reports the file as it is.
  absl::StatusOr<std::optional<std::vector<PeersFileEntry>>> Poll();

  // Write is WritePeersFile for this watcher's path; what it writes does not count as
  // a change at the next Poll.
  absl::Status Write(absl::Span<const PeersFileEntry> entries, absl::Time updated);

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  // The bytes last read or written, or why reading failed; unset before the first
  // Poll.
  std::optional<absl::StatusOr<std::string>> last_;
};

}  // namespace glue::discovery

#endif  // GLUE_DISCOVERY_PEERS_FILE_H_
