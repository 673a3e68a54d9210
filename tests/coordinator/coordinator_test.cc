// The Coordinator over real gRPC on loopback: what an API client may send,
// and workers that are slow to answer.

#include "coordinator/coordinator.h"

#include <atomic>
#include <limits>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/grpc_util.h"
#include "google/protobuf/empty.pb.h"
#include "gtest/gtest.h"
#include "worker/operators/generator/generator.pb.h"

namespace sluice {
namespace {

// A hand-built graph, as an API client would send it: generator -> sink.
proto::JobGraph Graph(int parallelism) {
  proto::JobGraph g;
  g.set_name("api");
  auto* src = g.add_operators();
  src->set_id("src");
  src->set_type("generator");
  src->set_parallelism(parallelism);
  proto::GeneratorConfig gen;
  gen.set_devices(10);
  gen.set_unbounded(true);
  gen.set_rate(10);
  src->mutable_config()->PackFrom(gen);
  auto* sink = g.add_operators();
  sink->set_id("sink");
  sink->set_type("blackhole_sink");
  sink->mutable_config()->PackFrom(google::protobuf::Empty());
  sink->set_input("src");
  sink->set_parallelism(parallelism);
  return g;
}

// A WorkerService whose DeployTasks can be made to hang until released.
class FakeWorker final : public proto::WorkerService::Service {
 public:
  explicit FakeWorker(bool hang) : hang_(hang) {
    auto server = StartServer("127.0.0.1:0", this, &address_);
    EXPECT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  ~FakeWorker() override {
    Release();
    StopServer(server_.get(), address_);
  }

  grpc::Status DeployTasks(grpc::ServerContext* ctx, const proto::DeployTasksRequest*,
                           proto::DeployTasksResponse*) override {
    ++deploys_;
    if (hang_) {
      // Up to 10 s, or until released or the caller gives up.
      for (int i = 0; i < 1000 && !release_.HasBeenNotified() && !ctx->IsCancelled(); ++i)
        absl::SleepFor(absl::Milliseconds(10));
    }
    ++deploys_done_;
    return grpc::Status::OK;
  }
  grpc::Status CancelTasks(grpc::ServerContext*, const proto::CancelTasksRequest* req,
                           proto::CancelTasksResponse*) override {
    last_cancel_attempt_ = req->attempt();
    ++cancels_;
    return grpc::Status::OK;
  }

  const std::string& address() const { return address_; }
  void Release() {
    if (!release_.HasBeenNotified()) release_.Notify();
  }

  std::atomic<int> deploys_{0}, deploys_done_{0}, cancels_{0};
  std::atomic<int64_t> last_cancel_attempt_{0};

 private:
  const bool hang_;
  absl::Notification release_;
  std::string address_;
  std::unique_ptr<grpc::Server> server_;
};

class CoordinatorTest : public ::testing::Test {
 protected:
  void StartCoordinator(int64_t heartbeat_timeout_ms) {
    CoordinatorOptions o;
    o.listen_address = "127.0.0.1:0";
    o.heartbeat_interval_ms = 100;
    o.heartbeat_timeout_ms = heartbeat_timeout_ms;
    o.worker_rpc_deadline_ms = 30'000;
    coordinator_ = std::make_unique<Coordinator>(o);
    ASSERT_TRUE(coordinator_->Start().ok());
    stub_ = proto::CoordinatorService::NewStub(ChannelTo(coordinator_->address()));
  }

  absl::StatusOr<std::string> Submit(const proto::JobGraph& graph) {
    proto::SubmitJobRequest req;
    *req.mutable_graph() = graph;
    proto::SubmitJobResponse resp;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 5'000);
    absl::Status s = FromGrpcStatus(stub_->SubmitJob(&ctx, req, &resp), "submit");
    if (!s.ok()) return s;
    return resp.job_id();
  }

  proto::JobStatus Describe(const std::string& job_id) {
    proto::DescribeJobRequest req;
    req.set_job_id(job_id);
    proto::JobStatus resp;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 5'000);
    EXPECT_TRUE(stub_->DescribeJob(&ctx, req, &resp).ok());
    return resp;
  }

  std::string Register(const std::string& address) {
    proto::RegisterWorkerRequest req;
    req.set_address(address);
    req.set_slots(1);
    proto::RegisterWorkerResponse resp;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 5'000);
    EXPECT_TRUE(stub_->RegisterWorker(&ctx, req, &resp).ok());
    return resp.worker_id();
  }

  // Sends one heartbeat; returns its round-trip time, or -1 when the
  // coordinator no longer knows the worker.
  int64_t Beat(const std::string& worker_id) {
    proto::HeartbeatRequest req;
    req.set_worker_id(worker_id);
    proto::HeartbeatResponse resp;
    grpc::ClientContext ctx;
    SetDeadlineMs(&ctx, 5'000);
    const absl::Time start = absl::Now();
    grpc::Status s = stub_->Heartbeat(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (resp.unknown_worker()) return -1;
    return absl::ToInt64Milliseconds(absl::Now() - start);
  }

  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<proto::CoordinatorService::Stub> stub_;
};

TEST_F(CoordinatorTest, SubmitRejectsOutOfRangeNumbersFromAnApiClient) {
  StartCoordinator(5'000);
  constexpr int32_t kMax = std::numeric_limits<int32_t>::max();
  constexpr int32_t kMin = std::numeric_limits<int32_t>::min();

  proto::JobGraph g = Graph(kMax);
  absl::StatusOr<std::string> job = Submit(g);
  ASSERT_TRUE(absl::IsInvalidArgument(job.status())) << job.status();
  EXPECT_NE(job.status().message().find(
                "operator 'src', field 'parallelism': must be between 1 and max_parallelism 128, "
                "got 2147483647"),
            std::string::npos)
      << job.status();

  for (int32_t max_parallelism : {kMax, kMin}) {
    g = Graph(kMax);
    g.set_max_parallelism(max_parallelism);
    job = Submit(g);
    ASSERT_TRUE(absl::IsInvalidArgument(job.status())) << job.status();
    EXPECT_NE(job.status().message().find("field 'max_parallelism': must be between 1 and 32768"),
              std::string::npos)
        << job.status();
  }

  g = Graph(2);
  g.mutable_network()->set_buffer_bytes_per_task(1);
  EXPECT_TRUE(absl::IsInvalidArgument(Submit(g).status()));

  job = Submit(Graph(2));  // valid; no workers yet, so it waits
  ASSERT_TRUE(job.ok()) << job.status();
  proto::JobStatus st = Describe(*job);
  EXPECT_EQ(st.state(), proto::CREATED);
  EXPECT_EQ(st.pending_reason(), "waiting for task slots: the job needs 2, 0 free on 0 worker(s)");
}

TEST_F(CoordinatorTest, HungDeployDelaysNoHeartbeatAndGetsNoWorkerLost) {
  constexpr int64_t kTimeout = 1'000;
  StartCoordinator(kTimeout);
  FakeWorker hung(/*hang=*/true), healthy(/*hang=*/false), silent(/*hang=*/false);
  const std::string hung_id = Register(hung.address());
  const std::string healthy_id = Register(healthy.address());
  const std::string silent_id = Register(silent.address());

  std::atomic<bool> stop{false};
  std::atomic<int64_t> slowest{0};
  std::atomic<int> unknown{0};
  std::thread beats([&] {
    while (!stop) {
      for (const std::string& id : {hung_id, healthy_id}) {
        int64_t ms = Beat(id);
        if (ms < 0) ++unknown;
        slowest = std::max<int64_t>(slowest, ms);
      }
      absl::SleepFor(absl::Milliseconds(100));
    }
  });

  absl::StatusOr<std::string> job = Submit(Graph(2));  // slot 0 on hung, 1 on healthy
  ASSERT_TRUE(job.ok()) << job.status();
  for (int i = 0; i < 500 && hung.deploys_ == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(hung.deploys_, 1);
  EXPECT_EQ(Describe(*job).state(), proto::RUNNING);

  // Three heartbeat timeouts while the deploy hangs: the silent worker is
  // lost on time, the two that keep beating are not.
  absl::SleepFor(absl::Milliseconds(3 * kTimeout));
  EXPECT_EQ(Beat(silent_id), -1);
  stop = true;
  beats.join();
  EXPECT_EQ(unknown, 0);
  EXPECT_LT(slowest, 500) << "a heartbeat waited behind the hung deploy";
  EXPECT_EQ(hung.deploys_done_, 0);
  EXPECT_EQ(healthy.deploys_done_, 1);
  EXPECT_EQ(Describe(*job).state(), proto::RUNNING);

  // Canceled while the deploy hangs: once the deploy returns, the worker is
  // told to cancel again, since it may have started the tasks after the
  // first cancel.
  proto::CancelJobRequest cancel;
  cancel.set_job_id(*job);
  proto::CancelJobResponse cancel_resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->CancelJob(&ctx, cancel, &cancel_resp).ok());
  EXPECT_EQ(Describe(*job).state(), proto::CANCELED);
  hung.Release();
  for (int i = 0; i < 500 && hung.cancels_ < 2; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_EQ(hung.cancels_, 2);
  EXPECT_EQ(hung.last_cancel_attempt_, 1);
  EXPECT_EQ(healthy.cancels_, 1);
  coordinator_->Stop();
}

TEST_F(CoordinatorTest, StopCancelsADeployThatHangs) {
  StartCoordinator(5'000);
  FakeWorker hung(/*hang=*/true);
  Register(hung.address());
  ASSERT_TRUE(Submit(Graph(1)).ok());
  for (int i = 0; i < 500 && hung.deploys_ == 0; ++i) absl::SleepFor(absl::Milliseconds(10));
  const absl::Time start = absl::Now();
  coordinator_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

}  // namespace
}  // namespace sluice
