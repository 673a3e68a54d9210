#pragma once

// The process-wide directory of input gates, keyed by job, attempt, task
// and subtask, and of the worker addresses this process serves (a channel
// to one of those is local: it skips the network).
//
// A sender may look for a gate before its receiver has deployed (another
// worker may deploy later). WhenGateReady() never blocks: it calls back
// with the gate once it is registered, or with an error once the deadline
// passes; ExpireWaiters() enforces deadlines and is called periodically
// (the worker's heartbeat loop). Callbacks run without the registry lock.
// Thread-safe.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "worker/input_gate.h"

namespace sluice {

struct GateKey {
  std::string job_id;
  int64_t attempt = 0;
  int task = 0;
  int subtask = 0;

  std::string ToString() const;
  std::string Describe() const;  // for messages
};

// How long a sender waits for its receiver to deploy.
inline constexpr int64_t kGateWaitMs = 30'000;

class ExchangeRegistry {
 public:
  using GateCallback = absl::AnyInvocable<void(absl::StatusOr<std::shared_ptr<InputGate>>)>;

  static ExchangeRegistry& Get();

  void RegisterGate(const GateKey& key, std::shared_ptr<InputGate> gate);
  void UnregisterGate(const GateKey& key);
  // Calls `callback` with the gate of `key` as soon as it is registered
  // (possibly before returning), or with DeadlineExceeded once the steady
  // clock passes `deadline_ms`.
  void WhenGateReady(const GateKey& key, int64_t deadline_ms, GateCallback callback);
  // Fails the waiters whose deadline has passed.
  void ExpireWaiters(int64_t now_ms);

  void AddLocalWorker(const std::string& address);
  void RemoveLocalWorker(const std::string& address);
  bool IsLocalWorker(const std::string& address);

 private:
  struct Waiter {
    GateKey key;
    int64_t deadline_ms;
    GateCallback callback;
  };

  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<InputGate>> gates_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::vector<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> local_workers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice
