#include "worker/operators/transform/transform_operators.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

// The reason a record is a dead letter: `field` is "where" or "set.NAME".
std::string Reason(std::string_view field, const absl::Status& s) {
  return absl::StrCat(absl::string_view(field.data(), field.size()), ": ",
                      std::string(s.message()));
}

// All of `batch` as dead letters, for a reason that holds for every row.
void RejectAll(const Batch& batch, const std::string& reason, DeadLetters& dead) {
  for (size_t r = 0; r < batch.num_rows(); ++r) dead.AddRow(batch, r, reason);
}

// `batch` without the rows in `rejected` (sorted, distinct).
Batch Without(const Batch& batch, const std::vector<uint32_t>& rejected) {
  std::vector<uint32_t> keep;
  keep.reserve(batch.num_rows() - rejected.size());
  size_t k = 0;
  for (uint32_t r = 0; r < batch.num_rows(); ++r) {
    if (k < rejected.size() && rejected[k] == r) {
      ++k;
    } else {
      keep.push_back(r);
    }
  }
  Batch out(batch.schema());
  out.Reserve(keep.size());
  out.AppendRows(batch, keep);
  return out;
}

bool SameSchema(const SchemaRef& a, const SchemaRef& b) { return a == b || (a && b && *a == *b); }

}  // namespace

absl::StatusOr<std::unique_ptr<FilterOperator>> FilterOperator::Create(
    const proto::FilterConfig& config) {
  auto op = std::make_unique<FilterOperator>();
  ASSIGN_OR_RETURN(op->where_, ParseExpression(config.where()));
  return op;
}

absl::Status FilterOperator::Open(const OperatorContext& ctx) {
  dead_.set_source(ctx.spec != nullptr ? ctx.spec->id() : "");
  return Operator::Open(ctx);
}

absl::Status FilterOperator::ProcessBatch(Batch batch, Output& out) {
  if (!SameSchema(schema_, batch.schema())) {
    schema_ = batch.schema();
    auto b = BoundExpression::Bind(*where_, batch.schema());
    bound_.reset();
    bind_error_.clear();
    if (b.ok()) {
      bound_ = std::move(*b);
    } else {
      bind_error_ = Reason("where", b.status());
    }
  }
  if (!bound_.has_value()) {  // the records' types do not fit the condition
    RejectAll(batch, bind_error_, dead_);
    return dead_.Flush(out);
  }
  std::vector<uint32_t> keep;
  keep.reserve(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    absl::StatusOr<Value> v = bound_->Eval(batch, r);
    if (!v.ok()) {
      dead_.AddRow(batch, r, Reason("where", v.status()));
    } else if (v->type == FieldType::kBool) {
      if (v->b) keep.push_back(static_cast<uint32_t>(r));
    } else if (!v->is_null()) {  // a condition that is null drops the record
      dead_.AddRow(batch, r,
                   absl::StrCat("where: the condition is ", std::string(FieldTypeName(v->type)),
                                ", not bool"));
    }
  }
  RETURN_IF_ERROR(dead_.Flush(out));
  if (keep.size() == batch.num_rows()) return out.Emit(std::move(batch));
  if (keep.empty()) return absl::OkStatus();
  Batch result(batch.schema());
  result.Reserve(keep.size());
  result.AppendRows(batch, keep);
  return out.Emit(std::move(result));
}

absl::StatusOr<std::unique_ptr<MapOperator>> MapOperator::Create(const proto::MapConfig& config) {
  auto op = std::make_unique<MapOperator>();
  for (const auto& a : config.set()) {
    ASSIGN_OR_RETURN(auto e, ParseExpression(a.expression()));
    op->fields_.push_back(a.field());
    op->exprs_.push_back(std::move(e));
  }
  return op;
}

absl::Status MapOperator::Open(const OperatorContext& ctx) {
  dead_.set_source(ctx.spec != nullptr ? ctx.spec->id() : "");
  return Operator::Open(ctx);
}

void MapOperator::Bind(const SchemaRef& input) {
  input_schema_ = input;
  bind_error_.clear();
  bound_.clear();
  std::vector<Field> fields = input->fields();
  passthrough_.clear();
  for (size_t i = 0; i < fields.size(); ++i) passthrough_.push_back(static_cast<int>(i));
  target_.clear();
  for (size_t e = 0; e < exprs_.size(); ++e) {
    auto b = BoundExpression::Bind(*exprs_[e], input);
    if (!b.ok()) {
      bind_error_ = Reason(absl::StrCat("set.", fields_[e]), b.status());
      return;
    }
    FieldType t = b->result_type() == FieldType::kNull ? FieldType::kString : b->result_type();
    bound_.push_back(std::move(*b));
    int idx = input->IndexOf(fields_[e]);
    if (idx < 0) {
      idx = static_cast<int>(fields.size());
      fields.push_back({fields_[e], t});
      passthrough_.push_back(-1);
    } else {
      fields[idx].type = t;
      passthrough_[idx] = -1;
    }
    target_.push_back(idx);
  }
  output_schema_ = std::make_shared<const Schema>(std::move(fields));
}

absl::Status MapOperator::ProcessBatch(Batch batch, Output& out) {
  if (!SameSchema(input_schema_, batch.schema())) Bind(batch.schema());
  if (!bind_error_.empty()) {  // the records' types do not fit an expression
    RejectAll(batch, bind_error_, dead_);
    return dead_.Flush(out);
  }
  Batch result(output_schema_);
  const size_t rows = batch.num_rows();
  std::vector<uint32_t> rejected;  // rows whose value is an error
  std::vector<bool> is_rejected;   // by row, once there is one
  for (size_t e = 0; e < bound_.size(); ++e) {
    Column& col = result.column(target_[e]);
    col.Reserve(rows);
    for (size_t r = 0; r < rows; ++r) {
      absl::StatusOr<Value> value = bound_[e].Eval(batch, r);
      if (!value.ok()) {
        is_rejected.resize(rows);
        if (!is_rejected[r]) {
          dead_.AddRow(batch, r, Reason(absl::StrCat("set.", fields_[e]), value.status()));
          rejected.push_back(static_cast<uint32_t>(r));
          is_rejected[r] = true;
        }
        col.AppendNull();
        continue;
      }
      const Value& v = *value;
      if (v.is_null() || (v.type != col.type &&
                          !(col.type == FieldType::kDouble && v.type == FieldType::kInt64))) {
        col.AppendNull();
        continue;
      }
      switch (col.type) {
        case FieldType::kDouble:
          col.AppendDouble(v.AsNumber());
          break;
        case FieldType::kString:
          col.AppendString(v.s);
          break;
        case FieldType::kBool:
          col.AppendInt(v.b ? 1 : 0);
          break;
        default:
          col.AppendInt(v.i);
          break;
      }
    }
  }
  // Computed columns first: they read the input columns moved below.
  for (size_t c = 0; c < passthrough_.size(); ++c) {
    if (passthrough_[c] >= 0) result.column(c) = std::move(batch.column(passthrough_[c]));
  }
  result.event_time() = std::move(batch.event_time());
  result.row_watermarks() = std::move(batch.row_watermarks());
  if (rejected.empty()) return out.Emit(std::move(result));
  RETURN_IF_ERROR(dead_.Flush(out));
  std::sort(rejected.begin(), rejected.end());
  return out.Emit(Without(result, rejected));
}

}  // namespace sluice
