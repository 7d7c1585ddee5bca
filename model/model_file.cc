#include "model/model_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "glue/base/crc32c.h"
#include "glue/base/status_macros.h"

namespace glue::model::internal {
namespace {

absl::Status SystemError(absl::string_view what, const std::string& path, int error) {
  const std::string message =
      absl::StrCat(what, " model file ", path, ": ", std::strerror(error));
  switch (error) {
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOENT:
    case ENOTDIR:
      return absl::NotFoundError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

void PutLe(uint64_t value, int bytes, std::vector<uint8_t>* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<uint8_t>(value >> (8 * i)));
}

uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{p[i]} << (8 * i);
  return value;
}

std::vector<uint8_t> Record(absl::Span<const uint8_t> payload, int64_t written_at_ms) {
  std::vector<uint8_t> out;
  out.reserve(kRecordHeaderBytes + payload.size());
  PutLe(payload.size(), 4, &out);
  PutLe(0, 4, &out);  // the checksum, below
  PutLe(static_cast<uint64_t>(written_at_ms), 8, &out);
  out.insert(out.end(), payload.begin(), payload.end());
  const uint32_t crc = Crc32c(absl::MakeConstSpan(out).subspan(8));
  for (int i = 0; i < 4; ++i) out[4 + i] = static_cast<uint8_t>(crc >> (8 * i));
  return out;
}

absl::Status WriteAll(int fd, absl::Span<const uint8_t> bytes, const std::string& path) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("writing", path, errno);
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status SyncDirectory(const std::string& path) {
  const std::string directory = std::filesystem::path(path).parent_path().string();
  const int fd =
      ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return SystemError("opening the directory of", path, errno);
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  return rc == 0 ? absl::OkStatus()
                 : SystemError("syncing the directory of", path, error);
}

}  // namespace

absl::StatusOr<std::unique_ptr<ModelFile>> ModelFile::Open(const std::string& path,
                                                           RecordFunction record,
                                                           LoadReport* report) {
  *report = LoadReport();
  std::error_code ec;
  const std::filesystem::path directory = std::filesystem::path(path).parent_path();
  if (!directory.empty()) std::filesystem::create_directories(directory, ec);
  if (ec) return SystemError("making the directory of", path, ec.value());
  const std::string lock_path = path + ".lock";
  const int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) return SystemError("opening the lock of", path, errno);
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(lock_fd);
    if (error == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat(
          "model file ", path, " is in use (", lock_path,
          " is locked by another process, or the model is open already in this one)"));
    }
    return SystemError("locking", path, error);
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int error = errno;
    ::close(lock_fd);
    return SystemError("opening", path, error);
  }
  std::unique_ptr<ModelFile> file(new ModelFile(path, lock_fd, fd, 0));
  // Read it all: a model's file is about the size of its state, which is in memory
  // anyway.
  std::vector<uint8_t> bytes;
  for (;;) {
    uint8_t buffer[1 << 16];
    const ssize_t n = ::read(fd, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return SystemError("reading", path, errno);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  report->bytes = bytes.size();
  file->bytes_ = bytes.size();
  file->rewritten_bytes_ = bytes.size();
  if (bytes.empty()) {
    GLUE_RETURN_IF_ERROR(file->Rewrite([](const auto&) {}));
    return file;
  }
  if (bytes.size() < kModelFileHeaderBytes ||
      std::memcmp(bytes.data(), kModelFileMagic, kModelFileHeaderBytes) != 0) {
    return absl::DataLossError(absl::StrCat(
        "model file ", path, " does not start with ", kModelFileMagic,
        ": not a model file (left as it is; move it away or name another directory)"));
  }
  size_t at = kModelFileHeaderBytes;
  while (at < bytes.size()) {
    if (bytes.size() - at < kRecordHeaderBytes) {
      report->problem = absl::StrCat("a record header truncated at byte ", at);
      break;
    }
    const size_t length = GetLe(&bytes[at], 4);
    const uint32_t crc = static_cast<uint32_t>(GetLe(&bytes[at + 4], 4));
    if (length > kMaxRecordBytes || length > bytes.size() - at - kRecordHeaderBytes) {
      report->problem = absl::StrCat("a record at byte ", at, " of ", length,
                                     " bytes, truncated or corrupt");
      break;
    }
    const absl::Span<const uint8_t> checked =
        absl::MakeConstSpan(bytes).subspan(at + 8, 8 + length);
    if (Crc32c(checked) != crc) {
      report->problem = absl::StrCat("a record at byte ", at, " fails its checksum");
      break;
    }
    record(checked.subspan(8), static_cast<int64_t>(GetLe(&bytes[at + 8], 8)));
    ++report->records;
    at += kRecordHeaderBytes + length;
  }
  return file;
}

ModelFile::ModelFile(std::string path, int lock_fd, int fd, size_t bytes)
    : path_(std::move(path)),
      lock_fd_(lock_fd),
      fd_(fd),
      bytes_(bytes),
      rewritten_bytes_(bytes) {}

ModelFile::~ModelFile() {
  Sync().IgnoreError();
  ::close(fd_);
  ::close(lock_fd_);  // unlocks
}

absl::Status ModelFile::Append(absl::Span<const uint8_t> payload, int64_t written_at_ms) {
  const std::vector<uint8_t> record = Record(payload, written_at_ms);
  if (::lseek(fd_, 0, SEEK_END) < 0) return SystemError("seeking", path_, errno);
  GLUE_RETURN_IF_ERROR(WriteAll(fd_, record, path_));
  bytes_ += record.size();
  dirty_ = true;
  return absl::OkStatus();
}

absl::Status ModelFile::Sync() {
  if (!dirty_) return absl::OkStatus();
  if (::fdatasync(fd_) != 0) return SystemError("syncing", path_, errno);
  dirty_ = false;
  return absl::OkStatus();
}

absl::Status ModelFile::Rewrite(
    absl::FunctionRef<
        void(const std::function<void(absl::Span<const uint8_t>, int64_t)>&)>
        fill) {
  const std::string temporary = path_ + ".new";
  const int fd = ::open(temporary.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return SystemError("making a new", path_, errno);
  std::vector<uint8_t> out(kModelFileMagic, kModelFileMagic + kModelFileHeaderBytes);
  absl::Status status;
  size_t size = 0;
  auto flush = [&] {
    if (status.ok()) status = WriteAll(fd, out, temporary);
    size += out.size();
    out.clear();
  };
  fill([&](absl::Span<const uint8_t> payload, int64_t written_at_ms) {
    const std::vector<uint8_t> record = Record(payload, written_at_ms);
    out.insert(out.end(), record.begin(), record.end());
    if (out.size() >= (1 << 20)) flush();
  });
  flush();
  if (status.ok() && ::fsync(fd) != 0)
    status = SystemError("syncing a new", path_, errno);
  if (!status.ok()) {
    ::close(fd);
    ::unlink(temporary.c_str());
    return status;
  }
  if (::rename(temporary.c_str(), path_.c_str()) != 0) {
    const int error = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return SystemError("replacing", path_, error);
  }
  ::close(fd_);
  fd_ = fd;
  bytes_ = size;
  rewritten_bytes_ = size;
  dirty_ = false;
  return SyncDirectory(path_);
}

}  // namespace glue::model::internal
