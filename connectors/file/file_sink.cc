#include "connectors/file/file_sink.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

absl::Status IoError(const std::string& what, const std::string& path) {
  return absl::UnavailableError(absl::StrCat(what, " '", path, "': ", std::strerror(errno)));
}

}  // namespace

FileSink::~FileSink() {
  if (file_ != nullptr) std::fclose(file_);  // abandoned: stays hidden
}

absl::Status FileSink::Open(const OperatorContext& ctx) {
  RETURN_IF_ERROR(Operator::Open(ctx));
  std::error_code ec;
  std::filesystem::create_directories(config_.path(), ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create output directory '", config_.path(), "': ", ec.message()));
  }
  return absl::OkStatus();
}

absl::Status FileSink::ProcessBatch(Batch batch, Output&) {
  buffer_.clear();
  for (size_t r = 0; r < batch.num_rows(); ++r) AppendJsonLine(batch, r, &buffer_);
  if (file_ == nullptr) {
    std::string base = absl::StrCat("part-", ctx_.job_id, "-", ctx_.attempt, "-", ctx_.subtask, "-",
                                    part_++, ".jsonl");
    final_path_ = (std::filesystem::path(config_.path()) / base).string();
    in_progress_path_ =
        (std::filesystem::path(config_.path()) / absl::StrCat(".", base, ".inprogress")).string();
    file_ = std::fopen(in_progress_path_.c_str(), "w");
    if (file_ == nullptr) return IoError("cannot create", in_progress_path_);
    bytes_ = 0;
  }
  if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    return IoError("cannot write", in_progress_path_);
  }
  bytes_ += buffer_.size();
  if (bytes_ >= kRollBytes) return Roll();
  return absl::OkStatus();
}

absl::Status FileSink::Roll() {
  if (file_ == nullptr) return absl::OkStatus();
  bool ok = std::fflush(file_) == 0 && ::fsync(fileno(file_)) == 0;
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  if (!ok) return IoError("cannot write", in_progress_path_);
  if (std::rename(in_progress_path_.c_str(), final_path_.c_str()) != 0) {
    return IoError("cannot publish", final_path_);
  }
  return absl::OkStatus();
}

absl::Status FileSink::Finish(Output&) { return Roll(); }

absl::StatusOr<OperatorSnapshot> FileSink::Snapshot(int64_t, const std::string&) {
  RETURN_IF_ERROR(Roll());
  return OperatorSnapshot();
}

}  // namespace sluice
