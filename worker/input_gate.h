#pragma once

// The input side of a task: one bounded queue per input channel (one channel
// per upstream sender subtask). Senders — local tasks or the Exchange RPC
// handler for remote ones — block in Push while their channel's queue is
// full, which is how a slow task slows its producers. The task thread Polls.
//
// The gate also merges per-channel watermarks (minimum across channels; an
// ended channel counts as +infinity) and reports end of input when every
// channel has delivered end-of-stream. Thread-safe.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/batch.h"

namespace sluice {

struct StreamElement {
  enum class Kind { kBatch, kWatermark, kEndOfStream };
  Kind kind = Kind::kBatch;
  Batch batch;
  int64_t watermark = 0;

  static StreamElement Records(Batch b) { return {Kind::kBatch, std::move(b), 0}; }
  static StreamElement Watermark(int64_t wm) { return {Kind::kWatermark, Batch(), wm}; }
  static StreamElement EndOfStream() { return {Kind::kEndOfStream, Batch(), 0}; }
};

class InputGate {
 public:
  InputGate(int num_channels, size_t capacity_per_channel);

  // Blocks while the channel's queue is full. Fails once the gate is closed.
  absl::Status Push(int channel, StreamElement element);
  // Marks the channel failed: the task's next Poll returns `reason`.
  void Fail(absl::Status reason);
  // Wakes every blocked Push/Poll with an error; used on cancellation and
  // when the task ends.
  void Close(absl::Status reason);

  // What the task thread sees next.
  struct Event {
    enum class Kind { kBatch, kWatermark, kEnd };
    Kind kind;
    Batch batch;
    int64_t watermark = 0;
  };
  // Blocks until a batch, an advanced combined watermark, or the end of all
  // channels; an error if the gate failed or was closed.
  absl::StatusOr<Event> Poll();

  int num_channels() const { return num_channels_; }

 private:
  absl::Mutex mu_;
  std::vector<std::deque<StreamElement>> queues_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> watermarks_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> ended_ ABSL_GUARDED_BY(mu_);
  int open_channels_ ABSL_GUARDED_BY(mu_);
  int64_t combined_watermark_ ABSL_GUARDED_BY(mu_);
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // round-robin start for fairness
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  const size_t capacity_;
  const int num_channels_;
};

}  // namespace sluice
