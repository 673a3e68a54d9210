#include "connectors/file/internal/line_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice::internal {

LineReader::LineReader(size_t chunk_bytes, size_t max_line_bytes, size_t kept_prefix_bytes)
    : chunk_bytes_(chunk_bytes),
      max_line_bytes_(std::max(max_line_bytes, kept_prefix_bytes)),
      kept_prefix_bytes_(kept_prefix_bytes) {}

LineReader::~LineReader() { Close(); }

absl::Status LineReader::Open(const std::string& path, int64_t offset) {
  Close();
  path_ = path;
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    return absl::NotFoundError(absl::StrCat("cannot open '", path, "': ", std::strerror(errno)));
  }
  struct stat st;
  if (::fstat(fd_, &st) != 0) {
    return absl::DataLossError(absl::StrCat("cannot stat '", path, "': ", std::strerror(errno)));
  }
  if (offset < 0 || offset > st.st_size) {
    return absl::OutOfRangeError(absl::StrCat("offset ", offset, " is outside '", path, "' (",
                                              st.st_size,
                                              " bytes): the file changed after the position "
                                              "was taken"));
  }
  if (offset > 0 && ::lseek(fd_, offset, SEEK_SET) != offset) {
    return absl::DataLossError(
        absl::StrCat("cannot seek to ", offset, " in '", path, "': ", std::strerror(errno)));
  }
  ::posix_fadvise(fd_, offset, 0, POSIX_FADV_SEQUENTIAL);
  if (buf_ == nullptr) {
    capacity_ = chunk_bytes_;
    buf_ = std::make_unique<char[]>(capacity_ + kPadding);
  }
  base_offset_ = offset;
  begin_ = end_ = scanned_ = last_begin_ = 0;
  eof_ = false;
  return absl::OkStatus();
}

void LineReader::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  // A long line grew the buffer; do not hold on to that memory.
  if (capacity_ > chunk_bytes_) {
    buf_.reset();
    capacity_ = 0;
  }
  long_prefix_.clear();
  long_prefix_.shrink_to_fit();
}

absl::Status LineReader::Fill() {
  if (begin_ > 0) {
    std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
    base_offset_ += static_cast<int64_t>(begin_);
    end_ -= begin_;
    scanned_ -= begin_;
    begin_ = 0;
  }
  if (end_ == capacity_) {
    const size_t grown = capacity_ * 2;
    auto bigger = std::make_unique<char[]>(grown + kPadding);
    std::memcpy(bigger.get(), buf_.get(), end_);
    buf_ = std::move(bigger);
    capacity_ = grown;
  }
  ssize_t n;
  do {
    n = ::read(fd_, buf_.get() + end_, capacity_ - end_);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    return absl::DataLossError(absl::StrCat("error reading '", path_, "': ", std::strerror(errno)));
  }
  if (n == 0) eof_ = true;
  end_ += static_cast<size_t>(n);
  // Whatever follows the data is blank, never stale text.
  std::memset(buf_.get() + end_, ' ', kPadding);
  return absl::OkStatus();
}

absl::StatusOr<bool> LineReader::Next(Line* line) {
  if (fd_ < 0) return absl::FailedPreconditionError("LineReader::Next without an open file");
  while (true) {
    if (scanned_ < end_) {
      const void* nl = std::memchr(buf_.get() + scanned_, '\n', end_ - scanned_);
      if (nl != nullptr) {
        const size_t stop = static_cast<size_t>(static_cast<const char*>(nl) - buf_.get());
        scanned_ = stop + 1;
        break;
      }
      scanned_ = end_;
    }
    if (eof_) {
      if (begin_ == end_) return false;
      break;
    }
    if (end_ - begin_ >= max_line_bytes_) return SkipLongLine(line);
    RETURN_IF_ERROR(Fill());
  }
  // The line is [begin_, scanned_), its '\n' included unless it ends the file.
  size_t stop = scanned_;
  if (stop > begin_ && buf_[stop - 1] == '\n') --stop;
  if (stop > begin_ && buf_[stop - 1] == '\r') --stop;
  line->text = std::string_view(buf_.get() + begin_, stop - begin_);
  line->capacity = capacity_ + kPadding - begin_;
  line->bytes = static_cast<int64_t>(scanned_ - begin_);
  line->too_long = false;
  last_begin_ = begin_;
  begin_ = scanned_;
  return true;
}

absl::StatusOr<bool> LineReader::SkipLongLine(Line* line) {
  long_prefix_.assign(buf_.get() + begin_, std::min(kept_prefix_bytes_, end_ - begin_));
  int64_t bytes = static_cast<int64_t>(end_ - begin_);
  while (true) {
    base_offset_ += static_cast<int64_t>(end_);
    begin_ = end_ = scanned_ = 0;
    if (eof_) break;
    RETURN_IF_ERROR(Fill());
    const void* nl = std::memchr(buf_.get(), '\n', end_);
    if (nl != nullptr) {
      begin_ = scanned_ = static_cast<size_t>(static_cast<const char*>(nl) - buf_.get()) + 1;
      bytes += static_cast<int64_t>(begin_);
      break;
    }
    bytes += static_cast<int64_t>(end_);
  }
  line->text = long_prefix_;
  line->capacity = 0;
  line->bytes = bytes;
  line->too_long = true;
  return true;
}

void LineReader::Unread() {
  begin_ = last_begin_;
  scanned_ = begin_;
}

}  // namespace sluice::internal
