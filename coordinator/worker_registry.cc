#include "coordinator/worker_registry.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace sluice {

WorkerRegistry::WorkerRegistry(int64_t heartbeat_timeout_ms, const ControlThreadChecker& thread)
    : timeout_ms_(heartbeat_timeout_ms), thread_(thread) {}

const WorkerInfo& WorkerRegistry::Register(const std::string& address, int slots, int64_t now_ms,
                                           std::optional<WorkerInfo>* replaced) {
  thread_.AssertOnControlThread();
  replaced->reset();
  for (auto it = workers_.begin(); it != workers_.end(); ++it) {
    if (it->second.address == address) {
      *replaced = std::move(it->second);
      workers_.erase(it);
      break;
    }
  }
  WorkerInfo w;
  w.order = ++registrations_;
  w.id = absl::StrCat("worker-", w.order);
  w.address = address;
  w.slots = slots;
  w.last_heartbeat_ms = now_ms;
  std::string id = w.id;
  return workers_[id] = std::move(w);
}

bool WorkerRegistry::Heartbeat(const std::string& id, int64_t arrival_ms,
                               const std::string& address) {
  thread_.AssertOnControlThread();
  auto it = workers_.find(id);
  if (it == workers_.end()) return false;
  if (!address.empty() && address != it->second.address) return false;
  it->second.last_heartbeat_ms = std::max(it->second.last_heartbeat_ms, arrival_ms);
  return true;
}

std::vector<LostWorker> WorkerRegistry::Expire(int64_t now_ms) {
  thread_.AssertOnControlThread();
  std::vector<LostWorker> lost;
  for (auto it = workers_.begin(); it != workers_.end();) {
    const int64_t silent = now_ms - it->second.last_heartbeat_ms;
    if (silent >= timeout_ms_) {
      lost.push_back({it->first, it->second.address, silent});
      it = workers_.erase(it);
    } else {
      ++it;
    }
  }
  return lost;
}

bool WorkerRegistry::Remove(const std::string& id) {
  thread_.AssertOnControlThread();
  return workers_.erase(id) > 0;
}

const WorkerInfo* WorkerRegistry::Find(const std::string& id) const {
  thread_.AssertOnControlThread();
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

std::vector<const WorkerInfo*> WorkerRegistry::InRegistrationOrder() const {
  thread_.AssertOnControlThread();
  std::vector<const WorkerInfo*> out;
  for (const auto& [id, w] : workers_) out.push_back(&w);
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->order < b->order; });
  return out;
}

void WorkerRegistry::UseSlots(const std::string& id, int n) {
  thread_.AssertOnControlThread();
  auto it = workers_.find(id);
  if (it != workers_.end()) it->second.used_slots += n;
}

void WorkerRegistry::ReleaseSlots(const std::string& id, int n) {
  thread_.AssertOnControlThread();
  auto it = workers_.find(id);
  if (it != workers_.end()) it->second.used_slots = std::max(0, it->second.used_slots - n);
}

int WorkerRegistry::size() const {
  thread_.AssertOnControlThread();
  return static_cast<int>(workers_.size());
}

}  // namespace sluice
