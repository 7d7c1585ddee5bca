// FeatureDirectory: which host offers which feature, as files. Each host declares its
// features in a configuration directory, one file a feature holding its parameters as
// JSON; every host sees the whole network's features as a tree of files,
// STATE/features/FEATURE/HOST holding that host's parameters. The features travel as
// a model's ephemeral keys FEATURE/HOST: a host that stops or dies leaves every tree.
//
//   auto model = endpoint->OpenModel("features");
//   auto directory = FeatureDirectory::Start(**model, {.config_dir =
//   "/etc/glue/features",
//                                                      .state_dir = "/run/glue",
//                                                      .host = "web-1"});
//
// Files in the configuration directory are loaded when they appear or change and
// withdrawn when they disappear. Their names are 1 to kMaxFeatureNameBytes letters,
// digits, '-' and '_'; other files (editors' temporaries, dotfiles, directories) are
// skipped. A file whose content is not JSON is reported with its name and left out;
// the last good value of that feature, if any, stays published until the file is
// fixed or removed (logged once a content).
//
// The tree is written the way inotify watchers want it: every file appears, changes
// and disappears atomically (written under STATE/.tmp, then renamed into place), and
// a feature's directory goes when its last host does.
#ifndef GLUE_SERVICES_FEATURE_DIRECTORY_H_
#define GLUE_SERVICES_FEATURE_DIRECTORY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "glue/model/model.h"

namespace glue::services {

inline constexpr size_t kMaxFeatureNameBytes = 128;
// ValidateFeatureName: 1 to kMaxFeatureNameBytes letters, digits, '-' and '_'.
absl::Status ValidateFeatureName(absl::string_view name);
// ValidateHostName: how a host appears in the tree (its endpoint's name): 1 to 128
// letters, digits, '-', '_' and '.', not "." or "..": a file name, and a level of a key.
absl::Status ValidateHostName(absl::string_view name);
// ValidateJson: OK, or kInvalidArgument saying where the text stops being JSON.
absl::Status ValidateJson(absl::string_view text);
// CompactJson returns `text` as JSON on one line, without the spaces between its
// tokens; the errors of ValidateJson.
absl::StatusOr<std::string> CompactJson(absl::string_view text);

// The model the directory services of a network share.
inline constexpr char kFeatureModelName[] = "features";

// WriteFileAtomically writes `content` to `path` through a temporary file in the same
// directory (its name starts with '.', which no feature name does), renamed into place:
// a reader sees the old content or the new, never part of one. Not fsync'ed.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view content);

struct FeatureDirectoryOptions {
  std::string config_dir;  // this host's features, read; must exist
  std::string state_dir;   // the network's tree, written below STATE/features; made
  std::string host;        // this host's name in the tree (ValidateHostName)
  // A configuration file larger than this is reported and left out, as invalid JSON.
  size_t max_feature_bytes = 64 * 1024;
  // At most this many features are published from the configuration directory; the
  // files beyond it (in name order) are reported and left out.
  size_t max_features = 1024;
  // The configuration directory is read again at least this often, besides when
  // inotify reports a change in it (a change it missed: an overflow of its queue).
  absl::Duration rescan = absl::Seconds(5);
};

// FeatureDirectoryCounters count what the service did since it started.
struct FeatureDirectoryCounters {
  uint64_t published = 0;      // features put (new or changed)
  uint64_t withdrawn = 0;      // features deleted (their file gone)
  uint64_t invalid_files = 0;  // contents refused: not JSON, too large, or unreadable
  uint64_t skipped_files = 0;  // names that are not feature names, or beyond the bound
  uint64_t tree_writes = 0;    // files of the tree written
  uint64_t tree_removals = 0;  // files of the tree removed
  uint64_t tree_errors = 0;    // writes or removals of the tree that failed (logged)
  uint64_t model_errors = 0;   // puts and deletes the model refused (logged)
  size_t features = 0;         // now: this host's features published
  size_t tree_files = 0;       // now: the files of the tree
};

class FeatureDirectory {
 public:
  // Start reads the configuration directory once, publishes its features, writes the
  // tree from what the model holds (removing files left by an earlier run that it no
  // longer holds) and starts a thread that follows both. `model` must outlive the
  // FeatureDirectory. Errors: kInvalidArgument for a bad host name or a directory
  // that is not one; kFailedPrecondition when inotify cannot watch the configuration
  // directory; those of the first write of the tree.
  static absl::StatusOr<std::unique_ptr<FeatureDirectory>> Start(
      model::Model& model, FeatureDirectoryOptions options);
  ~FeatureDirectory();  // stops the thread; withdraws nothing (the model's Close does)
  FeatureDirectory(const FeatureDirectory&) = delete;
  FeatureDirectory& operator=(const FeatureDirectory&) = delete;

  // Rescan reads the configuration directory now, and returns when what it found is
  // published (what the thread does on each inotify event).
  void Rescan();
  // RewriteTree brings the tree to what the model shows now.
  void RewriteTree();

  FeatureDirectoryCounters counters() const;

 private:
  struct State;
  explicit FeatureDirectory(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace glue::services

#endif  // GLUE_SERVICES_FEATURE_DIRECTORY_H_
