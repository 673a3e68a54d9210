#pragma once

// POSIX file helpers for the local store and for downloads: errno to Status,
// durable directory creation, and write-to-temp-then-rename.

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::store_internal {

// Owns a file descriptor; closes it on destruction (errors ignored: callers
// that care call Close()).
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes now; returns the errno of close(2) or 0.
  int Close();

 private:
  int fd_ = -1;
};

// `what` (e.g. "open /x/y") failed with `err`: NotFound for ENOENT,
// PermissionDenied, ResourceExhausted for a full disk, FailedPrecondition for
// a path of the wrong kind (ENOTDIR, EISDIR, EEXIST), Internal otherwise.
absl::Status ErrnoStatus(int err, std::string_view what);

// Creates `dir` and its missing parents, fsyncing the parent of each
// directory it creates so the new entries survive a crash. Existing is OK.
absl::Status MakeDirs(const std::string& dir);

absl::Status FsyncDir(const std::string& dir);

// Writes all of [data, data+size) to fd, retrying short writes and EINTR.
absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path);

// Copies `in` (from its current offset) to the end into `out`.
absl::Status CopyFd(int in, const std::string& in_path, int out, const std::string& out_path);

absl::StatusOr<std::string> ReadFile(const std::string& path);

// Whether WriteFileAtomically's file survives a crash of the machine once
// it returns: a store's object must; a downloaded working copy need not,
// and not waiting for the disk makes a restore of large state much faster.
enum class Durability { kSynced, kNotSynced };

// Creates `path` atomically: makes its directory, creates a temp file next to
// it (named kTempPrefix...), lets `fill` write it, fsyncs (kSynced), renames it
// over `path` and fsyncs the directory (kSynced). On any failure the temp file
// is removed and `path` is untouched. Tolerates the directory being removed
// concurrently by a cleanup of empty directories (it is made again).
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(int fd)>& fill,
                                 Durability durability = Durability::kSynced);

}  // namespace sluice::store_internal
