#include "glue/services/feature_directory.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "glue/base/log.h"
#include "glue/base/mutex.h"
#include "glue/base/status_macros.h"
#include "nlohmann/json.hpp"

namespace glue::services {

namespace fs = std::filesystem;

namespace {

constexpr char kFeaturesDir[] = "features";
constexpr char kTemporaryDir[] = ".tmp";

bool IsNameChar(char c, bool dot) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ||
         (dot && c == '.');
}

absl::Status Errno(absl::string_view what, const std::string& path, int error) {
  return absl::Status(absl::ErrnoToStatusCode(error),
                      absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

// ReadBounded reads at most `max` + 1 bytes of `path`: more than `max` means too large.
absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("cannot read", path, errno);
  std::string content(max + 1, '\0');
  in.read(content.data(), static_cast<std::streamsize>(content.size()));
  if (in.bad()) return Errno("cannot read", path, errno);
  content.resize(static_cast<size_t>(in.gcount()));
  return content;
}

}  // namespace

absl::Status ValidateFeatureName(absl::string_view name) {
  if (name.empty() || name.size() > kMaxFeatureNameBytes ||
      !std::all_of(name.begin(), name.end(),
                   [](char c) { return IsNameChar(c, false); })) {
    return absl::InvalidArgumentError(
        absl::StrCat("feature name '", name, "' must be 1 to ", kMaxFeatureNameBytes,
                     " letters, digits, '-' or '_'"));
  }
  return absl::OkStatus();
}

absl::Status ValidateHostName(absl::string_view name) {
  if (name.empty() || name.size() > 128 || name == "." || name == ".." ||
      !std::all_of(name.begin(), name.end(),
                   [](char c) { return IsNameChar(c, true); })) {
    return absl::InvalidArgumentError(absl::StrCat(
        "host name '", name,
        "' must be 1 to 128 letters, digits, '-', '_' or '.', and not . or .. "
        "(the endpoint's name: GLUE_ENDPOINT_NAME)"));
  }
  return absl::OkStatus();
}

namespace {

absl::StatusOr<nlohmann::json> ParseJson(absl::string_view text) {
  try {
    return nlohmann::json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column
    // 3: ..."; the part after the bracket says it.
    absl::string_view what = e.what();
    if (const size_t bracket = what.find("] "); bracket != absl::string_view::npos) {
      what.remove_prefix(bracket + 2);
    }
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", what));
  }
}

}  // namespace

absl::Status ValidateJson(absl::string_view text) { return ParseJson(text).status(); }

absl::StatusOr<std::string> CompactJson(absl::string_view text) {
  GLUE_ASSIGN_OR_RETURN(const nlohmann::json parsed, ParseJson(text));
  try {
    return parsed.dump();
  } catch (const nlohmann::json::exception& e) {  // not UTF-8: the parser refuses it
    return absl::InvalidArgumentError(absl::StrCat("not JSON: ", e.what()));
  }
}

absl::Status WriteFileAtomicallyIn(const std::string& path, absl::string_view content,
                                   const std::string& temporary_dir) {
  const fs::path target(path);
  const fs::path temporary =
      fs::path(temporary_dir.empty() ? target.parent_path().string() : temporary_dir) /
      absl::StrCat(".", target.filename().string(), ".", ::getpid(), ".tmp");
  const int fd =
      ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("cannot create", temporary.string(), errno);
  size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      ::unlink(temporary.c_str());
      return Errno("cannot write", temporary.string(), error);
    }
    written += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return Errno("cannot write", temporary.string(), error);
  }
  if (::rename(temporary.c_str(), target.c_str()) != 0) {
    const int error = errno;
    ::unlink(temporary.c_str());
    return Errno("cannot rename into", path, error);
  }
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view content) {
  return WriteFileAtomicallyIn(path, content, "");
}

// Wakeup wakes the thread of a FeatureDirectory: shared with the model's watch
// callback, which may run after Unwatch (for an event queued before).
struct Wakeup {
  explicit Wakeup(int fd) : fd(fd) {}
  ~Wakeup() { ::close(fd); }
  void Wake() {
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(fd, &one, sizeof one);
  }
  const int fd;  // an eventfd
  std::atomic<bool> tree_dirty{false};
};

struct FeatureDirectory::State {
  State(model::Model& m, FeatureDirectoryOptions o) : model(m), options(std::move(o)) {}

  void Run();
  void Rescan() ABSL_LOCKS_EXCLUDED(mu);
  void RewriteTree() ABSL_LOCKS_EXCLUDED(mu);

  model::Model& model;
  const FeatureDirectoryOptions options;
  std::string features_dir;   // STATE/features
  std::string temporary_dir;  // STATE/.tmp
  int inotify_fd = -1;
  std::shared_ptr<Wakeup> wakeup;
  std::atomic<bool> stopping{false};
  uint64_t watch = 0;
  std::thread thread;

  Mutex scan_mu;  // one Rescan at a time
  Mutex tree_mu;  // one RewriteTree at a time
  mutable Mutex mu;
  std::map<std::string, std::string> published ABSL_GUARDED_BY(mu);  // name -> JSON
  // Files reported, so that each is reported once: names skipped (not feature names,
  // or beyond the bound), and bad contents (name -> the content, or the error reading
  // it).
  std::set<std::string> skipped ABSL_GUARDED_BY(mu);
  std::map<std::string, std::string> refused ABSL_GUARDED_BY(mu);
  std::map<std::string, std::string> tree ABSL_GUARDED_BY(mu);  // key -> file content
  FeatureDirectoryCounters counters ABSL_GUARDED_BY(mu);
};

void FeatureDirectory::State::Rescan() {
  MutexLock scan(&scan_mu);
  // What the directory holds now: feature name -> content, the good ones.
  std::map<std::string, std::string> found;
  std::set<std::string> present;  // names with a file, good or not
  std::error_code error;
  std::vector<fs::directory_entry> entries;
  for (fs::directory_iterator it(options.config_dir, error), end; !error && it != end;
       it.increment(error)) {
    entries.push_back(*it);
  }
  if (error) {
    // Nothing is withdrawn on a directory that cannot be read now: that would empty
    // every tree for a passing fault.
    GLUE_LOG(kWarning, "features: cannot read %s: %s; keeping what is published",
             options.config_dir, error.message());
    return;
  }
  std::sort(entries.begin(), entries.end());
  MutexLock lock(&mu);
  std::set<std::string> names;  // every file's
  for (const fs::directory_entry& entry : entries) {
    const std::string name = entry.path().filename().string();
    names.insert(name);
    std::error_code type_error;
    if (!entry.is_regular_file(type_error)) continue;  // directories and the like
    if (!ValidateFeatureName(name).ok()) {
      // Editors' temporaries and backups come and go: a name is reported once while
      // it stays.
      if (skipped.insert(name).second) {
        ++counters.skipped_files;
        GLUE_LOG(kInfo,
                 "features: %s/%s skipped: not a feature name (letters, digits, '-' "
                 "and '_')",
                 options.config_dir, name);
      }
      continue;
    }
    if (present.size() >= options.max_features) {
      if (skipped.insert(name).second) {
        ++counters.skipped_files;
        GLUE_LOG(kWarning, "features: %s/%s left out: more than %d features",
                 options.config_dir, name, options.max_features);
      }
      continue;
    }
    present.insert(name);
    const std::string path = entry.path().string();
    absl::StatusOr<std::string> content = ReadBounded(path, options.max_feature_bytes);
    std::string problem;
    if (!content.ok()) {
      problem = std::string(content.status().message());
    } else if (content->size() > options.max_feature_bytes) {
      problem = absl::StrCat("larger than ", options.max_feature_bytes, " bytes");
    } else if (absl::Status json = ValidateJson(*content); !json.ok()) {
      problem = std::string(json.message());
    }
    if (!problem.empty()) {
      const std::string seen = content.ok() ? *content : problem;
      auto [it, inserted] = refused.try_emplace(name, seen);
      if (inserted || it->second != seen) {
        it->second = seen;
        ++counters.invalid_files;
        GLUE_LOG(kWarning, "features: %s: %s%s", path, problem,
                 published.count(name) > 0 ? "; its last good value stays published"
                                           : "; left out until it is fixed");
      }
      continue;
    }
    if (refused.erase(name) > 0) GLUE_LOG(kInfo, "features: %s is good again", path);
    found.emplace(name, *std::move(content));
  }
  // Publish what is new or changed; withdraw what has no file any more. A file still
  // there but bad keeps its last good value.
  for (const auto& [name, content] : found) {
    auto it = published.find(name);
    if (it != published.end() && it->second == content) continue;
    const std::string key = absl::StrCat(name, "/", options.host);
    if (absl::Status put = model.Put(key, content, {.ephemeral = true}); !put.ok()) {
      ++counters.model_errors;
      GLUE_LOG(kWarning, "features: cannot publish %s: %s", name, put.message());
      continue;
    }
    ++counters.published;
    published[name] = content;
  }
  for (auto it = published.begin(); it != published.end();) {
    if (present.count(it->first) > 0) {
      ++it;
      continue;
    }
    const std::string key = absl::StrCat(it->first, "/", options.host);
    if (absl::Status deleted = model.Delete(key);
        !deleted.ok() && !absl::IsNotFound(deleted)) {
      ++counters.model_errors;
      GLUE_LOG(kWarning, "features: cannot withdraw %s: %s", it->first,
               deleted.message());
      ++it;
      continue;
    }
    ++counters.withdrawn;
    it = published.erase(it);
  }
  // Names that left the directory may come back: reported anew then.
  for (auto it = skipped.begin(); it != skipped.end();) {
    it = names.count(*it) > 0 ? std::next(it) : skipped.erase(it);
  }
  for (auto it = refused.begin(); it != refused.end();) {
    it = names.count(it->first) > 0 ? std::next(it) : refused.erase(it);
  }
  counters.features = published.size();
}

void FeatureDirectory::State::RewriteTree() {
  MutexLock serial(&tree_mu);
  wakeup->tree_dirty.store(false);
  absl::StatusOr<model::ModelSnapshot> snapshot = model.Snapshot("#");
  if (!snapshot.ok()) return;  // closed
  std::map<std::string, std::string> wanted;
  for (const model::Entry& entry : snapshot->entries) {
    const size_t slash = entry.key.find('/');
    if (slash == std::string::npos ||
        !ValidateFeatureName(absl::string_view(entry.key).substr(0, slash)).ok() ||
        !ValidateHostName(absl::string_view(entry.key).substr(slash + 1)).ok()) {
      continue;  // not FEATURE/HOST: written by something else than a directory
    }
    wanted.emplace(entry.key, std::string(entry.value.view()));
  }
  MutexLock lock(&mu);
  for (const auto& [key, content] : wanted) {
    auto it = tree.find(key);
    if (it != tree.end() && it->second == content) continue;
    const size_t slash = key.find('/');
    const fs::path dir = fs::path(features_dir) / key.substr(0, slash);
    std::error_code error;
    fs::create_directories(dir, error);
    absl::Status written =
        error ? absl::InternalError(
                    absl::StrCat("cannot make ", dir.string(), ": ", error.message()))
              : WriteFileAtomicallyIn((dir / key.substr(slash + 1)).string(), content,
                                      temporary_dir);
    if (!written.ok()) {
      ++counters.tree_errors;
      GLUE_LOG(kWarning, "features: %s", written.message());
      continue;
    }
    ++counters.tree_writes;
    tree[key] = content;
  }
  for (auto it = tree.begin(); it != tree.end();) {
    if (wanted.count(it->first) > 0) {
      ++it;
      continue;
    }
    const size_t slash = it->first.find('/');
    const fs::path dir = fs::path(features_dir) / it->first.substr(0, slash);
    const fs::path file = dir / it->first.substr(slash + 1);
    if (::unlink(file.c_str()) != 0 && errno != ENOENT) {
      ++counters.tree_errors;
      GLUE_LOG(kWarning, "features: cannot remove %s: %s", file.string(),
               std::strerror(errno));
      ++it;
      continue;
    }
    ++counters.tree_removals;
    ::rmdir(dir.c_str());  // when it was the last host of the feature
    it = tree.erase(it);
  }
  counters.tree_files = tree.size();
}

void FeatureDirectory::State::Run() {
  const auto rescan_ms = static_cast<int>(
      std::clamp<int64_t>(absl::ToInt64Milliseconds(options.rescan), 10, 3'600'000));
  while (!stopping.load()) {
    pollfd fds[2] = {{inotify_fd, POLLIN, 0}, {wakeup->fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, rescan_ms);
    if (ready < 0 && errno != EINTR) {
      GLUE_LOG(kError, "features: poll: %s", std::strerror(errno));
      return;
    }
    if (stopping.load()) return;
    bool rescan = ready == 0;
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      // The events say only that something changed: the whole directory is read
      // again (it is small), which also covers a queue that overflowed.
      alignas(inotify_event) char buffer[16 * 1024];
      while (::read(inotify_fd, buffer, sizeof buffer) > 0) {
      }
      rescan = true;
    }
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
      uint64_t n;
      [[maybe_unused]] const ssize_t r = ::read(wakeup->fd, &n, sizeof n);
    }
    if (rescan) Rescan();
    if (wakeup->tree_dirty.load() || ready == 0) RewriteTree();
  }
}

FeatureDirectory::FeatureDirectory(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

absl::StatusOr<std::unique_ptr<FeatureDirectory>> FeatureDirectory::Start(
    model::Model& model, FeatureDirectoryOptions options) {
  GLUE_RETURN_IF_ERROR(ValidateHostName(options.host));
  std::error_code error;
  if (!fs::is_directory(options.config_dir, error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("configuration directory ", options.config_dir, " is not one"));
  }
  if (options.max_feature_bytes == 0 || options.max_features == 0) {
    return absl::InvalidArgumentError("max_feature_bytes and max_features must be >= 1");
  }
  auto state = std::make_unique<State>(model, std::move(options));
  State& s = *state;
  s.features_dir = (fs::path(s.options.state_dir) / kFeaturesDir).string();
  s.temporary_dir = (fs::path(s.options.state_dir) / kTemporaryDir).string();
  for (const std::string& dir : {s.features_dir, s.temporary_dir}) {
    fs::create_directories(dir, error);
    if (error) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot make ", dir, ": ", error.message()));
    }
  }
  // What an earlier run left in the tree: kept where the model still shows it,
  // removed otherwise, by the first RewriteTree.
  {
    MutexLock lock(&s.mu);
    for (fs::directory_iterator f(s.features_dir, error), end; !error && f != end;
         f.increment(error)) {
      if (!f->is_directory() ||
          !ValidateFeatureName(f->path().filename().string()).ok()) {
        continue;
      }
      std::error_code inner;
      for (fs::directory_iterator h(f->path(), inner); !inner && h != end;
           h.increment(inner)) {
        const std::string host = h->path().filename().string();
        if (!h->is_regular_file() || !ValidateHostName(host).ok()) continue;
        absl::StatusOr<std::string> content = ReadBounded(h->path().string(), 1 << 20);
        s.tree[absl::StrCat(f->path().filename().string(), "/", host)] =
            content.ok() ? *content : std::string();
      }
    }
  }
  s.inotify_fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd >= 0) s.wakeup = std::make_shared<Wakeup>(wake_fd);
  if (s.inotify_fd < 0 || wake_fd < 0 ||
      ::inotify_add_watch(s.inotify_fd, s.options.config_dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE |
                              IN_CREATE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) <
          0) {
    const int e = errno;
    if (s.inotify_fd >= 0) ::close(s.inotify_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot watch ", s.options.config_dir, " with inotify: ", std::strerror(e)));
  }
  absl::StatusOr<uint64_t> watch =
      model.Watch("#", [wakeup = s.wakeup](const model::WatchEvent&) {
        wakeup->tree_dirty.store(true);
        wakeup->Wake();
      });
  if (!watch.ok()) {
    ::close(s.inotify_fd);
    return watch.status();
  }
  s.watch = *watch;
  s.Rescan();
  s.RewriteTree();
  s.thread = std::thread([&s] { s.Run(); });
  return std::unique_ptr<FeatureDirectory>(new FeatureDirectory(std::move(state)));
}

FeatureDirectory::~FeatureDirectory() {
  State& s = *state_;
  s.model.Unwatch(s.watch);
  s.stopping.store(true);
  s.wakeup->Wake();
  if (s.thread.joinable()) s.thread.join();
  ::close(s.inotify_fd);
}

void FeatureDirectory::Rescan() { state_->Rescan(); }
void FeatureDirectory::RewriteTree() { state_->RewriteTree(); }

FeatureDirectoryCounters FeatureDirectory::counters() const {
  MutexLock lock(&state_->mu);
  return state_->counters;
}

}  // namespace glue::services
