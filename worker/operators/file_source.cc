#include "worker/operators/file_source.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "common/job_file.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "nlohmann/json.hpp"

namespace sluice {
namespace {

using json = nlohmann::json;

constexpr size_t kMaxRawBytes = 64 * 1024;
// Batches are cut by bytes as well as rows, so one stays far below the
// 64 MiB gRPC message limit even when lines are long.
constexpr size_t kMaxBatchBytes = 8 << 20;

FieldType TypeOf(const json& v) {
  switch (v.type()) {
    case json::value_t::boolean:
      return FieldType::kBool;
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
      return FieldType::kInt64;
    case json::value_t::number_float:
      return FieldType::kDouble;
    case json::value_t::string:
      return FieldType::kString;
    case json::value_t::null:
      return FieldType::kNull;
    default:
      return FieldType::kString;  // nested arrays/objects are kept as JSON text
  }
}

// Turns lines of one file into batches, tracking the (possibly evolving) schema.
class LineDecoder {
 public:
  LineDecoder(const proto::FileSourceConfig& config, const OperatorContext& ctx, Output& out,
              TimeUnitScale unit)
      : config_(config), ctx_(ctx), out_(out), unit_(unit), dead_(DeadLetterSchema()) {
    declared_ = config.schema_size() > 0;
    std::vector<Field> fields;
    for (const auto& f : config.schema())
      fields.push_back({f.name(), FieldTypeFromProto(f.type())});
    SetSchema(std::move(fields));
  }

  absl::Status Line(const std::string& file, int64_t line_no, const std::string& line) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) return absl::OkStatus();
    json doc = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Dead(file, line_no, "invalid JSON", line);
    if (!doc.is_object()) return Dead(file, line_no, "not a JSON object", line);
    const std::string& tf = config_.event_time().field();
    auto ts_it = doc.find(tf);
    if (ts_it == doc.end() || ts_it->is_null()) {
      return Dead(file, line_no, absl::StrCat("missing event-time field '", tf, "'"), line);
    }
    if (!ts_it->is_number()) {
      return Dead(file, line_no, absl::StrCat("event-time field '", tf, "' is not a number"), line);
    }
    double raw_ts = ts_it->get<double>();
    if (!std::isfinite(raw_ts) || std::fabs(raw_ts) > 9e15) {
      return Dead(file, line_no, absl::StrCat("event-time field '", tf, "' is out of range"), line);
    }
    const int64_t ts = static_cast<int64_t>(ts_it->is_number_integer()
                                                ? ts_it->get<int64_t>() * unit_.num / unit_.den
                                                : raw_ts * static_cast<double>(unit_.num) /
                                                      static_cast<double>(unit_.den));

    // Type-check every value against the schema before appending anything.
    std::vector<Field> grown = schema_->fields();
    bool changed = false;
    for (const auto& [key, value] : doc.items()) {
      FieldType t = TypeOf(value);
      int idx = schema_->IndexOf(key);
      if (idx < 0) {
        if (declared_ || t == FieldType::kNull) continue;
        grown.push_back({key, t});
        changed = true;
        continue;
      }
      FieldType want = schema_->field(idx).type;
      if (t == FieldType::kNull || t == want) continue;
      if (want == FieldType::kDouble && t == FieldType::kInt64) continue;
      if (want == FieldType::kInt64 && t == FieldType::kDouble && !declared_) {
        grown[idx].type = FieldType::kDouble;
        changed = true;
        continue;
      }
      return Dead(
          file, line_no,
          absl::StrCat(
              "field '", key, "': expected ", std::string(FieldTypeName(want)), ", got ",
              std::string(TypeOf(value) == FieldType::kInt64 ? "int64" : value.type_name())),
          line);
    }
    if (changed) {
      RETURN_IF_ERROR(Flush());
      SetSchema(std::move(grown));
    }
    for (const auto& [key, value] : doc.items()) {
      int idx = schema_->IndexOf(key);
      if (idx < 0 || value.is_null()) continue;
      switch (schema_->field(idx).type) {
        case FieldType::kBool:
          builder_->SetBool(idx, value.get<bool>());
          break;
        case FieldType::kInt64:
          builder_->SetInt(idx, value.get<int64_t>());
          break;
        case FieldType::kDouble:
          builder_->SetDouble(idx, value.get<double>());
          break;
        default:
          builder_->SetString(idx, value.is_string() ? value.get<std::string>() : value.dump());
          break;
      }
    }
    builder_->FinishRow(ts);
    max_ts_ = std::max(max_ts_, ts);
    batch_bytes_ += line.size();
    if (builder_->num_rows() >= kTargetBatchRows || batch_bytes_ >= kMaxBatchBytes) return Flush();
    return absl::OkStatus();
  }

  // Emits buffered records, then the watermark they justify.
  absl::Status Flush() {
    dead_bytes_ = 0;
    if (dead_.num_rows() > 0) RETURN_IF_ERROR(out_.EmitSide(kDeadLetterPort, dead_.Take()));
    batch_bytes_ = 0;
    if (builder_->num_rows() == 0) return absl::OkStatus();
    RETURN_IF_ERROR(out_.Emit(builder_->Take()));
    return out_.EmitWatermark(max_ts_ - config_.watermark().max_out_of_orderness_ms() - 1);
  }

 private:
  void SetSchema(std::vector<Field> fields) {
    schema_ = std::make_shared<const Schema>(std::move(fields));
    builder_.emplace(schema_);
  }

  absl::Status Dead(const std::string& file, int64_t line_no, const std::string& reason,
                    const std::string& line) {
    dead_.SetString(0, ctx_.spec->id());
    dead_.SetString(1, file);
    dead_.SetInt(2, line_no);
    dead_.SetString(3, reason);
    dead_.SetString(4, std::string_view(line).substr(0, kMaxRawBytes));
    dead_.FinishRow(max_ts_ == kMinWatermark ? 0 : max_ts_);
    dead_bytes_ += line.size();
    if (dead_.num_rows() >= kTargetBatchRows || dead_bytes_ >= kMaxBatchBytes) {
      dead_bytes_ = 0;
      return out_.EmitSide(kDeadLetterPort, dead_.Take());
    }
    return absl::OkStatus();
  }

  const proto::FileSourceConfig& config_;
  const OperatorContext& ctx_;
  Output& out_;
  TimeUnitScale unit_;
  bool declared_;
  SchemaRef schema_;
  std::optional<BatchBuilder> builder_;
  BatchBuilder dead_;
  int64_t max_ts_ = kMinWatermark;
  size_t batch_bytes_ = 0, dead_bytes_ = 0;  // input bytes behind the open batches
};

}  // namespace

absl::StatusOr<std::vector<std::string>> FileSource::ListFiles(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return std::vector<std::string>{path};
  if (!std::filesystem::is_directory(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("file_source path '", path, "' is neither a file nor a directory"));
  }
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !name.starts_with(".") && !name.starts_with("_")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

absl::Status FileSource::Run(const OperatorContext& ctx, Output& out) {
  ASSIGN_OR_RETURN(std::vector<std::string> files, ListFiles(config_.path()));
  ASSIGN_OR_RETURN(TimeUnitScale unit, ParseTimeUnit(config_.event_time().unit()));
  LineDecoder decoder(config_, ctx, out, unit);
  for (size_t f = ctx.subtask; f < files.size(); f += ctx.parallelism) {
    std::ifstream in(files[f]);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", files[f], "'"));
    std::string line;
    int64_t line_no = 0;
    while (std::getline(in, line)) {
      if (ctx.stop.stop_requested()) return absl::CancelledError("source canceled");
      RETURN_IF_ERROR(decoder.Line(files[f], ++line_no, line));
    }
    if (in.bad()) return absl::DataLossError(absl::StrCat("error reading '", files[f], "'"));
  }
  RETURN_IF_ERROR(decoder.Flush());
  return out.EmitWatermark(kMaxWatermark);
}

}  // namespace sluice
