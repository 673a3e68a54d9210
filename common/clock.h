#pragma once

// Time sources. Everything that measures intervals (heartbeats, timeouts,
// rates, flush intervals) reads a Clock, never the wall clock, so a wall
// clock step cannot declare a worker lost, and unit tests can drive time by
// hand with ManualClock.

#include <atomic>
#include <cstdint>

namespace sluice {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic milliseconds from an arbitrary origin. Thread-safe.
  virtual int64_t NowMs() const = 0;

  // The process's real steady clock.
  static const Clock& Steady();
};

// A clock that moves only when told to. Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(int64_t start_ms = 1'000'000) : now_(start_ms) {}
  int64_t NowMs() const override { return now_.load(); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }
  void Set(int64_t ms) { now_.store(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace sluice
