// Static checks of a job graph (declared in job_file.h).

#include <cmath>
#include <filesystem>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/expression.h"
#include "common/job_file.h"
#include "common/key_group.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "common/time_util.h"

namespace sluice {
namespace {

// What is known before run time about the records on one stream. An open
// schema (a file source without a declared schema) may hold any field.
struct StaticSchema {
  bool open = false;
  std::map<std::string, FieldType> fields;

  std::optional<FieldType> Lookup(std::string_view name) const {
    auto it = fields.find(std::string(name));
    if (it != fields.end()) return it->second;
    if (open) return FieldType::kNull;
    return std::nullopt;
  }
};

absl::Status OpError(const proto::JobGraph& g, const proto::OperatorSpec& op,
                     const std::string& field, const std::string& msg) {
  // The field's own line when known, else the operator's.
  auto it = op.field_lines().find(field);
  int line = it != op.field_lines().end() ? it->second : op.line();
  std::string where =
      g.source_file().empty()
          ? ""
          : absl::StrCat(g.source_file(), line > 0 ? absl::StrCat(":", line) : "", ": ");
  return absl::InvalidArgumentError(
      absl::StrCat(where, "operator '", op.id(), "', field '", field, "': ", msg));
}

// An error in a job-level field, which has no line of its own.
absl::Status GraphError(const proto::JobGraph& g, const std::string& field,
                        const std::string& msg) {
  std::string where =
      g.source_file().empty() ? absl::StrCat("job '", g.name(), "'") : g.source_file();
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", field, "': ", msg));
}

// The `type` an operator with this config case must have.
const char* TypeOfConfig(proto::OperatorSpec::ConfigCase c) {
  switch (c) {
    case proto::OperatorSpec::kGenerator:
      return "generator";
    case proto::OperatorSpec::kFileSource:
      return "file_source";
    case proto::OperatorSpec::kFilter:
      return "filter";
    case proto::OperatorSpec::kMap:
      return "map";
    case proto::OperatorSpec::kWindow:
      return "window";
    case proto::OperatorSpec::kFileSink:
      return "file_sink";
    case proto::OperatorSpec::kStdoutSink:
      return "stdout_sink";
    case proto::OperatorSpec::kBlackholeSink:
      return "blackhole_sink";
    case proto::OperatorSpec::kThrottle:
      return "throttle";
    case proto::OperatorSpec::CONFIG_NOT_SET:
      break;
  }
  return "";
}

bool IsDuration(int64_t ms) { return ms >= 0 && ms <= kMaxSettingDurationMs; }

const std::string kDurationRange = "must be between 0 and 366 days";

// Range checks of the settings of one operator (types and schemas are
// checked later, in dependency order).
absl::Status CheckSettings(const proto::JobGraph& g, const proto::OperatorSpec& op) {
  auto watermark = [&](const proto::WatermarkConfig& wm) -> absl::Status {
    if (!IsDuration(wm.max_out_of_orderness_ms()))
      return OpError(g, op, "watermark", absl::StrCat("max_out_of_orderness ", kDurationRange));
    if (!IsDuration(wm.idle_timeout_ms()))
      return OpError(g, op, "watermark", absl::StrCat("idle_timeout ", kDurationRange));
    return absl::OkStatus();
  };
  switch (op.config_case()) {
    case proto::OperatorSpec::kGenerator: {
      const proto::GeneratorConfig& c = op.generator();
      if (c.devices() < 1) return OpError(g, op, "devices", "must be at least 1");
      if (c.count() < 0) return OpError(g, op, "count", "must not be negative");
      if (!std::isfinite(c.rate()) || c.rate() < 0)
        return OpError(g, op, "rate", "must be a finite number >= 0 (0: as fast as possible)");
      if (!IsDuration(c.interval_ms())) return OpError(g, op, "interval", kDurationRange);
      if (!IsDuration(c.jitter_ms())) return OpError(g, op, "jitter", kDurationRange);
      if (!(c.duplicate_rate() >= 0 && c.duplicate_rate() <= 1))
        return OpError(g, op, "duplicate_rate", "must be between 0 and 1");
      if (!std::isfinite(c.temperature_min()) || !std::isfinite(c.temperature_max()) ||
          !std::isfinite(c.temperature_noise()) || c.temperature_max() < c.temperature_min() ||
          c.temperature_noise() < 0) {
        return OpError(g, op, "temperature", "needs finite min <= max and noise >= 0");
      }
      return watermark(c.watermark());
    }
    case proto::OperatorSpec::kFileSource: {
      const proto::FileSourceConfig& c = op.file_source();
      if (c.path().empty()) return OpError(g, op, "path", "must not be empty");
      if (c.batch_rows() < 0 || c.batch_rows() > 4096)
        return OpError(g, op, "batch_rows", "must be from 1 to 4096");
      if (c.event_time().field().empty())
        return OpError(g, op, "event_time", "needs the name of the event-time field");
      if (!ParseTimeUnit(c.event_time().unit()).ok()) {
        return OpError(
            g, op, "event_time",
            absl::StrCat("unknown unit '", c.event_time().unit(), "' (use auto, s, ms, us or ns)"));
      }
      const proto::EventTimeConfig& et = c.event_time();
      constexpr int64_t kMaxBoundMs = 1'000'000'000'000'000;  // 1e15 ms, as durations allow
      if ((et.has_max_future_ms() &&
           (et.max_future_ms() < 0 || et.max_future_ms() > kMaxBoundMs)) ||
          (et.has_max_past_ms() && (et.max_past_ms() < 0 || et.max_past_ms() > kMaxBoundMs)) ||
          (et.has_min_time_ms() &&
           (et.min_time_ms() < -kMaxBoundMs || et.min_time_ms() > kMaxBoundMs))) {
        return OpError(g, op, "event_time",
                       "max_future and max_past must be from 0 to 1e15 ms, and min_time within "
                       "1e15 ms of the epoch");
      }
      return watermark(c.watermark());
    }
    case proto::OperatorSpec::kWindow: {
      const proto::WindowConfig& c = op.window();
      if (!c.type().empty() && c.type() != "tumbling") {
        return OpError(g, op, "window",
                       absl::StrCat("unsupported window type '", c.type(), "' (use tumbling)"));
      }
      if (c.size_ms() <= 0 || c.size_ms() > kMaxSettingDurationMs)
        return OpError(g, op, "window", "size must be between 1 ms and 366 days");
      if (c.allowed_lateness_ms() < 0 || c.allowed_lateness_ms() > kMaxSettingDurationMs)
        return OpError(g, op, "window", "allowed_lateness must be between 0 and 366 days");
      if (c.aggregates_size() == 0)
        return OpError(g, op, "aggregates", "needs at least one aggregate");
      for (const auto& a : c.aggregates()) {
        if (a.name().empty()) return OpError(g, op, "aggregates", "an aggregate has no name");
        if (a.function() == proto::AGGREGATE_FUNCTION_UNSPECIFIED ||
            !proto::AggregateFunction_IsValid(a.function())) {
          return OpError(g, op, absl::StrCat("aggregates.", a.name()), "unknown function");
        }
      }
      return absl::OkStatus();
    }
    case proto::OperatorSpec::kFileSink:
      if (op.file_sink().path().empty()) return OpError(g, op, "path", "must not be empty");
      return absl::OkStatus();
    case proto::OperatorSpec::kThrottle:
      if (!std::isfinite(op.throttle().rate()) || op.throttle().rate() <= 0) {
        return OpError(g, op, "rate",
                       "must be a finite number of records per second per subtask, above 0");
      }
      return absl::OkStatus();
    default:
      return absl::OkStatus();
  }
}

absl::Status CheckExpr(const proto::JobGraph& g, const proto::OperatorSpec& op,
                       const std::string& field, const std::string& text, const StaticSchema& in,
                       FieldType* type) {
  auto parsed = ParseExpression(text);
  if (!parsed.ok())
    return OpError(g, op, field, absl::StrCat(parsed.status().message(), InExpression(text)));
  auto t = CheckExpression(**parsed, [&](std::string_view n) { return in.Lookup(n); });
  if (!t.ok()) return OpError(g, op, field, absl::StrCat(t.status().message(), InExpression(text)));
  *type = *t;
  return absl::OkStatus();
}

absl::StatusOr<StaticSchema> OutputSchema(const proto::JobGraph& g, const proto::OperatorSpec& op,
                                          const StaticSchema& in) {
  StaticSchema out;
  switch (op.config_case()) {
    case proto::OperatorSpec::kGenerator:
      out.fields = {{"event_id", FieldType::kInt64},
                    {"device_id", FieldType::kString},
                    {"ts", FieldType::kInt64},
                    {"temperature", FieldType::kDouble},
                    {"humidity", FieldType::kDouble}};
      return out;
    case proto::OperatorSpec::kFileSource:
      out.open = op.file_source().schema_size() == 0;
      for (const auto& f : op.file_source().schema())
        out.fields[f.name()] = FieldTypeFromProto(f.type());
      return out;
    case proto::OperatorSpec::kFilter: {
      FieldType t;
      RETURN_IF_ERROR(CheckExpr(g, op, "where", op.filter().where(), in, &t));
      if (t != FieldType::kBool && t != FieldType::kNull) {
        return OpError(g, op, "where",
                       absl::StrCat("condition must be bool, got ", std::string(FieldTypeName(t))));
      }
      return in;
    }
    case proto::OperatorSpec::kMap: {
      out = in;
      for (const auto& a : op.map().set()) {
        FieldType t;
        RETURN_IF_ERROR(CheckExpr(g, op, absl::StrCat("set.", a.field()), a.expression(), in, &t));
        out.fields[a.field()] = t;
      }
      return out;
    }
    case proto::OperatorSpec::kWindow: {
      for (const auto& k : op.window().key_by()) {
        if (!in.Lookup(k).has_value())
          return OpError(g, op, "key_by", absl::StrCat("unknown field '", k, "'"));
        out.fields[k] = *in.Lookup(k);
      }
      out.fields["window_start"] = FieldType::kInt64;
      out.fields["window_end"] = FieldType::kInt64;
      if (op.window().allowed_lateness_ms() > 0) out.fields["revision"] = FieldType::kInt64;
      for (const auto& a : op.window().aggregates()) {
        std::string field = absl::StrCat("aggregates.", a.name());
        if (out.fields.count(a.name()))
          return OpError(g, op, field, "name used twice in the output");
        if (a.function() == proto::AGGREGATE_COUNT) {
          out.fields[a.name()] = FieldType::kInt64;
          continue;
        }
        auto t = in.Lookup(a.field());
        if (!t.has_value())
          return OpError(g, op, field, absl::StrCat("unknown field '", a.field(), "'"));
        if (*t == FieldType::kString || *t == FieldType::kBool) {
          return OpError(g, op, field,
                         absl::StrCat("field '", a.field(), "' is ", std::string(FieldTypeName(*t)),
                                      ", not a number"));
        }
        out.fields[a.name()] = FieldType::kDouble;
      }
      return out;
    }
    case proto::OperatorSpec::kThrottle:
      return in;
    default:
      return out;  // sinks have no output
  }
}

// Zeros mean the defaults. The job-file parser checks the same ranges with
// line numbers.
absl::Status CheckNetworkConfig(const proto::NetworkConfig& n) {
  const int64_t bytes = n.buffer_bytes_per_task();
  if (bytes != 0 && (bytes < kMinBufferBytesPerTask || bytes > kMaxBufferBytesPerTask)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'network.buffer_bytes_per_task': ", bytes,
        " bytes is outside 64KiB to 1GiB; a task needs room for at least a few buffers per "
        "channel (default 8MiB)"));
  }
  const int64_t flush = n.flush_interval_ms();
  if (flush < 0 || flush > kMaxFlushIntervalMs) {
    return absl::InvalidArgumentError(absl::StrCat("field 'network.flush_interval': ", flush,
                                                   " ms is outside 1ms to 60s (default 10ms)"));
  }
  return absl::OkStatus();
}

}  // namespace

FieldType FieldTypeFromProto(proto::FieldType t) {
  switch (t) {
    case proto::FIELD_TYPE_BOOL:
      return FieldType::kBool;
    case proto::FIELD_TYPE_INT64:
      return FieldType::kInt64;
    case proto::FIELD_TYPE_DOUBLE:
      return FieldType::kDouble;
    case proto::FIELD_TYPE_STRING:
      return FieldType::kString;
    default:
      return FieldType::kNull;
  }
}

void FillJobDefaults(proto::JobGraph* g) {
  if (g->max_parallelism() == 0) g->set_max_parallelism(kDefaultMaxParallelism);
  proto::NetworkConfig* n = g->mutable_network();
  if (n->buffer_bytes_per_task() == 0) n->set_buffer_bytes_per_task(kDefaultBufferBytesPerTask);
  if (n->flush_interval_ms() == 0) n->set_flush_interval_ms(kDefaultFlushIntervalMs);
}

// Two file sinks on one path would write into each other's files, and a
// sink on a source's path would read its own output.
absl::Status CheckSinkPaths(const proto::JobGraph& g) {
  auto normal = [](const std::string& path) {
    std::string p = std::filesystem::path(path).lexically_normal().string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  absl::flat_hash_map<std::string, const proto::OperatorSpec*> users;
  for (const auto& op : g.operators()) {
    if (op.has_file_source()) users.emplace(normal(op.file_source().path()), &op);
  }
  for (const auto& op : g.operators()) {
    if (!op.has_file_sink()) continue;
    auto [it, added] = users.emplace(normal(op.file_sink().path()), &op);
    if (added) continue;
    const proto::OperatorSpec& other = *it->second;
    return OpError(
        g, op, "path",
        absl::StrCat("'", op.file_sink().path(), "' is also the path of ",
                     other.has_file_sink() ? "file_sink '" : "file_source '", other.id(), "'",
                     other.line() > 0 ? absl::StrCat(" (line ", other.line(), ")") : "",
                     other.has_file_sink() ? "; two sinks would write over each other's files"
                                           : "; the job would read its own output"));
  }
  return absl::OkStatus();
}

absl::Status ValidateJobGraph(const proto::JobGraph& g) {
  if (g.max_parallelism() < 0 || g.max_parallelism() > kMaxMaxParallelism) {
    return GraphError(g, "max_parallelism",
                      absl::StrCat("must be between 1 and ", kMaxMaxParallelism, " (0: ",
                                   kDefaultMaxParallelism, "), got ", g.max_parallelism()));
  }
  const int max_parallelism =
      g.max_parallelism() == 0 ? kDefaultMaxParallelism : g.max_parallelism();
  if (g.parallelism() < 0 || g.parallelism() > max_parallelism) {
    return GraphError(g, "parallelism",
                      absl::StrCat("must be between 1 and max_parallelism ", max_parallelism,
                                   ", got ", g.parallelism()));
  }
  if (absl::Status s = CheckNetworkConfig(g.network()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        g.source_file().empty() ? absl::StrCat("job '", g.name(), "'") : g.source_file(), ": ",
        s.message()));
  }
  if (g.operators_size() == 0) return GraphError(g, "operators", "the job has no operators");
  if (g.operators_size() > kMaxOperators) {
    return GraphError(g, "operators",
                      absl::StrCat("the job has ", g.operators_size(), " operators; at most ",
                                   kMaxOperators, " are allowed"));
  }
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < g.operators_size(); ++i) {
    const auto& op = g.operators(i);
    if (op.id().empty() || op.id().find('.') != std::string::npos) {
      return OpError(g, op, "id", "must be non-empty and contain no '.'");
    }
    if (!index.emplace(op.id(), i).second) return OpError(g, op, "id", "used by two operators");
    if (op.config_case() == proto::OperatorSpec::CONFIG_NOT_SET) {
      return OpError(g, op, "type", absl::StrCat("unknown operator type '", op.type(), "'"));
    }
    if (op.type() != std::string_view(TypeOfConfig(op.config_case()))) {
      return OpError(g, op, "type",
                     absl::StrCat("'", op.type(),
                                  "' does not match the operator's settings, which "
                                  "are those of a ",
                                  TypeOfConfig(op.config_case()), " operator"));
    }
    if (op.parallelism() < 1 || op.parallelism() > max_parallelism) {
      return OpError(g, op, "parallelism",
                     absl::StrCat("must be between 1 and max_parallelism ", max_parallelism,
                                  ", got ", op.parallelism()));
    }
    RETURN_IF_ERROR(CheckSettings(g, op));
  }
  RETURN_IF_ERROR(CheckSinkPaths(g));
  // Resolve inputs and compute schemas in dependency order (inputs may be
  // declared after their consumers; cycles are rejected).
  std::vector<std::optional<StaticSchema>> schemas(g.operators_size());
  std::vector<int> state(g.operators_size(), 0);  // 0 new, 1 visiting, 2 done
  std::function<absl::Status(int)> visit = [&](int i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    const auto& op = g.operators(i);
    if (state[i] == 1)
      return OpError(g, op, "input", "the graph has a cycle through this operator");
    state[i] = 1;
    StaticSchema in;
    if (!IsSourceType(op.type())) {
      auto [up, port] = SplitInput(op.input());
      auto it = index.find(up);
      if (it == index.end())
        return OpError(g, op, "input", absl::StrCat("no operator named '", up, "'"));
      const auto& upstream = g.operators(it->second);
      if (upstream.has_file_sink() || upstream.has_stdout_sink() || upstream.has_blackhole_sink()) {
        return OpError(g, op, "input", absl::StrCat("'", up, "' is a sink and has no output"));
      }
      if (port == kLatePort && !upstream.has_window()) {
        return OpError(g, op, "input",
                       absl::StrCat("'", up, "' is not a window; only windows have a late output"));
      }
      RETURN_IF_ERROR(visit(it->second));
      if (port == kDeadLetterPort) {
        for (const auto& f : DeadLetterSchema()->fields()) in.fields[f.name] = f.type;
      } else if (port == kLatePort) {
        for (const auto& f : LateSchema()->fields()) in.fields[f.name] = f.type;
      } else {
        in = *schemas[it->second];
      }
    }
    if (op.key_by_size() > 0 && (IsSourceType(op.type()) || op.has_window())) {
      return OpError(g, op, "key_by",
                     op.has_window() ? "give a window's key_by once, beside its window settings"
                                     : "a source takes no key_by");
    }
    for (const auto& k : op.key_by()) {
      if (!in.Lookup(k).has_value())
        return OpError(g, op, "key_by", absl::StrCat("unknown field '", k, "'"));
    }
    ASSIGN_OR_RETURN(StaticSchema out, OutputSchema(g, op, in));
    schemas[i] = std::move(out);
    state[i] = 2;
    return absl::OkStatus();
  };
  for (int i = 0; i < g.operators_size(); ++i) RETURN_IF_ERROR(visit(i));
  return absl::OkStatus();
}

}  // namespace sluice
