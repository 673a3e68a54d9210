#pragma once

// A task's mailbox: how other threads reach a task thread. Control actions
// (cancel, trigger a checkpoint, notify that one completed) are posted as
// mail and run on the task thread between batches; processing-time timers
// are mail with a due time. Wake() tells the task thread that something it
// waits for (input data, output credit) may have changed.
//
// Put/Schedule/Wake: any thread. RunDue/WaitUntil: the task thread only.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace sluice {

class Mailbox {
 public:
  explicit Mailbox(const Clock* clock = &Clock::Steady()) : clock_(clock) {}

  void Put(absl::AnyInvocable<void()> mail);
  // Runs `mail` once the clock reaches `due_ms`.
  void Schedule(int64_t due_ms, absl::AnyInvocable<void()> mail);
  void Wake();

  // Runs every mail whose time has come, in order of arrival (timers by due
  // time). Returns how many ran.
  int RunDue();
  // Blocks until mail arrives, Wake() is called, a timer falls due, or
  // `deadline_ms` (clock time; nullopt: no deadline) passes.
  void WaitUntil(std::optional<int64_t> deadline_ms);

 private:
  std::optional<int64_t> NextTimerLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Clock* clock_;
  absl::Mutex mu_;
  std::vector<absl::AnyInvocable<void()>> mail_ ABSL_GUARDED_BY(mu_);
  std::multimap<int64_t, absl::AnyInvocable<void()>> timers_ ABSL_GUARDED_BY(mu_);
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace sluice
