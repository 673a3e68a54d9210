#include "coordinator/worker_client.h"

#include <map>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/grpc_util.h"
#include "grpcpp/grpcpp.h"
#include "proto/sluice.grpc.pb.h"

namespace sluice {

struct GrpcWorkerClient::InFlight {
  absl::Mutex mu;
  // Each entry keeps its call alive until the call's callback removes it.
  std::map<grpc::ClientContext*, std::shared_ptr<grpc::ClientContext>> calls ABSL_GUARDED_BY(mu);
  bool shut_down ABSL_GUARDED_BY(mu) = false;

  bool Idle() const ABSL_SHARED_LOCKS_REQUIRED(mu) { return calls.empty(); }
};

namespace {

// What one RPC keeps alive until its callback has run.
template <typename Request, typename Response>
struct Call {
  grpc::ClientContext ctx;
  proto::WorkerService::Stub* stub = nullptr;  // cached by the client
  Request request;
  Response response;
  absl::AnyInvocable<void(absl::StatusOr<Response>)> done;
};

// A completion that needs only the call's status.
template <typename Response>
absl::AnyInvocable<void(absl::StatusOr<Response>)> StatusOnly(WorkerClient::Done done) {
  return [done = std::move(done)](absl::StatusOr<Response> r) mutable { done(r.status()); };
}

}  // namespace

GrpcWorkerClient::GrpcWorkerClient(ControlLoop* loop, int64_t deadline_ms)
    : loop_(*loop), deadline_ms_(deadline_ms), in_flight_(std::make_shared<InFlight>()) {}

GrpcWorkerClient::~GrpcWorkerClient() { Shutdown(); }

void GrpcWorkerClient::Shutdown() {
  InFlight& f = *in_flight_;
  std::vector<std::shared_ptr<grpc::ClientContext>> calls;
  {
    absl::MutexLock lock(&f.mu);
    f.shut_down = true;
    for (const auto& [ctx, call] : f.calls) calls.push_back(call);
  }
  // Outside the lock: gRPC may run a canceled call's callback right here.
  for (const auto& ctx : calls) ctx->TryCancel();
  calls.clear();
  absl::MutexLock lock(&f.mu);
  f.mu.Await(absl::Condition(&f, &InFlight::Idle));
}

proto::WorkerService::Stub* GrpcWorkerClient::StubFor(const std::string& address) {
  absl::MutexLock lock(&stubs_mu_);
  std::unique_ptr<proto::WorkerService::Stub>& stub = stubs_[address];
  if (stub == nullptr) stub = proto::WorkerService::NewStub(ChannelTo(address));
  return stub.get();
}

template <typename Request, typename Response, typename StartFn>
void GrpcWorkerClient::Start(const std::string& address, Request request,
                             absl::AnyInvocable<void(absl::StatusOr<Response>)> done,
                             StartFn start) {
  auto call = std::make_shared<Call<Request, Response>>();
  call->stub = StubFor(address);
  call->request = std::move(request);
  call->done = std::move(done);
  SetDeadlineMs(&call->ctx, deadline_ms_);
  {
    absl::MutexLock lock(&in_flight_->mu);
    if (in_flight_->shut_down) return;
    in_flight_->calls.emplace(&call->ctx, std::shared_ptr<grpc::ClientContext>(call, &call->ctx));
  }
  // Runs on a gRPC thread. It captures the shared state, not `this`: after
  // it leaves the set, Shutdown() may return and the client go away (the
  // call's stub is not used after that).
  start(call.get(), [call, in_flight = in_flight_, loop = &loop_](grpc::Status status) {
    absl::Status result = status.ok()
                              ? absl::OkStatus()
                              : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                             status.error_message());
    absl::StatusOr<Response> response = result.ok()
                                            ? absl::StatusOr<Response>(std::move(call->response))
                                            : absl::StatusOr<Response>(result);
    loop->Post([done = std::move(call->done), response = std::move(response)](int64_t) mutable {
      done(std::move(response));
    });
    absl::MutexLock lock(&in_flight->mu);
    in_flight->calls.erase(&call->ctx);
  });
}

void GrpcWorkerClient::DeployTasks(const std::string& address, proto::DeployTasksRequest request,
                                   Done done) {
  using C = Call<proto::DeployTasksRequest, proto::DeployTasksResponse>;
  Start<proto::DeployTasksRequest, proto::DeployTasksResponse>(
      address, std::move(request), StatusOnly<proto::DeployTasksResponse>(std::move(done)),
      [](C* c, auto callback) {
        c->stub->async()->DeployTasks(&c->ctx, &c->request, &c->response, std::move(callback));
      });
}

void GrpcWorkerClient::CancelTasks(const std::string& address, proto::CancelTasksRequest request,
                                   Done done) {
  using C = Call<proto::CancelTasksRequest, proto::CancelTasksResponse>;
  Start<proto::CancelTasksRequest, proto::CancelTasksResponse>(
      address, std::move(request), StatusOnly<proto::CancelTasksResponse>(std::move(done)),
      [](C* c, auto callback) {
        c->stub->async()->CancelTasks(&c->ctx, &c->request, &c->response, std::move(callback));
      });
}

void GrpcWorkerClient::TriggerCheckpoint(const std::string& address,
                                         proto::TriggerCheckpointRequest request, Done done) {
  using C = Call<proto::TriggerCheckpointRequest, proto::TriggerCheckpointResponse>;
  Start<proto::TriggerCheckpointRequest, proto::TriggerCheckpointResponse>(
      address, std::move(request), StatusOnly<proto::TriggerCheckpointResponse>(std::move(done)),
      [](C* c, auto callback) {
        c->stub->async()->TriggerCheckpoint(&c->ctx, &c->request, &c->response,
                                            std::move(callback));
      });
}

void GrpcWorkerClient::NotifyCheckpoint(const std::string& address,
                                        proto::NotifyCheckpointRequest request, NotifyDone done) {
  using C = Call<proto::NotifyCheckpointRequest, proto::NotifyCheckpointResponse>;
  Start<proto::NotifyCheckpointRequest, proto::NotifyCheckpointResponse>(
      address, std::move(request), std::move(done), [](C* c, auto callback) {
        c->stub->async()->NotifyCheckpoint(&c->ctx, &c->request, &c->response, std::move(callback));
      });
}

}  // namespace sluice
