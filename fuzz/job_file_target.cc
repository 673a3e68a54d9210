// Job files: YAML text from the user, through ParseJobYaml (which ends in
// ValidateJobGraph). A graph it accepts must still validate once the
// defaults are filled in, as the coordinator does before planning, and
// after a trip through protobuf, as it reaches the coordinator.

#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "fuzz/targets.h"
#include "job/job_file.h"

namespace sluice::fuzz {

int FuzzJobFile(const uint8_t* data, size_t size) {
  const std::string_view yaml(reinterpret_cast<const char*>(data), size);
  // Relative paths resolve against base_dir lexically; nothing is read.
  absl::StatusOr<proto::JobGraph> graph = ParseJobYaml(yaml, "fuzz.yaml", "/jobs");
  if (!graph.ok()) {
    FUZZ_CHECK(!graph.status().message().empty(), "a refusal says why");
    return 0;
  }
  FUZZ_CHECK(graph->operators_size() > 0, "an accepted job has operators");
  proto::JobGraph filled = *graph;
  FillJobDefaults(&filled);
  const absl::Status again = ValidateJobGraph(filled);
  FUZZ_CHECK(again.ok(), std::string(again.message()).c_str());
  // What `sluice submit` sends the coordinator: the graph must survive
  // protobuf (whose proto3 strings must be UTF-8) and still validate.
  proto::JobGraph wire;
  FUZZ_CHECK(wire.ParseFromString(filled.SerializeAsString()), "a graph round-trips");
  FUZZ_CHECK(ValidateJobGraph(wire).ok(), "a graph validates after the wire");
  return 0;
}

}  // namespace sluice::fuzz
