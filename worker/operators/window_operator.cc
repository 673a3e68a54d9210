#include "worker/operators/window_operator.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/ports.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Appends a decoded key value to a key column of the output schema. An
// integral double key decodes as an int64 (see common/key_encoding.h).
void AppendKeyValue(const KeyValue& v, Column& col) {
  switch (v.type) {
    case FieldType::kNull:
      col.AppendNull();
      break;
    case FieldType::kString:
      col.AppendString(v.string_value);
      break;
    case FieldType::kDouble:
      col.AppendDouble(v.double_value);
      break;
    default:
      if (col.type == FieldType::kDouble) {
        col.AppendDouble(static_cast<double>(v.int_value));
      } else {
        col.AppendInt(v.int_value);
      }
      break;
  }
}

}  // namespace

WindowOperator::WindowOperator(const proto::WindowConfig& config)
    : config_(config), size_(config.size_ms()), table_(config.aggregates_size()) {}

absl::Status WindowOperator::Bind(const SchemaRef& input) {
  std::vector<Field> out_fields;
  std::vector<int> key_cols;
  for (const auto& k : config_.key_by()) {
    int idx = input->IndexOf(k);
    key_cols.push_back(idx);
    out_fields.push_back({k, idx >= 0 ? input->field(idx).type : FieldType::kString});
  }
  if (output_schema_ != nullptr) {
    // Key types must not change under existing state.
    for (size_t k = 0; k < key_cols.size(); ++k) {
      if (out_fields[k].type != output_schema_->field(k).type) {
        return absl::FailedPreconditionError(absl::StrCat(
            "operator '", ctx_.spec->id(), "': key field '", out_fields[k].name,
            "' changed type from ", std::string(FieldTypeName(output_schema_->field(k).type)),
            " to ", std::string(FieldTypeName(out_fields[k].type))));
      }
    }
  }
  out_fields.push_back({"window_start", FieldType::kInt64});
  out_fields.push_back({"window_end", FieldType::kInt64});
  agg_columns_.clear();
  for (const auto& a : config_.aggregates()) {
    int idx = -1;
    if (a.function() != proto::AGGREGATE_COUNT) {
      idx = input->IndexOf(a.field());
      if (idx >= 0) {
        FieldType t = input->field(idx).type;
        if (t != FieldType::kInt64 && t != FieldType::kDouble) {
          return absl::InvalidArgumentError(
              absl::StrCat("operator '", ctx_.spec->id(), "', aggregate '", a.name(), "': field '",
                           a.field(), "' is ", std::string(FieldTypeName(t)), ", not a number"));
        }
      }
    }
    agg_columns_.push_back(idx);
    out_fields.push_back({a.name(), a.function() == proto::AGGREGATE_COUNT ? FieldType::kInt64
                                                                           : FieldType::kDouble});
  }
  input_schema_ = input;
  if (output_schema_ == nullptr || output_schema_->fields() != out_fields) {
    output_schema_ = std::make_shared<const Schema>(std::move(out_fields));
  }
  key_encoder_.emplace(*input, std::move(key_cols));
  return absl::OkStatus();
}

absl::Status WindowOperator::ProcessBatch(Batch batch, Output& out) {
  if (input_schema_ != batch.schema() &&
      (input_schema_ == nullptr || !(*input_schema_ == *batch.schema()))) {
    RETURN_IF_ERROR(Bind(batch.schema()));
  }
  const size_t num_aggs = agg_columns_.size();
  const auto& fns = config_.aggregates();
  std::optional<Batch> late;
  key_encoder_->EncodeRows(batch, &batch_keys_);
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    const int64_t ts = batch.event_time()[r];
    const int64_t start = FloorDiv(ts, size_) * size_;
    if (start + size_ - 1 <= watermark_) {
      if (!late.has_value()) late.emplace(batch.schema());
      late->AppendRowFrom(batch, r);
      continue;
    }
    Accumulator* acc = table_.Get(start, batch_keys_[r]);
    for (size_t a = 0; a < num_aggs; ++a) {
      const int col_idx = agg_columns_[a];
      if (col_idx < 0) {
        if (fns[a].function() == proto::AGGREGATE_COUNT) ++acc[a].count;
        continue;
      }
      const Column& col = batch.column(col_idx);
      if (col.IsNull(r)) continue;
      const double v = col.NumberAt(r);
      switch (fns[a].function()) {
        case proto::AGGREGATE_MIN:
          acc[a].value = acc[a].count == 0 ? v : std::min(acc[a].value, v);
          break;
        case proto::AGGREGATE_MAX:
          acc[a].value = acc[a].count == 0 ? v : std::max(acc[a].value, v);
          break;
        default:  // sum, avg
          acc[a].value += v;
          break;
      }
      ++acc[a].count;
    }
  }
  if (late.has_value()) RETURN_IF_ERROR(out.EmitSide(kLatePort, std::move(*late)));
  return absl::OkStatus();
}

absl::Status WindowOperator::FireBefore(int64_t before, Output& out) {
  if (output_schema_ == nullptr) return absl::OkStatus();  // no input yet, no state
  const size_t num_keys = config_.key_by_size();
  const auto& fns = config_.aggregates();
  std::optional<Batch> result;
  absl::Status status;
  auto flush = [&]() {
    if (result.has_value() && result->num_rows() > 0 && status.ok())
      status = out.Emit(std::move(*result));
    result.reset();
  };
  table_.FireBefore(before, [&](int64_t start, std::string_view key, const Accumulator* acc) {
    if (!status.ok()) return;
    if (absl::Status s = DecodeKey(key, num_keys, &key_values_); !s.ok()) {
      status = absl::InternalError(
          absl::StrCat("operator '", ctx_.spec->id(), "': bad key in window state: ", s.message()));
      return;
    }
    if (!result.has_value()) result.emplace(output_schema_);
    Batch& b = *result;
    for (size_t k = 0; k < num_keys; ++k) AppendKeyValue(key_values_[k], b.column(k));
    b.column(num_keys).AppendInt(start);
    b.column(num_keys + 1).AppendInt(start + size_);
    for (int a = 0; a < fns.size(); ++a) {
      Column& col = b.column(num_keys + 2 + a);
      switch (fns[a].function()) {
        case proto::AGGREGATE_COUNT:
          col.AppendInt(acc[a].count);
          break;
        case proto::AGGREGATE_AVG:
          if (acc[a].count == 0)
            col.AppendNull();
          else
            col.AppendDouble(acc[a].value / static_cast<double>(acc[a].count));
          break;
        default:
          if (acc[a].count == 0)
            col.AppendNull();
          else
            col.AppendDouble(acc[a].value);
          break;
      }
    }
    b.event_time().push_back(start + size_ - 1);
    if (b.num_rows() >= kTargetBatchRows) flush();
  });
  flush();
  return status;
}

absl::Status WindowOperator::ProcessWatermark(int64_t watermark, Output& out) {
  if (watermark <= watermark_) return absl::OkStatus();
  watermark_ = watermark;
  // Window [s, s+size) fires once watermark >= s + size - 1, i.e. s < watermark - size + 2.
  if (watermark == kMaxWatermark) {
    RETURN_IF_ERROR(FireBefore(std::numeric_limits<int64_t>::max(), out));
  } else {
    RETURN_IF_ERROR(FireBefore(watermark - size_ + 2, out));
  }
  return out.EmitWatermark(watermark);
}

absl::Status WindowOperator::Finish(Output& out) {
  return FireBefore(std::numeric_limits<int64_t>::max(), out);
}

}  // namespace sluice
