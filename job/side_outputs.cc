// Unread side outputs get a sink of their own (job_file.h).

#include <filesystem>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "common/job_yaml.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"
#include "yaml-cpp/yaml.h"

namespace sluice {
namespace {

// The kind of sink that keeps an unread side output.
constexpr std::string_view kSideOutputSinkKind = "file_sink";

std::vector<std::string_view> SidePorts(const proto::OperatorSpec& op) {
  const OperatorKind* kind = BuiltinCatalog().Find(op.type());
  return kind == nullptr ? std::vector<std::string_view>{} : kind->traits().side_ports;
}

std::string DefaultPath(const std::string& base_dir, const proto::JobGraph& graph) {
  for (const auto& op : graph.operators()) {
    const OperatorKind* kind = BuiltinCatalog().Find(op.type());
    if (kind == nullptr || !kind->traits().sink) continue;
    for (const PathUse& use : kind->Paths(op)) {
      if (!use.writes) continue;
      std::filesystem::path sink(use.path);
      sink = sink.lexically_normal();
      if (!sink.has_filename()) sink = sink.parent_path();  // a trailing '/'
      return (sink.parent_path() / "side_outputs").string();
    }
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
      sink.set_type(std::string(kSideOutputSinkKind));
      sink.set_input(input);
      sink.set_parallelism(op.parallelism());
      sink.set_implicit(true);
      // Spelled as a job file would spell it: {path: DIR/op.port}.
      YAML::Node settings;
      settings["path"] = (std::filesystem::path(dir) / input).string();
      const job_yaml::Ctx ctx(graph->source_file(), sink.id());
      RETURN_IF_ERROR(BuiltinCatalog().Find(kSideOutputSinkKind)->ParseYaml(
          OperatorYaml{ctx, settings, /*base_dir=*/"", &sink}));
    }
  }
  for (auto& sink : sinks) *graph->add_operators() = std::move(sink);
  graph->mutable_side_outputs()->set_path(dir);
  return absl::OkStatus();
}

}  // namespace sluice
