#include "coordinator/job_master.h"

#include "common/clock.h"
#include "coordinator/plan_builder.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "tests/coordinator/fake_worker_client.h"

namespace sluice {
namespace {

using Call = FakeWorkerClient::Call;

// src (parallelism 2) -> hash -> w -> out: tasks 0 (src) and 1 (w -> out).
constexpr char kJob[] = R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: w, type: window, input: src, key_by: device_id, window: {size: 1m}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
)";

class JobMasterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::optional<WorkerInfo> replaced;
    a_ = registry_.Register("a:1", 1, clock_.NowMs(), &replaced).id;
    b_ = registry_.Register("b:1", 1, clock_.NowMs(), &replaced).id;
  }

  std::unique_ptr<JobMaster> Job(const std::string& yaml = kJob) {
    auto graph = ParseJobYaml(yaml, "job.yaml", "");
    EXPECT_TRUE(graph.ok()) << graph.status();
    auto plan = BuildPlan(*graph, "job-1");
    EXPECT_TRUE(plan.ok()) << plan.status();
    return std::make_unique<JobMaster>(*std::move(plan), clock_.NowMs(), JobMaster::Options{10'000},
                                       &scheduler_, &rpc_, thread_, JobMaster::Checkpointing{});
  }

  // A running job whose deploys have succeeded.
  std::unique_ptr<JobMaster> RunningJob() {
    auto job = Job();
    job->Tick(clock_.NowMs());
    EXPECT_EQ(rpc_.CompleteAll(Call::kDeploy, absl::OkStatus()), 2);
    return job;
  }

  static proto::SubtaskStatus Report(int task, int subtask, proto::TaskState state,
                                     int64_t attempt = 1) {
    proto::SubtaskStatus s;
    s.set_job_id("job-1");
    s.set_attempt(attempt);
    s.set_task(task);
    s.set_subtask(subtask);
    s.set_state(state);
    return s;
  }

  std::vector<std::string> CancelAddresses(int64_t attempt) const {
    std::vector<std::string> out;
    for (const Call* c : rpc_.Calls(Call::kCancel)) {
      EXPECT_EQ(c->cancel.job_id(), "job-1");
      if (c->cancel.attempt() == attempt) out.push_back(c->address);
    }
    return out;
  }

  ManualClock clock_;
  ControlThreadChecker thread_;
  WorkerRegistry registry_{5'000, thread_};
  SlotScheduler scheduler_{&registry_, thread_};
  FakeWorkerClient rpc_;
  std::string a_, b_;
};

TEST_F(JobMasterTest, DeploysAttemptOneWithExplicitKeyGroupRanges) {
  auto job = Job();
  EXPECT_EQ(job->state(), proto::CREATED);
  EXPECT_EQ(job->attempt(), 0);
  job->Tick(clock_.NowMs());
  EXPECT_EQ(job->state(), proto::RUNNING);
  EXPECT_EQ(job->attempt(), 1);
  EXPECT_EQ(scheduler_.FreeSlots(), 0);

  std::vector<const Call*> deploys = rpc_.Calls(Call::kDeploy);
  ASSERT_EQ(deploys.size(), 2u);  // one per worker, each with the whole plan
  EXPECT_EQ(deploys[0]->address, "a:1");
  EXPECT_EQ(deploys[0]->deploy.worker_id(), a_);
  EXPECT_EQ(deploys[1]->deploy.worker_id(), b_);
  const proto::ExecutionPlan& plan = deploys[0]->deploy.plan();
  EXPECT_EQ(plan.attempt(), 1);
  ASSERT_EQ(plan.assignments_size(), 4);
  for (const auto& a : plan.assignments()) {
    EXPECT_EQ(a.worker_id(), a.subtask() == 0 ? a_ : b_);
    EXPECT_EQ(a.key_group_start(), a.subtask() == 0 ? 0 : 64);
    EXPECT_EQ(a.key_group_end(), a.subtask() == 0 ? 64 : 128);
  }

  proto::JobStatus status = job->Status(true);
  EXPECT_EQ(status.attempt(), 1);
  ASSERT_EQ(status.subtasks_size(), 4);
  for (const auto& s : status.subtasks()) {
    EXPECT_EQ(s.state(), proto::TASK_DEPLOYING);
    EXPECT_EQ(s.attempt(), 1);
  }
  EXPECT_TRUE(job->IsLiveOn(a_, 1));
  EXPECT_FALSE(job->IsLiveOn(a_, 2));
  EXPECT_FALSE(job->IsLiveOn("worker-9", 1));
}

TEST_F(JobMasterTest, FinishesWhenEverySubtaskFinishedAndGivesSlotsBack) {
  auto job = RunningJob();
  job->OnHeartbeat(a_, Report(0, 0, proto::TASK_RUNNING));
  EXPECT_EQ(job->Status(true).subtasks(0).state(), proto::TASK_RUNNING);
  job->OnTaskReport(a_, Report(0, 0, proto::TASK_FINISHED));
  job->OnTaskReport(b_, Report(0, 1, proto::TASK_FINISHED));
  job->OnTaskReport(a_, Report(1, 0, proto::TASK_FINISHED));
  EXPECT_EQ(job->state(), proto::RUNNING);
  job->OnTaskReport(b_, Report(1, 1, proto::TASK_FINISHED));
  EXPECT_EQ(job->state(), proto::FINISHED);
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
  EXPECT_TRUE(rpc_.Calls(Call::kCancel).empty());
  EXPECT_FALSE(job->IsLiveOn(a_, 1));
}

TEST_F(JobMasterTest, TaskFailureFailsTheJobNamingItAndCancelsTheAttempt) {
  auto job = RunningJob();
  proto::SubtaskStatus failed = Report(1, 1, proto::TASK_FAILED);
  failed.set_failure("disk full");
  job->OnTaskReport(b_, failed);
  EXPECT_EQ(job->state(), proto::FAILED);
  EXPECT_EQ(job->Status(false).failure(), "task w->out subtask 1 on worker-2 failed: disk full");
  EXPECT_EQ(CancelAddresses(1), (std::vector<std::string>{"a:1", "b:1"}));
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
}

// A worker that cancels a task itself (it is stopping, or it lost the
// coordinator for --orphan-timeout while the coordinator still counts it
// alive) must not leave the job RUNNING forever.
TEST_F(JobMasterTest, ATaskItsWorkerCanceledFailsTheAttempt) {
  auto job = RunningJob();
  proto::SubtaskStatus canceled = Report(0, 1, proto::TASK_CANCELED);
  job->OnTaskReport(b_, canceled);
  EXPECT_EQ(job->state(), proto::FAILED);
  EXPECT_EQ(job->Status(false).failure(), "task src subtask 1 was canceled by worker-2");
}

TEST_F(JobMasterTest, CancelBeforeTheDeployCompletesCancelsAgainAfterIt) {
  auto job = Job();
  job->Tick(clock_.NowMs());
  job->Cancel();
  EXPECT_EQ(job->state(), proto::CANCELED);
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
  EXPECT_EQ(CancelAddresses(1), (std::vector<std::string>{"a:1", "b:1"}));

  // The worker may have handled the cancel before the deploy: once the
  // deploy is done, it is told again.
  EXPECT_TRUE(rpc_.CompleteDeploy("a:1", absl::OkStatus()));
  EXPECT_EQ(CancelAddresses(1), (std::vector<std::string>{"a:1", "b:1", "a:1"}));
  // A deploy that failed started nothing.
  EXPECT_TRUE(rpc_.CompleteDeploy("b:1", absl::UnavailableError("gone")));
  EXPECT_EQ(CancelAddresses(1).size(), 3u);
  EXPECT_EQ(job->state(), proto::CANCELED);
  EXPECT_EQ(job->Status(false).failure(), "");
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
}

TEST_F(JobMasterTest, CancelOfAWaitingJobSendsNothing) {
  registry_.UseSlots(a_, 1);
  auto job = Job();
  job->Tick(clock_.NowMs());
  EXPECT_EQ(job->state(), proto::CREATED);
  job->Cancel();
  EXPECT_EQ(job->state(), proto::CANCELED);
  EXPECT_TRUE(rpc_.calls.empty());
  job->Tick(clock_.NowMs());
  EXPECT_TRUE(rpc_.calls.empty());
}

TEST_F(JobMasterTest, ReportsFromAnotherAttemptOrWorkerChangeNothing) {
  auto job = RunningJob();
  proto::SubtaskStatus other_attempt = Report(0, 0, proto::TASK_FAILED, /*attempt=*/2);
  other_attempt.set_failure("from another attempt");
  job->OnTaskReport(a_, other_attempt);
  job->OnTaskReport(b_, Report(0, 0, proto::TASK_FAILED));  // subtask 0 runs on a, not b
  EXPECT_EQ(job->state(), proto::RUNNING);

  proto::SubtaskStatus beat = Report(0, 0, proto::TASK_RUNNING, /*attempt=*/2);
  beat.mutable_load()->set_busy_ms_per_s(900);
  beat.add_operators()->set_records_out(42);
  job->OnHeartbeat(a_, beat);
  const proto::SubtaskStatus s = job->Status(true).subtasks(0);
  EXPECT_EQ(s.state(), proto::TASK_DEPLOYING);
  EXPECT_EQ(s.operators_size(), 0);
  EXPECT_FALSE(s.has_load());

  // A report that states no attempt belongs to none.
  beat.set_attempt(0);
  job->OnHeartbeat(a_, beat);
  EXPECT_EQ(job->Status(true).subtasks(0).state(), proto::TASK_DEPLOYING);

  beat.set_attempt(1);
  job->OnHeartbeat(a_, beat);
  EXPECT_EQ(job->Status(true).subtasks(0).state(), proto::TASK_RUNNING);
  EXPECT_EQ(job->Status(true).subtasks(0).load().busy_ms_per_s(), 900);
}

TEST_F(JobMasterTest, LateReportsOfTheCurrentAttemptStillUpdateAnEndedJob) {
  auto job = RunningJob();
  job->Cancel();
  job->OnTaskReport(a_, Report(0, 0, proto::TASK_CANCELED));
  EXPECT_EQ(job->Status(true).subtasks(0).state(), proto::TASK_CANCELED);
  EXPECT_EQ(job->state(), proto::CANCELED);
}

TEST_F(JobMasterTest, FailedDeployFailsTheJobNamingTheWorker) {
  auto job = Job();
  job->Tick(clock_.NowMs());
  EXPECT_TRUE(rpc_.CompleteDeploy("a:1", absl::OkStatus()));
  EXPECT_TRUE(rpc_.CompleteDeploy("b:1", absl::DeadlineExceededError("Deadline Exceeded")));
  EXPECT_EQ(job->state(), proto::FAILED);
  EXPECT_EQ(job->Status(false).failure(),
            "cannot deploy tasks to worker worker-2 (b:1): Deadline Exceeded");
  EXPECT_EQ(CancelAddresses(1), (std::vector<std::string>{"a:1", "b:1"}));
}

TEST_F(JobMasterTest, LostWorkerFailsTheJobAndOnlyTheOthersAreCanceled) {
  auto job = RunningJob();
  job->OnWorkerLost("worker-9", "not ours");
  EXPECT_EQ(job->state(), proto::RUNNING);
  job->OnWorkerLost(a_, "worker worker-1 (a:1) lost: no heartbeat for 5 s");
  EXPECT_EQ(job->state(), proto::FAILED);
  EXPECT_EQ(job->Status(false).failure(), "worker worker-1 (a:1) lost: no heartbeat for 5 s");
  EXPECT_EQ(CancelAddresses(1), (std::vector<std::string>{"b:1"}));
  // Status no longer shows any subtask as running: the lost worker's
  // failed with the reason, the other's were canceled.
  const proto::JobStatus status = job->Status(true);
  ASSERT_GT(status.subtasks_size(), 0);
  for (const proto::SubtaskStatus& st : status.subtasks()) {
    if (st.worker_id() == a_) {
      EXPECT_EQ(st.state(), proto::TASK_FAILED);
      EXPECT_EQ(st.failure(), "worker worker-1 (a:1) lost: no heartbeat for 5 s");
    } else {
      EXPECT_EQ(st.state(), proto::TASK_CANCELED);
    }
  }
}

TEST_F(JobMasterTest, WaitsForSlotsSayingWhyThenFails) {
  registry_.UseSlots(b_, 1);
  auto job = Job();
  job->Tick(clock_.NowMs());
  EXPECT_EQ(job->state(), proto::CREATED);
  EXPECT_EQ(job->Status(false).pending_reason(),
            "waiting for task slots: the job needs 2, 1 free on 2 worker(s)");
  clock_.Advance(10'000);
  job->Tick(clock_.NowMs());
  EXPECT_EQ(job->state(), proto::CREATED);
  clock_.Advance(1);
  job->Tick(clock_.NowMs());
  EXPECT_EQ(job->state(), proto::FAILED);
  EXPECT_EQ(job->Status(false).failure(),
            "not enough free task slots: the job needs 2, the cluster has 1 free on 2 worker(s) "
            "after waiting 10 s");
  EXPECT_TRUE(rpc_.calls.empty());
}

}  // namespace
}  // namespace sluice
