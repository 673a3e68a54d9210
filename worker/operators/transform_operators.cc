#include "worker/operators/transform_operators.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

absl::Status BindError(const OperatorContext& ctx, const std::string& field,
                       const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat("operator '", ctx.spec->id(), "', field '", field,
                                                 "': ", std::string(s.message())));
}

bool SameSchema(const SchemaRef& a, const SchemaRef& b) { return a == b || (a && b && *a == *b); }

}  // namespace

absl::StatusOr<std::unique_ptr<FilterOperator>> FilterOperator::Create(
    const proto::FilterConfig& config) {
  auto op = std::make_unique<FilterOperator>();
  ASSIGN_OR_RETURN(op->where_, ParseExpression(config.where()));
  return op;
}

absl::Status FilterOperator::ProcessBatch(Batch batch, Output& out) {
  if (!bound_.has_value() || !SameSchema(bound_->schema(), batch.schema())) {
    auto b = BoundExpression::Bind(*where_, batch.schema());
    if (!b.ok()) return BindError(ctx_, "where", b.status());
    bound_ = std::move(*b);
  }
  std::vector<uint32_t> keep;
  keep.reserve(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    Value v = bound_->Eval(batch, r);
    if (v.type == FieldType::kBool && v.b) keep.push_back(static_cast<uint32_t>(r));
  }
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

absl::Status MapOperator::Bind(const SchemaRef& input) {
  bound_.clear();
  std::vector<Field> fields = input->fields();
  passthrough_.clear();
  for (size_t i = 0; i < fields.size(); ++i) passthrough_.push_back(static_cast<int>(i));
  target_.clear();
  for (size_t e = 0; e < exprs_.size(); ++e) {
    auto b = BoundExpression::Bind(*exprs_[e], input);
    if (!b.ok()) return BindError(ctx_, absl::StrCat("set.", fields_[e]), b.status());
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
  input_schema_ = input;
  output_schema_ = std::make_shared<const Schema>(std::move(fields));
  return absl::OkStatus();
}

absl::Status MapOperator::ProcessBatch(Batch batch, Output& out) {
  if (!SameSchema(input_schema_, batch.schema())) RETURN_IF_ERROR(Bind(batch.schema()));
  Batch result(output_schema_);
  const size_t rows = batch.num_rows();
  for (size_t e = 0; e < bound_.size(); ++e) {
    Column& col = result.column(target_[e]);
    col.Reserve(rows);
    for (size_t r = 0; r < rows; ++r) {
      Value v = bound_[e].Eval(batch, r);
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
  return out.Emit(std::move(result));
}

}  // namespace sluice
