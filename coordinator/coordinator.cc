#include "coordinator/coordinator.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/grpc_util.h"
#include "common/job_file.h"
#include "common/time_util.h"
#include "coordinator/job_metrics.h"
#include "coordinator/plan_builder.h"

namespace sluice {
namespace {

bool IsTerminal(proto::JobState s) {
  return s == proto::FINISHED || s == proto::FAILED || s == proto::CANCELED;
}

bool IsTerminal(proto::TaskState s) {
  return s == proto::TASK_FINISHED || s == proto::TASK_FAILED || s == proto::TASK_CANCELED;
}

std::string NewJobId() {
  static std::mt19937_64 rng(std::random_device{}());
  static absl::Mutex* mu = new absl::Mutex;
  absl::MutexLock lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(buf, 12);
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options) : options_(std::move(options)) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  auto server = StartServer(options_.listen_address, this, &address_);
  if (!server.ok())
    return absl::UnavailableError(absl::StrCat("coordinator ", server.status().message()));
  server_ = std::move(*server);
  control_ = std::jthread([this](std::stop_token stop) { ControlLoop(stop); });
  return absl::OkStatus();
}

void Coordinator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (control_.joinable()) {
    control_.request_stop();
    control_.join();
  }
  StopServer(server_.get(), address_);
}

void Coordinator::Wait() {
  if (server_ != nullptr) server_->Wait();
}

grpc::Status Coordinator::SubmitJob(grpc::ServerContext*, const proto::SubmitJobRequest* req,
                                    proto::SubmitJobResponse* resp) {
  absl::Status valid = ValidateJobGraph(req->graph());
  if (!valid.ok()) return ToGrpcStatus(valid);
  Job job;
  job.graph = req->graph();
  if (job.graph.max_parallelism() <= 0) job.graph.set_max_parallelism(128);
  const std::string id = NewJobId();
  job.status.set_job_id(id);
  job.status.set_name(job.graph.name());
  job.status.set_state(proto::CREATED);
  job.status.set_submit_time_ms(NowMs());
  for (const auto& op : job.graph.operators()) job.status.add_operator_ids(op.id());
  auto plan = std::make_shared<proto::ExecutionPlan>();
  plan->set_job_id(id);
  *plan->mutable_graph() = job.graph;
  absl::Status built = BuildTasks(plan.get());
  if (!built.ok()) return ToGrpcStatus(built);
  job.plan = std::move(plan);
  {
    absl::MutexLock lock(&mu_);
    jobs_[id] = std::move(job);
    job_order_.push_back(id);
    PublishMetrics();
  }
  resp->set_job_id(id);
  return grpc::Status::OK;
}

grpc::Status Coordinator::CancelJob(grpc::ServerContext*, const proto::CancelJobRequest* req,
                                    proto::CancelJobResponse*) {
  std::vector<Action> actions;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("no job '", req->job_id(), "'"));
    }
    if (!IsTerminal(it->second.status.state())) EndJob(it->second, proto::CANCELED, "", &actions);
  }
  RunActions(std::move(actions));
  return grpc::Status::OK;
}

grpc::Status Coordinator::ListJobs(grpc::ServerContext*, const proto::ListJobsRequest*,
                                   proto::ListJobsResponse* resp) {
  absl::MutexLock lock(&mu_);
  for (const auto& id : job_order_) {
    proto::JobStatus* s = resp->add_jobs();
    *s = jobs_[id].status;
    s->clear_subtasks();
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::DescribeJob(grpc::ServerContext*, const proto::DescribeJobRequest* req,
                                      proto::JobStatus* resp) {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(req->job_id());
  if (it == jobs_.end()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no job '", req->job_id(), "'"));
  }
  *resp = it->second.status;
  return grpc::Status::OK;
}

grpc::Status Coordinator::RegisterWorker(grpc::ServerContext*,
                                         const proto::RegisterWorkerRequest* req,
                                         proto::RegisterWorkerResponse* resp) {
  if (req->slots() < 1)
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "a worker needs at least 1 slot");
  std::vector<Action> actions;
  {
    absl::MutexLock lock(&mu_);
    // A worker coming back at the same address has lost whatever it ran.
    for (const auto& [id, w] : workers_) {
      if (w.address == req->address()) {
        LoseWorker(id, absl::StrCat("worker ", id, " (", w.address, ") restarted"), &actions);
        break;
      }
    }
    WorkerInfo w;
    w.order = next_worker_++;
    w.id = absl::StrCat("worker-", w.order);
    w.address = req->address();
    w.slots = req->slots();
    w.last_heartbeat_ms = NowMs();
    resp->set_worker_id(w.id);
    resp->set_heartbeat_interval_ms(options_.heartbeat_interval_ms);
    workers_[w.id] = w;
    PublishMetrics();
  }
  RunActions(std::move(actions));
  return grpc::Status::OK;
}

grpc::Status Coordinator::Heartbeat(grpc::ServerContext*, const proto::HeartbeatRequest* req,
                                    proto::HeartbeatResponse* resp) {
  absl::MutexLock lock(&mu_);
  auto w = workers_.find(req->worker_id());
  if (w == workers_.end()) {
    resp->set_unknown_worker(true);
    return grpc::Status::OK;
  }
  w->second.last_heartbeat_ms = NowMs();
  for (const auto& st : req->subtasks()) {
    auto job = jobs_.find(st.job_id());
    if (job == jobs_.end() || job->second.status.state() != proto::RUNNING) continue;
    for (auto& s : *job->second.status.mutable_subtasks()) {
      if (s.task() == st.task() && s.subtask() == st.subtask() && !IsTerminal(s.state())) {
        *s.mutable_operators() = st.operators();
        if (st.state() == proto::TASK_RUNNING) s.set_state(proto::TASK_RUNNING);
      }
    }
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::ReportTaskState(grpc::ServerContext*, const proto::TaskStateReport* req,
                                          proto::TaskStateAck*) {
  std::vector<Action> actions;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(req->job_id());
    if (it == jobs_.end()) return grpc::Status::OK;
    Job& job = it->second;
    const proto::SubtaskStatus& st = req->status();
    for (auto& s : *job.status.mutable_subtasks()) {
      if (s.task() == st.task() && s.subtask() == st.subtask()) {
        s = st;
        s.set_worker_id(req->worker_id());
      }
    }
    if (job.status.state() == proto::RUNNING) {
      if (st.state() == proto::TASK_FAILED) {
        std::string ops = absl::StrJoin(job.plan->tasks(st.task()).operator_ids(), "->");
        EndJob(job, proto::FAILED,
               absl::StrCat("task ", ops, " subtask ", st.subtask(), " on ", req->worker_id(),
                            " failed: ", st.failure()),
               &actions);
      } else {
        bool all_done = true;
        for (const auto& s : job.status.subtasks())
          all_done = all_done && s.state() == proto::TASK_FINISHED;
        if (all_done) EndJob(job, proto::FINISHED, "", &actions);
      }
    }
  }
  RunActions(std::move(actions));
  return grpc::Status::OK;
}

void Coordinator::EndJob(Job& job, proto::JobState state, const std::string& failure,
                         std::vector<Action>* actions) {
  const bool was_running = job.status.state() == proto::RUNNING;
  job.status.set_state(state);
  job.status.set_failure(failure);
  job.status.set_end_time_ms(NowMs());
  for (const auto& [worker_id, slots] : job.slots_by_worker) {
    auto w = workers_.find(worker_id);
    if (w == workers_.end()) continue;
    w->second.used_slots -= slots;
    if (was_running && state != proto::FINISHED) {
      actions->push_back(
          {Action::Kind::kCancel, job.status.job_id(), worker_id, w->second.address, nullptr});
    }
  }
  job.slots_by_worker.clear();
  if (state == proto::FAILED) {
    std::fprintf(stderr, "sluice coordinator: job %s (%s) failed: %s\n",
                 job.status.job_id().c_str(), job.status.name().c_str(), failure.c_str());
  }
  PublishMetrics();
}

void Coordinator::LoseWorker(const std::string& worker_id, const std::string& reason,
                             std::vector<Action>* actions) {
  for (auto& [id, job] : jobs_) {
    if (job.status.state() == proto::RUNNING && job.slots_by_worker.contains(worker_id)) {
      job.slots_by_worker.erase(worker_id);
      EndJob(job, proto::FAILED, reason, actions);
    }
  }
  workers_.erase(worker_id);
  PublishMetrics();
}

void Coordinator::CheckHeartbeats(std::vector<Action>* actions) {
  const int64_t now = NowMs();
  std::vector<std::string> lost;
  for (const auto& [id, w] : workers_) {
    if (now - w.last_heartbeat_ms > options_.heartbeat_timeout_ms) lost.push_back(id);
  }
  for (const auto& id : lost) {
    const WorkerInfo& w = workers_[id];
    std::string reason = absl::StrCat("worker ", id, " (", w.address, ") lost: no heartbeat for ",
                                      (now - w.last_heartbeat_ms) / 1000.0, " s");
    std::fprintf(stderr, "sluice coordinator: %s\n", reason.c_str());
    LoseWorker(id, reason, actions);
  }
}

void Coordinator::SchedulePending(std::vector<Action>* actions) {
  // Free slots, interleaved across workers so consecutive subtasks land on
  // different workers.
  std::vector<const WorkerInfo*> by_order;
  for (const auto& [id, w] : workers_) by_order.push_back(&w);
  std::sort(by_order.begin(), by_order.end(), [](auto* a, auto* b) { return a->order < b->order; });
  for (const auto& id : job_order_) {
    Job& job = jobs_[id];
    if (job.status.state() != proto::CREATED) continue;
    const int needed = SlotsNeeded(*job.plan);
    std::vector<const WorkerInfo*> slots;
    for (int round = 0; static_cast<int>(slots.size()) < needed; ++round) {
      size_t added = 0;
      for (const WorkerInfo* w : by_order) {
        if (w->used_slots + round < w->slots && static_cast<int>(slots.size()) < needed) {
          slots.push_back(w);
          ++added;
        }
      }
      if (added == 0) break;
    }
    if (static_cast<int>(slots.size()) < needed) {
      int free_slots = 0;
      for (const WorkerInfo* w : by_order) free_slots += w->slots - w->used_slots;
      job.status.set_pending_reason(absl::StrCat("waiting for task slots: the job needs ", needed,
                                                 ", ", free_slots, " free on ", by_order.size(),
                                                 " worker(s)"));
      if (NowMs() - job.status.submit_time_ms() > options_.slot_wait_ms) {
        EndJob(job, proto::FAILED,
               absl::StrCat("not enough free task slots: the job needs ", needed,
                            ", the cluster has ", free_slots, " free on ", by_order.size(),
                            " worker(s) after waiting ", options_.slot_wait_ms / 1000, " s"),
               actions);
      }
      continue;
    }
    proto::ExecutionPlan& plan = *job.plan;
    plan.clear_assignments();
    job.status.clear_subtasks();
    for (const auto& t : plan.tasks()) {
      for (int s = 0; s < t.parallelism(); ++s) {
        auto* a = plan.add_assignments();
        a->set_task(t.index());
        a->set_subtask(s);
        a->set_worker_id(slots[s]->id);
        a->set_worker_address(slots[s]->address);
        auto* st = job.status.add_subtasks();
        st->set_task(t.index());
        st->set_subtask(s);
        st->set_worker_id(slots[s]->id);
        st->set_state(proto::TASK_DEPLOYING);
      }
    }
    for (int s = 0; s < needed; ++s) {
      ++job.slots_by_worker[slots[s]->id];
      ++workers_[slots[s]->id].used_slots;
    }
    job.status.set_state(proto::RUNNING);
    job.status.clear_pending_reason();
    for (const auto& [worker_id, n] : job.slots_by_worker) {
      actions->push_back(
          {Action::Kind::kDeploy, id, worker_id, workers_[worker_id].address, job.plan});
    }
    PublishMetrics();
  }
}

void Coordinator::RunActions(std::vector<Action> actions) {
  for (const Action& a : actions) {
    auto stub = proto::WorkerService::NewStub(ChannelTo(a.worker_address));
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 10'000);
    grpc::Status s;
    if (a.kind == Action::Kind::kDeploy) {
      proto::DeployTasksRequest req;
      *req.mutable_plan() = *a.plan;
      req.set_worker_id(a.worker_id);
      proto::DeployTasksResponse resp;
      s = stub->DeployTasks(&ctx, req, &resp);
      if (!s.ok()) {
        std::vector<Action> more;
        {
          absl::MutexLock lock(&mu_);
          auto it = jobs_.find(a.job_id);
          if (it != jobs_.end() && it->second.status.state() == proto::RUNNING) {
            EndJob(it->second, proto::FAILED,
                   absl::StrCat("cannot deploy tasks to worker ", a.worker_id, " (",
                                a.worker_address, "): ", s.error_message()),
                   &more);
          }
        }
        RunActions(std::move(more));
      }
    } else {
      proto::CancelTasksRequest req;
      req.set_job_id(a.job_id);
      proto::CancelTasksResponse resp;
      stub->CancelTasks(&ctx, req, &resp);  // best effort: the worker may be gone
    }
  }
}

void Coordinator::ControlLoop(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::vector<Action> actions;
    {
      absl::MutexLock lock(&mu_);
      CheckHeartbeats(&actions);
      SchedulePending(&actions);
    }
    RunActions(std::move(actions));
    absl::SleepFor(absl::Milliseconds(50));
  }
}

void Coordinator::PublishMetrics() {
  std::map<proto::JobState, int> counts;
  for (const auto& [id, job] : jobs_) {
    ++counts[job.status.state()];
    SetJobStateMetric(id, job.status.state());
  }
  SetJobCounts(counts);
  SetWorkerCount(static_cast<int>(workers_.size()));
}

}  // namespace sluice
