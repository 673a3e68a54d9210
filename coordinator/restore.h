#pragma once

// Finding what a job starts from: `sluice submit --restore SPEC`, and the
// checkpoints of a job that a restarted coordinator takes over.
//
// SPEC is a savepoint name, JOB_ID:N (checkpoint N of job JOB_ID), N (the
// only checkpoint N in the store), or the URI of a _metadata (or of its
// directory) inside the job's checkpoint store.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/sluice.pb.h"
#include "store/object_store.h"

namespace sluice {

// The completed checkpoint or savepoint `spec` names. NotFound lists what
// the store holds.
absl::StatusOr<proto::CheckpointMetadata> ResolveRestore(ObjectStore& store,
                                                         const std::string& spec);

// A snapshot of `metadata` fits `plan`: the same tasks, operators and
// parallelism (restoring at another parallelism is not supported yet).
absl::Status CheckRestoreFits(const proto::ExecutionPlan& plan,
                              const proto::CheckpointMetadata& metadata);

// The completed checkpoints of `job_id` in `store`, oldest first, and the
// highest checkpoint id of any directory (complete or not). A checkpoint
// whose _metadata is there but cannot be read (torn, corrupt) is left out,
// so recovery falls back to the one before it, as when a _metadata is
// missing; `unreadable` says why, one line each. Other errors (the store
// cannot be listed or read) are returned.
struct StoredCheckpoints {
  std::vector<proto::CheckpointMetadata> completed;
  int64_t max_seen_id = 0;
  std::vector<std::string> unreadable;
};
absl::StatusOr<StoredCheckpoints> FindCheckpoints(ObjectStore& store, const std::string& job_id);

// Every state file `metadata` refers to is in `store` with its listed size
// and SHA-256 (each is read once). DataLoss names the first that is not, and
// the checkpoint or savepoint.
absl::Status VerifySnapshotFiles(ObjectStore& store, const proto::CheckpointMetadata& metadata);

// Reads and parses a _metadata object.
absl::StatusOr<proto::CheckpointMetadata> ReadMetadata(ObjectStore& store, const std::string& key);

}  // namespace sluice
