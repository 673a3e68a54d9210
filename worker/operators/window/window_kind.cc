#include "worker/operators/window/window_kind.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "catalog/typed_kind.h"
#include "common/job_limits.h"
#include "common/ports.h"
#include "worker/operators/window/window.pb.h"
#include "worker/operators/window/window_operator.h"

namespace sluice {
namespace {

using job_yaml::Ctx;
using job_yaml::GetDuration;
using job_yaml::GetString;

constexpr std::string_view kWindowTypes = "tumbling";

// `name: FUNCTION(FIELD)`, e.g. `avg_temp: avg(temperature)`.
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

class WindowKind final : public TypedKind<proto::WindowConfig> {
 public:
  std::string_view name() const override { return "window"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{
        .keyed = true, .stateful = true, .side_ports = {kDeadLetterPort, kLatePort}};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override {
    return {"key_by", "window", "aggregates"};
  }
  // A window keeps its keys in its settings.
  std::vector<std::string> PartitionKeys(const proto::OperatorSpec& op) const override {
    absl::StatusOr<proto::WindowConfig> w = UnpackSettings<proto::WindowConfig>(op);
    if (!w.ok()) return {};
    return {w->key_by().begin(), w->key_by().end()};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::WindowConfig* w) const override {
    const Ctx& ctx = y.ctx;
    const YAML::Node& n = y.node;
    RETURN_IF_ERROR(y.Require("window"));
    RETURN_IF_ERROR(y.Require("aggregates"));
    // `key_by` beside the window settings: the window's keys.
    RETURN_IF_ERROR(ParseKeyBy(ctx, n, w->mutable_key_by()));
    const YAML::Node win = n["window"];
    if (!win.IsMap())
      return ctx.Error(win, "window", "expected a map such as {type: tumbling, size: 1m}");
    RETURN_IF_ERROR(job_yaml::CheckKeys(ctx, win, {"type", "size", "allowed_lateness"}));
    std::string type = "tumbling";
    if (win["type"]) {
      ASSIGN_OR_RETURN(type, GetString(ctx, win["type"], "window.type"));
    }
    if (type != kWindowTypes) {
      return ctx.Error(win["type"], "window.type", UnsupportedType(type));
    }
    w->set_type(type);
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
      y.NoteLine(absl::StrCat("aggregates.", kv.first.as<std::string>()), kv.second);
    }
    return absl::OkStatus();
  }

  absl::Status Check(const OperatorCheck& c, const proto::WindowConfig& w) const override {
    if (c.op.key_by_size() > 0) {
      return c.Error("key_by", "give a window's key_by once, beside its window settings");
    }
    if (!w.type().empty() && w.type() != kWindowTypes) {
      return c.Error("window", UnsupportedType(w.type()));
    }
    if (w.size_ms() <= 0 || w.size_ms() > kMaxSettingDurationMs)
      return c.Error("window", "size must be between 1 ms and 366 days");
    if (w.allowed_lateness_ms() < 0 || w.allowed_lateness_ms() > kMaxSettingDurationMs)
      return c.Error("window", "allowed_lateness must be between 0 and 366 days");
    if (w.aggregates_size() == 0) return c.Error("aggregates", "needs at least one aggregate");
    for (const auto& a : w.aggregates()) {
      if (a.name().empty()) return c.Error("aggregates", "an aggregate has no name");
      if (a.function() == proto::AGGREGATE_FUNCTION_UNSPECIFIED ||
          !proto::AggregateFunction_IsValid(a.function())) {
        return c.Error(absl::StrCat("aggregates.", a.name()), "unknown function");
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<StaticSchema> Output(const OperatorCheck& c, const proto::WindowConfig& w,
                                      const StaticSchema& in) const override {
    StaticSchema out;
    for (const auto& k : w.key_by()) {
      if (!in.Lookup(k).has_value())
        return c.Error("key_by", absl::StrCat("unknown field '", k, "'"));
      out.fields[k] = *in.Lookup(k);
    }
    out.fields["window_start"] = FieldType::kInt64;
    out.fields["window_end"] = FieldType::kInt64;
    if (w.allowed_lateness_ms() > 0) out.fields["revision"] = FieldType::kInt64;
    for (const auto& a : w.aggregates()) {
      std::string field = absl::StrCat("aggregates.", a.name());
      if (out.fields.count(a.name())) return c.Error(field, "name used twice in the output");
      if (a.function() == proto::AGGREGATE_COUNT) {
        out.fields[a.name()] = FieldType::kInt64;
        continue;
      }
      auto t = in.Lookup(a.field());
      if (!t.has_value()) return c.Error(field, absl::StrCat("unknown field '", a.field(), "'"));
      if (*t == FieldType::kString || *t == FieldType::kBool) {
        return c.Error(field, absl::StrCat("field '", a.field(), "' is ",
                                           std::string(FieldTypeName(*t)), ", not a number"));
      }
      out.fields[a.name()] = FieldType::kDouble;
    }
    return out;
  }

  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::WindowConfig& w) const override {
    return std::make_unique<WindowOperator>(w);
  }

 private:
  static std::string UnsupportedType(const std::string& type) {
    return absl::StrCat("unsupported window type '", type, "' (use ", std::string(kWindowTypes),
                        ")");
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewWindowKind() { return std::make_unique<WindowKind>(); }

}  // namespace sluice
