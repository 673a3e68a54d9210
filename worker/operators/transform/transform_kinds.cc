#include "worker/operators/transform/transform_kinds.h"

#include "absl/strings/str_cat.h"
#include "catalog/typed_kind.h"
#include "common/expression.h"
#include "common/ports.h"
#include "worker/operators/transform/transform.pb.h"
#include "worker/operators/transform/transform_operators.h"

namespace sluice {
namespace {

// An expression of the job file that does not parse, as an error at `n`.
absl::Status CheckParses(const job_yaml::Ctx& ctx, const YAML::Node& n, const std::string& field,
                         const std::string& text) {
  auto parsed = ParseExpression(text);
  if (parsed.ok()) return absl::OkStatus();
  return ctx.Error(n, field,
                   absl::StrCat(std::string(parsed.status().message()), InExpression(text)));
}

// The type of expression `text` over the fields of `in`.
absl::StatusOr<FieldType> TypeOf(const OperatorCheck& c, const std::string& field,
                                 const std::string& text, const StaticSchema& in) {
  auto parsed = ParseExpression(text);
  if (!parsed.ok())
    return c.Error(field, absl::StrCat(parsed.status().message(), InExpression(text)));
  auto t = CheckExpression(**parsed, [&](std::string_view n) { return in.Lookup(n); });
  if (!t.ok()) return c.Error(field, absl::StrCat(t.status().message(), InExpression(text)));
  return *t;
}

const OperatorTraits& TransformTraits() {
  static const OperatorTraits traits{.side_ports = {kDeadLetterPort}};
  return traits;
}

class FilterKind final : public TypedKind<proto::FilterConfig> {
 public:
  std::string_view name() const override { return "filter"; }
  const OperatorTraits& traits() const override { return TransformTraits(); }
  std::vector<const char*> yaml_fields() const override { return {"where", "key_by"}; }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::FilterConfig* f) const override {
    RETURN_IF_ERROR(y.Require("where"));
    ASSIGN_OR_RETURN(std::string where, job_yaml::GetString(y.ctx, y.node["where"], "where"));
    RETURN_IF_ERROR(CheckParses(y.ctx, y.node["where"], "where", where));
    f->set_where(where);
    return absl::OkStatus();
  }
  absl::StatusOr<StaticSchema> Output(const OperatorCheck& c, const proto::FilterConfig& f,
                                      const StaticSchema& in) const override {
    ASSIGN_OR_RETURN(FieldType t, TypeOf(c, "where", f.where(), in));
    if (t != FieldType::kBool && t != FieldType::kNull) {
      return c.Error("where",
                     absl::StrCat("condition must be bool, got ", std::string(FieldTypeName(t))));
    }
    return in;
  }
  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::FilterConfig& f) const override {
    ASSIGN_OR_RETURN(auto op, FilterOperator::Create(f));
    return std::unique_ptr<Operator>(std::move(op));
  }
};

class MapKind final : public TypedKind<proto::MapConfig> {
 public:
  std::string_view name() const override { return "map"; }
  const OperatorTraits& traits() const override { return TransformTraits(); }
  std::vector<const char*> yaml_fields() const override { return {"set", "key_by"}; }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::MapConfig* m) const override {
    RETURN_IF_ERROR(y.Require("set"));
    const YAML::Node set = y.node["set"];
    if (!set.IsMap()) return y.ctx.Error(set, "set", "expected a map of field: expression");
    for (const auto& kv : set) {
      auto* a = m->add_set();
      a->set_field(kv.first.as<std::string>());
      const std::string field = absl::StrCat("set.", a->field());
      ASSIGN_OR_RETURN(std::string e, job_yaml::GetString(y.ctx, kv.second, field));
      RETURN_IF_ERROR(CheckParses(y.ctx, kv.second, field, e));
      y.NoteLine(field, kv.second);
      a->set_expression(e);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<StaticSchema> Output(const OperatorCheck& c, const proto::MapConfig& m,
                                      const StaticSchema& in) const override {
    StaticSchema out = in;
    for (const auto& a : m.set()) {
      ASSIGN_OR_RETURN(out.fields[a.field()],
                       TypeOf(c, absl::StrCat("set.", a.field()), a.expression(), in));
    }
    return out;
  }
  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(const proto::OperatorSpec&,
                                                        const proto::MapConfig& m) const override {
    ASSIGN_OR_RETURN(auto op, MapOperator::Create(m));
    return std::unique_ptr<Operator>(std::move(op));
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewFilterKind() { return std::make_unique<FilterKind>(); }
std::unique_ptr<OperatorKind> NewMapKind() { return std::make_unique<MapKind>(); }

}  // namespace sluice
