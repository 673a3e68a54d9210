#pragma once

// The job file: YAML spelling of proto::JobGraph, and the static checks that
// run before a job is accepted (at `sluice submit`/`run` and again at the
// coordinator). Errors name the file, line, operator and field. Operators
// are read and checked by their kinds, from the built-in catalog
// (builtin_kinds.h).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/job_limits.h"
#include "proto/sluice.pb.h"

namespace sluice {

// Reads and parses `path`; relative paths inside are resolved against the
// job file's directory. Adds the sinks of unread side outputs
// (AddSideOutputSinks). Validates the result.
absl::StatusOr<proto::JobGraph> LoadJobFile(const std::string& path);

// Parses YAML text. `file_name` is used in messages; relative paths are
// resolved against `base_dir` (unchanged when empty).
absl::StatusOr<proto::JobGraph> ParseJobYaml(std::string_view yaml, const std::string& file_name,
                                             const std::string& base_dir);

// Gives every side output that no operator reads (a dead_letter or late
// output) a file_sink of its own (OperatorSpec::implicit), under
// side_outputs.path/<op>.<port>, so its records are kept: unless
// side_outputs.discard. The default path is `side_outputs` beside the
// first file_sink's directory, or in `base_dir` when there is none.
// Called by LoadJobFile; an error when an operator already has the id
// such a sink takes (<op>:<port>).
absl::Status AddSideOutputSinks(const std::string& base_dir, proto::JobGraph* graph);

// Graph checks: unique ids, known kinds whose settings are their own,
// known inputs and ports, no cycles, the kinds' own checks (settings in
// range, expressions that type-check against the input schema, ...), and
// that every number is in range (max_parallelism, parallelism, network
// settings), since API clients may send graphs that no job file could
// spell. Zero in max_parallelism and in the
// network settings means the default (FillJobDefaults).
absl::Status ValidateJobGraph(const proto::JobGraph& graph);

// Moves the settings of a graph written before the operator catalog (in
// OperatorSpec's old oneof fields, now unknown fields) into
// OperatorSpec::config. A graph of this build is left as it is. Plans in a
// coordinator's HA store, graphs from older clients and plans from an older
// coordinator may be such.
void UpgradeLegacySettings(proto::JobGraph* graph);

// Replaces "use the default" zeros (max_parallelism, network settings) with
// the defaults, so a plan states what its tasks use.
void FillJobDefaults(proto::JobGraph* graph);

// Whether the job is exactly-once: it takes checkpoints and its `delivery`
// is not at_least_once. Then barriers align, and transactional sinks
// publish a checkpoint's output only once that checkpoint completed.
bool CommitsOnCheckpoint(const proto::JobGraph& graph);

}  // namespace sluice
