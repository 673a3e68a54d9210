#pragma once

// Credit-based flow control: the units and the per-task byte budget.
//
// A task's network memory, `network.buffer_bytes_per_task`, is split in
// half. The input half is divided evenly among its input channels; each
// channel's share, counted in buffers of kBufferBytes, is the most credit
// its sender may ever hold plus what the channel may have queued. A frame
// costs its size in buffers (at least one, at most the whole channel), so
// a receiver never holds more than its share per channel. The output half
// bounds the bytes waiting in the task's output channels: a task whose
// output channels hold more stops taking input (a source stops reading)
// until credit lets some of it go.
//
// Every channel gets at least kMinCreditsPerChannel buffers, so a task with
// very many channels may exceed its budget by that floor; the job file
// validation keeps budgets above a sane minimum.

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "common/job_limits.h"  // kDefaultBufferBytesPerTask, kDefaultFlushIntervalMs

namespace sluice {

inline constexpr size_t kBufferBytes = 32 * 1024;
inline constexpr int kMinCreditsPerChannel = 2;
// Output buffers are filled to at most this size before they are sent.
inline constexpr size_t kMaxFrameBytes = 256 * 1024;

// What a frame of `bytes` costs on a channel that holds `capacity` credits.
inline int CreditsFor(size_t bytes, int capacity) {
  const size_t buffers = std::max<size_t>(1, (bytes + kBufferBytes - 1) / kBufferBytes);
  return static_cast<int>(std::min<size_t>(buffers, static_cast<size_t>(capacity)));
}

struct NetworkBudget {
  int64_t buffer_bytes_per_task = kDefaultBufferBytesPerTask;
  int64_t flush_interval_ms = kDefaultFlushIntervalMs;

  // Credits of each input channel of a task with `channels` input channels.
  int CreditsPerInputChannel(int channels) const {
    const int64_t buffers = buffer_bytes_per_task / 2 / static_cast<int64_t>(kBufferBytes);
    return static_cast<int>(
        std::max<int64_t>(kMinCreditsPerChannel, buffers / std::max(1, channels)));
  }
  // Bytes a task may hold in its output channels before it stops taking input.
  int64_t OutputBytes() const { return buffer_bytes_per_task / 2; }
  // Size an output buffer is filled to before it is sent, for a receiver
  // with `receiver_channels` input channels: at most half of that
  // channel's credit, so two frames can be in flight.
  size_t FrameBytes(int receiver_channels) const {
    const size_t half =
        static_cast<size_t>(CreditsPerInputChannel(receiver_channels)) * kBufferBytes / 2;
    return std::clamp(half, kBufferBytes, kMaxFrameBytes);
  }
};

}  // namespace sluice
