#pragma once

// The control plane's gRPC edge: serves CoordinatorService for the CLI (jobs)
// and for workers (registration, heartbeats, task reports).
//
// Threads: gRPC handler threads only convert requests and enqueue work on
// the ControlLoop, whose single thread owns every decision (Dispatcher:
// worker registry, slot scheduler, job masters). Handlers that answer with
// data wait for their item to run; ReportTaskState returns once its report
// is queued. RPCs to workers are asynchronous (GrpcWorkerClient), so
// nothing on the control thread waits on a worker, and a heartbeat's
// arrival is stamped when its handler enqueues it.

#include <memory>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "coordinator/control_loop.h"
#include "coordinator/dispatcher.h"
#include "coordinator/store_io.h"
#include "coordinator/worker_client.h"
#include "grpcpp/grpcpp.h"
#include "proto/sluice.grpc.pb.h"

namespace sluice {

struct CoordinatorOptions {
  // HOST:PORT to listen on (port 0 picks one), or inproc:NAME for embedded mode.
  std::string listen_address;
  int64_t heartbeat_interval_ms = 500;
  // A worker silent for this long is declared lost; its jobs fail.
  int64_t heartbeat_timeout_ms = 5'000;
  // A job waiting this long for free slots fails.
  int64_t slot_wait_ms = 60'000;
  // Deadline of DeployTasks and CancelTasks calls to workers.
  int64_t worker_rpc_deadline_ms = 10'000;
  // How often the control thread checks heartbeats and schedules waiting jobs.
  int64_t tick_ms = 50;
  // Steady time for heartbeats and timeouts. Must outlive the coordinator.
  const Clock* clock = &Clock::Steady();
  // Where jobs whose file names no `checkpoint.store` keep checkpoints and
  // savepoints (a file:// or s3:// URI); empty: file://<temp dir>/sluice-checkpoints.
  std::string checkpoint_store;
  // Where the coordinator keeps its job table (file:// or s3://), so that a
  // coordinator restarted with the same store takes over the jobs that
  // were running. Empty: jobs do not survive a restart.
  std::string ha_store;
  proto::S3Config ha_s3;  // for an s3:// ha_store
  // Say at startup, without an HA store, that jobs will not survive a
  // restart (off in embedded mode, where there is no coordinator to restart).
  bool warn_without_ha_store = true;
};

class Coordinator final : public proto::CoordinatorService::Service {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator() override;

  // Starts serving; with an HA store, first takes over the jobs recorded
  // there that had not ended, each from its latest completed checkpoint.
  absl::Status Start();
  // Stops serving, runs the work already queued, and cancels RPCs to
  // workers still in flight.
  void Stop();
  void Wait();
  const std::string& address() const { return address_; }

  grpc::Status SubmitJob(grpc::ServerContext*, const proto::SubmitJobRequest*,
                         proto::SubmitJobResponse*) override;
  grpc::Status CancelJob(grpc::ServerContext*, const proto::CancelJobRequest*,
                         proto::CancelJobResponse*) override;
  grpc::Status ListJobs(grpc::ServerContext*, const proto::ListJobsRequest*,
                        proto::ListJobsResponse*) override;
  grpc::Status DescribeJob(grpc::ServerContext*, const proto::DescribeJobRequest*,
                           proto::JobStatus*) override;
  grpc::Status RegisterWorker(grpc::ServerContext*, const proto::RegisterWorkerRequest*,
                              proto::RegisterWorkerResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const proto::HeartbeatRequest*,
                         proto::HeartbeatResponse*) override;
  grpc::Status ReportTaskState(grpc::ServerContext*, const proto::TaskStateReport*,
                               proto::TaskStateAck*) override;
  grpc::Status AcknowledgeCheckpoint(grpc::ServerContext*, const proto::CheckpointAck*,
                                     proto::CheckpointReply*) override;
  grpc::Status DeclineCheckpoint(grpc::ServerContext*, const proto::CheckpointDecline*,
                                 proto::CheckpointReply*) override;
  grpc::Status TriggerSavepoint(grpc::ServerContext*, const proto::SavepointRequest*,
                                proto::SavepointResponse*) override;
  grpc::Status ListCheckpoints(grpc::ServerContext*, const proto::ListCheckpointsRequest*,
                               proto::ListCheckpointsResponse*) override;

 private:
  // Runs `fn` on the control thread with the time it was queued, and waits
  // for it.
  grpc::Status RunOnControl(absl::FunctionRef<absl::Status(int64_t now_ms)> fn);
  // Adds the jobs of the HA store that had not ended.
  absl::Status TakeOverJobs();

  const CoordinatorOptions options_;
  ControlLoop loop_;
  GrpcWorkerClient worker_client_;
  ThreadStoreIo store_io_;
  std::shared_ptr<ObjectStore> ha_store_;
  Dispatcher dispatcher_;  // touched only on loop_'s thread

  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace sluice
