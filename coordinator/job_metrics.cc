#include "coordinator/job_metrics.h"

#include <algorithm>

#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"

namespace sluice {
namespace {

prometheus::Family<prometheus::Gauge>& Jobs() {
  static auto* f = &prometheus::BuildGauge()
                        .Name("sluice_jobs")
                        .Help("Jobs by state")
                        .Register(MetricsRegistry());
  return *f;
}

prometheus::Family<prometheus::Gauge>& JobState() {
  static auto* f =
      &prometheus::BuildGauge()
           .Name("sluice_job_state")
           .Help("Job state: 1 CREATED, 2 RUNNING, 3 FINISHED, 4 FAILED, 5 CANCELED, 6 RESTARTING")
           .Register(MetricsRegistry());
  return *f;
}

}  // namespace

void SetJobCounts(const std::map<proto::JobState, int>& counts) {
  for (int s = proto::CREATED; s <= proto::RESTARTING; ++s) {
    auto state = static_cast<proto::JobState>(s);
    auto it = counts.find(state);
    Jobs().Add({{"state", proto::JobState_Name(state)}}).Set(it == counts.end() ? 0 : it->second);
  }
}

void SetJobStateMetric(const std::string& job_id, proto::JobState state) {
  JobState().Add({{"job_id", job_id}}).Set(static_cast<double>(state));
}

void SetWorkerCount(int n) {
  static auto* g = &prometheus::BuildGauge()
                        .Name("sluice_workers_registered")
                        .Help("Workers currently registered with the coordinator")
                        .Register(MetricsRegistry())
                        .Add({});
  g->Set(n);
}

namespace {

prometheus::Gauge& LastCheckpoint(const std::string& what, const std::string& help,
                                  const std::string& job_id) {
  static auto* families = new std::map<std::string, prometheus::Family<prometheus::Gauge>*>;
  static absl::Mutex* mu = new absl::Mutex;
  absl::MutexLock lock(mu);
  auto*& f = (*families)[what];
  if (f == nullptr) {
    f = &prometheus::BuildGauge()
             .Name("sluice_checkpoint_last_" + what)
             .Help(help)
             .Register(MetricsRegistry());
  }
  return f->Add({{"job_id", job_id}});
}

prometheus::Family<prometheus::Counter>& Checkpoints() {
  static auto* f = &prometheus::BuildCounter()
                        .Name("sluice_checkpoints_total")
                        .Help("Checkpoints by result: completed or aborted")
                        .Register(MetricsRegistry());
  return *f;
}

}  // namespace

void RecordCheckpointCompleted(const proto::CheckpointMetadata& m) {
  int64_t alignment = 0;
  for (const auto& s : m.subtasks()) alignment = std::max(alignment, s.alignment_ms());
  const std::string& job = m.job_id();
  LastCheckpoint("id", "Id of the job's latest completed checkpoint", job)
      .Set(static_cast<double>(m.checkpoint_id()));
  LastCheckpoint("duration_ms", "Trigger to _metadata of the latest checkpoint", job)
      .Set(static_cast<double>(m.duration_ms()));
  LastCheckpoint("state_bytes", "State size of the latest checkpoint (all files it refers to)", job)
      .Set(static_cast<double>(m.state_bytes()));
  LastCheckpoint("uploaded_bytes", "Bytes the latest checkpoint uploaded", job)
      .Set(static_cast<double>(m.uploaded_bytes()));
  LastCheckpoint("alignment_ms", "Longest barrier alignment in the latest checkpoint", job)
      .Set(static_cast<double>(alignment));
  Checkpoints().Add({{"job_id", job}, {"result", "completed"}}).Increment();
}

void RecordCheckpointAborted(const std::string& job_id) {
  Checkpoints().Add({{"job_id", job_id}, {"result", "aborted"}}).Increment();
}

void RecordRestart(const std::string& job_id) {
  static auto* f = &prometheus::BuildCounter()
                        .Name("sluice_job_restarts_total")
                        .Help("Times the job restarted from a checkpoint after a failure")
                        .Register(MetricsRegistry());
  f->Add({{"job_id", job_id}}).Increment();
}

}  // namespace sluice
