#include "connectors/file/file_kinds.h"

#include "absl/strings/str_cat.h"
#include "catalog/typed_kind.h"
#include "common/ports.h"
#include "common/time_util.h"
#include "connectors/file/file.pb.h"
#include "connectors/file/file_sink.h"
#include "connectors/file/file_source.h"

namespace sluice {
namespace {

using job_yaml::Ctx;
using job_yaml::GetString;

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
    ASSIGN_OR_RETURN(int64_t ms, job_yaml::GetDuration(ctx, n, absl::StrCat("event_time.", b.key)));
    (out->*b.set)(ms);
  }
  return absl::OkStatus();
}

absl::Status ParseEventTime(const Ctx& ctx, const YAML::Node& et, proto::EventTimeConfig* out) {
  if (!et.IsMap() || !et["field"]) {
    return ctx.Error(et, "event_time", "expected a map such as {field: ts, unit: ms}");
  }
  RETURN_IF_ERROR(
      job_yaml::CheckKeys(ctx, et, {"field", "unit", "min_time", "max_future", "max_past"}));
  ASSIGN_OR_RETURN(std::string field, GetString(ctx, et["field"], "event_time.field"));
  out->set_field(field);
  std::string unit = "ms";
  if (et["unit"]) {
    ASSIGN_OR_RETURN(unit, GetString(ctx, et["unit"], "event_time.unit"));
    if (!ParseTimeUnit(unit).ok()) {
      return ctx.Error(et["unit"], "event_time.unit",
                       absl::StrCat("unknown unit '", unit, "' (use auto, s, ms, us or ns)"));
    }
  }
  out->set_unit(unit);
  return ParseTimeBounds(ctx, et, out);
}

absl::Status CheckEventTime(const OperatorCheck& c, const proto::EventTimeConfig& et) {
  if (et.field().empty()) return c.Error("event_time", "needs the name of the event-time field");
  if (!ParseTimeUnit(et.unit()).ok()) {
    return c.Error("event_time",
                   absl::StrCat("unknown unit '", et.unit(), "' (use auto, s, ms, us or ns)"));
  }
  constexpr int64_t kMaxBoundMs = 1'000'000'000'000'000;  // 1e15 ms, as durations allow
  if ((et.has_max_future_ms() && (et.max_future_ms() < 0 || et.max_future_ms() > kMaxBoundMs)) ||
      (et.has_max_past_ms() && (et.max_past_ms() < 0 || et.max_past_ms() > kMaxBoundMs)) ||
      (et.has_min_time_ms() &&
       (et.min_time_ms() < -kMaxBoundMs || et.min_time_ms() > kMaxBoundMs))) {
    return c.Error("event_time",
                   "max_future and max_past must be from 0 to 1e15 ms, and min_time within "
                   "1e15 ms of the epoch");
  }
  return absl::OkStatus();
}

class FileSourceKind final : public TypedKind<proto::FileSourceConfig> {
 public:
  std::string_view name() const override { return "file_source"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.source = true, .side_ports = {kDeadLetterPort}};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override {
    return {"path", "event_time", "watermark", "schema", "batch_rows", "follow"};
  }
  std::vector<PathUse> Paths(const proto::OperatorSpec& op) const override {
    absl::StatusOr<proto::FileSourceConfig> f = UnpackSettings<proto::FileSourceConfig>(op);
    if (!f.ok()) return {};
    return {{f->path(), /*writes=*/false}};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::FileSourceConfig* f) const override {
    const Ctx& ctx = y.ctx;
    const YAML::Node& n = y.node;
    RETURN_IF_ERROR(y.Require("path"));
    RETURN_IF_ERROR(y.Require("event_time"));
    if (n["batch_rows"]) {
      ASSIGN_OR_RETURN(int64_t rows, job_yaml::GetInt(ctx, n["batch_rows"], "batch_rows"));
      if (rows < 1 || rows > 4096) {
        return ctx.Error(n["batch_rows"], "batch_rows", "must be from 1 to 4096");
      }
      f->set_batch_rows(static_cast<int32_t>(rows));
    }
    if (n["follow"]) {
      ASSIGN_OR_RETURN(bool follow, job_yaml::GetBool(ctx, n["follow"], "follow"));
      f->set_follow(follow);
    }
    ASSIGN_OR_RETURN(std::string path, GetString(ctx, n["path"], "path"));
    f->set_path(job_yaml::ResolvePath(y.base_dir, path));
    RETURN_IF_ERROR(ParseEventTime(ctx, n["event_time"], f->mutable_event_time()));
    if (n["watermark"]) {
      RETURN_IF_ERROR(job_yaml::ParseWatermark(ctx, n["watermark"], f->mutable_watermark()));
    }
    if (n["schema"]) {
      if (!n["schema"].IsMap()) {
        return ctx.Error(n["schema"], "schema", "expected a map of field: type");
      }
      for (const auto& kv : n["schema"]) {
        auto* fs = f->add_schema();
        fs->set_name(kv.first.as<std::string>());
        ASSIGN_OR_RETURN(auto t,
                         ParseFieldType(ctx, kv.second, absl::StrCat("schema.", fs->name())));
        fs->set_type(t);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Check(const OperatorCheck& c, const proto::FileSourceConfig& f) const override {
    if (f.path().empty()) return c.Error("path", "must not be empty");
    if (f.batch_rows() < 0 || f.batch_rows() > 4096) {
      return c.Error("batch_rows", "must be from 1 to 4096");
    }
    RETURN_IF_ERROR(CheckEventTime(c, f.event_time()));
    return CheckWatermarkSettings(c, f.watermark());
  }

  absl::StatusOr<StaticSchema> Output(const OperatorCheck&, const proto::FileSourceConfig& f,
                                      const StaticSchema&) const override {
    StaticSchema out;
    out.open = f.schema_size() == 0;
    for (const auto& field : f.schema())
      out.fields[field.name()] = FieldTypeFromProto(field.type());
    return out;
  }

  absl::StatusOr<std::unique_ptr<SourceReader>> NewSource(
      const proto::OperatorSpec&, const proto::FileSourceConfig& f) const override {
    return std::make_unique<FileSourceReader>(f);
  }
};

class FileSinkKind final : public TypedKind<proto::FileSinkConfig> {
 public:
  std::string_view name() const override { return "file_sink"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.sink = true, .transactional = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override { return {"path", "key_by"}; }
  std::vector<PathUse> Paths(const proto::OperatorSpec& op) const override {
    absl::StatusOr<proto::FileSinkConfig> f = UnpackSettings<proto::FileSinkConfig>(op);
    if (!f.ok()) return {};
    return {{f->path(), /*writes=*/true}};
  }
  std::optional<OutputFiles> Outputs(const proto::OperatorSpec& op,
                                     std::string_view job_id) const override {
    absl::StatusOr<proto::FileSinkConfig> f = UnpackSettings<proto::FileSinkConfig>(op);
    if (!f.ok()) return std::nullopt;
    return OutputFiles{.dir = f->path(),
                       .prefix = absl::StrCat("part-", std::string(job_id), "-"),
                       .pattern = absl::StrCat("part-", std::string(job_id), "-*.jsonl")};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::FileSinkConfig* f) const override {
    RETURN_IF_ERROR(y.Require("path"));
    ASSIGN_OR_RETURN(std::string path, GetString(y.ctx, y.node["path"], "path"));
    f->set_path(job_yaml::ResolvePath(y.base_dir, path));
    return absl::OkStatus();
  }
  absl::Status Check(const OperatorCheck& c, const proto::FileSinkConfig& f) const override {
    if (f.path().empty()) return c.Error("path", "must not be empty");
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::FileSinkConfig& f) const override {
    return std::make_unique<FileSink>(f);
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewFileSourceKind() { return std::make_unique<FileSourceKind>(); }
std::unique_ptr<OperatorKind> NewFileSinkKind() { return std::make_unique<FileSinkKind>(); }

}  // namespace sluice
