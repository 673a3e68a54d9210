#pragma once

// Coordinator metrics: sluice_jobs{state} (jobs per state),
// sluice_job_state{job_id} (the job's state as its proto::JobState number:
// 1 CREATED, 2 RUNNING, 3 FINISHED, 4 FAILED, 5 CANCELED) and
// sluice_workers_registered. Thread-safe.

#include <map>
#include <string>

#include "proto/sluice.pb.h"

namespace sluice {

void SetJobCounts(const std::map<proto::JobState, int>& counts);
void SetJobStateMetric(const std::string& job_id, proto::JobState state);
void SetWorkerCount(int n);

}  // namespace sluice
