#pragma once

// Limits and defaults of a job's settings. They hold for every graph,
// whether it came from a job file or straight from an API client.

#include <cstdint>

namespace sluice {

inline constexpr int kMaxMaxParallelism = 32768;  // key groups
inline constexpr int kMaxOperators = 10'000;
inline constexpr int64_t kDefaultBufferBytesPerTask = int64_t{8} << 20;
inline constexpr int64_t kMinBufferBytesPerTask = int64_t{64} << 10;
inline constexpr int64_t kMaxBufferBytesPerTask = int64_t{1} << 30;
inline constexpr int64_t kDefaultFlushIntervalMs = 10;
inline constexpr int64_t kMaxFlushIntervalMs = 60'000;
// Durations in operator settings (intervals, jitter, window sizes,
// out-of-orderness) are at most this long.
inline constexpr int64_t kMaxSettingDurationMs = int64_t{366} * 86'400'000;

}  // namespace sluice
