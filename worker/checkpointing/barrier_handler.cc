#include "worker/checkpointing/barrier_handler.h"

#include <map>

namespace sluice {
namespace {

// Channels of an input: which delivered the barrier in progress, which ended.
class ChannelSet {
 public:
  explicit ChannelSet(int n) : delivered_(n, false), ended_(n, false) {}

  void Deliver(int channel) { delivered_[channel] = true; }
  void End(int channel) { ended_[channel] = true; }
  void ResetDelivered() { delivered_.assign(delivered_.size(), false); }
  bool Delivered(int channel) const { return delivered_[channel]; }
  // Every channel delivered the barrier or ended.
  bool Complete() const {
    for (size_t i = 0; i < delivered_.size(); ++i) {
      if (!delivered_[i] && !ended_[i]) return false;
    }
    return true;
  }

 private:
  std::vector<bool> delivered_;
  std::vector<bool> ended_;
};

class AlignedBarrierHandler final : public BarrierHandler {
 public:
  AlignedBarrierHandler(int num_channels, ChannelBlocker* gate, const Clock* clock)
      : channels_(num_channels), gate_(*gate), clock_(*clock) {}

  std::optional<AlignedBarrier> OnBarrier(int channel, const CheckpointBarrier& b) override {
    if (b.id <= last_) return std::nullopt;  // aligned or abandoned already
    switch (state_) {
      case State::kWaitingForFirstBarrier:
        Begin(b);
        break;
      case State::kCollectingBarriers:
        if (b.id < current_.id) return std::nullopt;
        if (b.id > current_.id) {
          // current_'s checkpoint was aborted: its blocked channels carry on.
          last_ = current_.id;
          gate_.UnblockAll();
          Begin(b);
        }
        break;
    }
    if (channels_.Delivered(channel)) return std::nullopt;
    channels_.Deliver(channel);
    gate_.Block(channel);
    return CompleteIfAligned();
  }

  std::optional<AlignedBarrier> OnChannelEnded(int channel) override {
    channels_.End(channel);
    return state_ == State::kCollectingBarriers ? CompleteIfAligned() : std::nullopt;
  }

  int64_t last_checkpoint_id() const override { return last_; }

  void Abort(int64_t id) override {
    if (state_ != State::kCollectingBarriers || current_.id > id) return;
    last_ = current_.id;
    state_ = State::kWaitingForFirstBarrier;
    channels_.ResetDelivered();
    gate_.UnblockAll();
  }

 private:
  enum class State { kWaitingForFirstBarrier, kCollectingBarriers };

  void Begin(const CheckpointBarrier& b) {
    state_ = State::kCollectingBarriers;
    current_ = b;
    started_ms_ = clock_.NowMs();
    channels_.ResetDelivered();
  }

  std::optional<AlignedBarrier> CompleteIfAligned() {
    if (!channels_.Complete()) return std::nullopt;
    AlignedBarrier done{current_, clock_.NowMs() - started_ms_};
    last_ = current_.id;
    state_ = State::kWaitingForFirstBarrier;
    channels_.ResetDelivered();
    gate_.UnblockAll();
    return done;
  }

  ChannelSet channels_;
  ChannelBlocker& gate_;
  const Clock& clock_;
  State state_ = State::kWaitingForFirstBarrier;
  CheckpointBarrier current_;  // kCollectingBarriers
  int64_t started_ms_ = 0;
  int64_t last_ = 0;
};

class TrackingBarrierHandler final : public BarrierHandler {
 public:
  TrackingBarrierHandler(int num_channels, const Clock* clock)
      : num_channels_(num_channels), ended_(num_channels, false), clock_(*clock) {}

  std::optional<AlignedBarrier> OnBarrier(int channel, const CheckpointBarrier& b) override {
    if (b.id <= last_) return std::nullopt;
    auto [it, inserted] = pending_.try_emplace(b.id, Pending{b, clock_.NowMs(), {}});
    Pending& p = it->second;
    if (inserted) p.delivered.assign(num_channels_, false);
    p.delivered[channel] = true;
    return CompleteIfTracked(it);
  }

  std::optional<AlignedBarrier> OnChannelEnded(int channel) override {
    ended_[channel] = true;
    // The newest pending barrier that is now complete wins; older ones go.
    for (auto it = pending_.rbegin(); it != pending_.rend(); ++it) {
      if (std::optional<AlignedBarrier> done = CompleteIfTracked(std::prev(it.base()))) {
        return done;
      }
    }
    return std::nullopt;
  }

  int64_t last_checkpoint_id() const override { return last_; }

  void Abort(int64_t id) override {
    pending_.erase(pending_.begin(), pending_.upper_bound(id));
    last_ = std::max(last_, id);
  }

 private:
  struct Pending {
    CheckpointBarrier barrier;
    int64_t first_ms = 0;
    std::vector<bool> delivered;
  };

  std::optional<AlignedBarrier> CompleteIfTracked(std::map<int64_t, Pending>::iterator it) {
    const Pending& p = it->second;
    for (int c = 0; c < num_channels_; ++c) {
      if (!p.delivered[c] && !ended_[c]) return std::nullopt;
    }
    AlignedBarrier done{p.barrier, clock_.NowMs() - p.first_ms};
    last_ = p.barrier.id;
    // Older checkpoints never complete here: their barriers were overtaken.
    pending_.erase(pending_.begin(), std::next(it));
    return done;
  }

  const int num_channels_;
  std::vector<bool> ended_;
  const Clock& clock_;
  std::map<int64_t, Pending> pending_;  // by checkpoint id
  int64_t last_ = 0;
};

}  // namespace

std::unique_ptr<BarrierHandler> MakeAlignedBarrierHandler(int num_channels, ChannelBlocker* gate,
                                                          const Clock* clock) {
  return std::make_unique<AlignedBarrierHandler>(num_channels, gate, clock);
}

std::unique_ptr<BarrierHandler> MakeTrackingBarrierHandler(int num_channels, const Clock* clock) {
  return std::make_unique<TrackingBarrierHandler>(num_channels, clock);
}

}  // namespace sluice
