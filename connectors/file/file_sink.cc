#include "connectors/file/file_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crash_point.h"
#include "common/json.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

absl::Status IoError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

// Makes the renames in `dir` durable.
absl::Status SyncDirectory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return IoError("cannot open directory", dir);
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? absl::OkStatus() : IoError("cannot sync directory", dir);
}

}  // namespace

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);  // abandoned: stays hidden
}

absl::Status FileSink::OpenSink() {
  std::error_code ec;
  fs::create_directories(config_.path(), ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create output directory '", config_.path(), "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status FileSink::Write(const Batch& batch) {
  buffer_.clear();
  for (size_t r = 0; r < batch.num_rows(); ++r) AppendJsonLine(batch, r, &buffer_);
  if (file_ == nullptr) {
    std::string base = absl::StrCat("part-", ctx_.job_id, "-", ctx_.attempt, "-", ctx_.subtask, "-",
                                    part_++, ".jsonl");
    final_path_ = (fs::path(config_.path()) / base).string();
    in_progress_path_ =
        (fs::path(config_.path()) / absl::StrCat(".", base, ".inprogress")).string();
    file_ = std::fopen(in_progress_path_.c_str(), "w");
    if (file_ == nullptr) return IoError("cannot create", in_progress_path_);
    bytes_ = 0;
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    return IoError("cannot write", in_progress_path_);
  }
  bytes_ += buffer_.size();
  if (bytes_ >= kRollBytes) return CloseFile();
  return absl::OkStatus();
}

absl::Status FileSink::CloseFile() {
  if (file_ == nullptr) return absl::OkStatus();
  bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) return IoError("cannot write", in_progress_path_);
  proto::FileSinkTransaction::File* f = open_.add_files();
  f->set_hidden(in_progress_path_);
  f->set_final(final_path_);
  return absl::OkStatus();
}

absl::StatusOr<std::string> FileSink::PreCommit(int64_t) {
  RETURN_IF_ERROR(CloseFile());
  if (open_.files_size() == 0) return std::string();
  std::string handle = open_.SerializeAsString();
  open_.Clear();
  return handle;
}

absl::Status FileSink::Commit(int64_t checkpoint_id, const std::string& handle) {
  proto::FileSinkTransaction t;
  if (!t.ParseFromString(handle)) {
    return absl::DataLossError("a file_sink transaction handle is not readable");
  }
  for (const auto& f : t.files()) {
    // Never over a published file (a name used again would replace it).
    int renamed =
        ::renameat2(AT_FDCWD, f.hidden().c_str(), AT_FDCWD, f.final().c_str(), RENAME_NOREPLACE);
    if (renamed != 0 && errno == EINVAL) {  // a file system without it
      renamed = std::rename(f.hidden().c_str(), f.final().c_str());
    }
    if (renamed == 0) {
      CrashPoint("sink.during-commit", checkpoint_id);
      continue;
    }
    std::error_code ec;
    if (errno == ENOENT && fs::exists(f.final(), ec)) continue;  // committed before
    return absl::DataLossError(absl::StrCat("cannot publish '", f.final(), "' from '", f.hidden(),
                                            "': ", std::strerror(errno)));
  }
  return t.files_size() > 0 ? SyncDirectory(config_.path()) : absl::OkStatus();
}

absl::Status FileSink::AbortLeftovers() {
  // .part-<job>-<attempt>-<subtask>-<n>.jsonl.inprogress of an earlier attempt.
  const std::string prefix = absl::StrCat(".part-", ctx_.job_id, "-");
  const std::string mine = absl::StrCat("-", ctx_.subtask, "-");
  std::error_code ec;
  for (fs::directory_iterator it(config_.path(), ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!absl::StartsWith(name, prefix) || !absl::EndsWith(name, ".jsonl.inprogress")) continue;
    const std::string rest = name.substr(prefix.size());  // <attempt>-<subtask>-<n>.jsonl...
    const size_t dash = rest.find('-');
    if (dash == std::string::npos) continue;
    int64_t attempt = 0;
    if (!absl::SimpleAtoi(rest.substr(0, dash), &attempt) || attempt >= ctx_.attempt) continue;
    if (rest.compare(dash, mine.size(), mine) != 0) continue;
    std::error_code removed;
    fs::remove(it->path(), removed);
  }
  return absl::OkStatus();
}

}  // namespace sluice
