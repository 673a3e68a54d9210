#pragma once

// The operators of one task, head to tail, called on the task thread. The
// head is a source reader or reads the task's input gate; each operator's
// Output feeds the next operator directly (no queue, no copy) and, for the
// operators whose outputs leave the task, the edges' RecordWriters. The
// chain counts records per operator (OperatorStats).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "catalog/operator.h"
#include "proto/sluice.pb.h"
#include "worker/checkpointing/snapshot_uploader.h"
#include "worker/record_writer.h"
#include "worker/task_metrics.h"

namespace sluice {

class OperatorChain {
 public:
  // Creates and opens the operators of `task` (the head source's reader is
  // created but not opened). `stats` has one entry per chained operator.
  // Each operator gets a state directory of its own under base.state_dir,
  // and restores from restores[its id] when there is one.
  static absl::StatusOr<std::unique_ptr<OperatorChain>> Create(
      const proto::ExecutionPlan& plan, int task, const OperatorContext& base,
      const std::vector<std::unique_ptr<OperatorStats>>& stats,
      const std::map<std::string, OperatorRestore>& restores = {});
  ~OperatorChain();

  // Routes what operator `from_operator` emits on `port` to `writer`.
  void AddWriter(const std::string& from_operator, const std::string& port, RecordWriter* writer);

  SourceReader* source() { return source_.get(); }
  const OperatorContext& head_context() const { return head_ctx_; }
  // Where the head emits.
  Output& head_output();

  absl::Status ProcessBatch(Batch batch);
  absl::Status ProcessWatermark(int64_t watermark);
  // End of input: each operator, head first, emits what it still holds.
  // One step at a time: finishes operators in order as long as none holds
  // pending work (which what an operator emits in Finish may create
  // downstream, e.g. in a throttle); the task continues pending work and
  // calls again. True once every operator finished and nothing is pending.
  absl::StatusOr<bool> FinishStep();

  // The synchronous part of checkpoint `id` for every operator; keyed
  // state files go to `dir`/<operator id>. Appends one entry per operator.
  absl::Status Snapshot(int64_t id, const std::string& dir,
                        std::vector<LocalSnapshot::Operator>* out);
  // Every operator hears it; the first error is returned.
  absl::Status NotifyCheckpointComplete(int64_t id);

  bool HasPending() const;
  int64_t PendingDueMs() const;
  absl::Status ContinuePending();

 private:
  class Link;
  OperatorChain() = default;

  OperatorContext head_ctx_;
  std::unique_ptr<SourceReader> source_;
  std::vector<std::unique_ptr<Operator>> ops_;  // ops_[0] empty for a source head
  std::vector<std::unique_ptr<Link>> links_;
  std::vector<std::string> ids_;
  size_t finished_ = 0;  // operators finished so far (FinishStep)
};

}  // namespace sluice
