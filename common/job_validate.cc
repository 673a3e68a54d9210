// Static checks of a job graph (declared in job_file.h).

#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/expression.h"
#include "common/job_file.h"
#include "common/ports.h"
#include "common/status_macros.h"

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
  return absl::InvalidArgumentError(
      absl::StrCat(g.source_file(), line > 0 ? absl::StrCat(":", line) : "", ": operator '",
                   op.id(), "', field '", field, "': ", msg));
}

absl::Status CheckExpr(const proto::JobGraph& g, const proto::OperatorSpec& op,
                       const std::string& field, const std::string& text, const StaticSchema& in,
                       FieldType* type) {
  auto parsed = ParseExpression(text);
  if (!parsed.ok())
    return OpError(g, op, field, absl::StrCat(parsed.status().message(), " in \"", text, "\""));
  auto t = CheckExpression(**parsed, [&](std::string_view n) { return in.Lookup(n); });
  if (!t.ok())
    return OpError(g, op, field, absl::StrCat(t.status().message(), " in \"", text, "\""));
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
    default:
      return out;  // sinks have no output
  }
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

absl::Status ValidateJobGraph(const proto::JobGraph& g) {
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
    if (op.parallelism() < 1) return OpError(g, op, "parallelism", "must be at least 1");
  }
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
      if (port == kDeadLetterPort && !IsSourceType(upstream.type())) {
        return OpError(
            g, op, "input",
            absl::StrCat("'", up, "' is not a source; only sources have a dead_letter output"));
      }
      if (port == kLatePort && !upstream.has_window()) {
        return OpError(g, op, "input",
                       absl::StrCat("'", up, "' is not a window; only windows have a late output"));
      }
      RETURN_IF_ERROR(visit(it->second));
      if (port == kDeadLetterPort) {
        for (const auto& f : DeadLetterSchema()->fields()) in.fields[f.name] = f.type;
      } else if (port == kLatePort) {
        // The late output carries the window's input records.
        int w = it->second;
        auto [wup, wport] = SplitInput(g.operators(w).input());
        (void)wport;
        in = *schemas[index[wup]];
      } else {
        in = *schemas[it->second];
      }
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
