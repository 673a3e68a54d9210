#include "coordinator/job_load.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace sluice {
namespace {

struct Upstream {
  int task;
  bool forward;
};

bool Reports(const proto::SubtaskStatus& s) {
  return s.state() == proto::TASK_RUNNING && s.has_load();
}

}  // namespace

void AnnotateLoad(const proto::ExecutionPlan& plan, proto::JobStatus* status) {
  status->clear_bottleneck();
  // (task, subtask) -> status, for the subtasks that report a load.
  std::map<std::pair<int, int>, proto::SubtaskStatus*> running;
  std::set<std::pair<int, int>> backpressured;
  std::set<int> backpressured_tasks;
  for (proto::SubtaskStatus& s : *status->mutable_subtasks()) {
    const bool bp = Reports(s) && s.load().backpressured_ms_per_s() >= kBackpressuredMsPerS;
    s.set_backpressured(bp);
    if (!Reports(s)) continue;
    running[{s.task(), s.subtask()}] = &s;
    if (bp) {
      backpressured.insert({s.task(), s.subtask()});
      backpressured_tasks.insert(s.task());
    }
  }
  if (backpressured.empty()) return;

  std::map<int, std::vector<Upstream>> upstreams;  // task -> tasks feeding it
  for (const auto& t : plan.tasks()) {
    for (const auto& e : t.outputs()) {
      upstreams[e.target_task()].push_back(
          {t.index(), e.partitioning() == proto::PARTITIONING_FORWARD});
    }
  }
  // Candidates: not backpressured, with a backpressured upstream subtask.
  struct Candidate {
    int task, subtask;
    double busy;
    std::set<int> pressed_by;  // backpressured upstream tasks
  };
  std::vector<Candidate> candidates;
  for (const auto& [key, s] : running) {
    if (s->backpressured()) continue;
    Candidate c{key.first, key.second, s->load().busy_ms_per_s(), {}};
    for (const Upstream& u : upstreams[c.task]) {
      const bool pressed = u.forward ? backpressured.contains({u.task, c.subtask})
                                     : backpressured_tasks.contains(u.task);
      if (pressed) c.pressed_by.insert(u.task);
    }
    if (!c.pressed_by.empty()) candidates.push_back(std::move(c));
  }
  double busiest = 0;
  for (const Candidate& c : candidates) busiest = std::max(busiest, c.busy);
  if (busiest <= 0) return;
  // Busy enough, or else the busiest; then the task of the busiest of those.
  const double threshold = busiest >= kBusyMsPerS ? kBusyMsPerS : busiest;
  int task = -1;
  for (const Candidate& c : candidates) {
    if (c.busy == busiest) {
      task = c.task;
      break;
    }
  }
  std::vector<int> subtasks;
  std::set<int> pressed_by;
  for (const Candidate& c : candidates) {
    if (c.task != task || c.busy < threshold) continue;
    subtasks.push_back(c.subtask);
    pressed_by.insert(c.pressed_by.begin(), c.pressed_by.end());
  }
  auto chain = [&](int t) {
    if (t < 0 || t >= plan.tasks_size()) return absl::StrCat("task ", t);
    return absl::StrJoin(plan.tasks(t).operator_ids(), "->");
  };
  std::vector<std::string> upstream_names;
  for (int u : pressed_by) upstream_names.push_back(chain(u));
  status->set_bottleneck(absl::StrCat(
      chain(task), subtasks.size() == 1 ? " subtask " : " subtasks ", absl::StrJoin(subtasks, ", "),
      subtasks.size() == 1 ? " (busy " : " (busy up to ", static_cast<int64_t>(busiest),
      " ms/s), under backpressured ", absl::StrJoin(upstream_names, ", ")));
}

}  // namespace sluice
