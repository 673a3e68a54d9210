#pragma once

// Coordinator metrics: sluice_jobs{state} (jobs per state),
// sluice_job_state{job_id} (the job's state as its proto::JobState number:
// 1 CREATED, 2 RUNNING, 3 FINISHED, 4 FAILED, 5 CANCELED, 6 RESTARTING) and
// sluice_workers_registered. Thread-safe.

#include <map>
#include <string>

#include "proto/sluice.pb.h"

namespace sluice {

void SetJobCounts(const std::map<proto::JobState, int>& counts);
void SetJobStateMetric(const std::string& job_id, proto::JobState state);
void SetWorkerCount(int n);
// A completed checkpoint: sluice_checkpoint_last_{id,duration_ms,
// state_bytes,uploaded_bytes,alignment_ms}{job_id} and
// sluice_checkpoints_total{job_id,result="completed"}.
void RecordCheckpointCompleted(const proto::CheckpointMetadata& m);
// sluice_checkpoints_total{job_id,result="aborted"}.
void RecordCheckpointAborted(const std::string& job_id);
// sluice_job_restarts_total{job_id}.
void RecordRestart(const std::string& job_id);

}  // namespace sluice
