#include "common/job_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/expression.h"
#include "common/internal/job_yaml.h"
#include "common/json.h"
#include "common/key_group.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "yaml-cpp/depthguard.h"
#include "yaml-cpp/yaml.h"

namespace sluice {
namespace {

using job_yaml::CheckKeys;
using job_yaml::Ctx;
using job_yaml::GetBool;
using job_yaml::GetByteSize;
using job_yaml::GetDouble;
using job_yaml::GetDuration;
using job_yaml::GetInt;
using job_yaml::GetString;
using job_yaml::ParseCheckpoint;
using job_yaml::ParseNetwork;
using job_yaml::ParseRestart;
using job_yaml::ParseSideOutputs;
using job_yaml::ParseState;
using job_yaml::ParseWatermark;
using job_yaml::ResolvePath;

absl::StatusOr<proto::FieldType> ParseFieldType(const Ctx& ctx, const YAML::Node& n,
                                                const std::string& field) {
  ASSIGN_OR_RETURN(std::string t, GetString(ctx, n, field));
  if (t == "string") return proto::FIELD_TYPE_STRING;
  if (t == "int64" || t == "int" || t == "long") return proto::FIELD_TYPE_INT64;
  if (t == "double" || t == "float") return proto::FIELD_TYPE_DOUBLE;
  if (t == "bool" || t == "boolean") return proto::FIELD_TYPE_BOOL;
  return ctx.Error(n, field,
                   absl::StrCat("unknown type '", t, "' (use string, int64, double or bool)"));
}

absl::Status ParseAggregate(const Ctx& ctx, const YAML::Node& key, const YAML::Node& value,
                            proto::AggregateSpec* agg) {
  agg->set_name(key.as<std::string>());
  std::string field = absl::StrCat("aggregates.", agg->name());
  ASSIGN_OR_RETURN(std::string text, GetString(ctx, value, field));
  std::string s(absl::StripAsciiWhitespace(text));
  size_t open = s.find('('), close = s.rfind(')');
  if (open == std::string::npos || close != s.size() - 1 || close < open) {
    return ctx.Error(
        value, field,
        absl::StrCat("expected FUNCTION(FIELD) such as avg(temperature), got '", s, "'"));
  }
  std::string fn = absl::AsciiStrToLower(absl::StripAsciiWhitespace(s.substr(0, open)));
  std::string arg(absl::StripAsciiWhitespace(s.substr(open + 1, close - open - 1)));
  static const std::pair<const char*, proto::AggregateFunction> kFns[] = {
      {"count", proto::AGGREGATE_COUNT},
      {"sum", proto::AGGREGATE_SUM},
      {"min", proto::AGGREGATE_MIN},
      {"max", proto::AGGREGATE_MAX},
      {"avg", proto::AGGREGATE_AVG}};
  for (const auto& [name, f] : kFns) {
    if (fn == name) agg->set_function(f);
  }
  if (agg->function() == proto::AGGREGATE_FUNCTION_UNSPECIFIED) {
    return ctx.Error(
        value, field,
        absl::StrCat("unknown aggregate '", fn, "' (use count, sum, min, max or avg)"));
  }
  if (agg->function() == proto::AGGREGATE_COUNT) {
    if (!arg.empty() && arg != "*") return ctx.Error(value, field, "count() takes no field");
  } else if (arg.empty()) {
    return ctx.Error(value, field,
                     absl::StrCat(fn, "() needs a field, such as ", fn, "(temperature)"));
  }
  agg->set_field(agg->function() == proto::AGGREGATE_COUNT ? "" : arg);
  return absl::OkStatus();
}

// `key_by: field` or `key_by: [a, b]`, when present.
absl::Status ParseKeyBy(const Ctx& ctx, const YAML::Node& n,
                        google::protobuf::RepeatedPtrField<std::string>* keys) {
  if (!n["key_by"]) return absl::OkStatus();
  const YAML::Node k = n["key_by"];
  if (k.IsScalar()) {
    keys->Add(k.as<std::string>());
  } else if (k.IsSequence() && k.size() > 0) {
    for (const auto& f : k) {
      if (!f.IsScalar()) return ctx.Error(f, "key_by", "expected a field name");
      keys->Add(f.as<std::string>());
    }
  } else {
    return ctx.Error(k, "key_by", "expected a field name or a list of them");
  }
  return absl::OkStatus();
}

// event_time's bounds: each a value, or `off`. Defaults: min_time
// 2000-01-01T00:00:00Z, max_future 1d, max_past off.
absl::Status ParseTimeBounds(const Ctx& ctx, const YAML::Node& et, proto::EventTimeConfig* out) {
  constexpr int64_t kYear2000Ms = 946'684'800'000;
  out->set_min_time_ms(kYear2000Ms);
  out->set_max_future_ms(86'400'000);
  auto off = [](const YAML::Node& n) { return n.IsScalar() && n.Scalar() == "off"; };
  if (const YAML::Node n = et["min_time"]; n) {
    if (off(n)) {
      out->clear_min_time_ms();
    } else {
      ASSIGN_OR_RETURN(std::string text, GetString(ctx, n, "event_time.min_time"));
      absl::StatusOr<int64_t> ms = ParseTimestampMs(text);
      if (!ms.ok()) {
        return ctx.Error(n, "event_time.min_time", absl::StrCat(ms.status().message(), ", or off"));
      }
      out->set_min_time_ms(*ms);
    }
  }
  struct Bound {
    const char* key;
    void (proto::EventTimeConfig::*set)(int64_t);
    void (proto::EventTimeConfig::*clear)();
  };
  for (const Bound& b : {Bound{"max_future", &proto::EventTimeConfig::set_max_future_ms,
                               &proto::EventTimeConfig::clear_max_future_ms},
                         Bound{"max_past", &proto::EventTimeConfig::set_max_past_ms,
                               &proto::EventTimeConfig::clear_max_past_ms}}) {
    const YAML::Node n = et[b.key];
    if (!n) continue;
    if (off(n)) {
      (out->*b.clear)();
      continue;
    }
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, n, absl::StrCat("event_time.", b.key)));
    (out->*b.set)(ms);
  }
  return absl::OkStatus();
}

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
  auto require = [&](const char* field) -> absl::Status {
    if (n[field]) return absl::OkStatus();
    return ctx.Error(n, field, absl::StrCat("missing; a ", type, " operator needs it"));
  };
  if (type == "generator") {
    RETURN_IF_ERROR(
        CheckKeys(ctx, n,
                  {"id", "type", "parallelism", "devices", "count", "rate", "start_time",
                   "interval", "jitter", "duplicate_rate", "seed", "watermark", "temperature"}));
    auto* g = op->mutable_generator();
    g->set_devices(1000);
    g->set_interval_ms(1000);
    g->set_unbounded(true);
    if (n["devices"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["devices"], "devices"));
      if (v < 1) return ctx.Error(n["devices"], "devices", "must be at least 1");
      g->set_devices(v);
    }
    if (n["count"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["count"], "count"));
      if (v < 0) return ctx.Error(n["count"], "count", "must not be negative");
      g->set_count(v);
      g->set_unbounded(false);
    }
    if (n["rate"]) {
      ASSIGN_OR_RETURN(double v, GetDouble(ctx, n["rate"], "rate"));
      if (v < 0) return ctx.Error(n["rate"], "rate", "must not be negative");
      g->set_rate(v);
    }
    if (n["start_time"]) {
      ASSIGN_OR_RETURN(std::string s, GetString(ctx, n["start_time"], "start_time"));
      auto t = ParseTimestampMs(s);
      if (!t.ok())
        return ctx.Error(n["start_time"], "start_time", std::string(t.status().message()));
      g->set_start_time_ms(*t);
    } else {
      g->set_start_time_ms(NowMs());
    }
    if (n["interval"]) {
      ASSIGN_OR_RETURN(int64_t v, GetDuration(ctx, n["interval"], "interval"));
      g->set_interval_ms(v);
    }
    if (n["jitter"]) {
      ASSIGN_OR_RETURN(int64_t v, GetDuration(ctx, n["jitter"], "jitter"));
      g->set_jitter_ms(v);
    }
    if (n["duplicate_rate"]) {
      ASSIGN_OR_RETURN(double v, GetDouble(ctx, n["duplicate_rate"], "duplicate_rate"));
      if (v < 0 || v > 1)
        return ctx.Error(n["duplicate_rate"], "duplicate_rate", "must be between 0 and 1");
      g->set_duplicate_rate(v);
    }
    if (n["seed"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["seed"], "seed"));
      g->set_seed(static_cast<uint64_t>(v));
    }
    g->set_temperature_min(15);
    g->set_temperature_max(25);
    g->set_temperature_noise(2);
    if (n["temperature"]) {
      const YAML::Node t = n["temperature"];
      if (!t.IsMap())
        return ctx.Error(t, "temperature", "expected a map such as {min: 15, max: 25, noise: 2}");
      RETURN_IF_ERROR(CheckKeys(ctx, t, {"min", "max", "noise"}));
      for (const char* key : {"min", "max", "noise"}) {
        if (!t[key]) continue;
        ASSIGN_OR_RETURN(double v, GetDouble(ctx, t[key], absl::StrCat("temperature.", key)));
        if (std::string_view(key) == "min") g->set_temperature_min(v);
        if (std::string_view(key) == "max") g->set_temperature_max(v);
        if (std::string_view(key) == "noise") g->set_temperature_noise(v);
      }
      if (g->temperature_max() < g->temperature_min() || g->temperature_noise() < 0) {
        return ctx.Error(t, "temperature", "needs min <= max and noise >= 0");
      }
    }
    g->mutable_watermark()->set_max_out_of_orderness_ms(g->jitter_ms());
    if (n["watermark"])
      RETURN_IF_ERROR(ParseWatermark(ctx, n["watermark"], g->mutable_watermark()));
  } else if (type == "file_source") {
    RETURN_IF_ERROR(CheckKeys(ctx, n,
                              {"id", "type", "parallelism", "path", "event_time", "watermark",
                               "schema", "batch_rows", "follow"}));
    RETURN_IF_ERROR(require("path"));
    RETURN_IF_ERROR(require("event_time"));
    auto* f = op->mutable_file_source();
    if (n["batch_rows"]) {
      ASSIGN_OR_RETURN(int64_t rows, GetInt(ctx, n["batch_rows"], "batch_rows"));
      if (rows < 1 || rows > 4096) {
        return ctx.Error(n["batch_rows"], "batch_rows", "must be from 1 to 4096");
      }
      f->set_batch_rows(static_cast<int32_t>(rows));
    }
    if (n["follow"]) {
      ASSIGN_OR_RETURN(bool follow, GetBool(ctx, n["follow"], "follow"));
      f->set_follow(follow);
    }
    ASSIGN_OR_RETURN(std::string path, GetString(ctx, n["path"], "path"));
    f->set_path(ResolvePath(base_dir, path));
    const YAML::Node et = n["event_time"];
    if (!et.IsMap() || !et["field"]) {
      return ctx.Error(et, "event_time", "expected a map such as {field: ts, unit: ms}");
    }
    RETURN_IF_ERROR(CheckKeys(ctx, et, {"field", "unit", "min_time", "max_future", "max_past"}));
    ASSIGN_OR_RETURN(std::string field, GetString(ctx, et["field"], "event_time.field"));
    f->mutable_event_time()->set_field(field);
    std::string unit = "ms";
    if (et["unit"]) {
      ASSIGN_OR_RETURN(unit, GetString(ctx, et["unit"], "event_time.unit"));
      if (!ParseTimeUnit(unit).ok()) {
        return ctx.Error(et["unit"], "event_time.unit",
                         absl::StrCat("unknown unit '", unit, "' (use auto, s, ms, us or ns)"));
      }
    }
    f->mutable_event_time()->set_unit(unit);
    RETURN_IF_ERROR(ParseTimeBounds(ctx, et, f->mutable_event_time()));
    if (n["watermark"])
      RETURN_IF_ERROR(ParseWatermark(ctx, n["watermark"], f->mutable_watermark()));
    if (n["schema"]) {
      if (!n["schema"].IsMap())
        return ctx.Error(n["schema"], "schema", "expected a map of field: type");
      for (const auto& kv : n["schema"]) {
        auto* fs = f->add_schema();
        fs->set_name(kv.first.as<std::string>());
        ASSIGN_OR_RETURN(auto t,
                         ParseFieldType(ctx, kv.second, absl::StrCat("schema.", fs->name())));
        fs->set_type(t);
      }
    }
  } else if (type == "filter") {
    RETURN_IF_ERROR(CheckKeys(ctx, n, {"id", "type", "parallelism", "input", "where", "key_by"}));
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
    RETURN_IF_ERROR(require("where"));
    ASSIGN_OR_RETURN(std::string where, GetString(ctx, n["where"], "where"));
    auto parsed = ParseExpression(where);
    if (!parsed.ok()) {
      return ctx.Error(n["where"], "where",
                       absl::StrCat(std::string(parsed.status().message()), InExpression(where)));
    }
    op->mutable_filter()->set_where(where);
  } else if (type == "map") {
    RETURN_IF_ERROR(CheckKeys(ctx, n, {"id", "type", "parallelism", "input", "set", "key_by"}));
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
    RETURN_IF_ERROR(require("set"));
    if (!n["set"].IsMap()) return ctx.Error(n["set"], "set", "expected a map of field: expression");
    for (const auto& kv : n["set"]) {
      auto* a = op->mutable_map()->add_set();
      a->set_field(kv.first.as<std::string>());
      ASSIGN_OR_RETURN(std::string e, GetString(ctx, kv.second, absl::StrCat("set.", a->field())));
      auto parsed = ParseExpression(e);
      if (!parsed.ok()) {
        return ctx.Error(kv.second, absl::StrCat("set.", a->field()),
                         absl::StrCat(std::string(parsed.status().message()), InExpression(e)));
      }
      (*op->mutable_field_lines())[absl::StrCat("set.", a->field())] = kv.second.Mark().line + 1;
      a->set_expression(e);
    }
  } else if (type == "window") {
    RETURN_IF_ERROR(CheckKeys(
        ctx, n, {"id", "type", "parallelism", "input", "key_by", "window", "aggregates"}));
    RETURN_IF_ERROR(require("window"));
    RETURN_IF_ERROR(require("aggregates"));
    auto* w = op->mutable_window();
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, w->mutable_key_by()));
    const YAML::Node win = n["window"];
    if (!win.IsMap())
      return ctx.Error(win, "window", "expected a map such as {type: tumbling, size: 1m}");
    RETURN_IF_ERROR(CheckKeys(ctx, win, {"type", "size", "allowed_lateness"}));
    std::string wtype = "tumbling";
    if (win["type"]) {
      ASSIGN_OR_RETURN(wtype, GetString(ctx, win["type"], "window.type"));
    }
    if (wtype != "tumbling") {
      return ctx.Error(win["type"], "window.type",
                       absl::StrCat("unsupported window type '", wtype, "' (use tumbling)"));
    }
    w->set_type(wtype);
    if (!win["size"]) return ctx.Error(win, "window.size", "missing");
    ASSIGN_OR_RETURN(int64_t size, GetDuration(ctx, win["size"], "window.size"));
    if (size <= 0) return ctx.Error(win["size"], "window.size", "must be positive");
    w->set_size_ms(size);
    if (win["allowed_lateness"]) {
      ASSIGN_OR_RETURN(int64_t lateness,
                       GetDuration(ctx, win["allowed_lateness"], "window.allowed_lateness"));
      if (lateness < 0) {
        return ctx.Error(win["allowed_lateness"], "window.allowed_lateness",
                         "must not be negative");
      }
      w->set_allowed_lateness_ms(lateness);
    }
    if (!n["aggregates"].IsMap() || n["aggregates"].size() == 0) {
      return ctx.Error(n["aggregates"], "aggregates",
                       "expected a map such as {avg_temp: avg(temperature)}");
    }
    for (const auto& kv : n["aggregates"]) {
      RETURN_IF_ERROR(ParseAggregate(ctx, kv.first, kv.second, w->add_aggregates()));
      (*op->mutable_field_lines())[absl::StrCat("aggregates.", kv.first.as<std::string>())] =
          kv.second.Mark().line + 1;
    }
  } else if (type == "file_sink") {
    RETURN_IF_ERROR(CheckKeys(ctx, n, {"id", "type", "parallelism", "input", "path", "key_by"}));
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
    RETURN_IF_ERROR(require("path"));
    ASSIGN_OR_RETURN(std::string path, GetString(ctx, n["path"], "path"));
    op->mutable_file_sink()->set_path(ResolvePath(base_dir, path));
  } else if (type == "throttle") {
    RETURN_IF_ERROR(CheckKeys(ctx, n, {"id", "type", "parallelism", "input", "rate", "key_by"}));
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
    RETURN_IF_ERROR(require("rate"));
    ASSIGN_OR_RETURN(double rate, GetDouble(ctx, n["rate"], "rate"));
    if (!std::isfinite(rate) || rate <= 0) {
      return ctx.Error(n["rate"], "rate",
                       "must be a number of records per second per subtask, above 0");
    }
    op->mutable_throttle()->set_rate(rate);
  } else if (type == "stdout_sink" || type == "blackhole_sink") {
    RETURN_IF_ERROR(CheckKeys(ctx, n, {"id", "type", "parallelism", "input", "key_by"}));
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, op->mutable_key_by()));
    if (type == "stdout_sink")
      op->mutable_stdout_sink();
    else
      op->mutable_blackhole_sink();
  } else {
    return ctx.Error(n["type"], "type",
                     absl::StrCat("unknown operator type '", type,
                                  "' (use generator, file_source, filter, map, window, throttle, "
                                  "file_sink, stdout_sink or blackhole_sink)"));
  }
  if (!IsSourceType(type) && !n["input"])
    return ctx.Error(n, "input", "missing; name the upstream operator");
  if (IsSourceType(type) && n["input"])
    return ctx.Error(n["input"], "input", "a source takes no input");
  return absl::OkStatus();
}

// The path of the first string field in `m` (recursively, map keys
// included) that is not valid UTF-8; empty when there is none. A YAML
// escape such as "\uD800" makes such a string out of valid text.
std::string FirstInvalidUtf8Field(const google::protobuf::Message& m) {
  const google::protobuf::Descriptor* d = m.GetDescriptor();
  const google::protobuf::Reflection* r = m.GetReflection();
  using google::protobuf::FieldDescriptor;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->type() == FieldDescriptor::TYPE_STRING) {
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int j = 0; j < n; ++j) {
        const std::string s = f->is_repeated() ? r->GetRepeatedString(m, f, j) : r->GetString(m, f);
        if (!IsValidUtf8(s)) return f->name();
      }
    } else if (f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!f->is_repeated() && !r->HasField(m, f)) continue;
      const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
      for (int j = 0; j < n; ++j) {
        const std::string sub = FirstInvalidUtf8Field(
            f->is_repeated() ? r->GetRepeatedMessage(m, f, j) : r->GetMessage(m, f));
        if (!sub.empty()) return absl::StrCat(f->name(), ".", sub);
      }
    }
  }
  return "";
}

}  // namespace

bool IsSourceType(std::string_view type) { return type == "generator" || type == "file_source"; }

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
                               "restart", "state", "side_outputs", "operators"}));
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
  if (const std::string field = FirstInvalidUtf8Field(graph); !field.empty()) {
    return top.ErrorAtLine(0, field,
                           "not valid UTF-8 (a YAML escape such as \\uD800 or \\xFF makes "
                           "bytes that are not text)");
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
