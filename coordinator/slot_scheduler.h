#pragma once

// Hands out task slots. A job needs as many slots as its widest task (slot
// sharing: subtask i of every task runs in slot i). Slots are taken round
// robin over the workers in registration order, so consecutive slots land
// on different workers while workers have free slots.
//
// Thread: the control thread only (asserted).

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/control_loop.h"
#include "coordinator/worker_registry.h"

namespace sluice {

struct SlotGrant {
  std::string worker_id;
  std::string worker_address;
};

class SlotScheduler {
 public:
  SlotScheduler(WorkerRegistry* registry, const ControlThreadChecker& thread);

  // Takes `n` free slots, slot i of the result being slot i of the job.
  // Nothing when fewer than n are free (and nothing is taken).
  std::optional<std::vector<SlotGrant>> Allocate(int n);
  // Gives back slots from Allocate. Slots of workers that are gone are
  // skipped.
  void Release(const std::vector<SlotGrant>& slots);

  int FreeSlots() const;
  int Workers() const;

 private:
  WorkerRegistry& registry_;
  const ControlThreadChecker& thread_;
};

}  // namespace sluice
