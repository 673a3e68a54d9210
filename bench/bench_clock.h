#pragma once

// Time measurements shared by the benchmarks: this process's CPU seconds
// (user + system, all threads) and a monotonic wall clock.

#include <sys/resource.h>

#include <chrono>

namespace sluice::bench {

inline double CpuSeconds() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

inline double WallSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace sluice::bench
