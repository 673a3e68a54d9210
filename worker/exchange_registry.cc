#include "worker/exchange_registry.h"

#include "absl/strings/str_cat.h"

namespace sluice {

std::string GateKey::ToString() const {
  return absl::StrCat(job_id, "/", attempt, "/", task, "/", subtask);
}

std::string GateKey::Describe() const {
  return absl::StrCat("task ", task, " subtask ", subtask, " of job ", job_id, " (attempt ",
                      attempt, ")");
}

ExchangeRegistry& ExchangeRegistry::Get() {
  static auto* registry = new ExchangeRegistry;
  return *registry;
}

void ExchangeRegistry::RegisterGate(const GateKey& key, std::shared_ptr<InputGate> gate) {
  std::vector<Waiter> ready;
  const std::string k = key.ToString();
  {
    absl::MutexLock lock(&mu_);
    gates_[k] = gate;
    auto it = waiters_.find(k);
    if (it != waiters_.end()) {
      ready = std::move(it->second);
      waiters_.erase(it);
    }
  }
  for (auto& w : ready) w.callback(gate);
}

void ExchangeRegistry::UnregisterGate(const GateKey& key) {
  absl::MutexLock lock(&mu_);
  gates_.erase(key.ToString());
}

void ExchangeRegistry::WhenGateReady(const GateKey& key, int64_t deadline_ms,
                                     GateCallback callback) {
  std::shared_ptr<InputGate> gate;
  const std::string k = key.ToString();
  {
    absl::MutexLock lock(&mu_);
    auto it = gates_.find(k);
    if (it == gates_.end()) {
      waiters_[k].push_back({key, deadline_ms, std::move(callback)});
      return;
    }
    gate = it->second;
  }
  callback(std::move(gate));
}

void ExchangeRegistry::ExpireWaiters(int64_t now_ms) {
  std::vector<Waiter> expired;
  {
    absl::MutexLock lock(&mu_);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto& list = it->second;
      for (auto w = list.begin(); w != list.end();) {
        if (w->deadline_ms <= now_ms) {
          expired.push_back(std::move(*w));
          w = list.erase(w);
        } else {
          ++w;
        }
      }
      if (list.empty()) {
        waiters_.erase(it++);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : expired) {
    w.callback(absl::DeadlineExceededError(absl::StrCat(
        "receiver ", w.key.Describe(), " did not start within ", kGateWaitMs / 1000, " s")));
  }
}

void ExchangeRegistry::AddLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  local_workers_.insert(address);
}

void ExchangeRegistry::RemoveLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  local_workers_.erase(address);
}

bool ExchangeRegistry::IsLocalWorker(const std::string& address) {
  absl::MutexLock lock(&mu_);
  return local_workers_.contains(address);
}

}  // namespace sluice
