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
// job file's directory. Validates the result.
absl::StatusOr<proto::JobGraph> LoadJobFile(const std::string& path);

// Parses YAML text. `file_name` is used in messages; relative paths are
// resolved against `base_dir` (unchanged when empty).
absl::StatusOr<proto::JobGraph> ParseJobYaml(std::string_view yaml, const std::string& file_name,
                                             const std::string& base_dir);

// Graph checks: unique ids, known inputs and ports, no cycles, expressions
// that parse and type-check, aggregates over existing numeric fields.
absl::Status ValidateJobGraph(const proto::JobGraph& graph);

// The in-memory type of a declared field type (kNull for unspecified).
FieldType FieldTypeFromProto(proto::FieldType type);

// True for operator types that have no input.
bool IsSourceType(std::string_view type);

}  // namespace sluice
