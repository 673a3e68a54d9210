#include "coordinator/job_load.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

// src (2) -forward-> slow (2) -hash-> w->out (2)
proto::ExecutionPlan Plan() {
  proto::ExecutionPlan plan;
  auto task = [&](std::vector<std::string> ops) {
    auto* t = plan.add_tasks();
    t->set_index(plan.tasks_size() - 1);
    t->set_parallelism(2);
    for (auto& op : ops) t->add_operator_ids(op);
    return t;
  };
  auto edge = [](proto::TaskSpec* from, int to, proto::Partitioning p) {
    auto* e = from->add_outputs();
    e->set_target_task(to);
    e->set_partitioning(p);
  };
  auto* src = task({"src"});
  auto* slow = task({"slow"});
  task({"w", "out"});
  edge(src, 1, proto::PARTITIONING_FORWARD);
  edge(slow, 2, proto::PARTITIONING_HASH);
  return plan;
}

class JobLoadTest : public ::testing::Test {
 protected:
  // Sets the load of a running subtask.
  void Load(int task, int subtask, double busy, double bp) {
    proto::SubtaskStatus* s = &statuses_[{task, subtask}];
    s->set_task(task);
    s->set_subtask(subtask);
    s->set_state(proto::TASK_RUNNING);
    s->mutable_load()->set_busy_ms_per_s(busy);
    s->mutable_load()->set_backpressured_ms_per_s(bp);
    s->mutable_load()->set_idle_ms_per_s(std::max(0.0, 1000 - busy - bp));
  }

  proto::JobStatus Annotated() {
    proto::JobStatus status;
    status.set_state(proto::RUNNING);
    for (const auto& [key, s] : statuses_) *status.add_subtasks() = s;
    AnnotateLoad(plan_, &status);
    return status;
  }

  std::vector<std::pair<int, int>> Backpressured(const proto::JobStatus& status) {
    std::vector<std::pair<int, int>> out;
    for (const auto& s : status.subtasks()) {
      if (s.backpressured()) out.emplace_back(s.task(), s.subtask());
    }
    return out;
  }

  proto::ExecutionPlan plan_ = Plan();
  std::map<std::pair<int, int>, proto::SubtaskStatus> statuses_;
};

TEST_F(JobLoadTest, BusyTaskUnderABackpressuredUpstreamIsTheBottleneck) {
  Load(0, 0, 80, 900);
  Load(0, 1, 70, 910);
  Load(1, 0, 990, 0);
  Load(1, 1, 985, 0);
  Load(2, 0, 10, 0);
  Load(2, 1, 12, 0);
  proto::JobStatus st = Annotated();
  EXPECT_EQ(Backpressured(st), (std::vector<std::pair<int, int>>{{0, 0}, {0, 1}}));
  EXPECT_EQ(st.bottleneck(), "slow subtasks 0, 1 (busy up to 990 ms/s), under backpressured src");
}

TEST_F(JobLoadTest, BackpressurePropagatesToTheSlowestStageDownstream) {
  Load(0, 0, 50, 900);
  Load(0, 1, 50, 900);
  Load(1, 0, 100, 850);
  Load(1, 1, 100, 850);
  Load(2, 0, 300, 0);
  Load(2, 1, 950, 0);
  proto::JobStatus st = Annotated();
  EXPECT_EQ(Backpressured(st).size(), 4u);
  EXPECT_EQ(st.bottleneck(), "w->out subtask 1 (busy 950 ms/s), under backpressured slow");
}

TEST_F(JobLoadTest, ForwardEdgeCountsOnlyTheSameSubtaskAndTheBusiestCandidateWins) {
  Load(0, 0, 50, 900);  // only src 0 is backpressured
  Load(0, 1, 50, 0);
  Load(1, 0, 300, 0);  // fed by src 0 alone: the only candidate, below the busy threshold
  Load(1, 1, 999, 0);  // busier, but its forward upstream is not backpressured
  proto::JobStatus st = Annotated();
  EXPECT_EQ(st.bottleneck(), "slow subtask 0 (busy 300 ms/s), under backpressured src");
}

TEST_F(JobLoadTest, ThresholdIsInclusive) {
  Load(0, 0, 0, 500);
  Load(0, 1, 0, 499.9);
  Load(1, 0, 500, 0);
  Load(1, 1, 600, 0);
  proto::JobStatus st = Annotated();
  EXPECT_EQ(Backpressured(st), (std::vector<std::pair<int, int>>{{0, 0}}));
  EXPECT_EQ(st.bottleneck(), "slow subtask 0 (busy 500 ms/s), under backpressured src");
}

TEST_F(JobLoadTest, NoBottleneckWithoutBackpressureOrWithoutABusyCandidate) {
  Load(0, 0, 900, 100);
  Load(1, 0, 100, 0);
  EXPECT_EQ(Annotated().bottleneck(), "");

  Load(0, 0, 0, 900);
  Load(1, 0, 0, 0);  // waiting on the network, not busy: nothing to name
  proto::JobStatus st = Annotated();
  EXPECT_EQ(Backpressured(st).size(), 1u);
  EXPECT_EQ(st.bottleneck(), "");
}

TEST_F(JobLoadTest, OnlyRunningSubtasksWithALoadCount) {
  Load(0, 0, 0, 900);
  statuses_[{0, 0}].set_state(proto::TASK_FINISHED);
  statuses_[{0, 0}].set_backpressured(true);  // stale: cleared
  Load(1, 0, 900, 0);
  proto::JobStatus st = Annotated();
  EXPECT_TRUE(Backpressured(st).empty());
  EXPECT_EQ(st.bottleneck(), "");
}

}  // namespace
}  // namespace sluice
