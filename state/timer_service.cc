#include "state/timer_service.h"

#include <utility>

namespace sluice {

void TimerService::Register(const Timer& timer) {
  if (timers_.insert(timer).second) changes_[timer] = true;
}

void TimerService::Delete(Timer timer) {
  if (timers_.erase(timer) > 0) changes_[timer] = false;
}

int64_t TimerService::bytes() const {
  // B-tree nodes hold a few dozen values; count each value twice for the
  // nodes' slack and pointers.
  return static_cast<int64_t>((timers_.size() + changes_.size()) * 2 * sizeof(Timer));
}

absl::btree_map<Timer, bool> TimerService::TakeChanges() { return std::exchange(changes_, {}); }

}  // namespace sluice
