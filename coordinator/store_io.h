#pragma once

// Object-store work for the control thread: writing _metadata, deleting
// old checkpoints, reading what a restore needs. It blocks (S3 calls take
// milliseconds to seconds), so it runs on a thread of its own, one item at a
// time in order, and each item's `done` runs on the control thread.
//
// Run: control thread. Unit tests use a fake that runs work when told.

#include <deque>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "coordinator/control_loop.h"

namespace sluice {

class StoreIo {
 public:
  using Work = absl::AnyInvocable<absl::Status()>;
  // Gets the result, and the control loop's time when it was posted.
  using Done = absl::AnyInvocable<void(absl::Status, int64_t now_ms)>;
  virtual ~StoreIo() = default;
  virtual void Run(Work work, Done done) = 0;
};

class ThreadStoreIo final : public StoreIo {
 public:
  // `loop` runs the completions and must outlive this.
  explicit ThreadStoreIo(ControlLoop* loop);
  ~ThreadStoreIo() override;
  void Run(Work work, Done done) override;
  // Finishes the item under way, drops the rest, and ends the thread.
  void Shutdown();

 private:
  struct Item {
    Work work;
    Done done;
  };
  void Loop();

  ControlLoop& loop_;
  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice
