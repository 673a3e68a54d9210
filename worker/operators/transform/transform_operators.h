#pragma once

// Stateless per-record operators: filter (`where:`) and map (`set:`).
// Expressions are parsed once and bound to each new input schema. A record
// the expression cannot be evaluated on goes to the operator's dead-letter
// output with the reason: its fields' types do not fit the expression (an
// inferred schema), an integer result overflows, or a condition is not a
// bool. A null condition drops the record, as in SQL.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/operator.h"
#include "common/expression.h"
#include "worker/operators/dead_letters.h"
#include "worker/operators/transform/transform.pb.h"

namespace sluice {

class FilterOperator : public Operator {
 public:
  static absl::StatusOr<std::unique_ptr<FilterOperator>> Create(const proto::FilterConfig& config);
  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;

 private:
  std::unique_ptr<Expr> where_;
  // For the current input schema: the bound condition, or why it does not bind.
  SchemaRef schema_;
  std::optional<BoundExpression> bound_;
  std::string bind_error_;
  DeadLetters dead_;
};

// Sets (adds or replaces) fields to the values of expressions evaluated on
// the input record; all expressions see the input, not each other's results.
class MapOperator : public Operator {
 public:
  static absl::StatusOr<std::unique_ptr<MapOperator>> Create(const proto::MapConfig& config);
  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;

 private:
  void Bind(const SchemaRef& input);

  std::vector<std::string> fields_;
  std::vector<std::unique_ptr<Expr>> exprs_;
  // For the current input schema:
  SchemaRef input_schema_, output_schema_;
  std::vector<BoundExpression> bound_;
  std::vector<int> target_;       // output column per expression
  std::vector<int> passthrough_;  // input column per output column, -1 if computed
  std::string bind_error_;        // why an expression does not bind, if one does not
  DeadLetters dead_;
};

}  // namespace sluice
