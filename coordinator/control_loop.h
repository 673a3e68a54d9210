#pragma once

// The coordinator's control thread. One thread makes every change to the
// coordinator's state (worker registry, slot scheduler, job masters), so
// that state needs no locks. Other threads (gRPC handlers, completions of
// RPCs to workers) hand it work with Post(); the thread also runs a tick
// every `tick_ms` (heartbeat expiry, scheduling of waiting jobs).
//
// Work runs in the order it was posted. A tick is queued like other work,
// behind whatever was posted before it. Each item is stamped with the
// injected steady clock when it is posted, on the posting thread: a
// heartbeat's arrival time is taken in the handler that received it, and
// does not depend on how long the item waited in the queue.
//
// Thread safety: Post() may be called from any thread, Stop() from any but
// the control thread (it joins it). Start() once; Stop() is idempotent.

#include <atomic>
#include <cstdint>
#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace sluice {

// Names the thread that owns a group of objects and checks calls against it
// (Flink's validateRunsInMainThread). Bound to the constructing thread until
// Bind() moves it; unit tests keep it on the test thread.
class ControlThreadChecker {
 public:
  ControlThreadChecker() : owner_(std::this_thread::get_id()) {}
  void Bind() { owner_.store(std::this_thread::get_id()); }
  // Aborts with a message when called on any other thread than the owner.
  void AssertOnControlThread() const;

 private:
  std::atomic<std::thread::id> owner_;
};

class ControlLoop {
 public:
  // Work receives the clock's time at which it was posted.
  using Work = absl::AnyInvocable<void(int64_t posted_ms)>;

  ControlLoop(const Clock& clock, int64_t tick_ms);
  ~ControlLoop();

  // Starts the thread; `on_tick` runs on it about every tick_ms, with the
  // clock's time at which the tick was queued.
  void Start(Work on_tick);
  // Refuses new work, runs what is queued, then ends the thread.
  void Stop();
  // Queues `work`. Returns false, dropping it, once Stop() has begun.
  bool Post(Work work);

  const ControlThreadChecker& checker() const { return checker_; }
  const Clock& clock() const { return clock_; }

 private:
  struct Item {
    int64_t posted_ms = 0;
    Work work;  // empty for a tick
  };

  void Run();
  bool HasWorkOrStopping() const ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return stopping_ || !queue_.empty();
  }

  const Clock& clock_;
  const int64_t tick_ms_;
  ControlThreadChecker checker_;
  Work on_tick_;  // touched only by the control thread once started

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool tick_queued_ ABSL_GUARDED_BY(mu_) = false;

  std::thread thread_;
};

}  // namespace sluice
