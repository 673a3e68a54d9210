#include "worker/operators/window_operator.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/ports.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A key column holding only nulls is a string column.
FieldType ColumnType(FieldType key_type) {
  return key_type == FieldType::kNull ? FieldType::kString : key_type;
}

// Appends `v` to a key column of its type (or any type, for null).
void AppendKeyValue(const KeyValue& v, Column& col) {
  switch (v.type) {
    case FieldType::kNull:
      col.AppendNull();
      break;
    case FieldType::kBool:
    case FieldType::kInt64:
      col.AppendInt(v.int_value);
      break;
    case FieldType::kDouble:
      col.AppendDouble(v.double_value);
      break;
    case FieldType::kString:
      col.AppendString(v.string_value);
      break;
  }
}

}  // namespace

WindowOperator::WindowOperator(const proto::WindowConfig& config)
    : config_(config), size_(config.size_ms()), table_(config.aggregates_size()) {
  value_fields_.push_back({"window_start", FieldType::kInt64});
  value_fields_.push_back({"window_end", FieldType::kInt64});
  for (const auto& a : config_.aggregates()) {
    value_fields_.push_back({a.name(), a.function() == proto::AGGREGATE_COUNT
                                           ? FieldType::kInt64
                                           : FieldType::kDouble});
  }
}

absl::Status WindowOperator::Bind(const SchemaRef& input) {
  std::vector<int> key_cols;
  for (const auto& k : config_.key_by()) key_cols.push_back(input->IndexOf(k));
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
  }
  input_schema_ = input;
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

absl::Status WindowOperator::FireSome(int64_t before, size_t limit, Output& out, bool* done) {
  const size_t num_keys = config_.key_by_size();
  const auto& fns = config_.aggregates();
  std::vector<ResultGroup> groups;
  absl::Status status;
  *done = table_.FireSome(
      before, limit, [&](int64_t start, std::string_view key, const Accumulator* acc) {
        if (!status.ok()) return;
        if (absl::Status s = DecodeKey(key, num_keys, &key_values_); !s.ok()) {
          status = absl::InternalError(absl::StrCat("operator '", ctx_.spec->id(),
                                                    "': bad key in window state: ", s.message()));
          return;
        }
        ResultGroup& g = AddKey(key_values_, groups);
        g.columns[num_keys].AppendInt(start);
        g.columns[num_keys + 1].AppendInt(start + size_);
        for (int a = 0; a < fns.size(); ++a) {
          Column& col = g.columns[num_keys + 2 + a];
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
        g.event_time.push_back(start + size_ - 1);
        if (g.event_time.size() >= kTargetBatchRows) status = EmitGroup(g, out);
      });
  for (ResultGroup& g : groups) {
    if (status.ok()) status = EmitGroup(g, out);
  }
  return status;
}

WindowOperator::ResultGroup& WindowOperator::AddKey(const std::vector<KeyValue>& key,
                                                    std::vector<ResultGroup>& groups) const {
  // The fitting group whose columns need the fewest changes of type (from
  // all-null to the key's type); the first of those.
  ResultGroup* best = nullptr;
  size_t best_retypes = 0;
  for (ResultGroup& g : groups) {
    size_t retypes = 0;
    bool fits = true;
    for (size_t k = 0; k < key.size() && fits; ++k) {
      if (key[k].type == FieldType::kNull || key[k].type == g.key_types[k]) continue;
      if (g.key_types[k] == FieldType::kNull) {
        ++retypes;
      } else {
        fits = false;
      }
    }
    if (fits && (best == nullptr || retypes < best_retypes)) {
      best = &g;
      best_retypes = retypes;
      if (retypes == 0) break;
    }
  }
  if (best == nullptr) {
    best = &groups.emplace_back();
    best->key_types.assign(key.size(), FieldType::kNull);
    ResetColumns(*best);
  }
  ResultGroup& g = *best;
  for (size_t k = 0; k < key.size(); ++k) {
    const FieldType t = key[k].type;
    if (t != FieldType::kNull && g.key_types[k] == FieldType::kNull) {
      // The column held only nulls: give it the key's type.
      Column typed;
      typed.type = t;
      for (size_t r = 0; r < g.event_time.size(); ++r) typed.AppendNull();
      g.columns[k] = std::move(typed);
      g.key_types[k] = t;
    }
    AppendKeyValue(key[k], g.columns[k]);
  }
  return g;
}

void WindowOperator::ResetColumns(ResultGroup& group) const {
  group.columns.clear();
  group.columns.resize(group.key_types.size() + value_fields_.size());
  for (size_t k = 0; k < group.key_types.size(); ++k) {
    group.columns[k].type = ColumnType(group.key_types[k]);
  }
  for (size_t v = 0; v < value_fields_.size(); ++v) {
    group.columns[group.key_types.size() + v].type = value_fields_[v].type;
  }
  group.event_time.clear();
}

absl::Status WindowOperator::EmitGroup(ResultGroup& group, Output& out) {
  if (group.event_time.empty()) return absl::OkStatus();
  Batch batch(OutputSchema(group.key_types));
  batch.columns() = std::move(group.columns);
  batch.event_time() = std::move(group.event_time);
  ResetColumns(group);
  return out.Emit(std::move(batch));
}

const SchemaRef& WindowOperator::OutputSchema(const std::vector<FieldType>& key_types) {
  std::vector<FieldType> column_types;
  for (FieldType t : key_types) column_types.push_back(ColumnType(t));
  SchemaRef& schema = output_schemas_[column_types];
  if (schema == nullptr) {
    std::vector<Field> fields;
    for (size_t k = 0; k < column_types.size(); ++k) {
      fields.push_back({config_.key_by(static_cast<int>(k)), column_types[k]});
    }
    fields.insert(fields.end(), value_fields_.begin(), value_fields_.end());
    schema = std::make_shared<const Schema>(std::move(fields));
  }
  return schema;
}

absl::Status WindowOperator::ProcessWatermark(int64_t watermark, Output& out) {
  if (watermark <= watermark_) return absl::OkStatus();
  while (firing_.has_value()) RETURN_IF_ERROR(ContinuePending(out));  // (a task never does this)
  watermark_ = watermark;
  // Window [s, s+size) fires once watermark >= s + size - 1, i.e. s < watermark - size + 2.
  const int64_t before =
      watermark == kMaxWatermark ? std::numeric_limits<int64_t>::max() : watermark - size_ + 2;
  firing_ = Firing{before, watermark, true};
  return ContinuePending(out);
}

absl::Status WindowOperator::ContinuePending(Output& out) {
  if (!firing_.has_value()) return absl::OkStatus();
  bool done = false;
  RETURN_IF_ERROR(FireSome(firing_->before, kFireChunk, out, &done));
  if (!done) return absl::OkStatus();
  const Firing fired = *firing_;
  firing_.reset();
  return fired.forward ? out.EmitWatermark(fired.watermark) : absl::OkStatus();
}

absl::Status WindowOperator::Finish(Output& out) {
  firing_ = Firing{std::numeric_limits<int64_t>::max(), 0, false};
  return ContinuePending(out);
}

}  // namespace sluice
