#pragma once

// Per-operator, per-subtask record counters. Updated per batch by the task
// thread; read by the heartbeat thread (atomics) and exported to Prometheus
// as sluice_records_in_total, sluice_records_out_total,
// sluice_dead_letter_records_total, sluice_late_records_total and (windows)
// sluice_window_records_total{disposition="on_time"|"updated"|"late"},
// sluice_duplicates_dropped_total (dedup), with
// labels job_id, attempt, operator, subtask.
//
// Per-task gauges (TaskGauges), set when the worker samples its tasks:
// sluice_task_{busy,idle,backpressured}_ms_per_second, buffer usage
// (sluice_task_{input,output}_buffer_bytes and _capacity_bytes), and per
// output channel sluice_channel_queued_bytes and sluice_channel_credits
// (credit the sender holds), labelled job_id, attempt, task (the chain's
// operator ids), subtask, and for channels target_task, target_subtask.

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "catalog/operator.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "proto/sluice.pb.h"

namespace sluice {

class OperatorStats : public OperatorCounters {
 public:
  OperatorStats(const std::string& job_id, int64_t attempt, const std::string& operator_id,
                int subtask, bool is_window = false);

  void AddIn(int64_t n);
  void AddOut(int64_t n);
  void AddDeadLetter(int64_t n);
  void AddLate(int64_t n);
  // sluice_source_skipped_files_total.
  void AddSkippedFiles(int64_t n) override;
  void AddWindowRecords(int64_t on_time, int64_t updated) override;
  // sluice_duplicates_dropped_total.
  void AddDuplicates(int64_t n) override;

  void Snapshot(proto::OperatorMetrics* out) const;

 private:
  std::string operator_id_;
  const bool is_window_;
  std::atomic<int64_t> in_{0}, out_{0}, dead_{0}, late_{0}, on_time_{0}, updated_{0},
      duplicates_{0};
  prometheus::Counter *in_counter_, *out_counter_, *dead_counter_, *late_counter_;
  // The window dispositions; null for other operators.
  prometheus::Counter *on_time_counter_ = nullptr, *updated_counter_ = nullptr,
                      *window_late_counter_ = nullptr;
  prometheus::Counter* skipped_files_counter_;
  prometheus::Counter* duplicates_counter_;
};

struct ChannelLabel {
  int target_task;
  int target_subtask;
};

class TaskGauges {
 public:
  TaskGauges(const std::string& job_id, int64_t attempt, const std::string& task_name, int subtask,
             const std::vector<ChannelLabel>& channels);

  void SetLoad(const proto::TaskLoad& load);
  void SetChannel(size_t index, int64_t queued_bytes, int credits);
  // A task that ended neither works nor waits.
  void Clear();

 private:
  prometheus::Gauge *busy_, *idle_, *backpressured_;
  prometheus::Gauge *in_bytes_, *in_capacity_, *out_bytes_, *out_capacity_;
  std::vector<prometheus::Gauge*> channel_queued_, channel_credits_;
};

// Checkpoint gauges of a subtask, labelled job_id, attempt, operator,
// subtask: sluice_state_bytes (the operator's state in its latest
// checkpoint: files it refers to and inline state) and sluice_restore_ms
// (the time to download and verify the operator's state at start). The
// gauges live as long as the process.
prometheus::Gauge* StateBytesGauge(const std::string& job_id, int64_t attempt,
                                   const std::string& operator_id, int subtask);
prometheus::Gauge* RestoreMsGauge(const std::string& job_id, int64_t attempt,
                                  const std::string& operator_id, int subtask);

}  // namespace sluice
