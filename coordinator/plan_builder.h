#pragma once

// Expands a job graph into tasks (chains of operators) and the edges
// between them, from the traits of the operators' kinds (catalog/). An
// operator joins its upstream's task when it reads the upstream's main
// output, is that output's only reader, has the same parallelism, needs no
// repartitioning (a keyed kind such as the window, or any operator with
// key_by, needs a keyed exchange unless both sides run with parallelism 1),
// and its kind does not run in its own task (the throttle, a separate slow
// stage; operators after it chain onto it as usual). Otherwise it heads a
// new task whose input edge is forward (equal parallelism), hash (by the
// kind's partition keys) or rebalance.

#include <string>

#include "absl/status/statusor.h"
#include "proto/sluice.pb.h"

namespace sluice {

// Fills plan.tasks from plan.graph (which must be valid).
absl::Status BuildTasks(proto::ExecutionPlan* plan);

// The plan of a submitted graph: validates it (ValidateJobGraph), fills its
// defaults and builds its tasks. Assignments and the attempt are set when
// the job is deployed. Thread-safe.
absl::StatusOr<proto::ExecutionPlan> BuildPlan(const proto::JobGraph& graph,
                                               const std::string& job_id);

// Slots a plan needs under slot sharing: subtask i of every task shares
// slot i, so the widest task decides.
int SlotsNeeded(const proto::ExecutionPlan& plan);

}  // namespace sluice
