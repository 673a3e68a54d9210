#pragma once

// The input side of a task: one queue per input channel (one channel per
// upstream sender subtask), bounded by credit.
//
// A sender attaches to its channel and receives the channel's whole
// capacity as credit; it may deliver a frame only against credit, and the
// gate hands the credit back, through the channel's CreditListener, when
// the task takes the frame. So a channel never holds more than its
// capacity, and Deliver never blocks: a sender that would exceed its
// credit is a protocol error. Control events (watermarks, end of stream)
// cost no credit; consecutive watermarks with no data between them are
// merged, which keeps their number bounded too.
//
// The gate merges per-channel watermarks (minimum across the channels that
// are not idle, see kIdleWatermark; when all are idle, the maximum, and
// then kIdleWatermark itself, which the task passes on; an
// ended channel counts as +infinity) and reports the end of input when
// every channel has delivered end of stream. Each arrival wakes the task's
// mailbox.
//
// Checkpoint barriers come out as they arrive, with their channel; what to
// do with them is the task's barrier handler's choice
// (worker/checkpointing/barrier_handler.h), which may hold channels back
// (Block): a blocked channel's elements stay queued until UnblockAll.
// Each channel's end of stream comes out too (kChannelEnded), before the
// end of input (kEnd) once every channel has ended.
//
// Deliver/Attach/Fail/Close: any thread. Poll: the task thread.
// Listeners are called without the gate's lock held.

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "catalog/operator.h"  // kIdleWatermark
#include "worker/checkpointing/barrier_handler.h"
#include "worker/mailbox.h"
#include "worker/stream_element.h"

namespace sluice {

// The sending end of one input channel, as the gate sees it.
class CreditListener {
 public:
  virtual ~CreditListener() = default;
  // The task took frames worth `credits` buffers off the channel.
  virtual void OnCredit(int credits) = 0;
  // The receiving task ended or failed; no more credit will come.
  virtual void OnGateClosed(const absl::Status& reason) = 0;
};

class InputGate final : public ChannelBlocker {
 public:
  InputGate(int num_channels, int credits_per_channel, std::shared_ptr<Mailbox> mailbox);

  // Connects the sender of `channel`; returns its initial credit.
  absl::StatusOr<int> Attach(int channel, std::shared_ptr<CreditListener> listener);
  // Queues a frame that costs `credits` (0 for control events).
  absl::Status Deliver(int channel, StreamElement element, int credits);
  // A channel broke: the task's next Poll returns `reason`.
  void Fail(absl::Status reason);
  // The task ended: senders hear `reason`, later deliveries fail.
  void Close(absl::Status reason);

  struct Event {
    enum class Kind { kBatch, kWatermark, kBarrier, kChannelEnded, kEnd };
    static Event Of(Kind kind) {
      Event e;
      e.kind = kind;
      return e;
    }
    Kind kind = Kind::kEnd;
    Batch batch;
    int64_t watermark = 0;
    CheckpointBarrier barrier;  // kBarrier
    int channel = 0;            // kBarrier, kChannelEnded
  };
  // The next batch, advanced combined watermark, barrier, end of a channel,
  // or end of input; nullopt when nothing is ready; an error once the gate
  // failed or closed.
  absl::StatusOr<std::optional<Event>> Poll();

  // ChannelBlocker (task thread):
  void Block(int channel) override;
  void UnblockAll() override;

  int num_channels() const { return num_channels_; }
  int credits_per_channel() const { return capacity_; }
  // Buffers queued over all channels (for metrics). Any thread.
  int64_t QueuedCredits() const;

 private:
  struct Queued {
    StreamElement element;
    int credits;
  };
  struct Channel {
    std::deque<Queued> queue;
    int queued_credits = 0;
    int64_t watermark = INT64_MIN;
    bool idle = false;  // kIdleWatermark came last: left out of the minimum
    bool ended = false;
    bool blocked = false;  // held back by the barrier handler
    std::shared_ptr<CreditListener> listener;
  };

  // The combined watermark, when it advanced (or every channel went idle).
  std::optional<Event> CombineWatermarks() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<Channel> channels_ ABSL_GUARDED_BY(mu_);
  int open_channels_ ABSL_GUARDED_BY(mu_);
  int64_t combined_watermark_ ABSL_GUARDED_BY(mu_) = INT64_MIN;
  // Every open channel is idle: the gate has handed out kIdleWatermark (or
  // will, at the next poll), so that the task's outputs say so too.
  bool reported_idle_ ABSL_GUARDED_BY(mu_) = false;
  bool idle_next_ ABSL_GUARDED_BY(mu_) = false;
  bool recombine_ ABSL_GUARDED_BY(mu_) = false;  // a channel ended
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;         // round-robin start, for fairness
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  const int capacity_;
  const int num_channels_;
  const std::shared_ptr<Mailbox> mailbox_;
};

}  // namespace sluice
