#include "worker/task.h"

#include <memory>

#include "gtest/gtest.h"
#include "worker/exchange_registry.h"

namespace sluice {
namespace {

// Task 0 -> task 1, forward, parallelism 1.
std::shared_ptr<const proto::ExecutionPlan> TwoTaskPlan(const std::string& job_id) {
  auto plan = std::make_shared<proto::ExecutionPlan>();
  plan->set_job_id(job_id);
  plan->set_attempt(1);
  proto::TaskSpec* source = plan->add_tasks();
  source->set_index(0);
  source->set_parallelism(1);
  proto::OutputEdge* edge = source->add_outputs();
  edge->set_target_task(1);
  edge->set_partitioning(proto::PARTITIONING_FORWARD);
  proto::TaskSpec* sink = plan->add_tasks();
  sink->set_index(1);
  sink->set_parallelism(1);
  sink->add_inputs()->set_source_task(0);
  return plan;
}

bool GateRegistered(const GateKey& key) {
  bool found = false;
  ExchangeRegistry::Get().WhenGateReady(
      key, Clock::Steady().NowMs() - 1,
      [&](absl::StatusOr<std::shared_ptr<InputGate>> gate) { found = gate.ok(); });
  ExchangeRegistry::Get().ExpireWaiters(Clock::Steady().NowMs());  // drops the waiter if not
  return found;
}

// Worker::DeployTasks prepares every task of a deployment (registering its
// gate) before it checks whether the worker is stopping or the attempt was
// canceled meanwhile; then it drops the tasks without starting them. Their
// gates must not stay registered: senders would attach to a gate nobody
// reads or closes, and the registry would hold it (and its senders) forever.
TEST(TaskTest, ATaskThatNeverStartsWithdrawsItsGate) {
  const GateKey key{"never-started", 1, 1, 0};
  {
    Task task(TwoTaskPlan(key.job_id), 1, 0, "worker-1", nullptr);
    ASSERT_TRUE(task.Prepare().ok());
    EXPECT_TRUE(GateRegistered(key));
  }
  EXPECT_FALSE(GateRegistered(key));
}

}  // namespace
}  // namespace sluice
