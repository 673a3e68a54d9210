#include "worker/plan_view.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice {

absl::StatusOr<const proto::OperatorSpec*> PlanView::Operator(const std::string& id) const {
  for (const auto& op : plan_.graph().operators()) {
    if (op.id() == id) return &op;
  }
  return absl::NotFoundError(absl::StrCat("plan has no operator '", id, "'"));
}

absl::StatusOr<const proto::SubtaskAssignment*> PlanView::Assignment(int task, int subtask) const {
  for (const auto& a : plan_.assignments()) {
    if (a.task() == task && a.subtask() == subtask) return &a;
  }
  return absl::NotFoundError(
      absl::StrCat("plan assigns no worker to task ", task, " subtask ", subtask));
}

absl::StatusOr<KeyGroups> PlanView::OwnedKeyGroups(int task, int subtask) const {
  ASSIGN_OR_RETURN(const proto::SubtaskAssignment* a, Assignment(task, subtask));
  const int max_parallelism = std::max(1, plan_.graph().max_parallelism());
  KeyGroups range{a->key_group_start(), a->key_group_end()};
  if (range.start == 0 && range.end == 0) {
    range = KeyGroupRange(subtask, plan_.tasks(task).parallelism(), max_parallelism);
  }
  if (range.start < 0 || range.end > max_parallelism || range.start > range.end) {
    return absl::InvalidArgumentError(absl::StrCat("bad key-group range [", range.start, ", ",
                                                   range.end, ") for task ", task, " subtask ",
                                                   subtask));
  }
  return range;
}

const proto::OutputEdge* PlanView::EdgeBetween(int source_task, int target_task) const {
  for (const auto& e : plan_.tasks(source_task).outputs()) {
    if (e.target_task() == target_task) return &e;
  }
  return nullptr;
}

int PlanView::NumInputChannels(int task) const {
  int n = 0;
  for (const auto& in : plan_.tasks(task).inputs()) {
    const proto::OutputEdge* e = EdgeBetween(in.source_task(), task);
    n += (e != nullptr && e->partitioning() == proto::PARTITIONING_FORWARD)
             ? 1
             : plan_.tasks(in.source_task()).parallelism();
  }
  return n;
}

bool PlanView::FedByOneSourceSplit(int task) const {
  for (int hops = 0; hops <= plan_.tasks_size(); ++hops) {
    const int channels = NumInputChannels(task);
    if (channels == 0) return true;  // a source heads the task
    if (channels > 1) return false;
    task = plan_.tasks(task).inputs(0).source_task();
  }
  return false;  // a cycle, which a valid plan does not have
}

int PlanView::ChannelIndex(int target_task, int source_task, int sender_subtask) const {
  int offset = 0;
  for (const auto& in : plan_.tasks(target_task).inputs()) {
    const proto::OutputEdge* e = EdgeBetween(in.source_task(), target_task);
    const bool forward = e != nullptr && e->partitioning() == proto::PARTITIONING_FORWARD;
    if (in.source_task() == source_task) return offset + (forward ? 0 : sender_subtask);
    offset += forward ? 1 : plan_.tasks(in.source_task()).parallelism();
  }
  return -1;
}

}  // namespace sluice
