#include "coordinator/dispatcher.h"

#include <cstdio>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/job_metrics.h"

namespace sluice {

Dispatcher::Dispatcher(DispatcherOptions options, WorkerClient* workers,
                       const ControlThreadChecker& thread, StoreIo* io,
                       std::shared_ptr<ObjectStore> ha_store)
    : options_(options),
      thread_(thread),
      workers_(*workers),
      io_(io),
      registry_(options.heartbeat_timeout_ms, thread),
      scheduler_(&registry_, thread),
      ha_store_(std::move(ha_store)) {}

void Dispatcher::AddJob(proto::ExecutionPlan plan, int64_t now_ms,
                        JobMaster::Checkpointing checkpointing) {
  thread_.AssertOnControlThread();
  const std::string id = plan.job_id();
  checkpointing.io = io_;
  auto job = std::make_unique<JobMaster>(std::move(plan), now_ms,
                                         JobMaster::Options{options_.slot_wait_ms}, &scheduler_,
                                         &workers_, thread_, std::move(checkpointing));
  job_order_.push_back(job.get());
  jobs_[id] = std::move(job);
  ScheduleWaiting(now_ms);
  PublishMetrics();
}

absl::Status Dispatcher::CancelJob(const std::string& job_id) {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  const proto::JobState state = job->state();
  if (state == proto::FINISHED || state == proto::FAILED || state == proto::CANCELED) {
    return absl::FailedPreconditionError(absl::StrCat(
        "job ", job_id, " has already ended (", proto::JobState_Name(state), "): not canceled"));
  }
  job->Cancel();
  PublishMetrics();
  return absl::OkStatus();
}

absl::StatusOr<proto::JobStatus> Dispatcher::DescribeJob(const std::string& job_id) const {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  return job->Status(/*with_subtasks=*/true);
}

proto::ListJobsResponse Dispatcher::ListJobs() const {
  thread_.AssertOnControlThread();
  proto::ListJobsResponse resp;
  for (const JobMaster* job : job_order_) *resp.add_jobs() = job->Status(/*with_subtasks=*/false);
  return resp;
}

absl::StatusOr<proto::RegisterWorkerResponse> Dispatcher::RegisterWorker(
    const proto::RegisterWorkerRequest& req, int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (req.slots() < 1) return absl::InvalidArgumentError("a worker needs at least 1 slot");
  if (req.address().empty()) return absl::InvalidArgumentError("a worker needs an address");
  std::optional<WorkerInfo> replaced;
  const std::string id = registry_.Register(req.address(), req.slots(), now_ms, &replaced).id;
  if (replaced.has_value()) {
    LoseWorker(replaced->id,
               absl::StrCat("worker ", replaced->id, " (", replaced->address, ") restarted"));
  }
  proto::RegisterWorkerResponse resp;
  resp.set_worker_id(id);
  resp.set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
  ScheduleWaiting(now_ms);
  PublishMetrics();
  return resp;
}

proto::HeartbeatResponse Dispatcher::Heartbeat(const proto::HeartbeatRequest& req,
                                               int64_t arrival_ms) {
  thread_.AssertOnControlThread();
  proto::HeartbeatResponse resp;
  const std::string& worker = req.worker_id();
  const bool known = registry_.Heartbeat(worker, arrival_ms, req.address());
  if (!known) resp.set_unknown_worker(true);
  std::set<std::pair<std::string, int64_t>> cancel;
  for (const auto& st : req.subtasks()) {
    JobMaster* job = FindJob(st.job_id());
    if (known && job != nullptr && job->IsLiveOn(worker, st.attempt())) {
      job->OnHeartbeat(worker, st);
    } else if (cancel.emplace(st.job_id(), st.attempt()).second) {
      proto::JobAttempt* c = resp.add_cancel();
      c->set_job_id(st.job_id());
      c->set_attempt(st.attempt());
    }
  }
  return resp;
}

void Dispatcher::ReportTaskState(const proto::TaskStateReport& report) {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(report.job_id());
  if (job == nullptr) return;
  job->OnTaskReport(report.worker_id(), report.status());
  PublishMetrics();
}

void Dispatcher::AcknowledgeCheckpoint(const proto::CheckpointAck& ack, int64_t now_ms) {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(ack.job_id());
  if (job != nullptr) job->OnCheckpointAck(ack, now_ms);
}

void Dispatcher::DeclineCheckpoint(const proto::CheckpointDecline& decline, int64_t now_ms) {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(decline.job_id());
  if (job != nullptr) job->OnCheckpointDecline(decline, now_ms);
}

void Dispatcher::TriggerSavepoint(const proto::SavepointRequest& req, int64_t now_ms,
                                  CheckpointCoordinator::SavepointDone done) {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(req.job_id());
  if (job == nullptr) {
    done(absl::NotFoundError(absl::StrCat("no job '", req.job_id(), "'")));
    return;
  }
  job->TriggerSavepoint(req.name(), req.cancel(), now_ms, std::move(done));
}

absl::StatusOr<proto::ListCheckpointsResponse> Dispatcher::ListCheckpoints(
    const std::string& job_id) const {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  proto::ListCheckpointsResponse resp;
  for (auto& m : job->ListCheckpoints()) *resp.add_checkpoints() = std::move(m);
  return resp;
}

absl::StatusOr<proto::ExecutionPlan> Dispatcher::Plan(const std::string& job_id) const {
  thread_.AssertOnControlThread();
  JobMaster* job = FindJob(job_id);
  if (job == nullptr) return absl::NotFoundError(absl::StrCat("no job '", job_id, "'"));
  return job->plan();
}

void Dispatcher::Tick(int64_t now_ms) {
  thread_.AssertOnControlThread();
  for (const LostWorker& w : registry_.Expire(now_ms)) {
    std::string reason = absl::StrCat("worker ", w.id, " (", w.address, ") lost: no heartbeat for ",
                                      w.silent_ms / 1000.0, " s");
    std::fprintf(stderr, "sluice coordinator: %s\n", reason.c_str());
    LoseWorker(w.id, reason);
  }
  for (JobMaster* job : job_order_) {
    for (const std::string& id : job->TakeUnreachableWorkers()) {
      if (!registry_.Remove(id)) continue;
      const std::string reason = absl::StrCat("worker ", id, " lost: unreachable");
      std::fprintf(stderr, "sluice coordinator: %s\n", reason.c_str());
      LoseWorker(id, reason);
    }
  }
  ScheduleWaiting(now_ms);
  PublishMetrics();
}

JobMaster* Dispatcher::FindJob(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second.get();
}

void Dispatcher::LoseWorker(const std::string& worker_id, const std::string& reason) {
  for (JobMaster* job : job_order_) job->OnWorkerLost(worker_id, reason);
}

void Dispatcher::ScheduleWaiting(int64_t now_ms) {
  for (JobMaster* job : job_order_) job->Tick(now_ms);
}

void Dispatcher::PublishMetrics() {
  bool changed = false;
  std::map<proto::JobState, int> counts;
  for (const JobMaster* job : job_order_) {
    const proto::JobState state = job->state();
    ++counts[state];
    auto [it, added] = published_states_.emplace(job->job_id(), state);
    if (added || it->second != state) {
      it->second = state;
      SetJobStateMetric(job->job_id(), state);
      changed = true;
    }
  }
  if (changed) SetJobCounts(counts);
  if (ha_store_ != nullptr && io_ != nullptr) {
    for (const JobMaster* job : job_order_) {
      const auto now = std::make_pair(job->state(), job->attempt());
      auto [it, added] = recorded_.emplace(job->job_id(), now);
      if (!added && it->second == now) continue;
      it->second = now;
      io_->Run([store = ha_store_, key = absl::StrCat("jobs/", job->job_id()),
                bytes = job->Record().SerializeAsString()] { return store->Put(key, bytes); },
               [id = job->job_id()](absl::Status s, int64_t) {
                 if (!s.ok()) {
                   std::fprintf(stderr,
                                "sluice coordinator: cannot record job %s in the HA store: %s\n",
                                id.c_str(), std::string(s.message()).c_str());
                 }
               });
    }
  }
  if (registry_.size() != published_workers_) {
    published_workers_ = registry_.size();
    SetWorkerCount(published_workers_);
  }
}

}  // namespace sluice
