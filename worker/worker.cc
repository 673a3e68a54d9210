#include "worker/worker.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "job/job_file.h"
#include "worker/exchange_registry.h"
#include "worker/remote_exchange.h"

namespace sluice {
namespace {

constexpr char kStateDirPrefix[] = "sluice-worker-";

// Removes the state directories in `root` of worker processes that are gone:
// a worker killed with -9 leaves its RocksDB files behind, and the next
// one cleans up after it. A directory whose process id is alive (or taken
// again) is left alone.
void RemoveStaleStateDirs(const std::filesystem::path& root) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!name.starts_with(kStateDirPrefix)) continue;
    const pid_t pid = static_cast<pid_t>(std::atol(name.c_str() + sizeof(kStateDirPrefix) - 1));
    if (pid <= 0 || pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code removed;
    std::filesystem::remove_all(it->path(), removed);
  }
}

}  // namespace

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)), uploader_(std::make_unique<SnapshotUploader>()) {
  state_dir_ = options_.state_dir;
  if (state_dir_.empty()) {
    std::error_code ec;
    const std::filesystem::path root = std::filesystem::temp_directory_path(ec);
    RemoveStaleStateDirs(root);
    state_dir_ = absl::StrCat(root.string(), "/", kStateDirPrefix, getpid(), "-",
                              reinterpret_cast<uintptr_t>(this));
    own_state_dir_ = true;
  }
}

Worker::~Worker() { Stop(); }

std::string Worker::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

absl::Status Worker::Start() {
  auto server = StartServer(options_.listen_address, this, &address_);
  if (!server.ok())
    return absl::UnavailableError(absl::StrCat("worker ", server.status().message()));
  server_ = std::move(*server);
  if (!options_.advertise_address.empty()) address_ = options_.advertise_address;
  ExchangeRegistry::Get().AddLocalWorker(address_);
  coordinator_ = proto::CoordinatorService::NewStub(ChannelTo(options_.coordinator_address));
  reporter_ = std::make_unique<GrpcCheckpointReporter>(
      coordinator_.get(), [this](const std::string& job_id, int64_t attempt) {
        absl::MutexLock lock(&mu_);
        return !AttemptEnded(job_id, attempt);
      });

  const int64_t deadline = NowMs() + options_.register_timeout_ms;
  absl::Status s;
  for (int attempt = 0;; ++attempt) {
    s = Register();
    if (s.ok() || NowMs() >= deadline) break;
    if (attempt == 0) {
      std::fprintf(stderr, "sluice worker: coordinator %s not reachable yet (%s); retrying\n",
                   options_.coordinator_address.c_str(), std::string(s.message()).c_str());
    }
    absl::SleepFor(absl::Milliseconds(std::min<int64_t>(200 * (attempt + 1), 2000)));
  }
  if (!s.ok()) {
    Stop();
    return absl::UnavailableError(
        absl::StrCat("cannot register with coordinator ", options_.coordinator_address, " after ",
                     options_.register_timeout_ms / 1000, " s: ", std::string(s.message())));
  }
  heartbeat_ = std::jthread([this](std::stop_token stop) { HeartbeatLoop(stop); });
  return absl::OkStatus();
}

absl::Status Worker::Register() {
  proto::RegisterWorkerRequest req;
  req.set_address(address_);
  req.set_slots(options_.slots);
  proto::RegisterWorkerResponse resp;
  grpc::ClientContext ctx;
  SetDeadlineMs(&ctx, 5000);
  RETURN_IF_ERROR(FromGrpcStatus(coordinator_->RegisterWorker(&ctx, req, &resp), "RegisterWorker"));
  absl::MutexLock lock(&mu_);
  worker_id_ = resp.worker_id();
  return absl::OkStatus();
}

void Worker::Stop() {
  std::vector<std::unique_ptr<Task>> tasks;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    tasks.swap(tasks_);
  }
  for (auto& t : tasks) t->Cancel();
  tasks.clear();      // joins
  uploader_.reset();  // waits for an upload under way
  reporter_.reset();  // cancels reports in flight
  if (own_state_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(state_dir_, ec);
  }
  if (heartbeat_.joinable()) {
    heartbeat_.request_stop();
    heartbeat_.join();
  }
  StopServer(server_.get(), address_);
  if (!address_.empty()) ExchangeRegistry::Get().RemoveLocalWorker(address_);
  if (!stopped_.HasBeenNotified()) stopped_.Notify();
}

void Worker::Wait() { stopped_.WaitForNotification(); }

grpc::Status Worker::DeployTasks(grpc::ServerContext*, const proto::DeployTasksRequest* req,
                                 proto::DeployTasksResponse*) {
  auto upgraded = std::make_shared<proto::ExecutionPlan>(req->plan());
  UpgradeLegacySettings(upgraded->mutable_graph());  // from a coordinator before the catalog
  std::shared_ptr<const proto::ExecutionPlan> plan = std::move(upgraded);
  TaskOptions topts;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is stopping");
    if (AttemptEnded(plan->job_id(), plan->attempt())) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("attempt ", plan->attempt(), " of job ", plan->job_id(),
                                       " was canceled before its deployment arrived"));
    }
    // Stop() resets these only after setting stopping_ under mu_.
    topts.uploader = uploader_.get();
    topts.reporter = reporter_.get();
  }
  topts.local_channels = options_.local_exchange;
  topts.state_root = state_dir_;
  std::vector<std::unique_ptr<Task>> created;
  for (const auto& a : plan->assignments()) {
    if (a.worker_id() != req->worker_id()) continue;
    auto task = std::make_unique<Task>(plan, a.task(), a.subtask(), req->worker_id(), this, topts);
    absl::Status s = task->Prepare();
    if (!s.ok()) return ToGrpcStatus(s);
    created.push_back(std::move(task));
  }
  absl::MutexLock lock(&mu_);
  if (stopping_) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "worker is stopping");
  if (AttemptEnded(plan->job_id(), plan->attempt())) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("attempt ", plan->attempt(), " of job ", plan->job_id(),
                                     " was canceled during its deployment"));
  }
  for (auto& t : created) {
    t->Start();
    tasks_.push_back(std::move(t));
  }
  return grpc::Status::OK;
}

grpc::Status Worker::CancelTasks(grpc::ServerContext*, const proto::CancelTasksRequest* req,
                                 proto::CancelTasksResponse*) {
  absl::MutexLock lock(&mu_);
  CancelAttempt(req->job_id(), req->attempt());
  return grpc::Status::OK;
}

grpc::Status Worker::TriggerCheckpoint(grpc::ServerContext*,
                                       const proto::TriggerCheckpointRequest* req,
                                       proto::TriggerCheckpointResponse*) {
  CheckpointBarrier barrier{req->checkpoint_id(), req->timestamp_ms(), req->kind(),
                            req->savepoint_name()};
  absl::MutexLock lock(&mu_);
  int tasks = 0;
  for (auto& t : tasks_) {
    if (t->job_id() == req->job_id() && t->attempt() == req->attempt()) {
      t->TriggerCheckpoint(barrier);
      ++tasks;
    }
  }
  if (tasks == 0) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no task of attempt ", req->attempt(), " of job ",
                                     req->job_id(), " runs here"));
  }
  return grpc::Status::OK;
}

grpc::Status Worker::NotifyCheckpoint(grpc::ServerContext*,
                                      const proto::NotifyCheckpointRequest* req,
                                      proto::NotifyCheckpointResponse* resp) {
  absl::MutexLock lock(&mu_);
  // Fencing: tasks of an attempt the coordinator replaced never commit.
  if (AttemptEnded(req->job_id(), req->attempt())) {
    return grpc::Status(
        grpc::StatusCode::FAILED_PRECONDITION,
        absl::StrCat("attempt ", req->attempt(), " of job ", req->job_id(), " has ended here"));
  }
  for (auto& t : tasks_) {
    if (t->job_id() == req->job_id() && t->attempt() == req->attempt() && !t->done()) {
      t->NotifyCheckpoint(req->checkpoint_id(), req->complete(), req->final());
      proto::SubtaskRef* ref = resp->add_subtasks();
      ref->set_task(t->task_index());
      ref->set_subtask(t->subtask());
    }
  }
  return grpc::Status::OK;
}

void Worker::CancelAttempt(const std::string& job_id, int64_t attempt) {
  for (auto& t : tasks_) {
    if (t->job_id() == job_id && (attempt == 0 || t->attempt() <= attempt)) t->Cancel();
  }
  const int64_t remembered = attempt == 0 ? INT64_MAX : attempt;
  auto [it, inserted] = ended_.try_emplace(job_id, remembered);
  if (inserted) {
    ended_order_.push_back(job_id);
    if (ended_order_.size() > 1000) {
      ended_.erase(ended_order_.front());
      ended_order_.pop_front();
    }
  } else {
    it->second = std::max(it->second, remembered);
  }
}

bool Worker::AttemptEnded(const std::string& job_id, int64_t attempt) const {
  auto it = ended_.find(job_id);
  return it != ended_.end() && attempt <= it->second;
}

grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>* Worker::Exchange(
    grpc::CallbackServerContext* context) {
  return ExchangeReceiver::Start(context);
}

void Worker::OnTaskEnded(Task& task, const proto::SubtaskStatus& final_status) {
  proto::TaskStateReport report;
  report.set_job_id(task.job_id());
  report.set_worker_id(final_status.worker_id());
  *report.mutable_status() = final_status;
  bool stopping;
  {
    absl::MutexLock lock(&mu_);
    stopping = stopping_;
  }
  // While the worker shuts down, one short try: the coordinator may be gone too.
  const int attempts = stopping ? 1 : 5;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    proto::TaskStateAck ack;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, stopping ? 1000 : 5000);
    if (coordinator_->ReportTaskState(&ctx, report, &ack).ok()) return;
    absl::SleepFor(absl::Milliseconds(200 * (attempt + 1)));
  }
  std::fprintf(stderr, "sluice worker: could not report end of task %d subtask %d of job %s\n",
               task.task_index(), task.subtask(), task.job_id().c_str());
}

std::vector<std::unique_ptr<Task>> Worker::TakeFinishedTasks() {
  std::vector<std::unique_ptr<Task>> finished;
  absl::MutexLock lock(&mu_);
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if ((*it)->done()) {
      finished.push_back(std::move(*it));
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  return finished;
}

void Worker::CancelOrphans(int64_t unanswered_ms) {
  absl::MutexLock lock(&mu_);
  int running = 0;
  for (const auto& t : tasks_) running += t->Status().state() == proto::TASK_RUNNING ? 1 : 0;
  std::fprintf(stderr,
               "sluice worker: no answer from coordinator %s for %lld s (--orphan-timeout); "
               "canceling %d running task(s)\n",
               options_.coordinator_address.c_str(), static_cast<long long>(unanswered_ms / 1000),
               running);
  std::set<std::pair<std::string, int64_t>> attempts;
  for (const auto& t : tasks_) attempts.insert({t->job_id(), t->attempt()});
  for (const auto& [job_id, attempt] : attempts) CancelAttempt(job_id, attempt);
}

void Worker::HeartbeatLoop(std::stop_token stop) {
  int failures = 0;
  int64_t unanswered_since_ms = -1;  // when heartbeats began to fail
  bool orphans_canceled = false;
  while (!stop.stop_requested()) {
    TakeFinishedTasks();  // joins threads of ended tasks outside the lock
    ExchangeRegistry::Get().ExpireWaiters(Clock::Steady().NowMs());
    proto::HeartbeatRequest req;
    {
      absl::MutexLock lock(&mu_);
      req.set_worker_id(worker_id_);
      req.set_address(address_);
      for (const auto& t : tasks_) {
        t->SampleLoad();
        *req.add_subtasks() = t->Status();
      }
    }
    proto::HeartbeatResponse resp;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 2000);
    const int64_t sent_ms = Clock::Steady().NowMs();  // steady: immune to clock steps
    grpc::Status s = coordinator_->Heartbeat(&ctx, req, &resp);
    if (!s.ok()) {
      const int64_t now = Clock::Steady().NowMs();
      if (unanswered_since_ms < 0) unanswered_since_ms = sent_ms;
      if (++failures == 3) {
        std::fprintf(stderr, "sluice worker: coordinator %s unreachable: %s; retrying\n",
                     options_.coordinator_address.c_str(), s.error_message().c_str());
      }
      if (!orphans_canceled && now - unanswered_since_ms >= options_.orphan_timeout_ms) {
        orphans_canceled = true;
        CancelOrphans(now - unanswered_since_ms);
      }
    } else {
      if (failures >= 3) {
        std::fprintf(stderr, "sluice worker: coordinator %s answers again\n",
                     options_.coordinator_address.c_str());
      }
      failures = 0;
      unanswered_since_ms = -1;
      orphans_canceled = false;
      if (resp.unknown_worker()) {
        absl::Status registered = Register();
        if (registered.ok()) {
          std::fprintf(stderr, "sluice worker: registered again with coordinator %s as %s\n",
                       options_.coordinator_address.c_str(), worker_id().c_str());
        }
      }
      if (resp.cancel_size() > 0) {
        absl::MutexLock lock(&mu_);
        for (const auto& ended : resp.cancel()) CancelAttempt(ended.job_id(), ended.attempt());
      }
    }
    for (int64_t waited = 0; waited < options_.heartbeat_interval_ms && !stop.stop_requested();
         waited += 50) {
      absl::SleepFor(absl::Milliseconds(50));
    }
  }
}

}  // namespace sluice
