#pragma once

// Reads JSON lines. `path` is a file or a directory (its non-hidden files,
// sorted; subtask s of p reads files s, s+p, ...). Each line is one event.
//
// Schema: the declared one (fields it does not name are ignored), or else
// inferred and extended as lines arrive: a new field is added, an integer
// field that meets a fractional number is widened to double. A line is
// dead-lettered, with its file, line number and reason, when it is not a
// JSON object, lacks a numeric event-time field, or has a value of the
// wrong type. Blank lines are not events and are skipped.

#include <string>
#include <vector>

#include "worker/operators/operator.h"

namespace sluice {

class FileSource : public SourceOperator {
 public:
  explicit FileSource(const proto::FileSourceConfig& config) : config_(config) {}
  absl::Status Run(const OperatorContext& ctx, Output& out) override;

  // The files `path` names, sorted.
  static absl::StatusOr<std::vector<std::string>> ListFiles(const std::string& path);

 private:
  proto::FileSourceConfig config_;
};

}  // namespace sluice
