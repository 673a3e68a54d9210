#include "coordinator/job_metrics.h"

#include "common/metrics.h"
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
  static auto* f = &prometheus::BuildGauge()
                        .Name("sluice_job_state")
                        .Help("Job state: 1 CREATED, 2 RUNNING, 3 FINISHED, 4 FAILED, 5 CANCELED")
                        .Register(MetricsRegistry());
  return *f;
}

}  // namespace

void SetJobCounts(const std::map<proto::JobState, int>& counts) {
  for (int s = proto::CREATED; s <= proto::CANCELED; ++s) {
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

}  // namespace sluice
