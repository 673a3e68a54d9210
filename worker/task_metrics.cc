#include "worker/task_metrics.h"

#include "absl/strings/str_cat.h"
#include "common/metrics.h"

namespace sluice {
namespace {

struct Families {
  prometheus::Family<prometheus::Counter>* in;
  prometheus::Family<prometheus::Counter>* out;
  prometheus::Family<prometheus::Counter>* dead;
  prometheus::Family<prometheus::Counter>* late;
};

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
    };
  }();
  return *f;
}

}  // namespace

OperatorStats::OperatorStats(const std::string& job_id, const std::string& operator_id, int subtask)
    : operator_id_(operator_id) {
  const Families& f = GetFamilies();
  std::map<std::string, std::string> labels{
      {"job_id", job_id}, {"operator", operator_id}, {"subtask", absl::StrCat(subtask)}};
  in_counter_ = &f.in->Add(labels);
  out_counter_ = &f.out->Add(labels);
  dead_counter_ = &f.dead->Add(labels);
  late_counter_ = &f.late->Add(labels);
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
void OperatorStats::AddLate(int64_t n) {
  late_.fetch_add(n, std::memory_order_relaxed);
  late_counter_->Increment(static_cast<double>(n));
}

void OperatorStats::Snapshot(proto::OperatorMetrics* out) const {
  out->set_operator_id(operator_id_);
  out->set_records_in(in_.load(std::memory_order_relaxed));
  out->set_records_out(out_.load(std::memory_order_relaxed));
  out->set_dead_letter(dead_.load(std::memory_order_relaxed));
  out->set_late(late_.load(std::memory_order_relaxed));
}

}  // namespace sluice
