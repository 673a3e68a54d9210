#include "coordinator/slot_scheduler.h"

namespace sluice {

SlotScheduler::SlotScheduler(WorkerRegistry* registry, const ControlThreadChecker& thread)
    : registry_(*registry), thread_(thread) {}

std::optional<std::vector<SlotGrant>> SlotScheduler::Allocate(int n) {
  thread_.AssertOnControlThread();
  if (n > FreeSlots()) return std::nullopt;
  const std::vector<const WorkerInfo*> workers = registry_.InRegistrationOrder();
  std::vector<SlotGrant> slots;
  slots.reserve(n);
  // Round r takes the (r+1)-th free slot of every worker that has one.
  for (int round = 0; static_cast<int>(slots.size()) < n; ++round) {
    for (const WorkerInfo* w : workers) {
      if (static_cast<int>(slots.size()) == n) break;
      if (w->used_slots + round < w->slots) slots.push_back({w->id, w->address});
    }
  }
  for (const SlotGrant& s : slots) registry_.UseSlots(s.worker_id, 1);
  return slots;
}

void SlotScheduler::Release(const std::vector<SlotGrant>& slots) {
  thread_.AssertOnControlThread();
  for (const SlotGrant& s : slots) registry_.ReleaseSlots(s.worker_id, 1);
}

int SlotScheduler::FreeSlots() const {
  thread_.AssertOnControlThread();
  int free = 0;
  for (const WorkerInfo* w : registry_.InRegistrationOrder()) free += w->slots - w->used_slots;
  return free;
}

int SlotScheduler::Workers() const { return registry_.size(); }

}  // namespace sluice
