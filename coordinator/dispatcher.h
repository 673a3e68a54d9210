#pragma once

// Everything the coordinator decides, in one place: the worker registry, the
// slot scheduler and a job master per job. Each entry point is one event
// (a submission, a heartbeat, a task report, a tick of the clock) applied
// to that state. RPCs to workers leave through the WorkerClient and never
// wait.
//
// Thread: the control thread only (asserted). The Coordinator calls it from
// work posted to its ControlLoop, passing the steady time at which the
// event arrived; unit tests call it directly with a ManualClock's times and
// a fake WorkerClient.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/control_loop.h"
#include "coordinator/job_master.h"
#include "coordinator/slot_scheduler.h"
#include "coordinator/worker_client.h"
#include "coordinator/worker_registry.h"
#include "proto/sluice.pb.h"

namespace sluice {

struct DispatcherOptions {
  int64_t heartbeat_interval_ms = 500;
  // A worker silent for this long is declared lost; its jobs fail.
  int64_t heartbeat_timeout_ms = 5'000;
  // A job waiting this long for free slots fails.
  int64_t slot_wait_ms = 60'000;
};

class Dispatcher {
 public:
  // `io` runs the job masters' checkpoint store work; null: no job takes
  // checkpoints. `ha_store`, when set, keeps a JobRecord per job (under
  // jobs/), written whenever the job's state or attempt changes.
  Dispatcher(DispatcherOptions options, WorkerClient* workers, const ControlThreadChecker& thread,
             StoreIo* io = nullptr, std::shared_ptr<ObjectStore> ha_store = nullptr);

  // Adds a job with a plan from BuildPlan, and schedules it when it can.
  void AddJob(proto::ExecutionPlan plan, int64_t now_ms,
              JobMaster::Checkpointing checkpointing = {});
  void AcknowledgeCheckpoint(const proto::CheckpointAck& ack, int64_t now_ms);
  void DeclineCheckpoint(const proto::CheckpointDecline& decline, int64_t now_ms);
  void TriggerSavepoint(const proto::SavepointRequest& req, int64_t now_ms,
                        CheckpointCoordinator::SavepointDone done);
  absl::StatusOr<proto::ListCheckpointsResponse> ListCheckpoints(const std::string& job_id) const;
  // The job's plan (for the store it checkpoints to).
  absl::StatusOr<proto::ExecutionPlan> Plan(const std::string& job_id) const;
  absl::Status CancelJob(const std::string& job_id);
  absl::StatusOr<proto::JobStatus> DescribeJob(const std::string& job_id) const;
  proto::ListJobsResponse ListJobs() const;

  absl::StatusOr<proto::RegisterWorkerResponse> RegisterWorker(
      const proto::RegisterWorkerRequest& req, int64_t now_ms);
  // Records the heartbeat, takes the subtasks' counters and loads, and
  // answers with the reported (job, attempt)s the worker should cancel:
  // those that are not a running attempt with subtasks on this worker.
  proto::HeartbeatResponse Heartbeat(const proto::HeartbeatRequest& req, int64_t arrival_ms);
  void ReportTaskState(const proto::TaskStateReport& report);
  // Declares silent workers lost and schedules waiting jobs.
  void Tick(int64_t now_ms);

 private:
  JobMaster* FindJob(const std::string& job_id) const;
  void LoseWorker(const std::string& worker_id, const std::string& reason);
  void ScheduleWaiting(int64_t now_ms);
  // Exports gauges for what changed since the last call, and records jobs
  // whose state or attempt changed in the HA store.
  void PublishMetrics();

  const DispatcherOptions options_;
  const ControlThreadChecker& thread_;
  WorkerClient& workers_;
  StoreIo* const io_;
  WorkerRegistry registry_;
  SlotScheduler scheduler_;
  std::map<std::string, std::unique_ptr<JobMaster>> jobs_;
  std::vector<JobMaster*> job_order_;  // submission order: who is scheduled first
  std::map<std::string, proto::JobState> published_states_;
  const std::shared_ptr<ObjectStore> ha_store_;
  std::map<std::string, std::pair<proto::JobState, int64_t>> recorded_;  // state, attempt
  int published_workers_ = -1;
};

}  // namespace sluice
