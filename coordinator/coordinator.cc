#include "coordinator/coordinator.h"

#include <cstdio>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_util.h"
#include "coordinator/plan_builder.h"

namespace sluice {
namespace {

std::string NewJobId() {
  static std::mt19937_64 rng(std::random_device{}());
  static absl::Mutex* mu = new absl::Mutex;
  absl::MutexLock lock(mu);
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return std::string(buf, 12);
}

DispatcherOptions DispatcherOptionsFrom(const CoordinatorOptions& o) {
  DispatcherOptions d;
  d.heartbeat_interval_ms = o.heartbeat_interval_ms;
  d.heartbeat_timeout_ms = o.heartbeat_timeout_ms;
  d.slot_wait_ms = o.slot_wait_ms;
  return d;
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(std::move(options)),
      loop_(*options_.clock, options_.tick_ms),
      worker_client_(&loop_, options_.worker_rpc_deadline_ms),
      dispatcher_(DispatcherOptionsFrom(options_), &worker_client_, loop_.checker()) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  loop_.Start([this](int64_t now_ms) { dispatcher_.Tick(now_ms); });
  started_ = true;
  auto server = StartServer(options_.listen_address, this, &address_);
  if (!server.ok())
    return absl::UnavailableError(absl::StrCat("coordinator ", server.status().message()));
  server_ = std::move(*server);
  return absl::OkStatus();
}

void Coordinator::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // Handlers still running finish on the control loop, which runs until
  // the server is down.
  StopServer(server_.get(), address_);
  loop_.Stop();
  worker_client_.Shutdown();
}

void Coordinator::Wait() {
  if (server_ != nullptr) server_->Wait();
}

grpc::Status Coordinator::RunOnControl(absl::FunctionRef<absl::Status(int64_t)> fn) {
  absl::Notification done;
  absl::Status result;
  if (!loop_.Post([&](int64_t now_ms) {
        result = fn(now_ms);
        done.Notify();
      })) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
  }
  done.WaitForNotification();
  return ToGrpcStatus(result);
}

grpc::Status Coordinator::SubmitJob(grpc::ServerContext*, const proto::SubmitJobRequest* req,
                                    proto::SubmitJobResponse* resp) {
  // Validation and planning need no coordinator state: done here, off the
  // control thread.
  const std::string id = NewJobId();
  absl::StatusOr<proto::ExecutionPlan> plan = BuildPlan(req->graph(), id);
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  return RunOnControl([&](int64_t now_ms) {
    dispatcher_.AddJob(*std::move(plan), now_ms);
    resp->set_job_id(id);
    return absl::OkStatus();
  });
}

grpc::Status Coordinator::CancelJob(grpc::ServerContext*, const proto::CancelJobRequest* req,
                                    proto::CancelJobResponse*) {
  return RunOnControl([&](int64_t) { return dispatcher_.CancelJob(req->job_id()); });
}

grpc::Status Coordinator::ListJobs(grpc::ServerContext*, const proto::ListJobsRequest*,
                                   proto::ListJobsResponse* resp) {
  return RunOnControl([&](int64_t) {
    *resp = dispatcher_.ListJobs();
    return absl::OkStatus();
  });
}

grpc::Status Coordinator::DescribeJob(grpc::ServerContext*, const proto::DescribeJobRequest* req,
                                      proto::JobStatus* resp) {
  return RunOnControl([&](int64_t) -> absl::Status {
    absl::StatusOr<proto::JobStatus> status = dispatcher_.DescribeJob(req->job_id());
    if (!status.ok()) return status.status();
    *resp = *std::move(status);
    return absl::OkStatus();
  });
}

grpc::Status Coordinator::RegisterWorker(grpc::ServerContext*,
                                         const proto::RegisterWorkerRequest* req,
                                         proto::RegisterWorkerResponse* resp) {
  return RunOnControl([&](int64_t now_ms) -> absl::Status {
    absl::StatusOr<proto::RegisterWorkerResponse> r = dispatcher_.RegisterWorker(*req, now_ms);
    if (!r.ok()) return r.status();
    *resp = *std::move(r);
    return absl::OkStatus();
  });
}

grpc::Status Coordinator::Heartbeat(grpc::ServerContext*, const proto::HeartbeatRequest* req,
                                    proto::HeartbeatResponse* resp) {
  // `arrival_ms` is stamped by Post, on this handler's thread.
  return RunOnControl([&](int64_t arrival_ms) {
    *resp = dispatcher_.Heartbeat(*req, arrival_ms);
    return absl::OkStatus();
  });
}

grpc::Status Coordinator::ReportTaskState(grpc::ServerContext*, const proto::TaskStateReport* req,
                                          proto::TaskStateAck*) {
  if (!loop_.Post([this, report = *req](int64_t) { dispatcher_.ReportTaskState(report); })) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
  }
  return grpc::Status::OK;
}

}  // namespace sluice
