#pragma once

// One job's checkpoints, on the coordinator (Flink's CheckpointCoordinator):
// triggers them, collects the subtasks' acknowledgements, completes them
// by writing _metadata, notifies the tasks, and keeps the last `retain`.
//
// Protocol (common/checkpoint_layout.h has the store layout, and
// common/crash_point.h the named crash points along it):
//  1. Trigger: checkpoint n goes to every worker of the attempt; each
//     source snapshots its position and state and emits barrier n.
//     Barriers align in every downstream task, which snapshots and forwards
//     them; a finishing task (its input done) snapshots at once. Each
//     subtask uploads its files and acks with their handles.
//  2. Complete: once every subtask of the attempt acked, _metadata is
//     written atomically; only then does checkpoint n exist. Then every
//     subtask of the attempt hears that it completed (its sinks commit),
//     again and again until each has confirmed it or a newer checkpoint
//     completed; and checkpoints beyond the `retain` newest are deleted
//     (_metadata first, so none is ever seen partly deleted), with the
//     shared files no retained checkpoint refers to. A task restored from
//     checkpoint n commits what n pre-committed itself.
//  3. Abort: a decline, a timeout or the end of the attempt aborts the
//     pending checkpoint only; the job goes on. Its files stay until the
//     next attempt's first completed checkpoint, which removes what no
//     retained checkpoint uses: directories of checkpoints that never
//     completed (aborted, or cut short by a crash or a full disk) and
//     shared files that earlier attempts uploaded for them.
// Final checkpoint: once every subtask is finishing (a bounded job whose
// input is done), one is triggered at once and marked final; the tasks
// end after committing it.
// At most one checkpoint is pending; the first periodic one of an attempt
// starts `interval` after all its tasks run, the next ones `interval` after
// the previous trigger and `min_pause` after the previous end. A savepoint is a checkpoint with its
// own self-contained directory, taken as soon as nothing is pending, and never deleted.
//
// Thread: the control thread only (asserted). Store work goes through
// StoreIo; RPCs through WorkerClient; neither blocks.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "coordinator/control_loop.h"
#include "coordinator/store_io.h"
#include "coordinator/worker_client.h"
#include "proto/sluice.pb.h"
#include "store/object_store.h"

namespace sluice {

class CheckpointCoordinator {
 public:
  using SavepointDone = absl::AnyInvocable<void(absl::StatusOr<proto::CheckpointMetadata>)>;

  CheckpointCoordinator(std::string job_id, proto::JobGraph graph,
                        std::shared_ptr<ObjectStore> store, WorkerClient* workers, StoreIo* io,
                        const ControlThreadChecker& thread);

  // Checkpoints of this job already in the store (a restarted coordinator):
  // completed ones oldest first, and the highest checkpoint id seen in any
  // directory, complete or not. New ids start above it.
  void Recover(std::vector<proto::CheckpointMetadata> completed, int64_t max_seen_id);

  // Attempt `plan` runs; `all_running` once every subtask reported RUNNING
  // and none finished. Checkpoints are triggered only then.
  void OnAttempt(const proto::ExecutionPlan& plan);
  // The attempt ended or stopped taking checkpoints (a task finished):
  // aborts the pending checkpoint and fails waiting savepoints.
  void Stop(const std::string& reason);
  // `all_finishing`: every subtask runs and is finishing.
  void Tick(int64_t now_ms, bool all_running, bool all_finishing = false);

  // Takes savepoint `name` as soon as nothing else is pending.
  void TriggerSavepoint(const std::string& name, int64_t now_ms, SavepointDone done);
  void OnAck(const proto::CheckpointAck& ack, int64_t now_ms);
  void OnDecline(const proto::CheckpointDecline& decline, int64_t now_ms);

  // A task could not restore checkpoint `id` (a file gone or damaged).
  // The coordinator reads its files itself (StoreIo); if they are damaged,
  // the checkpoint is no longer retained, its _metadata is deleted, and
  // recovery goes back to the checkpoint before it, which the log says. A
  // checkpoint whose files check out (the task's store had a passing
  // problem) is kept.
  void Suspect(int64_t id, const std::string& reason);
  // _metadata of a checkpoint is being written: a new attempt waits for
  // it, since it may become the one to restore.
  bool WritingMetadata() const { return pending_.has_value() && pending_->writing; }
  // The newest completed checkpoint, or null.
  const proto::CheckpointMetadata* Latest() const;
  // Retained checkpoints, oldest first, then savepoints taken here.
  std::vector<proto::CheckpointMetadata> List() const;
  int64_t completed_count() const { return completed_count_; }
  int64_t aborted_count() const { return aborted_count_; }

 private:
  struct Pending {
    int64_t id = 0;
    proto::CheckpointKind kind = proto::CHECKPOINT;
    std::string name;
    int64_t attempt = 0;
    int64_t trigger_ms = 0;                 // steady
    std::set<std::pair<int, int>> waiting;  // (task, subtask) not acked yet
    proto::CheckpointMetadata metadata;
    SavepointDone done;
    bool writing = false;  // every subtask acked; _metadata is being written
    bool final = false;    // taken with every subtask finishing
  };
  struct SavepointRequest {
    std::string name;
    SavepointDone done;
    int64_t queued_ms = 0;
  };
  // The newest completed checkpoint, until every subtask confirmed it.
  struct Notification {
    int64_t id = 0;
    bool final = false;
    std::set<std::pair<int, int>> unconfirmed;  // (task, subtask)
    int64_t next_ms = 0;                        // when to send again
  };

  void Trigger(proto::CheckpointKind kind, std::string name, SavepointDone done, int64_t now_ms,
               bool final = false);
  void Complete(int64_t now_ms);
  void OnMetadataWritten(int64_t id, const absl::Status& result, int64_t now_ms);
  void Abort(const std::string& reason, int64_t now_ms);
  // Tells the attempt's workers that checkpoint `id` was aborted (best effort).
  void NotifyAborted(int64_t id);
  // Sends the completion to the workers of the subtasks that have not
  // confirmed it.
  void SendCompletion(int64_t now_ms);
  void ApplyRetention();
  void Discard(int64_t id, const std::string& reason);
  // Deletes checkpoint directories older than the newest completed one
  // that are not retained, and shared files of earlier attempts that no
  // retained checkpoint refers to. (Shared files of the running attempt
  // stay: its next checkpoints may refer to them.)
  void RemoveLeftovers();

  const std::string job_id_;
  const proto::JobGraph graph_;
  const proto::CheckpointConfig config_;
  const std::shared_ptr<ObjectStore> store_;
  WorkerClient& workers_;
  StoreIo& io_;
  const ControlThreadChecker& thread_;

  int64_t next_id_ = 1;
  int64_t attempt_ = 0;                                    // 0: no attempt running
  std::map<std::string, std::string> workers_of_attempt_;  // id -> address
  std::map<std::pair<int, int>, std::string> address_of_;  // (task, subtask) -> worker address
  std::vector<std::pair<int, int>> subtasks_;              // every (task, subtask)
  std::optional<Pending> pending_;
  std::optional<Notification> notification_;
  bool final_taken_ = false;  // this attempt's final checkpoint completed
  bool final_tried_ = false;  // a final checkpoint was triggered in this attempt
  bool cleaned_ = false;      // RemoveLeftovers ran for this attempt
  std::deque<SavepointRequest> savepoints_waiting_;
  std::deque<proto::CheckpointMetadata> completed_;  // retained, oldest first
  std::vector<proto::CheckpointMetadata> savepoints_;
  int64_t last_trigger_ms_ = INT64_MIN / 2;
  bool attempt_started_ = false;  // its tasks all ran at some tick
  int64_t last_end_ms_ = INT64_MIN / 2;
  int64_t completed_count_ = 0;
  int64_t aborted_count_ = 0;
};

}  // namespace sluice
