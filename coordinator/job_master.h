#pragma once

// One job: its state machine (CREATED -> RUNNING -> FINISHED | FAILED |
// CANCELED, and RUNNING -> RESTARTING -> RUNNING), its deployments, the
// status of its subtasks, the slots it holds while it runs, and its
// checkpoints (CheckpointCoordinator).
//
// Failures: a failed task or a lost worker ends the attempt. Following the
// job's restart strategy (none when it takes no checkpoints, unless it
// says otherwise), the job is RESTARTING: its tasks are canceled, its slots
// given back, and after the restart delay a new attempt starts from the
// latest completed checkpoint (or what the job was submitted to restore),
// on whatever workers have free slots. Past max_attempts restarts it fails.
//
// Each deployment is an attempt, numbered from 1; the plan, the subtask
// statuses and every cancel carry it. Task reports and heartbeats from
// another attempt never change the current attempt's status (a report
// without an attempt, 0, belongs to none).
//
// Deploying and canceling go through WorkerClient and never wait; their
// completions come back on the control thread. A deploy that completes
// after its attempt ended (say, canceled while the deploy was in flight)
// is followed by another cancel to that worker, since the worker may have
// started the tasks after it handled the first one.
//
// Thread: the control thread only (asserted). A JobMaster must outlive the
// completions of the RPCs it starts; the coordinator keeps its job masters
// until it has stopped, and drops completions after that.

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "coordinator/checkpoint_coordinator.h"
#include "coordinator/control_loop.h"
#include "coordinator/slot_scheduler.h"
#include "coordinator/worker_client.h"
#include "proto/sluice.pb.h"

namespace sluice {

class JobMaster {
 public:
  struct Options {
    // A job waiting this long for free slots fails.
    int64_t slot_wait_ms = 60'000;
  };
  struct Checkpointing {
    std::shared_ptr<ObjectStore> store;  // the plan's checkpoint_store
    StoreIo* io = nullptr;
    // What the first attempt starts from (a savepoint or checkpoint the job
    // was submitted to restore); checkpoints of the job found in the store
    // when a coordinator takes over a running job; the highest checkpoint
    // id seen there.
    std::optional<proto::CheckpointMetadata> restore;
    std::vector<proto::CheckpointMetadata> recovered;
    int64_t max_seen_id = 0;
    // A job taken over from another coordinator: its last attempt and
    // restarts. The next deployment is attempt previous_attempt + 1.
    int64_t previous_attempt = 0;
    int restarts = 0;
  };

  // `plan` comes from BuildPlan; `now_ms` is the steady time of submission.
  JobMaster(proto::ExecutionPlan plan, int64_t now_ms, Options options, SlotScheduler* slots,
            WorkerClient* workers, const ControlThreadChecker& thread, Checkpointing checkpointing);

  const std::string& job_id() const { return plan_.job_id(); }
  proto::JobState state() const;
  int64_t attempt() const;
  const proto::ExecutionPlan& plan() const;

  // A CREATED job deploys once enough slots are free, and fails when it has
  // waited longer than slot_wait_ms; a RESTARTING one likewise once its
  // restart delay passed; a RUNNING one takes checkpoints when due.
  void Tick(int64_t now_ms);
  void OnCheckpointAck(const proto::CheckpointAck& ack, int64_t now_ms);
  void OnCheckpointDecline(const proto::CheckpointDecline& decline, int64_t now_ms);
  // Takes savepoint `name`; with `cancel`, cancels the job once it is taken.
  void TriggerSavepoint(const std::string& name, bool cancel, int64_t now_ms,
                        CheckpointCoordinator::SavepointDone done);
  std::vector<proto::CheckpointMetadata> ListCheckpoints() const;
  // Workers a deployment could not connect to since the last call, so the
  // registry forgets them instead of offering their slots again.
  std::vector<std::string> TakeUnreachableWorkers();
  void Cancel();
  // A RUNNING job with subtasks on `worker_id` fails (or restarts) with `reason`.
  void OnWorkerLost(const std::string& worker_id, const std::string& reason);
  // A task's final status, as reported by the worker that ran it.
  void OnTaskReport(const std::string& worker_id, const proto::SubtaskStatus& status);
  // A running task's status from a heartbeat: counters, load, RUNNING.
  void OnHeartbeat(const std::string& worker_id, const proto::SubtaskStatus& status);
  // True while `attempt` of this job runs and has subtasks on `worker_id`:
  // a worker should keep such tasks, and cancel any others.
  bool IsLiveOn(const std::string& worker_id, int64_t attempt) const;

  // What a restarted coordinator needs to take the job over.
  proto::JobRecord Record() const;

  // The job's status; while it runs, with backpressured subtasks marked and
  // its bottleneck named (job_load.h).
  proto::JobStatus Status(bool with_subtasks) const;

 private:
  void TrySchedule(int64_t now_ms);
  void Deploy(std::vector<SlotGrant> slots);
  // The attempt failed: restart, or end the job, as the strategy says.
  void Fail(const std::string& reason);
  int64_t RestartDelayMs() const;
  // Gives back the attempt's slots and cancels its tasks on the workers
  // still there.
  void ReleaseAttempt();
  void OnDeployDone(int64_t attempt, const std::string& worker_id, const std::string& address,
                    const absl::Status& result);
  // Ends the job; a RUNNING job gives back its slots, and unless it
  // finished, its tasks are canceled on every worker still there.
  void End(proto::JobState state, const std::string& failure);
  void CancelOn(const std::string& address, int64_t attempt);
  bool IsCurrent(int64_t attempt) const { return attempt_ > 0 && attempt == attempt_; }
  bool RunsOn(const std::string& worker_id) const;
  proto::SubtaskStatus* FindSubtask(int task, int subtask);

  const Options options_;
  SlotScheduler& scheduler_;
  WorkerClient& workers_;
  const ControlThreadChecker& thread_;
  int64_t waiting_since_ms_;  // steady: submission, or the end of the restart delay

  proto::ExecutionPlan plan_;
  proto::JobStatus status_;
  int64_t attempt_ = 0;           // 0 until the first deployment
  std::vector<SlotGrant> slots_;  // held while RUNNING; slot i runs subtask i of every task
  std::set<std::string> lost_workers_;
  std::vector<int> first_subtask_;  // per task: index of its subtask 0 in status_.subtasks

  std::shared_ptr<ObjectStore> store_;
  std::optional<proto::CheckpointMetadata> initial_restore_;
  std::unique_ptr<CheckpointCoordinator> checkpoints_;
  std::optional<int64_t> restart_due_ms_;  // RESTARTING: when the delay ends
  std::vector<std::string> unreachable_;
};

}  // namespace sluice
