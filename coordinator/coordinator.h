#pragma once

// The control plane: accepts jobs, schedules their subtasks onto worker
// slots, tracks task states and worker heartbeats, and decides job states
// (CREATED -> RUNNING -> FINISHED | FAILED | CANCELED).
//
// Threads: gRPC handler threads and one control-loop thread (heartbeat
// timeouts, scheduling of waiting jobs, RPCs to workers). `mu_` guards the
// job and worker tables; RPCs to workers are made only without it, from
// the action list the locked sections produce.

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
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
};

class Coordinator final : public proto::CoordinatorService::Service {
 public:
  explicit Coordinator(CoordinatorOptions options);
  ~Coordinator() override;

  absl::Status Start();
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

 private:
  struct WorkerInfo {
    std::string id;
    std::string address;
    int slots = 0;
    int used_slots = 0;
    int64_t last_heartbeat_ms = 0;
    int order = 0;  // registration order, for spreading subtasks
  };
  struct Job {
    proto::JobStatus status;  // state, failure, subtasks, times
    proto::JobGraph graph;
    std::shared_ptr<proto::ExecutionPlan> plan;  // set when scheduled
    std::map<std::string, int> slots_by_worker;  // held while RUNNING
  };
  // Work for the control loop to do without holding mu_.
  struct Action {
    enum class Kind { kDeploy, kCancel } kind;
    std::string job_id, worker_id, worker_address;
    std::shared_ptr<proto::ExecutionPlan> plan;
  };

  void ControlLoop(std::stop_token stop);
  void RunActions(std::vector<Action> actions);
  void CheckHeartbeats(std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SchedulePending(std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a job in a terminal state, releases its slots, cancels its tasks.
  void EndJob(Job& job, proto::JobState state, const std::string& failure,
              std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LoseWorker(const std::string& worker_id, const std::string& reason,
                  std::vector<Action>* actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PublishMetrics() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const CoordinatorOptions options_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;

  absl::Mutex mu_;
  std::map<std::string, Job> jobs_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> job_order_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, WorkerInfo> workers_ ABSL_GUARDED_BY(mu_);  // by id
  int next_worker_ ABSL_GUARDED_BY(mu_) = 1;

  std::jthread control_;
  bool stopped_ = false;
};

}  // namespace sluice
