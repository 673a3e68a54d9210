#pragma once

// What a task with inputs does with the checkpoint barriers that arrive on
// its channels: a strategy, kept outside the input gate (which holds only
// queues, credit and watermarks). Flink's CheckpointBarrierHandler and
// BarrierHandlerState are the model.
//
// - Aligned (exactly-once): once a channel delivered barrier n, its later
//   elements are held back until every channel has delivered barrier n or
//   ended; then the task snapshots. So the snapshot holds every record
//   before barrier n on every channel, and none after it. A small state
//   machine: waiting for the first barrier, then collecting barriers.
// - Tracking (at-least-once): no channel is ever held back; the task
//   snapshots once every channel delivered barrier n or ended. Records that
//   came after barrier n on a fast channel are in the snapshot too, so a
//   restore may process them again.
// An unaligned strategy (barriers overtaking buffered data) would be a
// third implementation.
//
// In both, a barrier newer than the one in progress abandons it (its
// checkpoint was aborted: some upstream task never forwarded it), and an
// older or repeated one is ignored.
//
// Thread: the task thread only.

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "common/clock.h"
#include "worker/stream_element.h"

namespace sluice {

// The gate's side of alignment: holding channels back.
class ChannelBlocker {
 public:
  virtual ~ChannelBlocker() = default;
  // Elements of `channel` wait in its queue (and use its credit) until
  // UnblockAll().
  virtual void Block(int channel) = 0;
  virtual void UnblockAll() = 0;
};

// A barrier that every channel delivered: the task snapshots for it now.
struct AlignedBarrier {
  CheckpointBarrier barrier;
  int64_t alignment_ms = 0;  // from its first arrival to its last
};

class BarrierHandler {
 public:
  virtual ~BarrierHandler() = default;
  virtual std::optional<AlignedBarrier> OnBarrier(int channel,
                                                  const CheckpointBarrier& barrier) = 0;
  // `channel` delivered end of stream: it takes part in no later barrier.
  virtual std::optional<AlignedBarrier> OnChannelEnded(int channel) = 0;
  // Checkpoint `id` was aborted: channels held back for it carry on.
  virtual void Abort(int64_t id) = 0;
  // The highest checkpoint id that completed here or was abandoned; 0: none.
  virtual int64_t last_checkpoint_id() const = 0;
};

std::unique_ptr<BarrierHandler> MakeAlignedBarrierHandler(int num_channels, ChannelBlocker* gate,
                                                          const Clock* clock);
std::unique_ptr<BarrierHandler> MakeTrackingBarrierHandler(int num_channels, const Clock* clock);

}  // namespace sluice
