// ModelFile: where a replica keeps its model across restarts. A file of records, each
// a delta as the wire carries it (model_message.h) with the time it was written,
// framed by its length and a CRC-32C: replaying them in any order rebuilds the state
// (merging is commutative and idempotent). The model appends what changed it and, when
// the file has grown to twice what the state needs, rewrites it whole. Internal to the
// model layer; blocking file I/O, called under the model's lock.
//
//   file:   "GLUEMDL1" (8 bytes), then records
//   record: u32 length of the payload, u32 CRC-32C of the next 8 + length bytes,
//           u64 written_at (milliseconds since the Unix epoch), payload
//   (integers little-endian)
#ifndef GLUE_MODEL_MODEL_FILE_H_
#define GLUE_MODEL_MODEL_FILE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace glue::model::internal {

inline constexpr char kModelFileMagic[] = "GLUEMDL1";
inline constexpr size_t kModelFileHeaderBytes = 8;
inline constexpr size_t kRecordHeaderBytes = 16;
// A record larger than this is taken for corruption.
inline constexpr size_t kMaxRecordBytes = size_t{64} << 20;

class ModelFile {
 public:
  // LoadReport says what Open read.
  struct LoadReport {
    size_t records = 0;  // records read whole and handed over
    size_t bytes = 0;    // the file's size
    // Empty when every byte was read; otherwise what stopped the reading and where:
    // a truncated or corrupt record (a failed checksum), after which nothing was read.
    std::string problem;
  };

  using RecordFunction =
      absl::FunctionRef<void(absl::Span<const uint8_t> payload, int64_t written_at_ms)>;

  // Open opens `path` (creating it, and its directory, when missing), takes an
  // exclusive lock on `path`.lock, and hands each record read to `record`, in order.
  // Errors: kFailedPrecondition when another process holds the file; kPermissionDenied,
  // kNotFound or kInternal from the system, naming the path; kDataLoss when the file
  // is not a model file at all (another format: it is left alone).
  static absl::StatusOr<std::unique_ptr<ModelFile>> Open(const std::string& path,
                                                         RecordFunction record,
                                                         LoadReport* report);

  ~ModelFile();  // Syncs and closes.
  ModelFile(const ModelFile&) = delete;
  ModelFile& operator=(const ModelFile&) = delete;

  // Append writes one record at the end (not yet synced to the disk).
  absl::Status Append(absl::Span<const uint8_t> payload, int64_t written_at_ms);

  // Sync makes what was appended durable (fdatasync), when anything was.
  absl::Status Sync();

  // Rewrite replaces the file with the records `fill` gives to the function it is
  // passed, through a temporary file renamed over it (the old file stays whole until
  // the new one is on disk).
  absl::Status Rewrite(
      absl::FunctionRef<
          void(const std::function<void(absl::Span<const uint8_t>, int64_t)>&)>
          fill);

  const std::string& path() const { return path_; }
  size_t bytes() const { return bytes_; }  // the file's size now
  size_t rewritten_bytes() const {
    return rewritten_bytes_;
  }  // its size after the last rewrite

 private:
  ModelFile(std::string path, int lock_fd, int fd, size_t bytes);
  std::string path_;
  int lock_fd_;  // PATH.lock, locked while the file is open: a rewrite replaces PATH
  int fd_;
  size_t bytes_;
  size_t rewritten_bytes_;
  bool dirty_ = false;
};

}  // namespace glue::model::internal

#endif  // GLUE_MODEL_MODEL_FILE_H_
