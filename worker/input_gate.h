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
// Checkpoint barriers are aligned: once a channel delivered barrier n, the
// gate holds back that channel's later elements until every channel has
// delivered barrier n (or ended); then it reports the barrier, once, and
// releases them. So everything the task took before the barrier event is
// before barrier n on every channel, and nothing after it. A barrier newer
// than the one being aligned abandons that alignment (its checkpoint was
// aborted) and starts its own; an older or repeated one is ignored.
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
#include "common/clock.h"
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

class InputGate {
 public:
  InputGate(int num_channels, int credits_per_channel, std::shared_ptr<Mailbox> mailbox,
            const Clock* clock = &Clock::Steady());

  // Connects the sender of `channel`; returns its initial credit.
  absl::StatusOr<int> Attach(int channel, std::shared_ptr<CreditListener> listener);
  // Queues a frame that costs `credits` (0 for control events).
  absl::Status Deliver(int channel, StreamElement element, int credits);
  // A channel broke: the task's next Poll returns `reason`.
  void Fail(absl::Status reason);
  // The task ended: senders hear `reason`, later deliveries fail.
  void Close(absl::Status reason);

  struct Event {
    enum class Kind { kBatch, kWatermark, kBarrier, kEnd };
    static Event Of(Kind kind) {
      Event e;
      e.kind = kind;
      return e;
    }
    Kind kind = Kind::kEnd;
    Batch batch;
    int64_t watermark = 0;
    CheckpointBarrier barrier;  // kBarrier: aligned on every channel
    int64_t alignment_ms = 0;   // kBarrier: from its first arrival to its last
  };
  // The next batch, advanced combined watermark, aligned barrier, or end of
  // input; nullopt when nothing is ready; an error once the gate failed or
  // closed.
  absl::StatusOr<std::optional<Event>> Poll();

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
    bool blocked = false;  // delivered the barrier being aligned
    std::shared_ptr<CreditListener> listener;
  };
  struct Alignment {
    CheckpointBarrier barrier;
    int64_t started_ms = 0;
  };

  // Takes barrier `b` from `channel`; returns the event when it completes
  // an alignment.
  std::optional<Event> OnBarrier(Channel& channel, CheckpointBarrier b)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The aligned barrier, once every channel delivered it or ended.
  std::optional<Event> AlignmentDone() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unblock() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<Channel> channels_ ABSL_GUARDED_BY(mu_);
  int open_channels_ ABSL_GUARDED_BY(mu_);
  int64_t combined_watermark_ ABSL_GUARDED_BY(mu_) = INT64_MIN;
  // Every open channel is idle: the gate has handed out kIdleWatermark (or
  // will, at the next poll), so that the task's outputs say so too.
  bool reported_idle_ ABSL_GUARDED_BY(mu_) = false;
  bool idle_next_ ABSL_GUARDED_BY(mu_) = false;
  size_t next_ ABSL_GUARDED_BY(mu_) = 0;  // round-robin start, for fairness
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  std::optional<Alignment> aligning_ ABSL_GUARDED_BY(mu_);
  int64_t last_barrier_ ABSL_GUARDED_BY(mu_) = 0;  // highest aligned or abandoned
  const Clock* clock_;
  const int capacity_;
  const int num_channels_;
  const std::shared_ptr<Mailbox> mailbox_;
};

}  // namespace sluice
