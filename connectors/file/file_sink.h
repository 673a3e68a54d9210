#pragma once

// file_sink: JSON-lines part files.
//
// file_sink writes each subtask's records to a hidden in-progress file
// `.part-<job>-<attempt>-<subtask>-<n>.jsonl.inprogress` in the directory
// `path`, and renames it to `part-<job>-<attempt>-<subtask>-<n>.jsonl` when
// it is complete: at end of input, when it reaches kRollBytes, or at a
// checkpoint barrier. A reader takes every non-hidden file; what a failed
// attempt wrote after its last barrier stays in hidden files.

#include <cstdio>
#include <string>

#include "catalog/operator.h"
#include "connectors/file/file.pb.h"

namespace sluice {

class FileSink : public Operator {
 public:
  static constexpr size_t kRollBytes = 128 << 20;

  explicit FileSink(const proto::FileSinkConfig& config) : config_(config) {}
  ~FileSink() override;

  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;
  absl::Status Finish(Output& out) override;
  // A checkpoint barrier completes the current part file, so everything
  // before the barrier is published and a restart from that checkpoint
  // writes only what follows it (into the new attempt's files). Output
  // after the last barrier of a failed attempt stays in hidden in-progress
  // files. (Committing only once the checkpoint completes is the
  // transactional sink's job.)
  absl::StatusOr<OperatorSnapshot> Snapshot(int64_t checkpoint_id,
                                            const std::string& keyed_dir) override;

 private:
  absl::Status Roll();  // completes the current part file, if any

  proto::FileSinkConfig config_;
  std::FILE* file_ = nullptr;
  std::string in_progress_path_, final_path_;
  size_t bytes_ = 0;
  int part_ = 0;
  std::string buffer_;
};

}  // namespace sluice
