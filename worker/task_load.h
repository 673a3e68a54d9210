#pragma once

// Where a task's time goes: busy (processing, or held by an operator such
// as a throttle), idle (waiting for input) or backpressured (waiting for
// free output buffers). The task thread calls Enter() at each change; a
// sampler (the worker's heartbeat thread) turns the totals into
// milliseconds per second over the time since its previous Sample().
// Thread-safe.

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/sluice.pb.h"

namespace sluice {

class LoadMeter {
 public:
  enum State { kBusy = 0, kIdle = 1, kBackpressured = 2 };

  LoadMeter();
  void Enter(State state);
  // Busy/idle/backpressured ms per second since the previous sample; the
  // first sample covers the time since construction.
  void Sample(proto::TaskLoad* load);

 private:
  absl::Mutex mu_;
  State state_ ABSL_GUARDED_BY(mu_) = kIdle;
  int64_t since_ns_ ABSL_GUARDED_BY(mu_);
  int64_t total_ns_[3] ABSL_GUARDED_BY(mu_) = {0, 0, 0};
  int64_t sampled_at_ns_ ABSL_GUARDED_BY(mu_);
  int64_t sampled_total_ns_[3] ABSL_GUARDED_BY(mu_) = {0, 0, 0};
};

}  // namespace sluice
