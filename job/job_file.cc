#include "job/job_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "common/job_yaml.h"
#include "common/json.h"
#include "common/key_group.h"
#include "common/status_macros.h"
#include "google/protobuf/any.pb.h"
#include "job/builtin_kinds.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/yaml.h"

namespace sluice {
namespace {

using job_yaml::CheckKeys;
using job_yaml::Ctx;
using job_yaml::GetInt;
using job_yaml::GetString;
using job_yaml::ParseCheckpoint;
using job_yaml::ParseNetwork;
using job_yaml::ParseRestart;
using job_yaml::ParseSideOutputs;
using job_yaml::ParseState;

absl::Status ParseOperator(const std::string& file, const std::string& base_dir,
                           const YAML::Node& n, proto::OperatorSpec* op) {
  Ctx top(file, "");
  if (!n.IsMap()) return top.Error(n, "operators", "each operator must be a map");
  op->set_line(n.Mark().line + 1);
  for (const auto& kv : n)
    (*op->mutable_field_lines())[kv.first.as<std::string>()] = kv.first.Mark().line + 1;
  if (!n["id"]) return top.Error(n, "id", "missing; every operator needs an id");
  ASSIGN_OR_RETURN(std::string id, GetString(top, n["id"], "id"));
  op->set_id(id);
  Ctx ctx(file, id);
  if (!n["type"]) return ctx.Error(n, "type", "missing");
  ASSIGN_OR_RETURN(std::string type, GetString(ctx, n["type"], "type"));
  op->set_type(type);
  if (n["input"]) {
    ASSIGN_OR_RETURN(std::string input, GetString(ctx, n["input"], "input"));
    op->set_input(input);
  }
  if (n["parallelism"]) {
    ASSIGN_OR_RETURN(int64_t p, GetInt(ctx, n["parallelism"], "parallelism"));
    if (p < 1 || p > kDefaultMaxParallelism) {
      return ctx.Error(n["parallelism"], "parallelism",
                       absl::StrCat("must be between 1 and ", kDefaultMaxParallelism));
    }
    op->set_parallelism(static_cast<int>(p));
  }
  const Catalog& catalog = BuiltinCatalog();
  const OperatorKind* kind = catalog.Find(type);
  if (kind == nullptr) {
    return ctx.Error(
        n["type"], "type",
        absl::StrCat("unknown operator type '", type, "' (use ", catalog.NameList(), ")"));
  }
  const bool source = kind->traits().source;
  // The generic fields, then the kind's own (`key_by` among them, where the
  // kind takes it).
  std::vector<const char*> fields = {"id", "type", "parallelism"};
  if (!source) fields.push_back("input");
  bool takes_key_by = false;
  for (const char* f : kind->yaml_fields()) {
    fields.push_back(f);
    takes_key_by = takes_key_by || std::string_view(f) == "key_by";
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, fields));
  // `key_by` partitions the input by those fields. A keyed kind (a window)
  // keeps its keys in its settings and reads them itself.
  if (takes_key_by && !kind->traits().keyed) {
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
  }
  RETURN_IF_ERROR(kind->ParseYaml(OperatorYaml{ctx, n, base_dir, op}));
  if (!source && !n["input"]) return ctx.Error(n, "input", "missing; name the upstream operator");
  if (source && n["input"]) return ctx.Error(n["input"], "input", "a source takes no input");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<proto::JobGraph> ParseJobYaml(std::string_view yaml, const std::string& file_name,
                                             const std::string& base_dir) {
  Ctx top(file_name, "");
  // YAML is UTF-8 here, and so is every string of the job: protobuf
  // refuses to send strings that are not.
  // A NUL byte is valid UTF-8, but yaml-cpp takes it for a sign of UTF-16
  // or UTF-32 and decodes what follows as such.
  const size_t bad = std::min(FirstInvalidUtf8(yaml), yaml.find('\0'));
  if (bad != std::string_view::npos) {
    const std::string_view before = yaml.substr(0, bad);
    const size_t line_start =
        before.rfind('\n') == std::string_view::npos ? 0 : before.rfind('\n') + 1;
    return top.ErrorAtLine(
        static_cast<int>(std::count(before.begin(), before.end(), '\n')) + 1, "(encoding)",
        absl::StrCat("byte ", bad - line_start + 1, " of the line is ",
                     yaml[bad] == '\0' ? "a NUL byte, which a job file cannot hold"
                                       : "not valid UTF-8; save the file as UTF-8"));
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    return top.ErrorAtLine(e.mark.line + 1, "(syntax)",
                           absl::StrCat("nested deeper than ", e.depth(), " levels"));
  } catch (const YAML::Exception& e) {
    return top.ErrorAtLine(e.mark.line + 1, "(syntax)", e.msg);
  }
  if (!root.IsMap())
    return top.ErrorAtLine(1, "(document)", "expected a map with name and operators");
  proto::JobGraph graph;
  graph.set_source_file(file_name);
  graph.set_max_parallelism(kDefaultMaxParallelism);
  graph.mutable_network()->set_buffer_bytes_per_task(kDefaultBufferBytesPerTask);
  graph.mutable_network()->set_flush_interval_ms(kDefaultFlushIntervalMs);
  try {
    RETURN_IF_ERROR(CheckKeys(top, root,
                              {"name", "parallelism", "max_parallelism", "network", "checkpoint",
                               "restart", "state", "side_outputs", "delivery", "operators"}));
    if (!root["name"]) return top.Error(root, "name", "missing; name the job");
    ASSIGN_OR_RETURN(std::string name, GetString(top, root["name"], "name"));
    graph.set_name(name);
    graph.set_parallelism(1);
    if (root["parallelism"]) {
      ASSIGN_OR_RETURN(int64_t p, GetInt(top, root["parallelism"], "parallelism"));
      if (p < 1 || p > kDefaultMaxParallelism) {
        return top.Error(root["parallelism"], "parallelism",
                         absl::StrCat("must be between 1 and ", kDefaultMaxParallelism));
      }
      graph.set_parallelism(static_cast<int>(p));
    }
    if (root["max_parallelism"]) {
      ASSIGN_OR_RETURN(int64_t m, GetInt(top, root["max_parallelism"], "max_parallelism"));
      if (m < 1 || m > kMaxMaxParallelism) {
        return top.Error(root["max_parallelism"], "max_parallelism",
                         absl::StrCat("must be between 1 and ", kMaxMaxParallelism));
      }
      graph.set_max_parallelism(static_cast<int>(m));
    }
    if (root["network"])
      RETURN_IF_ERROR(ParseNetwork(top, root["network"], graph.mutable_network()));
    if (root["checkpoint"]) {
      RETURN_IF_ERROR(ParseCheckpoint(top, root["checkpoint"], graph.mutable_checkpoint()));
    }
    if (const YAML::Node d = root["delivery"]) {
      ASSIGN_OR_RETURN(std::string delivery, GetString(top, d, "delivery"));
      if (delivery == "exactly_once") {
        if (graph.checkpoint().interval_ms() <= 0) {
          return top.Error(d, "delivery",
                           "exactly_once needs checkpoints: set checkpoint.interval (results are "
                           "committed when a checkpoint completes)");
        }
        graph.set_delivery(proto::DELIVERY_EXACTLY_ONCE);
      } else if (delivery == "at_least_once") {
        graph.set_delivery(proto::DELIVERY_AT_LEAST_ONCE);
      } else {
        return top.Error(d, "delivery", "expected exactly_once or at_least_once");
      }
    }
    if (root["restart"])
      RETURN_IF_ERROR(ParseRestart(top, root["restart"], graph.mutable_restart()));
    if (root["state"]) RETURN_IF_ERROR(ParseState(top, root["state"], graph.mutable_state()));
    if (root["side_outputs"]) {
      RETURN_IF_ERROR(
          ParseSideOutputs(top, root["side_outputs"], base_dir, graph.mutable_side_outputs()));
    }
    const YAML::Node ops = root["operators"];
    if (!ops || !ops.IsSequence() || ops.size() == 0) {
      return top.Error(ops ? ops : root, "operators", "expected a non-empty list of operators");
    }
    for (const auto& n : ops)
      RETURN_IF_ERROR(ParseOperator(file_name, base_dir, n, graph.add_operators()));
  } catch (const YAML::Exception& e) {
    return top.ErrorAtLine(e.mark.line + 1, "(value)", e.msg);
  }
  for (auto& op : *graph.mutable_operators()) {
    if (op.parallelism() == 0) op.set_parallelism(graph.parallelism());
  }
  // (A kind checks its own settings: TypedKind::ParseYaml.)
  if (const std::string field = job_yaml::FirstInvalidUtf8Field(graph); !field.empty()) {
    return top.ErrorAtLine(0, field, std::string(job_yaml::kNotUtf8));
  }
  RETURN_IF_ERROR(ValidateJobGraph(graph));
  return graph;
}

absl::StatusOr<proto::JobGraph> LoadJobFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read job file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = std::filesystem::absolute(path).parent_path().string();
  ASSIGN_OR_RETURN(proto::JobGraph graph, ParseJobYaml(ss.str(), path, base));
  RETURN_IF_ERROR(AddSideOutputSinks(base, &graph));
  RETURN_IF_ERROR(ValidateJobGraph(graph));  // the sinks' paths among the others
  return graph;
}

}  // namespace sluice
