#pragma once

// The job file: YAML spelling of proto::JobGraph, and the static checks that
// run before a job is accepted (at `sluice submit`/`run` and again at the
// coordinator). Errors name the file, line, operator and field.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/batch.h"
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

// Limits on what a job may ask for. They hold for every graph, whether it
// came from a job file or straight from an API client.
inline constexpr int kMaxMaxParallelism = 32768;  // key groups
inline constexpr int kMaxOperators = 10'000;
inline constexpr int64_t kDefaultBufferBytesPerTask = int64_t{8} << 20;
inline constexpr int64_t kMinBufferBytesPerTask = int64_t{64} << 10;
inline constexpr int64_t kMaxBufferBytesPerTask = int64_t{1} << 30;
inline constexpr int64_t kDefaultFlushIntervalMs = 10;
inline constexpr int64_t kMaxFlushIntervalMs = 60'000;
// Durations in operator settings (intervals, jitter, window sizes,
// out-of-orderness) are at most this long.
inline constexpr int64_t kMaxSettingDurationMs = int64_t{366} * 86'400'000;

// Graph checks: unique ids, known inputs and ports, no cycles, expressions
// that parse and type-check, aggregates over existing numeric fields; and
// that every number is in range (max_parallelism, parallelism, network
// settings, generator and throttle settings), since API clients may send
// graphs that no job file could spell. Zero in max_parallelism and in the
// network settings means the default (FillJobDefaults).
absl::Status ValidateJobGraph(const proto::JobGraph& graph);

// Replaces "use the default" zeros (max_parallelism, network settings) with
// the defaults, so a plan states what its tasks use.
void FillJobDefaults(proto::JobGraph* graph);

// The in-memory type of a declared field type (kNull for unspecified).
FieldType FieldTypeFromProto(proto::FieldType type);

// True for operator types that have no input.
bool IsSourceType(std::string_view type);

}  // namespace sluice
