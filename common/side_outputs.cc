// Unread side outputs get a file_sink of their own (job_file.h).

#include <filesystem>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/job_file.h"
#include "common/ports.h"

namespace sluice {
namespace {

// The side outputs an operator has.
std::vector<std::string_view> SidePorts(const proto::OperatorSpec& op) {
  if (op.has_window()) return {kDeadLetterPort, kLatePort};
  if (op.has_file_source() || op.has_filter() || op.has_map()) return {kDeadLetterPort};
  return {};
}

std::string DefaultPath(const std::string& base_dir, const proto::JobGraph& graph) {
  for (const auto& op : graph.operators()) {
    if (!op.has_file_sink()) continue;
    std::filesystem::path sink(op.file_sink().path());
    sink = sink.lexically_normal();
    if (!sink.has_filename()) sink = sink.parent_path();  // a trailing '/'
    return (sink.parent_path() / "side_outputs").string();
  }
  if (base_dir.empty()) return "side_outputs";
  return (std::filesystem::path(base_dir) / "side_outputs").string();
}

}  // namespace

absl::Status AddSideOutputSinks(const std::string& base_dir, proto::JobGraph* graph) {
  if (graph->side_outputs().discard()) return absl::OkStatus();
  absl::flat_hash_set<std::string> read, ids;
  for (const auto& op : graph->operators()) {
    read.insert(op.input());
    ids.insert(op.id());
  }
  const std::string dir = graph->side_outputs().path().empty() ? DefaultPath(base_dir, *graph)
                                                               : graph->side_outputs().path();
  std::vector<proto::OperatorSpec> sinks;
  for (const auto& op : graph->operators()) {
    for (std::string_view port : SidePorts(op)) {
      const std::string input = absl::StrCat(op.id(), ".", std::string(port));
      if (read.contains(input)) continue;
      proto::OperatorSpec& sink = sinks.emplace_back();
      sink.set_id(absl::StrCat(op.id(), ":", std::string(port)));
      if (ids.contains(sink.id())) {
        return absl::InvalidArgumentError(absl::StrCat(
            graph->source_file(), ": operator id '", sink.id(), "' is taken by the sink of ", input,
            ", which no operator reads; rename the operator, or read ", input));
      }
      sink.set_type("file_sink");
      sink.set_input(input);
      sink.set_parallelism(op.parallelism());
      sink.set_implicit(true);
      sink.mutable_file_sink()->set_path((std::filesystem::path(dir) / input).string());
    }
  }
  for (auto& sink : sinks) *graph->add_operators() = std::move(sink);
  graph->mutable_side_outputs()->set_path(dir);
  return absl::OkStatus();
}

}  // namespace sluice
