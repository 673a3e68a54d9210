#pragma once

// Per-operator, per-subtask record counters. Updated per batch by the task
// thread; read by the heartbeat thread (atomics) and exported to Prometheus
// as sluice_records_in_total, sluice_records_out_total,
// sluice_dead_letter_records_total and sluice_late_records_total with labels
// job, operator, subtask.

#include <atomic>
#include <cstdint>
#include <string>

#include "prometheus/counter.h"
#include "proto/sluice.pb.h"

namespace sluice {

class OperatorStats {
 public:
  OperatorStats(const std::string& job_id, const std::string& operator_id, int subtask);

  void AddIn(int64_t n);
  void AddOut(int64_t n);
  void AddDeadLetter(int64_t n);
  void AddLate(int64_t n);

  void Snapshot(proto::OperatorMetrics* out) const;

 private:
  std::string operator_id_;
  std::atomic<int64_t> in_{0}, out_{0}, dead_{0}, late_{0};
  prometheus::Counter *in_counter_, *out_counter_, *dead_counter_, *late_counter_;
};

}  // namespace sluice
