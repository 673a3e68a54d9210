#include "coordinator/plan_builder.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"

namespace sluice {

absl::Status BuildTasks(proto::ExecutionPlan* plan) {
  const proto::JobGraph& g = plan->graph();
  std::map<std::string, const proto::OperatorSpec*> ops;
  std::map<std::string, const OperatorKind*> kinds;
  std::map<std::string, int> readers;  // "op.port" -> number of readers
  for (const auto& op : g.operators()) {
    ops[op.id()] = &op;
    ASSIGN_OR_RETURN(kinds[op.id()], BuiltinCatalog().KindOf(op));
    if (!kinds[op.id()]->traits().source) ++readers[op.input()];
  }
  std::map<std::string, int> task_of;
  plan->clear_tasks();
  // Operators in dependency order: repeatedly place those whose input is placed.
  std::vector<const proto::OperatorSpec*> pending;
  for (const auto& op : g.operators()) pending.push_back(&op);
  while (!pending.empty()) {
    size_t before = pending.size();
    for (auto it = pending.begin(); it != pending.end();) {
      const proto::OperatorSpec& op = **it;
      const OperatorKind& kind = *kinds[op.id()];
      if (kind.traits().source) {
        auto* t = plan->add_tasks();
        t->set_index(plan->tasks_size() - 1);
        t->add_operator_ids(op.id());
        t->set_parallelism(op.parallelism());
        task_of[op.id()] = t->index();
        it = pending.erase(it);
        continue;
      }
      auto [up, port] = SplitInput(op.input());
      auto placed = task_of.find(up);
      if (placed == task_of.end()) {
        ++it;
        continue;
      }
      const proto::OperatorSpec& upstream = *ops[up];
      proto::TaskSpec* up_task = plan->mutable_tasks(placed->second);
      const bool up_is_tail = up_task->operator_ids(up_task->operator_ids_size() - 1) == up;
      const std::vector<std::string> keys = kind.PartitionKeys(op);
      const bool wants_keys = kind.traits().keyed || !keys.empty();
      const bool keyed = wants_keys && !(op.parallelism() == 1 && upstream.parallelism() == 1);
      const bool own_task = kind.traits().own_task;
      if (port.empty() && readers[op.input()] == 1 && up_is_tail && !keyed && !own_task &&
          op.parallelism() == upstream.parallelism()) {
        up_task->add_operator_ids(op.id());
        task_of[op.id()] = up_task->index();
      } else {
        auto* t = plan->add_tasks();
        t->set_index(plan->tasks_size() - 1);
        t->add_operator_ids(op.id());
        t->set_parallelism(op.parallelism());
        t->add_inputs()->set_source_task(placed->second);
        auto* e = plan->mutable_tasks(placed->second)->add_outputs();
        e->set_from_operator(up);
        e->set_port(port);
        e->set_target_task(t->index());
        if (wants_keys) {
          e->set_partitioning(proto::PARTITIONING_HASH);
          for (const auto& k : keys) e->add_key_fields(k);
        } else if (op.parallelism() == upstream.parallelism()) {
          e->set_partitioning(proto::PARTITIONING_FORWARD);
        } else {
          e->set_partitioning(proto::PARTITIONING_REBALANCE);
        }
        task_of[op.id()] = t->index();
      }
      it = pending.erase(it);
    }
    if (pending.size() == before) {
      return absl::InvalidArgumentError(
          absl::StrCat("operator '", pending.front()->id(),
                       "' cannot be placed: its input is missing or cyclic"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::ExecutionPlan> BuildPlan(const proto::JobGraph& graph,
                                               const std::string& job_id) {
  proto::ExecutionPlan plan;
  plan.set_job_id(job_id);
  *plan.mutable_graph() = graph;
  UpgradeLegacySettings(plan.mutable_graph());  // a graph from an older client
  RETURN_IF_ERROR(ValidateJobGraph(plan.graph()));
  FillJobDefaults(plan.mutable_graph());
  RETURN_IF_ERROR(BuildTasks(&plan));
  return plan;
}

int SlotsNeeded(const proto::ExecutionPlan& plan) {
  int n = 0;
  for (const auto& t : plan.tasks()) n = std::max(n, t.parallelism());
  return n;
}

}  // namespace sluice
