#pragma once

// file_sink: JSON-lines part files, exactly-once through transactions
// (catalog/transactional_sink.h).
//
// A subtask writes its records to a hidden in-progress file
// `.part-<job>-<attempt>-<subtask>-<n>.jsonl.inprogress` in the directory
// `path`; a reader takes every non-hidden file. A file is complete at
// kRollBytes, at a checkpoint barrier or at the end of input; its
// transaction holds the files completed since the previous barrier.
// Pre-commit syncs them (still hidden); commit renames each to
// `part-<job>-<attempt>-<subtask>-<n>.jsonl` and syncs the directory. A
// rename already done counts as committed, so committing twice is a no-op;
// a pending file that is gone is an error (DataLoss), never a silent gap.
// On restore, after committing the restored transactions, the subtask
// deletes the hidden files its earlier attempts left.
//
// Exactly-once jobs publish a file only when the checkpoint whose barrier
// completed it is complete; other jobs publish it as soon as it is
// complete.

#include <cstdio>
#include <string>

#include "catalog/transactional_sink.h"
#include "connectors/file/file.pb.h"

namespace sluice {

class FileSink : public TransactionalSink {
 public:
  static constexpr size_t kRollBytes = 128 << 20;

  explicit FileSink(const proto::FileSinkConfig& config) : config_(config) {}
  ~FileSink() override;

 protected:
  absl::Status OpenSink() override;
  absl::Status Write(const Batch& batch) override;
  absl::StatusOr<std::string> PreCommit(int64_t checkpoint_id) override;
  absl::Status Commit(int64_t checkpoint_id, const std::string& handle) override;
  absl::Status AbortLeftovers() override;

 private:
  absl::Status CloseFile();  // completes the current part file, if any

  proto::FileSinkConfig config_;
  std::FILE* file_ = nullptr;
  std::string in_progress_path_, final_path_;
  size_t bytes_ = 0;
  int part_ = 0;
  std::string buffer_;
  proto::FileSinkTransaction open_;  // files completed since the last pre-commit
};

}  // namespace sluice
