#pragma once

// Event-time timers as keyed state: each timer belongs to a key group (so
// timers move with their key groups when a job is rescaled), fires at a
// timestamp and carries a namespace (for a window: its start). Timers are
// held in memory in firing order and written to the state's store when it
// snapshots (KeyedState::Snapshot); a restore reads them back.
//
// Not thread-safe: owned by the KeyedState and its thread.

#include <compare>
#include <cstdint>
#include <vector>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"

namespace sluice {

struct Timer {
  int64_t timestamp = 0;
  int key_group = 0;
  int64_t ns = 0;

  // Firing order: timestamp, then key group, then namespace.
  friend auto operator<=>(const Timer&, const Timer&) = default;
};

class TimerService {
 public:
  // Adds `timer`; a timer already registered stays one timer.
  void Register(const Timer& timer);
  // Removes `timer` if registered. (By value: `timer` may be the one held,
  // as in Delete(*Earliest()).)
  void Delete(Timer timer);
  // The first timer in firing order; null when there is none.
  const Timer* Earliest() const { return timers_.empty() ? nullptr : &*timers_.begin(); }
  size_t size() const { return timers_.size(); }
  // Every timer, in firing order.
  const absl::btree_set<Timer>& all() const { return timers_; }
  // Heap bytes held, roughly.
  int64_t bytes() const;

  // For KeyedState's persistence. Changes since the last TakeChanges: the
  // timers added (true) and removed (false).
  absl::btree_map<Timer, bool> TakeChanges();
  // Adds a timer that the store already holds.
  void Restore(const Timer& timer) { timers_.insert(timer); }

 private:
  absl::btree_set<Timer> timers_;
  absl::btree_map<Timer, bool> changes_;
};

}  // namespace sluice
