#include "worker/task_load.h"

#include <chrono>

namespace sluice {
namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LoadMeter::LoadMeter() : since_ns_(NowNs()), sampled_at_ns_(since_ns_) {}

void LoadMeter::Enter(State state) {
  const int64_t now = NowNs();
  absl::MutexLock lock(&mu_);
  total_ns_[state_] += now - since_ns_;
  since_ns_ = now;
  state_ = state;
}

void LoadMeter::Sample(proto::TaskLoad* load) {
  const int64_t now = NowNs();
  double ms_per_s[3];
  {
    absl::MutexLock lock(&mu_);
    total_ns_[state_] += now - since_ns_;
    since_ns_ = now;
    const double interval = static_cast<double>(now - sampled_at_ns_);
    for (int s = 0; s < 3; ++s) {
      const double spent = static_cast<double>(total_ns_[s] - sampled_total_ns_[s]);
      ms_per_s[s] = interval > 0 ? 1000.0 * spent / interval : 0;
      sampled_total_ns_[s] = total_ns_[s];
    }
    sampled_at_ns_ = now;
  }
  load->set_busy_ms_per_s(ms_per_s[kBusy]);
  load->set_idle_ms_per_s(ms_per_s[kIdle]);
  load->set_backpressured_ms_per_s(ms_per_s[kBackpressured]);
}

}  // namespace sluice
