#include "common/job_file.h"

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
#include "common/key_group.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "yaml-cpp/yaml.h"

namespace sluice {
namespace {

// Carries the location for error messages while walking one operator.
class Ctx {
 public:
  Ctx(const std::string& file, std::string op) : file_(file), op_(std::move(op)) {}

  absl::Status Error(const YAML::Node& node, const std::string& field,
                     const std::string& msg) const {
    int line = node.IsDefined() ? node.Mark().line + 1 : 0;
    return ErrorAtLine(line, field, msg);
  }
  absl::Status ErrorAtLine(int line, const std::string& field, const std::string& msg) const {
    std::string where = line > 0 ? absl::StrCat(file_, ":", line) : file_;
    std::string who = op_.empty() ? "" : absl::StrCat(" operator '", op_, "',");
    return absl::InvalidArgumentError(absl::StrCat(where, ":", who, " field '", field, "': ", msg));
  }

 private:
  const std::string& file_;
  std::string op_;
};

absl::StatusOr<std::string> GetString(const Ctx& ctx, const YAML::Node& n,
                                      const std::string& field) {
  if (!n.IsScalar()) return ctx.Error(n, field, "expected a scalar value");
  return n.as<std::string>();
}

absl::StatusOr<int64_t> GetInt(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  int64_t v = 0;
  if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v)) {
    return ctx.Error(n, field, "expected an integer");
  }
  return v;
}

absl::StatusOr<double> GetDouble(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  double v = 0;
  if (!n.IsScalar() || !YAML::convert<double>::decode(n, v)) {
    return ctx.Error(n, field, "expected a number");
  }
  return v;
}

absl::StatusOr<int64_t> GetDuration(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  ASSIGN_OR_RETURN(std::string s, GetString(ctx, n, field));
  auto d = ParseDurationMs(s);
  if (!d.ok()) return ctx.Error(n, field, std::string(d.status().message()));
  return *d;
}

// "8MiB", "512KiB", "1GiB", "4096B" or a bare number of bytes.
absl::StatusOr<int64_t> ParseByteSize(std::string_view text) {
  const std::string trimmed(absl::StripAsciiWhitespace(std::string(text)));
  int64_t value = 0;
  auto [p, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), value);
  if (ec != std::errc() || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad size '", std::string(text),
                     "': expected a whole number of bytes with a unit such as 512KiB or 8MiB"));
  }
  const std::string unit(absl::StripAsciiWhitespace(trimmed.substr(p - trimmed.data())));
  int shift = 0;
  if (unit.empty() || unit == "B") {
    shift = 0;
  } else if (unit == "KiB") {
    shift = 10;
  } else if (unit == "MiB") {
    shift = 20;
  } else if (unit == "GiB") {
    shift = 30;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad size '", std::string(text), "': unknown unit '", unit, "' (use B, KiB, MiB or GiB)"));
  }
  if (value > (std::numeric_limits<int64_t>::max() >> shift))
    return absl::InvalidArgumentError(absl::StrCat("size '", std::string(text), "' is too large"));
  return value << shift;
}

absl::StatusOr<int64_t> GetByteSize(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  ASSIGN_OR_RETURN(std::string s, GetString(ctx, n, field));
  auto bytes = ParseByteSize(s);
  if (!bytes.ok()) return ctx.Error(n, field, std::string(bytes.status().message()));
  return *bytes;
}

std::string ResolvePath(const std::string& base_dir, const std::string& p) {
  if (base_dir.empty() || p.empty() || p[0] == '/') return p;
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

absl::Status CheckKeys(const Ctx& ctx, const YAML::Node& map,
                       std::initializer_list<const char*> allowed) {
  for (const auto& kv : map) {
    std::string key = kv.first.as<std::string>();
    bool ok = false;
    for (const char* a : allowed) ok = ok || key == a;
    if (!ok) {
      return ctx.Error(
          kv.first, key,
          absl::StrCat("unknown field (expected one of: ", absl::StrJoin(allowed, ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseWatermark(const Ctx& ctx, const YAML::Node& n, proto::WatermarkConfig* wm) {
  if (!n.IsMap())
    return ctx.Error(n, "watermark", "expected a map such as {max_out_of_orderness: 30s}");
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"max_out_of_orderness"}));
  if (n["max_out_of_orderness"]) {
    ASSIGN_OR_RETURN(int64_t ms,
                     GetDuration(ctx, n["max_out_of_orderness"], "watermark.max_out_of_orderness"));
    wm->set_max_out_of_orderness_ms(ms);
  }
  return absl::OkStatus();
}

// The job's `network:` map; absent settings keep their defaults.
absl::Status ParseNetwork(const Ctx& ctx, const YAML::Node& n, proto::NetworkConfig* net) {
  if (!n.IsMap()) {
    return ctx.Error(n, "network",
                     "expected a map such as {buffer_bytes_per_task: 8MiB, flush_interval: 10ms}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"buffer_bytes_per_task", "flush_interval"}));
  if (const YAML::Node b = n["buffer_bytes_per_task"]) {
    const std::string field = "network.buffer_bytes_per_task";
    ASSIGN_OR_RETURN(int64_t bytes, GetByteSize(ctx, b, field));
    if (bytes < kMinBufferBytesPerTask) {
      return ctx.Error(b, field,
                       "must be at least 64KiB: a task splits it between its input and output "
                       "channels, and each channel needs a few buffers");
    }
    if (bytes > kMaxBufferBytesPerTask) return ctx.Error(b, field, "must be at most 1GiB");
    net->set_buffer_bytes_per_task(bytes);
  }
  if (const YAML::Node f = n["flush_interval"]) {
    const std::string field = "network.flush_interval";
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, f, field));
    if (ms < 1 || ms > kMaxFlushIntervalMs)
      return ctx.Error(f, field, "must be between 1ms and 60s");
    net->set_flush_interval_ms(ms);
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> GetBool(const Ctx& ctx, const YAML::Node& n, const std::string& field) {
  bool v = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, v)) {
    return ctx.Error(n, field, "expected true or false");
  }
  return v;
}

// The job's `checkpoint:` map.
absl::Status ParseCheckpoint(const Ctx& ctx, const YAML::Node& n, proto::CheckpointConfig* c) {
  if (!n.IsMap()) {
    return ctx.Error(n, "checkpoint",
                     "expected a map such as {interval: 10s, store: file:///var/lib/sluice}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"interval", "timeout", "min_pause", "retain", "store", "s3"}));
  struct Duration {
    const char* key;
    int64_t min_ms;
    void (proto::CheckpointConfig::*set)(int64_t);
  };
  for (const Duration& d : {Duration{"interval", 0, &proto::CheckpointConfig::set_interval_ms},
                            Duration{"timeout", 1, &proto::CheckpointConfig::set_timeout_ms},
                            Duration{"min_pause", 0, &proto::CheckpointConfig::set_min_pause_ms}}) {
    const YAML::Node v = n[d.key];
    if (!v) continue;
    const std::string field = absl::StrCat("checkpoint.", d.key);
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, v, field));
    if (ms < d.min_ms || ms > kMaxSettingDurationMs) {
      return ctx.Error(v, field,
                       d.min_ms > 0 ? "must be positive and at most 366d" : "must be at most 366d");
    }
    (c->*d.set)(ms);
  }
  if (const YAML::Node v = n["retain"]) {
    ASSIGN_OR_RETURN(int64_t k, GetInt(ctx, v, "checkpoint.retain"));
    if (k < 1 || k > 1000) return ctx.Error(v, "checkpoint.retain", "must be between 1 and 1000");
    c->set_retain(static_cast<int>(k));
  }
  if (const YAML::Node v = n["store"]) {
    ASSIGN_OR_RETURN(std::string uri, GetString(ctx, v, "checkpoint.store"));
    if (uri.rfind("file://", 0) != 0 && uri.rfind("s3://", 0) != 0) {
      return ctx.Error(v, "checkpoint.store",
                       "expected a file:///directory or s3://bucket/prefix URI");
    }
    c->set_store(uri);
  }
  if (const YAML::Node s3 = n["s3"]) {
    if (!s3.IsMap()) {
      return ctx.Error(s3, "checkpoint.s3",
                       "expected a map such as {endpoint: \"http://127.0.0.1:9000\", region: "
                       "us-east-1, path_style: true}");
    }
    RETURN_IF_ERROR(CheckKeys(ctx, s3, {"endpoint", "region", "path_style"}));
    if (s3["endpoint"]) {
      ASSIGN_OR_RETURN(std::string e, GetString(ctx, s3["endpoint"], "checkpoint.s3.endpoint"));
      if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
        return ctx.Error(s3["endpoint"], "checkpoint.s3.endpoint", "expected an http(s):// URL");
      }
      c->mutable_s3()->set_endpoint(e);
    }
    if (s3["region"]) {
      ASSIGN_OR_RETURN(std::string r, GetString(ctx, s3["region"], "checkpoint.s3.region"));
      c->mutable_s3()->set_region(r);
    }
    if (s3["path_style"]) {
      ASSIGN_OR_RETURN(bool b, GetBool(ctx, s3["path_style"], "checkpoint.s3.path_style"));
      c->mutable_s3()->set_path_style(b);
    }
  }
  return absl::OkStatus();
}

// The job's `restart:` map.
absl::Status ParseRestart(const Ctx& ctx, const YAML::Node& n, proto::RestartConfig* r) {
  if (!n.IsMap()) {
    return ctx.Error(n, "restart",
                     "expected a map such as {strategy: exponential, initial_delay: 1s, "
                     "max_delay: 30s, max_attempts: 10}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"strategy", "initial_delay", "max_delay", "max_attempts"}));
  if (const YAML::Node v = n["strategy"]) {
    ASSIGN_OR_RETURN(std::string s, GetString(ctx, v, "restart.strategy"));
    if (s == "fixed") {
      r->set_strategy(proto::RESTART_FIXED);
    } else if (s == "exponential") {
      r->set_strategy(proto::RESTART_EXPONENTIAL);
    } else if (s == "none") {
      r->set_strategy(proto::RESTART_NONE);
    } else {
      return ctx.Error(v, "restart.strategy",
                       absl::StrCat("unknown strategy '", s, "' (use fixed, exponential or none)"));
    }
  }
  for (const char* key : {"initial_delay", "max_delay"}) {
    const YAML::Node v = n[key];
    if (!v) continue;
    const std::string field = absl::StrCat("restart.", key);
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, v, field));
    if (ms < 0 || ms > kMaxSettingDurationMs) return ctx.Error(v, field, "must be at most 366d");
    if (std::string(key) == "initial_delay") {
      r->set_initial_delay_ms(ms);
    } else {
      r->set_max_delay_ms(ms);
    }
  }
  if (const YAML::Node v = n["max_attempts"]) {
    ASSIGN_OR_RETURN(int64_t k, GetInt(ctx, v, "restart.max_attempts"));
    if (k < 1 || k > 1'000'000) {
      return ctx.Error(v, "restart.max_attempts", "must be between 1 and 1000000");
    }
    r->set_max_attempts(static_cast<int>(k));
  }
  return absl::OkStatus();
}

// The job's `state:` map.
absl::Status ParseState(const Ctx& ctx, const YAML::Node& n, proto::StateConfig* st) {
  if (!n.IsMap()) return ctx.Error(n, "state", "expected a map such as {memory_budget: 256MiB}");
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"memory_budget"}));
  if (const YAML::Node v = n["memory_budget"]) {
    ASSIGN_OR_RETURN(int64_t bytes, GetByteSize(ctx, v, "state.memory_budget"));
    if (bytes < (int64_t{1} << 20) || bytes > (int64_t{1} << 40)) {
      return ctx.Error(v, "state.memory_budget", "must be between 1MiB and 1TiB");
    }
    st->set_memory_budget_bytes(bytes);
  }
  return absl::OkStatus();
}

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
    RETURN_IF_ERROR(CheckKeys(
        ctx, n, {"id", "type", "parallelism", "path", "event_time", "watermark", "schema"}));
    RETURN_IF_ERROR(require("path"));
    RETURN_IF_ERROR(require("event_time"));
    auto* f = op->mutable_file_source();
    ASSIGN_OR_RETURN(std::string path, GetString(ctx, n["path"], "path"));
    f->set_path(ResolvePath(base_dir, path));
    const YAML::Node et = n["event_time"];
    if (!et.IsMap() || !et["field"]) {
      return ctx.Error(et, "event_time", "expected a map such as {field: ts, unit: ms}");
    }
    RETURN_IF_ERROR(CheckKeys(ctx, et, {"field", "unit"}));
    ASSIGN_OR_RETURN(std::string field, GetString(ctx, et["field"], "event_time.field"));
    f->mutable_event_time()->set_field(field);
    std::string unit = "ms";
    if (et["unit"]) {
      ASSIGN_OR_RETURN(unit, GetString(ctx, et["unit"], "event_time.unit"));
      if (!ParseTimeUnit(unit).ok()) {
        return ctx.Error(et["unit"], "event_time.unit",
                         absl::StrCat("unknown unit '", unit, "' (use s, ms, us or ns)"));
      }
    }
    f->mutable_event_time()->set_unit(unit);
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
                       absl::StrCat(std::string(parsed.status().message()), " in \"", where, "\""));
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
                         absl::StrCat(std::string(parsed.status().message()), " in \"", e, "\""));
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
    RETURN_IF_ERROR(CheckKeys(ctx, win, {"type", "size"}));
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

}  // namespace

bool IsSourceType(std::string_view type) { return type == "generator" || type == "file_source"; }

absl::StatusOr<proto::JobGraph> ParseJobYaml(std::string_view yaml, const std::string& file_name,
                                             const std::string& base_dir) {
  Ctx top(file_name, "");
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
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
                               "restart", "state", "operators"}));
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
  RETURN_IF_ERROR(ValidateJobGraph(graph));
  return graph;
}

absl::StatusOr<proto::JobGraph> LoadJobFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read job file '", path, "'"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string base = std::filesystem::absolute(path).parent_path().string();
  return ParseJobYaml(ss.str(), path, base);
}

}  // namespace sluice
