#include "coordinator/coordinator.h"

#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/checkpoint_layout.h"
#include "common/grpc_util.h"
#include "coordinator/plan_builder.h"
#include "coordinator/restore.h"
#include "job/job_file.h"
#include "store/checkpoint_store.h"

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

CoordinatorOptions WithDefaults(CoordinatorOptions o) {
  if (o.checkpoint_store.empty()) {
    std::error_code ec;
    o.checkpoint_store = absl::StrCat("file://", std::filesystem::temp_directory_path(ec).string(),
                                      "/sluice-checkpoints");
  }
  return o;
}

// Null without an HA store; a store that cannot be opened is reported by
// Start().
std::shared_ptr<ObjectStore> OpenHaStore(const CoordinatorOptions& o) {
  if (o.ha_store.empty()) return nullptr;
  proto::CheckpointConfig c;
  *c.mutable_s3() = o.ha_s3;
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenCheckpointStore(o.ha_store, c);
  if (!store.ok()) {
    std::fprintf(stderr, "sluice coordinator: HA store %s: %s\n", o.ha_store.c_str(),
                 std::string(store.status().message()).c_str());
    return nullptr;
  }
  return std::shared_ptr<ObjectStore>(*std::move(store));
}

}  // namespace

Coordinator::Coordinator(CoordinatorOptions options)
    : options_(WithDefaults(std::move(options))),
      loop_(*options_.clock, options_.tick_ms),
      worker_client_(&loop_, options_.worker_rpc_deadline_ms),
      store_io_(&loop_),
      ha_store_(OpenHaStore(options_)),
      dispatcher_(DispatcherOptionsFrom(options_), &worker_client_, loop_.checker(), &store_io_,
                  ha_store_) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  loop_.Start([this](int64_t now_ms) { dispatcher_.Tick(now_ms); });
  started_ = true;
  if (!options_.ha_store.empty() && ha_store_ == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot open the HA store ", options_.ha_store));
  }
  if (ha_store_ != nullptr) {
    absl::Status s = TakeOverJobs();
    if (!s.ok()) return s;
  } else if (options_.warn_without_ha_store) {
    std::fprintf(stderr,
                 "sluice coordinator: no --ha-store: jobs will not survive a restart of this "
                 "coordinator\n");
  }
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
  store_io_.Shutdown();
  loop_.Stop();
  worker_client_.Shutdown();
}

void Coordinator::Wait() {
  if (server_ != nullptr) server_->Wait();
}

absl::Status Coordinator::TakeOverJobs() {
  absl::StatusOr<std::vector<ObjectInfo>> records = ha_store_->List("jobs/");
  if (!records.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot read the HA store ", ha_store_->uri(), ": ",
                                               records.status().message()));
  }
  int resumed = 0;
  for (const auto& r : *records) {
    absl::StatusOr<std::string> bytes = ha_store_->Get(r.key);
    proto::JobRecord record;
    if (!bytes.ok() || !record.ParseFromString(*bytes)) {
      std::fprintf(stderr, "sluice coordinator: skipping unreadable job record %s\n",
                   r.key.c_str());
      continue;
    }
    const proto::JobState state = record.state();
    if (state == proto::FINISHED || state == proto::FAILED || state == proto::CANCELED) continue;
    proto::ExecutionPlan plan = record.plan();
    UpgradeLegacySettings(plan.mutable_graph());  // recorded by an older coordinator
    JobMaster::Checkpointing checkpointing;
    absl::StatusOr<std::unique_ptr<ObjectStore>> store =
        OpenCheckpointStore(plan.checkpoint_store(), plan.graph().checkpoint());
    if (!store.ok()) return store.status();
    checkpointing.store = *std::move(store);
    absl::StatusOr<StoredCheckpoints> found = FindCheckpoints(*checkpointing.store, plan.job_id());
    if (!found.ok()) return found.status();
    for (const std::string& why : found->unreadable) {
      std::fprintf(stderr,
                   "sluice coordinator: job %s: %s; it recovers from the checkpoint before it\n",
                   plan.job_id().c_str(), why.c_str());
    }
    checkpointing.recovered = std::move(found->completed);
    checkpointing.max_seen_id = found->max_seen_id;
    if (record.has_restore()) checkpointing.restore = record.restore();
    checkpointing.previous_attempt = record.attempt();
    checkpointing.restarts = record.restarts();
    const std::string id = plan.job_id();
    const size_t checkpoints = checkpointing.recovered.size();
    grpc::Status added = RunOnControl([&](int64_t now_ms) {
      dispatcher_.AddJob(std::move(plan), now_ms, std::move(checkpointing));
      return absl::OkStatus();
    });
    if (!added.ok()) return FromGrpcStatus(added, "take over job");
    std::fprintf(stderr,
                 "sluice coordinator: taking over job %s (attempt %lld, %zu completed "
                 "checkpoint(s))\n",
                 id.c_str(), static_cast<long long>(record.attempt()), checkpoints);
    ++resumed;
  }
  std::fprintf(stderr, "sluice coordinator: HA store %s: %d job(s) taken over\n",
               ha_store_->uri().c_str(), resumed);
  return absl::OkStatus();
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
  const std::string& store_uri = req->graph().checkpoint().store();
  plan->set_checkpoint_store(store_uri.empty() ? options_.checkpoint_store : store_uri);
  JobMaster::Checkpointing checkpointing;
  absl::StatusOr<std::unique_ptr<ObjectStore>> store =
      OpenCheckpointStore(plan->checkpoint_store(), plan->graph().checkpoint());
  if (!store.ok()) return ToGrpcStatus(store.status());
  checkpointing.store = *std::move(store);
  if (!req->restore().empty()) {
    absl::StatusOr<proto::CheckpointMetadata> from =
        ResolveRestore(*checkpointing.store, req->restore());
    if (!from.ok()) return ToGrpcStatus(from.status());
    absl::Status fits = CheckRestoreFits(*plan, *from);
    if (!fits.ok()) return ToGrpcStatus(fits);
    // Verified before anything is deployed: a damaged snapshot is refused
    // here, with the file, not by tasks failing again and again.
    absl::Status intact = VerifySnapshotFiles(*checkpointing.store, *from);
    if (!intact.ok()) return ToGrpcStatus(intact);
    checkpointing.restore = *std::move(from);
  }
  if (ha_store_ != nullptr) {
    // Recorded before the submission is acknowledged: a job the client
    // heard of survives a crash right after.
    proto::JobRecord record;
    *record.mutable_plan() = *plan;
    record.set_state(proto::CREATED);
    if (checkpointing.restore.has_value()) *record.mutable_restore() = *checkpointing.restore;
    absl::Status put = ha_store_->Put(absl::StrCat("jobs/", id), record.SerializeAsString());
    if (!put.ok()) {
      return ToGrpcStatus(absl::UnavailableError(
          absl::StrCat("cannot record the job in the HA store: ", put.message())));
    }
  }
  return RunOnControl([&](int64_t now_ms) {
    dispatcher_.AddJob(*std::move(plan), now_ms, std::move(checkpointing));
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

grpc::Status Coordinator::AcknowledgeCheckpoint(grpc::ServerContext*,
                                                const proto::CheckpointAck* req,
                                                proto::CheckpointReply*) {
  if (!loop_.Post(
          [this, ack = *req](int64_t now_ms) { dispatcher_.AcknowledgeCheckpoint(ack, now_ms); })) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::DeclineCheckpoint(grpc::ServerContext*,
                                            const proto::CheckpointDecline* req,
                                            proto::CheckpointReply*) {
  if (!loop_.Post([this, d = *req](int64_t now_ms) { dispatcher_.DeclineCheckpoint(d, now_ms); })) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
  }
  return grpc::Status::OK;
}

grpc::Status Coordinator::TriggerSavepoint(grpc::ServerContext* ctx,
                                           const proto::SavepointRequest* req,
                                           proto::SavepointResponse* resp) {
  absl::Status valid = ValidateSavepointName(req->name());
  if (!valid.ok()) return ToGrpcStatus(valid);
  // Waits for the savepoint; its completion may come after this handler
  // gave up (deadline), so the state it fills is shared.
  struct Result {
    absl::Notification done;
    absl::StatusOr<proto::CheckpointMetadata> metadata;
  };
  auto result = std::make_shared<Result>();
  if (!loop_.Post([this, req = *req, result](int64_t now_ms) {
        dispatcher_.TriggerSavepoint(req, now_ms, [result](auto m) {
          result->metadata = std::move(m);
          result->done.Notify();
        });
      })) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the coordinator is shutting down");
  }
  while (!result->done.WaitForNotificationWithTimeout(absl::Milliseconds(200))) {
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "canceled");
  }
  if (!result->metadata.ok()) return ToGrpcStatus(result->metadata.status());
  resp->set_location(result->metadata->location());
  resp->set_checkpoint_id(result->metadata->checkpoint_id());
  return grpc::Status::OK;
}

grpc::Status Coordinator::ListCheckpoints(grpc::ServerContext*,
                                          const proto::ListCheckpointsRequest* req,
                                          proto::ListCheckpointsResponse* resp) {
  return RunOnControl([&](int64_t) -> absl::Status {
    absl::StatusOr<proto::ListCheckpointsResponse> r = dispatcher_.ListCheckpoints(req->job_id());
    if (!r.ok()) return r.status();
    *resp = *std::move(r);
    return absl::OkStatus();
  });
}

}  // namespace sluice
