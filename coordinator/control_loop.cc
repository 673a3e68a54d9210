#include "coordinator/control_loop.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "absl/time/clock.h"

namespace sluice {

void ControlThreadChecker::AssertOnControlThread() const {
  if (owner_.load() == std::this_thread::get_id()) return;
  std::ostringstream msg;
  msg << "coordinator state touched on thread " << std::this_thread::get_id()
      << " instead of the control thread " << owner_.load();
  std::fprintf(stderr, "sluice: %s\n", msg.str().c_str());
  std::abort();
}

ControlLoop::ControlLoop(const Clock& clock, int64_t tick_ms) : clock_(clock), tick_ms_(tick_ms) {}

ControlLoop::~ControlLoop() { Stop(); }

void ControlLoop::Start(Work on_tick) {
  on_tick_ = std::move(on_tick);
  thread_ = std::thread([this] { Run(); });
}

void ControlLoop::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool ControlLoop::Post(Work work) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  // Stamped under the lock, so queue order and stamps agree.
  queue_.push_back({clock_.NowMs(), std::move(work)});
  return true;
}

void ControlLoop::Run() {
  checker_.Bind();
  const absl::Duration tick = absl::Milliseconds(tick_ms_);
  absl::Time next_tick = absl::Now() + tick;
  while (true) {
    Item item;
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(this, &ControlLoop::HasWorkOrStopping), next_tick);
      if (!stopping_ && !tick_queued_ && absl::Now() >= next_tick) {
        queue_.push_back({clock_.NowMs(), nullptr});
        tick_queued_ = true;
        next_tick = absl::Now() + tick;
      }
      if (queue_.empty()) {
        if (stopping_) return;
        continue;
      }
      item = std::move(queue_.front());
      queue_.pop_front();
      if (item.work == nullptr) tick_queued_ = false;
    }
    if (item.work != nullptr) {
      item.work(item.posted_ms);
    } else if (on_tick_ != nullptr) {
      on_tick_(item.posted_ms);
    }
  }
}

}  // namespace sluice
