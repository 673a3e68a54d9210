#include "coordinator/plan_builder.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "worker/plan_view.h"

namespace sluice {
namespace {

proto::ExecutionPlan Plan(const std::string& yaml) {
  auto g = ParseJobYaml(yaml, "job.yaml", "");
  EXPECT_TRUE(g.ok()) << g.status();
  proto::ExecutionPlan plan;
  *plan.mutable_graph() = *g;
  EXPECT_TRUE(BuildTasks(&plan).ok());
  return plan;
}

TEST(PlanBuilderTest, ChainsOneToOneOperatorsAndSplitsAtKeyedExchanges) {
  auto plan = Plan(R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: f, type: filter, input: src, where: "temperature > 0"}
  - {id: m, type: map, input: f, set: {x: "temperature * 2"}}
  - {id: w, type: window, input: m, key_by: device_id, window: {size: 1m}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
  - {id: dl, type: stdout_sink, input: src.dead_letter, parallelism: 1}
)");
  ASSERT_EQ(plan.tasks_size(), 3);
  EXPECT_EQ(plan.tasks(0).operator_ids_size(), 3);  // src -> f -> m
  EXPECT_EQ(plan.tasks(0).operator_ids(2), "m");
  ASSERT_EQ(plan.tasks(0).outputs_size(), 2);
  // window + sink chained behind a hash exchange
  const auto* keyed = &plan.tasks(0).outputs(0);
  const auto* dead = &plan.tasks(0).outputs(1);
  if (keyed->port() == "dead_letter") std::swap(keyed, dead);
  EXPECT_EQ(keyed->partitioning(), proto::PARTITIONING_HASH);
  EXPECT_EQ(keyed->key_fields(0), "device_id");
  EXPECT_EQ(plan.tasks(keyed->target_task()).operator_ids_size(), 2);
  // dead letters: parallelism 2 -> 1 is a rebalance
  EXPECT_EQ(dead->partitioning(), proto::PARTITIONING_REBALANCE);
  EXPECT_EQ(dead->from_operator(), "src");
  EXPECT_EQ(SlotsNeeded(plan), 2);
}

TEST(PlanBuilderTest, FanOutBreaksTheChain) {
  auto plan = Plan(R"(name: j
operators:
  - {id: src, type: generator, count: 10}
  - {id: a, type: stdout_sink, input: src}
  - {id: b, type: blackhole_sink, input: src}
)");
  ASSERT_EQ(plan.tasks_size(), 3);
  EXPECT_EQ(plan.tasks(0).outputs_size(), 2);
  EXPECT_EQ(plan.tasks(0).outputs(0).partitioning(), proto::PARTITIONING_FORWARD);
}

TEST(PlanBuilderTest, ThrottleHeadsItsOwnTaskAndLaterOperatorsChainOntoIt) {
  auto plan = Plan(R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: f, type: filter, input: src, where: "temperature > 0"}
  - {id: slow, type: throttle, input: f, rate: 100}
  - {id: m, type: map, input: slow, set: {x: "temperature * 2"}}
  - {id: out, type: blackhole_sink, input: m}
)");
  ASSERT_EQ(plan.tasks_size(), 2);
  EXPECT_EQ(plan.tasks(0).operator_ids_size(), 2);  // src -> f
  ASSERT_EQ(plan.tasks(1).operator_ids_size(), 3);  // slow -> m -> out
  EXPECT_EQ(plan.tasks(1).operator_ids(0), "slow");
  ASSERT_EQ(plan.tasks(0).outputs_size(), 1);
  EXPECT_EQ(plan.tasks(0).outputs(0).partitioning(), proto::PARTITIONING_FORWARD);
  EXPECT_EQ(plan.tasks(0).outputs(0).from_operator(), "f");
}

TEST(PlanBuilderTest, ThrottleWithOtherParallelismIsRebalanced) {
  auto plan = Plan(R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: slow, type: throttle, input: src, rate: 100, parallelism: 1}
  - {id: out, type: blackhole_sink, input: slow, parallelism: 1}
)");
  ASSERT_EQ(plan.tasks_size(), 2);
  EXPECT_EQ(plan.tasks(1).operator_ids_size(), 2);  // slow -> out
  ASSERT_EQ(plan.tasks(0).outputs_size(), 1);
  EXPECT_EQ(plan.tasks(0).outputs(0).partitioning(), proto::PARTITIONING_REBALANCE);
}

TEST(PlanBuilderTest, KeyByOnAnyOperatorMakesAHashExchange) {
  auto plan = Plan(R"(name: j
parallelism: 2
operators:
  - {id: src, type: generator, count: 10}
  - {id: m, type: map, input: src, key_by: [device_id, event_id], set: {x: "temperature * 2"}}
  - {id: out, type: file_sink, input: m, key_by: device_id, path: /tmp/x}
)");
  ASSERT_EQ(plan.tasks_size(), 3);
  ASSERT_EQ(plan.tasks(0).outputs_size(), 1);
  const auto& into_map = plan.tasks(0).outputs(0);
  EXPECT_EQ(into_map.partitioning(), proto::PARTITIONING_HASH);
  ASSERT_EQ(into_map.key_fields_size(), 2);
  EXPECT_EQ(into_map.key_fields(1), "event_id");
  const auto& into_sink = plan.tasks(into_map.target_task()).outputs(0);
  EXPECT_EQ(into_sink.partitioning(), proto::PARTITIONING_HASH);
  EXPECT_EQ(into_sink.key_fields(0), "device_id");
}

TEST(PlanBuilderTest, KeyByNamesAnInputField) {
  auto g = ParseJobYaml(R"(name: j
operators:
  - {id: src, type: generator, count: 10}
  - id: out
    type: blackhole_sink
    input: src
    key_by: nope
)",
                        "job.yaml", "");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("job.yaml:7: operator 'out', field 'key_by': unknown field "
                                      "'nope'"),
            std::string::npos)
      << g.status();
}

// A window may fire at its records' row watermarks only when they are one
// source split's, in order: chained behind the source, or through tasks
// with one input channel each.
TEST(PlanBuilderTest, KnowsWhichTasksAreFedByOneSourceSplit) {
  auto window_task_fed_by_one_split = [](const std::string& middle, int source_parallelism,
                                         int window_parallelism) {
    proto::ExecutionPlan plan = Plan(absl::StrCat(
        R"(name: j
operators:
  - {id: src, type: file_source, path: in, event_time: {field: ts}, parallelism: )",
        source_parallelism, "}\n", middle,
        R"(  - {id: w, type: window, input: mid, key_by: k, window: {size: 1m}, aggregates: {n: count()}, parallelism: )",
        window_parallelism, R"(}
  - {id: out, type: blackhole_sink, input: w, parallelism: )",
        window_parallelism, "}\n"));
    for (const auto& t : plan.tasks()) {
      for (const auto& id : t.operator_ids()) {
        if (id == "w") return PlanView(plan).FedByOneSourceSplit(t.index());
      }
    }
    ADD_FAILURE() << "no window task";
    return false;
  };
  const std::string map = "  - {id: mid, type: map, input: src, set: {x: \"1\"}, parallelism: ";
  const std::string throttle = "  - {id: mid, type: throttle, input: src, rate: 10, parallelism: ";
  EXPECT_TRUE(window_task_fed_by_one_split(map + "1}\n", 1, 1));        // one chain
  EXPECT_TRUE(window_task_fed_by_one_split(throttle + "1}\n", 1, 1));   // a forward edge
  EXPECT_FALSE(window_task_fed_by_one_split(map + "2}\n", 2, 2));       // keyed: two channels
  EXPECT_FALSE(window_task_fed_by_one_split(throttle + "1}\n", 2, 1));  // merged before
}

}  // namespace
}  // namespace sluice
