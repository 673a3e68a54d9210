#include "store/internal/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "store/internal/keys.h"

namespace sluice::store_internal {
namespace {

std::string Dirname(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() { Close(); }

int UniqueFd::Close() {
  if (fd_ < 0) return 0;
  const int rc = ::close(fd_);
  fd_ = -1;
  return rc == 0 ? 0 : errno;
}

absl::Status ErrnoStatus(int err, std::string_view what) {
  const std::string message = absl::StrCat(Sv(what), ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
    case EROFS:
      return absl::PermissionDeniedError(message);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(message);
    case ENOTDIR:
    case EISDIR:
    case EEXIST:
    case ENOTEMPTY:
      return absl::FailedPreconditionError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::Status FsyncDir(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open directory ", dir));
  if (::fsync(fd.get()) != 0) return ErrnoStatus(errno, absl::StrCat("fsync directory ", dir));
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return ErrnoStatus(ENOTDIR, absl::StrCat("mkdir ", dir));
  }
  // Walk up to the deepest existing ancestor, then create downwards.
  std::vector<std::string> missing;
  for (std::string d = dir; d != "/" && d != "." && ::stat(d.c_str(), &st) != 0; d = Dirname(d)) {
    if (errno != ENOENT) return ErrnoStatus(errno, absl::StrCat("stat ", d));
    missing.push_back(d);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    if (::mkdir(it->c_str(), 0755) != 0) {
      if (errno == EEXIST) continue;  // made concurrently
      return ErrnoStatus(errno, absl::StrCat("mkdir ", *it));
    }
    if (absl::Status s = FsyncDir(Dirname(*it)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("write ", path));
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status CopyFd(int in, const std::string& in_path, int out, const std::string& out_path) {
  std::vector<char> buffer(1 << 20);
  while (true) {
    const ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", in_path));
    }
    if (n == 0) return absl::OkStatus();
    if (absl::Status s = WriteAll(out, buffer.data(), static_cast<size_t>(n), out_path); !s.ok()) {
      return s;
    }
  }
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, absl::StrCat("stat ", path));
  if (!S_ISREG(st.st_mode)) return ErrnoStatus(EISDIR, absl::StrCat("read ", path));
  std::string data;
  data.reserve(static_cast<size_t>(st.st_size));
  char buffer[1 << 16];
  while (true) {
    const ssize_t n = ::read(fd.get(), buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, absl::StrCat("read ", path));
    }
    if (n == 0) return data;
    data.append(buffer, static_cast<size_t>(n));
  }
}

absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(int fd)>& fill,
                                 Durability durability) {
  const bool sync = durability == Durability::kSynced;
  const std::string dir = Dirname(path);
  std::string temp;
  UniqueFd fd;
  // A concurrent Delete may remove empty directories while MakeDirs creates
  // them or before mkstemp; once the temp file exists, its directory is not
  // empty any more. So a vanished directory means: make it again.
  constexpr int kAttempts = 10;
  for (int attempt = 1; !fd.valid(); ++attempt) {
    absl::Status made = MakeDirs(dir);
    if (absl::IsNotFound(made) && attempt < kAttempts) continue;
    if (!made.ok()) return made;
    temp = absl::StrCat(dir, "/", Sv(kTempPrefix), "-", Basename(path).substr(0, 64), "-XXXXXX");
    fd = UniqueFd(::mkostemp(temp.data(), O_CLOEXEC));
    if (!fd.valid() && (errno != ENOENT || attempt >= kAttempts)) {
      return ErrnoStatus(errno, absl::StrCat("create a temp file in ", dir));
    }
  }
  absl::Status status = fill(fd.get());
  if (status.ok() && ::fchmod(fd.get(), 0644) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("chmod ", temp));
  }
  if (status.ok() && sync && ::fsync(fd.get()) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("fsync ", temp));
  }
  if (const int err = fd.Close(); status.ok() && err != 0) {
    status = ErrnoStatus(err, absl::StrCat("close ", temp));
  }
  if (status.ok() && ::rename(temp.c_str(), path.c_str()) != 0) {
    status = ErrnoStatus(errno, absl::StrCat("rename ", temp, " to ", path));
  }
  if (!status.ok()) {
    ::unlink(temp.c_str());
    return status;
  }
  return sync ? FsyncDir(dir) : absl::OkStatus();
}

}  // namespace sluice::store_internal
