#include "coordinator/dispatcher.h"

#include "common/clock.h"
#include "coordinator/plan_builder.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "tests/coordinator/fake_worker_client.h"

namespace sluice {
namespace {

using Call = FakeWorkerClient::Call;

constexpr char kJob[] = R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, rate: 10}
  - {id: out, type: blackhole_sink, input: src}
)";

class DispatcherTest : public ::testing::Test {
 protected:
  DispatcherTest() : dispatcher_(Options(), &rpc_, thread_) {}

  static DispatcherOptions Options() {
    DispatcherOptions o;
    o.heartbeat_timeout_ms = 5'000;
    return o;
  }

  std::string Register(const std::string& address, int slots = 1) {
    proto::RegisterWorkerRequest req;
    req.set_address(address);
    req.set_slots(slots);
    auto resp = dispatcher_.RegisterWorker(req, clock_.NowMs());
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp->worker_id();
  }

  std::string Submit(const std::string& id) {
    auto graph = ParseJobYaml(kJob, "job.yaml", "");
    EXPECT_TRUE(graph.ok()) << graph.status();
    auto plan = BuildPlan(*graph, id);
    EXPECT_TRUE(plan.ok()) << plan.status();
    dispatcher_.AddJob(*std::move(plan), clock_.NowMs());
    return id;
  }

  proto::JobStatus Describe(const std::string& id) {
    auto s = dispatcher_.DescribeJob(id);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *s : proto::JobStatus();
  }

  // A heartbeat reporting one running subtask per (job, attempt, subtask).
  proto::HeartbeatResponse Beat(const std::string& worker,
                                std::vector<std::tuple<std::string, int64_t, int>> tasks = {}) {
    proto::HeartbeatRequest req;
    req.set_worker_id(worker);
    for (const auto& [job, attempt, subtask] : tasks) {
      auto* s = req.add_subtasks();
      s->set_job_id(job);
      s->set_attempt(attempt);
      s->set_task(0);
      s->set_subtask(subtask);
      s->set_state(proto::TASK_RUNNING);
    }
    return dispatcher_.Heartbeat(req, clock_.NowMs());
  }

  static std::vector<std::pair<std::string, int64_t>> Cancels(const proto::HeartbeatResponse& r) {
    std::vector<std::pair<std::string, int64_t>> out;
    for (const auto& c : r.cancel()) out.emplace_back(c.job_id(), c.attempt());
    return out;
  }

  ManualClock clock_;
  ControlThreadChecker thread_;
  FakeWorkerClient rpc_;
  Dispatcher dispatcher_;
};

TEST_F(DispatcherTest, SchedulesAJobAsSoonAsItsSlotsExist) {
  Submit("job-1");
  EXPECT_EQ(Describe("job-1").state(), proto::CREATED);
  Register("a:1");
  EXPECT_EQ(Describe("job-1").state(), proto::CREATED);
  Register("b:1");
  EXPECT_EQ(Describe("job-1").state(), proto::RUNNING);
  EXPECT_EQ(Describe("job-1").attempt(), 1);
  EXPECT_EQ(rpc_.Calls(Call::kDeploy).size(), 2u);
  EXPECT_TRUE(absl::IsNotFound(dispatcher_.DescribeJob("nope").status()));
  EXPECT_TRUE(absl::IsNotFound(dispatcher_.CancelJob("nope")));
}

TEST_F(DispatcherTest, HeartbeatAnswersWhichReportedTasksToCancel) {
  const std::string a = Register("a:1"), b = Register("b:1");
  Register("c:1", 2);
  Submit("job-1");  // subtask 0 on a, 1 on b
  Submit("job-2");  // both on c
  Register("d:1");
  ASSERT_EQ(Describe("job-2").state(), proto::RUNNING);
  ASSERT_EQ(dispatcher_.CancelJob("job-2"), absl::OkStatus());
  // A job that has ended is not canceled again.
  const absl::Status again = dispatcher_.CancelJob("job-2");
  EXPECT_TRUE(absl::IsFailedPrecondition(again)) << again;
  EXPECT_NE(again.message().find("already ended (CANCELED)"), std::string_view::npos) << again;

  proto::HeartbeatResponse r = Beat(a, {{"job-1", 1, 0},  // live: kept
                                        {"job-1", 2, 0},  // an attempt that is not running
                                        {"job-1", 2, 1},  // (listed once)
                                        {"job-2", 1, 0},  // canceled job
                                        {"gone", 3, 0}});
  EXPECT_FALSE(r.unknown_worker());
  EXPECT_EQ(Cancels(r), (std::vector<std::pair<std::string, int64_t>>{
                            {"job-1", 2}, {"job-2", 1}, {"gone", 3}}));

  // job-1 runs on a and b only: on d its tasks are orphans.
  EXPECT_EQ(Cancels(Beat("worker-4", {{"job-1", 1, 0}})),
            (std::vector<std::pair<std::string, int64_t>>{{"job-1", 1}}));
  // An unknown worker re-registers, and none of its tasks survives.
  r = Beat("worker-99", {{"job-1", 1, 1}});
  EXPECT_TRUE(r.unknown_worker());
  EXPECT_EQ(Cancels(r), (std::vector<std::pair<std::string, int64_t>>{{"job-1", 1}}));
  EXPECT_EQ(Describe("job-1").state(), proto::RUNNING);
  (void)b;
}

TEST_F(DispatcherTest, StoresLoadsOfTheCurrentAttemptOnly) {
  const std::string a = Register("a:1");
  Register("b:1");
  Submit("job-1");
  proto::HeartbeatRequest req;
  req.set_worker_id(a);
  auto* s = req.add_subtasks();
  s->set_job_id("job-1");
  s->set_attempt(1);
  s->set_state(proto::TASK_RUNNING);
  s->mutable_load()->set_busy_ms_per_s(700);
  s->mutable_load()->set_backpressured_ms_per_s(600);
  dispatcher_.Heartbeat(req, clock_.NowMs());
  s->set_attempt(2);
  s->mutable_load()->set_busy_ms_per_s(1);
  dispatcher_.Heartbeat(req, clock_.NowMs());
  const proto::SubtaskStatus st = Describe("job-1").subtasks(0);
  EXPECT_EQ(st.state(), proto::TASK_RUNNING);
  EXPECT_EQ(st.load().busy_ms_per_s(), 700);
  EXPECT_TRUE(st.backpressured());  // 600 ms/s waiting for output buffers
}

TEST_F(DispatcherTest, SilentWorkerIsLostExactlyAtTheTimeoutAndItsJobFails) {
  const std::string a = Register("a:1");
  const std::string b = Register("b:1");
  Submit("job-1");
  rpc_.CompleteAll(Call::kDeploy, absl::OkStatus());
  clock_.Advance(4'000);
  Beat(b);
  clock_.Advance(999);
  dispatcher_.Tick(clock_.NowMs());
  EXPECT_EQ(Describe("job-1").state(), proto::RUNNING);
  clock_.Advance(1);
  dispatcher_.Tick(clock_.NowMs());
  proto::JobStatus st = Describe("job-1");
  EXPECT_EQ(st.state(), proto::FAILED);
  EXPECT_EQ(st.failure(), "worker worker-1 (a:1) lost: no heartbeat for 5 s");
  EXPECT_TRUE(Beat(a).unknown_worker());
  EXPECT_FALSE(Beat(b).unknown_worker());
  // Only b, which is still there, is told to cancel.
  ASSERT_EQ(rpc_.Calls(Call::kCancel).size(), 1u);
  EXPECT_EQ(rpc_.Calls(Call::kCancel)[0]->address, "b:1");
  EXPECT_EQ(rpc_.Calls(Call::kCancel)[0]->cancel.attempt(), 1);
}

TEST_F(DispatcherTest, WorkerRestartingAtItsAddressFailsItsJobs) {
  Register("a:1");
  Register("b:1");
  Submit("job-1");
  Register("a:1");
  proto::JobStatus st = Describe("job-1");
  EXPECT_EQ(st.state(), proto::FAILED);
  EXPECT_EQ(st.failure(), "worker worker-1 (a:1) restarted");
}

TEST_F(DispatcherTest, ReportsEndTheJobAndListKeepsSubmissionOrder) {
  const std::string a = Register("a:1"), b = Register("b:1");
  Submit("job-1");
  Submit("job-0");  // waits: no free slots
  for (const auto& [worker, subtask] : {std::pair{a, 0}, std::pair{b, 1}}) {
    proto::TaskStateReport report;
    report.set_job_id("job-1");
    report.set_worker_id(worker);
    report.mutable_status()->set_attempt(1);
    report.mutable_status()->set_subtask(subtask);
    report.mutable_status()->set_state(proto::TASK_FINISHED);
    dispatcher_.ReportTaskState(report);
  }
  EXPECT_EQ(Describe("job-1").state(), proto::FINISHED);
  dispatcher_.Tick(clock_.NowMs());
  proto::ListJobsResponse list = dispatcher_.ListJobs();
  ASSERT_EQ(list.jobs_size(), 2);
  EXPECT_EQ(list.jobs(0).job_id(), "job-1");
  EXPECT_EQ(list.jobs(1).job_id(), "job-0");
  EXPECT_EQ(list.jobs(1).state(), proto::RUNNING);  // took the freed slots
  EXPECT_EQ(list.jobs(1).subtasks_size(), 0);
}

TEST_F(DispatcherTest, RejectsWorkersWithoutSlots) {
  proto::RegisterWorkerRequest req;
  req.set_address("a:1");
  EXPECT_TRUE(absl::IsInvalidArgument(dispatcher_.RegisterWorker(req, 0).status()));
}

}  // namespace
}  // namespace sluice
