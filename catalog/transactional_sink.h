#pragma once

// The transactional sink contract (Flink's TwoPhaseCommitSinkFunction): how
// a sink makes its output exactly-once.
//
// Records go into an open transaction. When a checkpoint barrier passes,
// the sink pre-commits it: the output is made durable but not visible, and
// its handle goes into the snapshot. When the coordinator says that
// checkpoint completed, the sink commits it (and every earlier one still
// pending): the output becomes visible. Commit is idempotent: committing a
// handle twice is a no-op, because a restored task and a task of the
// attempt before it may both commit the same handle. On restore the sink
// commits what the restored checkpoint pre-committed (that checkpoint is
// complete), then aborts everything else this subtask left behind.
//
// In a job that is not exactly-once (OperatorContext::exactly_once is
// false: at-least-once, or no checkpoints), the sink commits at once at
// each barrier and at the end of input: lower latency, and a restart may
// repeat what was published after the last completed checkpoint.
//
// A sink kind derives from TransactionalSink and implements the hooks; the
// Operator methods are this class's. Thread: the task thread.

#include <cstdint>
#include <deque>
#include <string>

#include "catalog/operator.h"

namespace sluice {

class TransactionalSink : public Operator {
 public:
  absl::Status Open(const OperatorContext& ctx) final;
  absl::Status ProcessBatch(Batch batch, Output& out) final;
  absl::Status Finish(Output& out) final;
  absl::StatusOr<OperatorSnapshot> Snapshot(int64_t checkpoint_id,
                                            const std::string& keyed_dir) final;
  absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) final;

  // Transactions pre-committed and not yet committed (for tests and metrics).
  size_t pending_commits() const { return pending_.size(); }

 protected:
  // Connects, creates directories: what the sink needs before anything
  // else. ctx_ is set.
  virtual absl::Status OpenSink() = 0;
  // Adds the batch's rows to the open transaction (beginning one if none
  // is open).
  virtual absl::Status Write(const Batch& batch) = 0;
  // Makes the open transaction durable, not visible, and closes it;
  // returns its handle, or "" when it holds nothing.
  virtual absl::StatusOr<std::string> PreCommit(int64_t checkpoint_id) = 0;
  // Makes a pre-committed transaction visible. Idempotent. `checkpoint_id`:
  // the checkpoint that pre-committed it (0 when the job commits at once).
  virtual absl::Status Commit(int64_t checkpoint_id, const std::string& handle) = 0;
  // After a restore's commits, and after each completed checkpoint's:
  // removes what earlier attempts of this subtask left uncommitted.
  virtual absl::Status AbortLeftovers() = 0;

 private:
  struct Pending {
    int64_t checkpoint_id;
    std::string handle;
  };
  absl::Status CommitUpTo(int64_t checkpoint_id);

  std::deque<Pending> pending_;  // oldest first
};

}  // namespace sluice
