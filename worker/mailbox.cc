#include "worker/mailbox.h"

#include <algorithm>

#include "absl/time/time.h"

namespace sluice {

void Mailbox::Put(absl::AnyInvocable<void()> mail) {
  absl::MutexLock lock(&mu_);
  mail_.push_back(std::move(mail));
}

void Mailbox::Schedule(int64_t due_ms, absl::AnyInvocable<void()> mail) {
  absl::MutexLock lock(&mu_);
  timers_.emplace(due_ms, std::move(mail));
  woken_ = true;  // the task may be waiting past the new due time
}

void Mailbox::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

std::optional<int64_t> Mailbox::NextTimerLocked() const {
  if (timers_.empty()) return std::nullopt;
  return timers_.begin()->first;
}

int Mailbox::RunDue() {
  std::vector<absl::AnyInvocable<void()>> due;
  {
    absl::MutexLock lock(&mu_);
    due.swap(mail_);
    const int64_t now = clock_->NowMs();
    while (!timers_.empty() && timers_.begin()->first <= now) {
      due.push_back(std::move(timers_.begin()->second));
      timers_.erase(timers_.begin());
    }
  }
  for (auto& m : due) m();
  return static_cast<int>(due.size());
}

void Mailbox::WaitUntil(std::optional<int64_t> deadline_ms) {
  absl::MutexLock lock(&mu_);
  std::optional<int64_t> timer = NextTimerLocked();
  if (timer.has_value())
    deadline_ms = deadline_ms.has_value() ? std::min(*deadline_ms, *timer) : timer;
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return woken_ || !mail_.empty(); };
  if (deadline_ms.has_value()) {
    const int64_t wait_ms = *deadline_ms - clock_->NowMs();
    if (wait_ms > 0) mu_.AwaitWithTimeout(absl::Condition(&ready), absl::Milliseconds(wait_ms));
  } else {
    mu_.Await(absl::Condition(&ready));
  }
  woken_ = false;
}

}  // namespace sluice
