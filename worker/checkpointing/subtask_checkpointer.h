#pragma once

// One subtask's part in checkpoints (Flink's SubtaskCheckpointCoordinator):
// it restores the subtask's state from the plan's checkpoint, and for each
// checkpoint takes the synchronous snapshot, has the barrier forwarded,
// hands the files to the uploader and reports the ack or the decline.
//
// Order within a checkpoint, which the exactly-once protocol rests on:
//  1. snapshot (source position, operator state, a transactional sink's
//     pre-commit) on the task thread, with no record in between;
//  2. forward the barrier, even when the snapshot failed, so downstream
//     tasks do not wait for it (the checkpoint is declined then);
//  3. upload on the uploader's thread while the task goes on; then ack.
// A snapshot that fails with DataLoss (keyed state that lost entries) also
// fails the task: it restarts from a checkpoint.
//
// Thread: the task thread, except what runs on the uploader (documented).

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "catalog/operator.h"
#include "proto/sluice.pb.h"
#include "store/object_store.h"
#include "worker/checkpointing/checkpoint_reporter.h"
#include "worker/checkpointing/snapshot_uploader.h"
#include "worker/stream_element.h"

namespace sluice {

class SubtaskCheckpointer {
 public:
  struct Identity {
    std::string job_id;
    int64_t attempt = 0;
    int task = 0;
    int subtask = 0;
    std::string worker_id;
  };

  // `uploader` and `reporter` must outlive the checkpointer's uploads.
  // `state_dir` is the subtask's local directory.
  SubtaskCheckpointer(std::shared_ptr<const proto::ExecutionPlan> plan, Identity id,
                      std::string state_dir, SnapshotUploader* uploader,
                      CheckpointReporter* reporter);

  // Downloads the state of this subtask's snapshot in the plan's restore,
  // if any, filling `restores` per operator id; null when the plan
  // restores nothing. `downloaded` hears how long each operator's files
  // took.
  using DownloadedFn = absl::FunctionRef<void(const std::string& operator_id, int64_t ms)>;
  absl::StatusOr<const proto::SubtaskSnapshot*> Restore(
      std::map<std::string, OperatorRestore>* restores, DownloadedFn downloaded);

  // Fills the synchronous part of a snapshot: position and operators, with
  // keyed files under snapshot.local_dir.
  using TakeFn = absl::FunctionRef<absl::Status(LocalSnapshot& snapshot)>;
  // Sends the barrier on; not called when the subtask's output ended.
  using ForwardFn = absl::FunctionRef<absl::Status(const CheckpointBarrier&)>;
  // Called on the uploader's thread with what a checkpoint uploaded.
  using UploadedFn = absl::AnyInvocable<void(const proto::SubtaskSnapshot&)>;

  // Takes checkpoint `barrier` (see the order above). `finished`: the
  // subtask's operators have finished and its output ended, so there is no
  // barrier to forward and a restore ends the subtask at once. An error
  // fails the task.
  absl::Status Checkpoint(const CheckpointBarrier& barrier, int64_t alignment_ms, bool finished,
                          TakeFn take, ForwardFn forward, UploadedFn uploaded);
  // Reports that this subtask takes no part in checkpoint `id`.
  void Decline(int64_t id, const absl::Status& reason);

  // The highest checkpoint id taken or declined here.
  int64_t last_checkpoint_id() const { return last_id_; }

 private:
  absl::StatusOr<std::shared_ptr<ObjectStore>> Store();
  // Removes a snapshot's directory once its operators' background writes
  // into it are done (on the uploader's thread).
  void Discard(const std::shared_ptr<LocalSnapshot>& snapshot);

  const std::shared_ptr<const proto::ExecutionPlan> plan_;
  const Identity id_;
  const std::string state_dir_;
  SnapshotUploader& uploader_;
  CheckpointReporter& reporter_;
  std::shared_ptr<ObjectStore> store_;  // opened at the first checkpoint or restore
  // Shared with the uploads.
  const std::shared_ptr<SubtaskFiles> files_ = std::make_shared<SubtaskFiles>();
  int64_t last_id_ = 0;
};

}  // namespace sluice
