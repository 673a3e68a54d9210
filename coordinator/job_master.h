#pragma once

// One job: its state machine (CREATED -> RUNNING -> FINISHED | FAILED |
// CANCELED), its deployments, the status of its subtasks and the slots it
// holds while it runs.
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
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
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

  // `plan` comes from BuildPlan; `now_ms` is the steady time of submission.
  JobMaster(proto::ExecutionPlan plan, int64_t now_ms, Options options, SlotScheduler* slots,
            WorkerClient* workers, const ControlThreadChecker& thread);

  const std::string& job_id() const { return plan_.job_id(); }
  proto::JobState state() const;
  int64_t attempt() const;
  const proto::ExecutionPlan& plan() const;

  // A CREATED job deploys once enough slots are free, and fails when it has
  // waited longer than slot_wait_ms.
  void TrySchedule(int64_t now_ms);
  void Cancel();
  // A RUNNING job with subtasks on `worker_id` fails with `reason`.
  void OnWorkerLost(const std::string& worker_id, const std::string& reason);
  // A task's final status, as reported by the worker that ran it.
  void OnTaskReport(const std::string& worker_id, const proto::SubtaskStatus& status);
  // A running task's status from a heartbeat: counters, load, RUNNING.
  void OnHeartbeat(const std::string& worker_id, const proto::SubtaskStatus& status);
  // True while `attempt` of this job runs and has subtasks on `worker_id`:
  // a worker should keep such tasks, and cancel any others.
  bool IsLiveOn(const std::string& worker_id, int64_t attempt) const;

  // The job's status; while it runs, with backpressured subtasks marked and
  // its bottleneck named (job_load.h).
  proto::JobStatus Status(bool with_subtasks) const;

 private:
  void Deploy(std::vector<SlotGrant> slots);
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
  const int64_t submitted_ms_;  // steady

  proto::ExecutionPlan plan_;
  proto::JobStatus status_;
  int64_t attempt_ = 0;           // 0 until the first deployment
  std::vector<SlotGrant> slots_;  // held while RUNNING; slot i runs subtask i of every task
  std::set<std::string> lost_workers_;
  std::vector<int> first_subtask_;  // per task: index of its subtask 0 in status_.subtasks
};

}  // namespace sluice
