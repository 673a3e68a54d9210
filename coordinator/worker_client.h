#pragma once

// The coordinator's calls to workers (WorkerService), as an interface so the
// job masters can be unit-tested against an in-memory fake.
//
// A call never blocks its caller: it starts the RPC and returns. Its `done`
// callback runs later on the control thread (never inside the call), so a
// slow or hung worker delays nothing but its own completion. Callbacks may
// be dropped when the coordinator stops.

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/control_loop.h"
#include "proto/sluice.grpc.pb.h"
#include "proto/sluice.pb.h"

namespace sluice {

class WorkerClient {
 public:
  using Done = absl::AnyInvocable<void(absl::Status)>;
  // The response lists the subtasks that took the notification.
  using NotifyDone = absl::AnyInvocable<void(absl::StatusOr<proto::NotifyCheckpointResponse>)>;

  virtual ~WorkerClient() = default;
  virtual void DeployTasks(const std::string& address, proto::DeployTasksRequest request,
                           Done done) = 0;
  virtual void CancelTasks(const std::string& address, proto::CancelTasksRequest request,
                           Done done) = 0;
  virtual void TriggerCheckpoint(const std::string& address,
                                 proto::TriggerCheckpointRequest request, Done done) = 0;
  virtual void NotifyCheckpoint(const std::string& address, proto::NotifyCheckpointRequest request,
                                NotifyDone done) = 0;
};

// WorkerClient over gRPC's callback API: the completion runs on a gRPC
// thread, which posts `done` to the control loop. Thread-safe.
//
// Channels are kept per address for the client's lifetime: gRPC must not
// destroy a channel's last reference on the thread that runs its callbacks.
class GrpcWorkerClient final : public WorkerClient {
 public:
  // `loop` runs the callbacks and must outlive this client.
  GrpcWorkerClient(ControlLoop* loop, int64_t deadline_ms);
  ~GrpcWorkerClient() override;

  void DeployTasks(const std::string& address, proto::DeployTasksRequest request,
                   Done done) override;
  void CancelTasks(const std::string& address, proto::CancelTasksRequest request,
                   Done done) override;
  void TriggerCheckpoint(const std::string& address, proto::TriggerCheckpointRequest request,
                         Done done) override;
  void NotifyCheckpoint(const std::string& address, proto::NotifyCheckpointRequest request,
                        NotifyDone done) override;

  // Cancels the calls in flight and waits until their gRPC callbacks have
  // returned. Later calls are dropped.
  void Shutdown();

 private:
  struct InFlight;  // shared with the gRPC callbacks, which may outlive a call's caller

  template <typename Request, typename Response, typename StartFn>
  void Start(const std::string& address, Request request,
             absl::AnyInvocable<void(absl::StatusOr<Response>)> done, StartFn start);
  proto::WorkerService::Stub* StubFor(const std::string& address);

  ControlLoop& loop_;
  const int64_t deadline_ms_;
  std::shared_ptr<InFlight> in_flight_;
  absl::Mutex stubs_mu_;
  std::map<std::string, std::unique_ptr<proto::WorkerService::Stub>> stubs_
      ABSL_GUARDED_BY(stubs_mu_);
};

}  // namespace sluice
