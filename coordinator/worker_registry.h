#pragma once

// The workers the coordinator knows: where they listen, their task slots and
// when they last sent a heartbeat. A worker silent for the heartbeat timeout
// or longer is expired (declared lost) and forgotten.
//
// Times are milliseconds of the coordinator's injected steady Clock (the
// stamps of control-loop work), never the wall clock, so a clock step
// cannot declare a worker lost and tests drive time with a ManualClock.
//
// Thread: the control thread only (asserted).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "coordinator/control_loop.h"

namespace sluice {

struct WorkerInfo {
  std::string id;  // "worker-N", N counting registrations from 1
  std::string address;
  int slots = 0;
  int used_slots = 0;
  int64_t last_heartbeat_ms = 0;
  int order = 0;  // registration order: the scheduler spreads subtasks by it
};

struct LostWorker {
  std::string id;
  std::string address;
  int64_t silent_ms = 0;
};

class WorkerRegistry {
 public:
  WorkerRegistry(int64_t heartbeat_timeout_ms, const ControlThreadChecker& thread);

  // Adds a worker, heard from at `now_ms`. A worker registering at the
  // address of a known one has restarted: the old entry is removed and
  // returned in `*replaced`, since whatever it ran is gone.
  const WorkerInfo& Register(const std::string& address, int slots, int64_t now_ms,
                             std::optional<WorkerInfo>* replaced);
  // Records a heartbeat that arrived at `arrival_ms`. False for an unknown
  // (expired or never registered) worker, or when `address` (if given) is
  // not the one registered under `id`: ids restart from 1 when the
  // coordinator restarts, so a worker registered with an earlier coordinator
  // may send an id that now names another worker.
  bool Heartbeat(const std::string& id, int64_t arrival_ms, const std::string& address = "");
  // Removes and returns the workers silent for the timeout or longer.
  std::vector<LostWorker> Expire(int64_t now_ms);
  // Forgets a worker that could not be reached (it re-registers if it is
  // still there). False if it was not known.
  bool Remove(const std::string& id);

  const WorkerInfo* Find(const std::string& id) const;
  std::vector<const WorkerInfo*> InRegistrationOrder() const;
  // Slot accounting for the scheduler. Unknown ids are ignored: a lost
  // worker's slots went with it.
  void UseSlots(const std::string& id, int n);
  void ReleaseSlots(const std::string& id, int n);
  int size() const;

 private:
  const int64_t timeout_ms_;
  const ControlThreadChecker& thread_;
  std::map<std::string, WorkerInfo> workers_;  // by id
  int registrations_ = 0;
};

}  // namespace sluice
