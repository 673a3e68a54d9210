#pragma once

// Read-only questions a worker asks of an ExecutionPlan.
//
// Channel layout: a task's gate has, for each input edge in order, one
// channel per upstream subtask (hash and rebalance) or a single channel
// (forward: subtask i feeds only subtask i).

#include <string>

#include "absl/status/statusor.h"
#include "common/key_group.h"
#include "proto/sluice.pb.h"

namespace sluice {

class PlanView {
 public:
  explicit PlanView(const proto::ExecutionPlan& plan) : plan_(plan) {}

  const proto::TaskSpec& task(int index) const { return plan_.tasks(index); }
  absl::StatusOr<const proto::OperatorSpec*> Operator(const std::string& id) const;
  absl::StatusOr<const proto::SubtaskAssignment*> Assignment(int task, int subtask) const;
  // The key groups [start, end) that (task, subtask) owns: the assignment's
  // explicit range, or the default split when the plan gives none. An error
  // when the range does not fit in max_parallelism.
  absl::StatusOr<KeyGroups> OwnedKeyGroups(int task, int subtask) const;

  // The output edge of `source_task` that feeds `target_task`.
  const proto::OutputEdge* EdgeBetween(int source_task, int target_task) const;

  int NumInputChannels(int task) const;
  // Whether each subtask of `task` gets its records from one source
  // subtask only: every task from the source to it has at most one input
  // channel. Then the row watermarks it receives are one split's, in order.
  bool FedByOneSourceSplit(int task) const;
  // Index at the receiver's gate of the channel from (source_task, sender).
  int ChannelIndex(int target_task, int source_task, int sender_subtask) const;

 private:
  const proto::ExecutionPlan& plan_;
};

}  // namespace sluice
