#include "store/local_object_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "store/internal/file_util.h"
#include "store/internal/keys.h"

namespace sluice {

using store_internal::ErrnoStatus;
using store_internal::Sv;
using store_internal::UniqueFd;

namespace {

std::string Absolute(std::string root) {
  std::string path = std::filesystem::absolute(root).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The file or directory is not there (or a file stands where a directory
// would be): for a key, that means "no such object".
bool Absent(int err) { return err == ENOENT || err == ENOTDIR || err == EISDIR; }

// Appends the objects under directory `dir` (whose keys start with `base`)
// to `out`. In the top directory only names starting with `partial` count.
// Directories and files that vanish while we walk are skipped.
absl::Status Walk(const std::string& dir, const std::string& base, std::string_view partial,
                  std::vector<ObjectInfo>& out) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (Absent(errno)) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  }
  std::vector<std::string> subdirs;
  absl::Status status;
  while (true) {
    errno = 0;
    const dirent* entry = ::readdir(d);
    if (entry == nullptr) {
      if (errno != 0 && !Absent(errno)) {
        status = ErrnoStatus(errno, absl::StrCat("read directory ", dir));
      }
      break;
    }
    const std::string_view name = entry->d_name;
    if (name == "." || name == "..") continue;
    if (name.substr(0, store_internal::kTempPrefix.size()) == store_internal::kTempPrefix) {
      continue;
    }
    if (name.substr(0, partial.size()) != partial) continue;
    if (entry->d_type == DT_DIR) {
      subdirs.emplace_back(name);
      continue;
    }
    struct stat st;
    if (::fstatat(::dirfd(d), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (Absent(errno)) continue;
      status = ErrnoStatus(errno, absl::StrCat("stat ", dir, "/", Sv(name)));
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      subdirs.emplace_back(name);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(ObjectInfo{absl::StrCat(base, Sv(name)), static_cast<int64_t>(st.st_size)});
    }
  }
  ::closedir(d);
  RETURN_IF_ERROR(status);
  for (const std::string& sub : subdirs) {
    RETURN_IF_ERROR(Walk(absl::StrCat(dir, "/", sub), absl::StrCat(base, sub, "/"), "", out));
  }
  return absl::OkStatus();
}

}  // namespace

LocalObjectStore::LocalObjectStore(std::string root) : root_(Absolute(std::move(root))) {}

std::string LocalObjectStore::uri() const { return absl::StrCat("file://", root_); }

absl::StatusOr<std::string> LocalObjectStore::PathOf(std::string_view key) const {
  RETURN_IF_ERROR(store_internal::ValidateKey(key));
  return absl::StrCat(root_ == "/" ? "" : root_, "/", Sv(key));
}

absl::Status LocalObjectStore::Put(std::string_view key, std::string_view data) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  return store_internal::WriteFileAtomically(
      path, [&](int fd) { return store_internal::WriteAll(fd, data.data(), data.size(), path); });
}

absl::Status LocalObjectStore::PutFile(std::string_view key, const std::string& local_path) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  UniqueFd in(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in.valid()) return ErrnoStatus(errno, absl::StrCat("open ", local_path));
  return store_internal::WriteFileAtomically(
      path, [&](int fd) { return store_internal::CopyFd(in.get(), local_path, fd, path); });
}

absl::StatusOr<std::string> LocalObjectStore::Get(std::string_view key) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  absl::StatusOr<std::string> data = store_internal::ReadFile(path);
  if (absl::IsNotFound(data.status()) || absl::IsFailedPrecondition(data.status())) {
    return absl::NotFoundError(absl::StrCat("object '", Sv(key), "' not found in ", uri()));
  }
  return data;
}

absl::Status LocalObjectStore::GetFile(std::string_view key, const std::string& local_path) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st;
  const int err = !in.valid()                   ? errno
                  : ::fstat(in.get(), &st) != 0 ? errno
                  : !S_ISREG(st.st_mode)        ? EISDIR
                                                : 0;
  if (err != 0) {
    if (Absent(err)) {
      return absl::NotFoundError(absl::StrCat("object '", Sv(key), "' not found in ", uri()));
    }
    return ErrnoStatus(err, absl::StrCat("open ", path));
  }
  return store_internal::WriteFileAtomically(
      local_path, [&](int fd) { return store_internal::CopyFd(in.get(), path, fd, local_path); },
      store_internal::Durability::kNotSynced);
}

absl::StatusOr<std::optional<int64_t>> LocalObjectStore::Size(std::string_view key) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (Absent(errno)) return std::nullopt;
    return ErrnoStatus(errno, absl::StrCat("stat ", path));
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;
  return static_cast<int64_t>(st.st_size);
}

absl::StatusOr<std::vector<ObjectInfo>> LocalObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(store_internal::ValidatePrefix(prefix));
  const size_t slash = prefix.rfind('/');
  const std::string_view dir_part =
      slash == std::string_view::npos ? std::string_view() : prefix.substr(0, slash + 1);
  const std::string_view partial = prefix.substr(dir_part.size());
  std::string dir = root_;
  if (!dir_part.empty()) dir = absl::StrCat(root_, "/", Sv(dir_part.substr(0, slash)));
  std::vector<ObjectInfo> out;
  RETURN_IF_ERROR(Walk(dir, std::string(dir_part), partial, out));
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

absl::Status LocalObjectStore::Delete(std::string_view key) {
  ASSIGN_OR_RETURN(const std::string path, PathOf(key));
  if (::unlink(path.c_str()) != 0) {
    if (Absent(errno)) return absl::OkStatus();
    return ErrnoStatus(errno, absl::StrCat("delete ", path));
  }
  // Remove directories the delete left empty, so deleted checkpoints leave no
  // trace. rmdir fails on a directory that is not empty (or that a concurrent
  // Put is about to fill, see WriteFileAtomically), which ends the walk.
  std::string dir = path.substr(0, path.rfind('/'));
  while (dir.size() > root_.size() && ::rmdir(dir.c_str()) == 0) {
    dir.resize(dir.rfind('/'));
  }
  return absl::OkStatus();
}

}  // namespace sluice
