#include "worker/task_metrics.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"

namespace sluice {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>* in;
  prometheus::Family<prometheus::Counter>* out;
  prometheus::Family<prometheus::Counter>* dead;
  prometheus::Family<prometheus::Counter>* late;
  prometheus::Family<prometheus::Counter>* skipped_files;
  prometheus::Family<prometheus::Counter>* window_records;
  prometheus::Family<prometheus::Counter>* duplicates;
};

struct GaugeFamilies {
  prometheus::Family<prometheus::Gauge>* busy;
  prometheus::Family<prometheus::Gauge>* idle;
  prometheus::Family<prometheus::Gauge>* backpressured;
  prometheus::Family<prometheus::Gauge>* in_bytes;
  prometheus::Family<prometheus::Gauge>* in_capacity;
  prometheus::Family<prometheus::Gauge>* out_bytes;
  prometheus::Family<prometheus::Gauge>* out_capacity;
  prometheus::Family<prometheus::Gauge>* channel_queued;
  prometheus::Family<prometheus::Gauge>* channel_credits;
};

prometheus::Family<prometheus::Gauge>* Gauge(const char* name, const char* help) {
  return &prometheus::BuildGauge().Name(name).Help(help).Register(MetricsRegistry());
}

const GaugeFamilies& GetGaugeFamilies() {
  static const GaugeFamilies* f = new GaugeFamilies{
      Gauge("sluice_task_busy_ms_per_second",
            "Milliseconds per second a task spent processing (or held by a throttle)"),
      Gauge("sluice_task_idle_ms_per_second", "Milliseconds per second a task waited for input"),
      Gauge("sluice_task_backpressured_ms_per_second",
            "Milliseconds per second a task waited for free output buffers"),
      Gauge("sluice_task_input_buffer_bytes", "Bytes queued in a task's input channels"),
      Gauge("sluice_task_input_buffer_capacity_bytes", "Capacity of a task's input channels"),
      Gauge("sluice_task_output_buffer_bytes", "Bytes waiting in a task's output channels"),
      Gauge("sluice_task_output_buffer_capacity_bytes",
            "Output bytes at which a task stops taking input"),
      Gauge("sluice_channel_queued_bytes", "Bytes queued or in flight on an output channel"),
      Gauge("sluice_channel_credits", "Credits (32 KiB buffers) a sender holds on a channel"),
  };
  return *f;
}

const Families& GetFamilies() {
  static const Families* f = [] {
    auto& r = MetricsRegistry();
    return new Families{
        &prometheus::BuildCounter()
             .Name("sluice_records_in_total")
             .Help("Records received by an operator")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_records_out_total")
             .Help("Records emitted on an operator's main output")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_dead_letter_records_total")
             .Help("Malformed records routed to a dead-letter output")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_late_records_total")
             .Help("Records later than their window, routed to the late output")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_source_skipped_files_total")
             .Help("Entries of a file_source directory not read: hidden files, subdirectories, "
                   "broken links (counted by subtask 0)")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_window_records_total")
             .Help("A window's input records by disposition: on_time (before the window "
                   "fired), updated (after, within the allowed lateness), late (to the late "
                   "output)")
             .Register(r),
        &prometheus::BuildCounter()
             .Name("sluice_duplicates_dropped_total")
             .Help("Records a dedup operator dropped because it had seen their key within its "
                   "ttl")
             .Register(r),
    };
  }();
  return *f;
}

}  // namespace

OperatorStats::OperatorStats(const std::string& job_id, int64_t attempt,
                             const std::string& operator_id, int subtask, bool is_window)
    : operator_id_(operator_id), is_window_(is_window) {
  const Families& f = GetFamilies();
  std::map<std::string, std::string> labels{{"job_id", job_id},
                                            {"attempt", absl::StrCat(attempt)},
                                            {"operator", operator_id},
                                            {"subtask", absl::StrCat(subtask)}};
  in_counter_ = &f.in->Add(labels);
  out_counter_ = &f.out->Add(labels);
  dead_counter_ = &f.dead->Add(labels);
  late_counter_ = &f.late->Add(labels);
  skipped_files_counter_ = &f.skipped_files->Add(labels);
  duplicates_counter_ = &f.duplicates->Add(labels);
  if (is_window_) {
    auto with = [&](const char* disposition) {
      std::map<std::string, std::string> l = labels;
      l["disposition"] = disposition;
      return &f.window_records->Add(l);
    };
    on_time_counter_ = with("on_time");
    updated_counter_ = with("updated");
    window_late_counter_ = with("late");
  }
}

void OperatorStats::AddIn(int64_t n) {
  in_.fetch_add(n, std::memory_order_relaxed);
  in_counter_->Increment(static_cast<double>(n));
}
void OperatorStats::AddOut(int64_t n) {
  out_.fetch_add(n, std::memory_order_relaxed);
  out_counter_->Increment(static_cast<double>(n));
}
void OperatorStats::AddDeadLetter(int64_t n) {
  dead_.fetch_add(n, std::memory_order_relaxed);
  dead_counter_->Increment(static_cast<double>(n));
}
void OperatorStats::AddSkippedFiles(int64_t n) {
  skipped_files_counter_->Increment(static_cast<double>(n));
}
void OperatorStats::AddLate(int64_t n) {
  late_.fetch_add(n, std::memory_order_relaxed);
  late_counter_->Increment(static_cast<double>(n));
  if (window_late_counter_ != nullptr) window_late_counter_->Increment(static_cast<double>(n));
}
void OperatorStats::AddWindowRecords(int64_t on_time, int64_t updated) {
  on_time_.fetch_add(on_time, std::memory_order_relaxed);
  updated_.fetch_add(updated, std::memory_order_relaxed);
  if (on_time_counter_ == nullptr) return;
  on_time_counter_->Increment(static_cast<double>(on_time));
  updated_counter_->Increment(static_cast<double>(updated));
}

void OperatorStats::AddDuplicates(int64_t n) {
  duplicates_.fetch_add(n, std::memory_order_relaxed);
  duplicates_counter_->Increment(static_cast<double>(n));
}

void OperatorStats::Snapshot(proto::OperatorMetrics* out) const {
  out->set_operator_id(operator_id_);
  out->set_records_in(in_.load(std::memory_order_relaxed));
  out->set_records_out(out_.load(std::memory_order_relaxed));
  out->set_dead_letter(dead_.load(std::memory_order_relaxed));
  out->set_late(late_.load(std::memory_order_relaxed));
  out->set_on_time(on_time_.load(std::memory_order_relaxed));
  out->set_updated(updated_.load(std::memory_order_relaxed));
  out->set_duplicates(duplicates_.load(std::memory_order_relaxed));
}

}  // namespace sluice

namespace sluice {

TaskGauges::TaskGauges(const std::string& job_id, int64_t attempt, const std::string& task_name,
                       int subtask, const std::vector<ChannelLabel>& channels) {
  const GaugeFamilies& f = GetGaugeFamilies();
  std::map<std::string, std::string> labels{{"job_id", job_id},
                                            {"attempt", absl::StrCat(attempt)},
                                            {"task", task_name},
                                            {"subtask", absl::StrCat(subtask)}};
  busy_ = &f.busy->Add(labels);
  idle_ = &f.idle->Add(labels);
  backpressured_ = &f.backpressured->Add(labels);
  in_bytes_ = &f.in_bytes->Add(labels);
  in_capacity_ = &f.in_capacity->Add(labels);
  out_bytes_ = &f.out_bytes->Add(labels);
  out_capacity_ = &f.out_capacity->Add(labels);
  for (const ChannelLabel& c : channels) {
    auto l = labels;
    l["target_task"] = absl::StrCat(c.target_task);
    l["target_subtask"] = absl::StrCat(c.target_subtask);
    channel_queued_.push_back(&f.channel_queued->Add(l));
    channel_credits_.push_back(&f.channel_credits->Add(l));
  }
}

void TaskGauges::SetLoad(const proto::TaskLoad& load) {
  busy_->Set(load.busy_ms_per_s());
  idle_->Set(load.idle_ms_per_s());
  backpressured_->Set(load.backpressured_ms_per_s());
  in_bytes_->Set(static_cast<double>(load.input_queued_bytes()));
  in_capacity_->Set(static_cast<double>(load.input_capacity_bytes()));
  out_bytes_->Set(static_cast<double>(load.output_queued_bytes()));
  out_capacity_->Set(static_cast<double>(load.output_capacity_bytes()));
}

void TaskGauges::SetChannel(size_t index, int64_t queued_bytes, int credits) {
  channel_queued_[index]->Set(static_cast<double>(queued_bytes));
  channel_credits_[index]->Set(credits);
}

void TaskGauges::Clear() {
  for (auto* g : {busy_, idle_, backpressured_, in_bytes_, out_bytes_}) g->Set(0);
  for (auto* g : channel_queued_) g->Set(0);
  for (auto* g : channel_credits_) g->Set(0);
}

namespace {

prometheus::Gauge* OperatorGauge(const char* name, const char* help, const std::string& job_id,
                                 int64_t attempt, const std::string& operator_id, int subtask) {
  static absl::Mutex* mu = new absl::Mutex;
  static auto* families = new std::map<std::string, prometheus::Family<prometheus::Gauge>*>;
  prometheus::Family<prometheus::Gauge>* f;
  {
    absl::MutexLock lock(mu);
    auto*& slot = (*families)[name];
    if (slot == nullptr) {
      slot = &prometheus::BuildGauge().Name(name).Help(help).Register(MetricsRegistry());
    }
    f = slot;
  }
  return &f->Add({{"job_id", job_id},
                  {"attempt", absl::StrCat(attempt)},
                  {"operator", operator_id},
                  {"subtask", absl::StrCat(subtask)}});
}

}  // namespace

prometheus::Gauge* StateBytesGauge(const std::string& job_id, int64_t attempt,
                                   const std::string& operator_id, int subtask) {
  return OperatorGauge("sluice_state_bytes",
                       "Size of the operator's state in the subtask's latest checkpoint", job_id,
                       attempt, operator_id, subtask);
}

prometheus::Gauge* RestoreMsGauge(const std::string& job_id, int64_t attempt,
                                  const std::string& operator_id, int subtask) {
  return OperatorGauge("sluice_restore_ms",
                       "Time the subtask took to download and verify the operator's state", job_id,
                       attempt, operator_id, subtask);
}

}  // namespace sluice
