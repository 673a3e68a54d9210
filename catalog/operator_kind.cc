#include "catalog/operator_kind.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/job_limits.h"

namespace sluice {

std::optional<FieldType> StaticSchema::Lookup(std::string_view name) const {
  auto it = fields.find(std::string(name));
  if (it != fields.end()) return it->second;
  if (open) return FieldType::kNull;
  return std::nullopt;
}

absl::Status OperatorYaml::Require(const char* field) const {
  if (node[field]) return absl::OkStatus();
  return ctx.Error(node, field, absl::StrCat("missing; a ", op->type(), " operator needs it"));
}

void OperatorYaml::NoteLine(const std::string& field, const YAML::Node& n) const {
  (*op->mutable_field_lines())[field] = n.Mark().line + 1;
}

absl::Status OperatorCheck::Error(const std::string& field, const std::string& msg) const {
  // The field's own line when known, else the operator's.
  auto it = op.field_lines().find(field);
  const int line = it != op.field_lines().end() ? it->second : op.line();
  const std::string where =
      graph.source_file().empty()
          ? ""
          : absl::StrCat(graph.source_file(), line > 0 ? absl::StrCat(":", line) : "", ": ");
  return absl::InvalidArgumentError(
      absl::StrCat(where, "operator '", op.id(), "', field '", field, "': ", msg));
}

std::vector<std::string> OperatorKind::PartitionKeys(const proto::OperatorSpec& op) const {
  return {op.key_by().begin(), op.key_by().end()};
}

std::vector<PathUse> OperatorKind::Paths(const proto::OperatorSpec&) const { return {}; }

std::optional<OutputFiles> OperatorKind::Outputs(const proto::OperatorSpec&,
                                                 std::string_view) const {
  return std::nullopt;
}

absl::StatusOr<std::unique_ptr<SourceReader>> OperatorKind::CreateSource(
    const proto::OperatorSpec& op) const {
  return absl::InvalidArgumentError(absl::StrCat("operator '", op.id(), "' is not a source"));
}

absl::StatusOr<std::unique_ptr<Operator>> OperatorKind::CreateOperator(
    const proto::OperatorSpec& op) const {
  return absl::InvalidArgumentError(
      absl::StrCat("operator '", op.id(), "' of type '", op.type(), "' cannot run inside a task"));
}

bool OperatorKind::HasSidePort(std::string_view port) const {
  const auto& ports = traits().side_ports;
  return std::find(ports.begin(), ports.end(), port) != ports.end();
}

bool IsSettingDuration(int64_t ms) { return ms >= 0 && ms <= kMaxSettingDurationMs; }

absl::Status CheckWatermarkSettings(const OperatorCheck& c, const proto::WatermarkConfig& wm) {
  if (!IsSettingDuration(wm.max_out_of_orderness_ms())) {
    return c.Error("watermark",
                   absl::StrCat("max_out_of_orderness ", std::string(kSettingDurationRange)));
  }
  if (!IsSettingDuration(wm.idle_timeout_ms())) {
    return c.Error("watermark", absl::StrCat("idle_timeout ", std::string(kSettingDurationRange)));
  }
  return absl::OkStatus();
}

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

absl::Status ParseKeyBy(const job_yaml::Ctx& ctx, const YAML::Node& n,
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

}  // namespace sluice
