#pragma once

// A worker process's core: serves WorkerService (deploy/cancel tasks, data
// exchange), registers with the coordinator and heartbeats, runs tasks and
// reports how they end.
//
// Threads: gRPC handler threads (Deploy/Cancel), gRPC callback threads
// (data exchange, worker/remote_exchange.h), one heartbeat thread, one
// thread per task. `mu_` guards the task table; no RPC is made while
// holding it. The heartbeat thread does nothing but heartbeat, sample task
// load and expire waits for receivers, so no slow peer delays it.
//
// Reconciliation: each heartbeat lists the worker's tasks with their job
// and attempt; the coordinator answers with the attempts that have ended,
// and the worker cancels those tasks. Canceled attempts are remembered, so
// a deploy that arrives after its cancel is refused.

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "grpcpp/grpcpp.h"
#include "proto/sluice.grpc.pb.h"
#include "worker/task.h"

namespace sluice {

struct WorkerOptions {
  std::string coordinator_address;  // HOST:PORT or inproc:NAME
  // HOST:PORT to listen on (port 0 picks one), or inproc:NAME for embedded mode.
  std::string listen_address;
  // HOST:PORT other processes use to reach this worker; defaults to the
  // listen address (with the port it got). Needed when listening on 0.0.0.0.
  std::string advertise_address;
  int slots = 1;
  int64_t heartbeat_interval_ms = 500;
  // How long Start() keeps retrying an unreachable coordinator.
  int64_t register_timeout_ms = 60'000;
  // After this long without an answer from the coordinator, the worker
  // cancels its tasks: no one could checkpoint, restart or finish them, and
  // a coordinator that comes back restarts its jobs itself. The worker
  // keeps trying, and registers again when the coordinator returns.
  int64_t orphan_timeout_ms = 30'000;
  // Channels to workers of this process skip the network. Off: every
  // channel is a gRPC stream (tests of the remote path in one process).
  bool local_exchange = true;
  // Local directory for task state (RocksDB) and snapshots on their way to
  // the checkpoint store; empty: one under the system's temporary
  // directory, removed when the worker stops (and, when the worker was
  // killed, by the next worker that starts on the machine).
  std::string state_dir;
};

class Worker final
    : public proto::WorkerService::WithCallbackMethod_Exchange<proto::WorkerService::Service>,
      public TaskListener {
 public:
  explicit Worker(WorkerOptions options);
  ~Worker() override;

  // Starts serving, then registers with the coordinator (retrying until
  // register_timeout_ms) and starts heartbeating.
  absl::Status Start();
  // Cancels running tasks, stops heartbeats and the server.
  void Stop();
  // Blocks until Stop() or a fatal error.
  void Wait();

  const std::string& address() const { return address_; }
  std::string worker_id() const;

  grpc::Status DeployTasks(grpc::ServerContext*, const proto::DeployTasksRequest* req,
                           proto::DeployTasksResponse*) override;
  grpc::Status CancelTasks(grpc::ServerContext*, const proto::CancelTasksRequest* req,
                           proto::CancelTasksResponse*) override;
  grpc::Status TriggerCheckpoint(grpc::ServerContext*, const proto::TriggerCheckpointRequest* req,
                                 proto::TriggerCheckpointResponse*) override;
  grpc::Status NotifyCheckpoint(grpc::ServerContext*, const proto::NotifyCheckpointRequest* req,
                                proto::NotifyCheckpointResponse*) override;
  grpc::ServerBidiReactor<proto::DataFrame, proto::ExchangeCredit>* Exchange(
      grpc::CallbackServerContext* context) override;

  void OnTaskEnded(Task& task, const proto::SubtaskStatus& final_status) override;

 private:
  absl::Status Register();
  void HeartbeatLoop(std::stop_token stop);
  // Cancels every task: the coordinator has not answered for unanswered_ms.
  void CancelOrphans(int64_t unanswered_ms) ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<std::unique_ptr<Task>> TakeFinishedTasks();
  // Cancels the tasks of `job_id` up to `attempt` (0: every attempt) and
  // remembers the attempt as ended.
  void CancelAttempt(const std::string& job_id, int64_t attempt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool AttemptEnded(const std::string& job_id, int64_t attempt) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const WorkerOptions options_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<proto::CoordinatorService::Stub> coordinator_;
  std::string state_dir_;
  bool own_state_dir_ = false;
  // Uploads snapshots; its work calls back into this worker, so Stop()
  // ends it after the tasks and before anything it uses.
  std::unique_ptr<SnapshotUploader> uploader_;
  // Sends the tasks' checkpoint acks and declines; ends after the uploader.
  std::unique_ptr<GrpcCheckpointReporter> reporter_;

  mutable absl::Mutex mu_;
  std::string worker_id_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<Task>> tasks_ ABSL_GUARDED_BY(mu_);
  // Highest ended attempt per job, the most recent 1000 jobs.
  absl::flat_hash_map<std::string, int64_t> ended_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> ended_order_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::jthread heartbeat_;
  absl::Notification stopped_;
};

}  // namespace sluice
