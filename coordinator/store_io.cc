#include "coordinator/store_io.h"

namespace sluice {

ThreadStoreIo::ThreadStoreIo(ControlLoop* loop) : loop_(*loop), thread_([this] { Loop(); }) {}

ThreadStoreIo::~ThreadStoreIo() { Shutdown(); }

void ThreadStoreIo::Run(Work work, Done done) {
  absl::MutexLock lock(&mu_);
  if (!stopping_) queue_.push_back({std::move(work), std::move(done)});
}

void ThreadStoreIo::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    queue_.clear();
  }
  if (thread_.joinable()) thread_.join();
}

void ThreadStoreIo::Loop() {
  while (true) {
    Item item;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ThreadStoreIo* io) ABSL_EXCLUSIVE_LOCKS_REQUIRED(io->mu_) {
            return io->stopping_ || !io->queue_.empty();
          },
          this));
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
    }
    absl::Status result = item.work();
    loop_.Post(
        [done = std::move(item.done), result](int64_t now_ms) mutable { done(result, now_ms); });
  }
}

}  // namespace sluice
