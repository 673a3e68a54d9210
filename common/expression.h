#pragma once

// The expression language of `where:` and `set:`.
//
//   expr    := or
//   or      := and ("or" and)*          and := not ("and" not)*
//   not     := "not" not | cmp          cmp := sum (("=="|"!="|"<"|"<="|">"|">=") sum)?
//   sum     := prod (("+"|"-") prod)*   prod := unary (("*"|"/"|"%") unary)*
//   unary   := "-" unary | primary
//   primary := number | 'string' | "string" | true | false | null
//            | field | function "(" args ")" | "(" expr ")"
//
// Functions: abs, round, floor, ceil, sqrt, min, max, lower, upper, length, concat,
// now() (processing time: the wall clock in epoch milliseconds when the row is
// evaluated; the one function whose result differs between runs).
// Null propagates (SQL style): a comparison with null is null, and a filter
// keeps only rows whose condition is true. Positions in errors are 1-based
// character offsets into the expression text.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/batch.h"

namespace sluice {

struct Value {
  FieldType type = FieldType::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;
  std::string s;

  static Value Bool(bool v);
  static Value Int(int64_t v);
  static Value Double(double v);
  static Value String(std::string_view v);
  bool is_null() const { return type == FieldType::kNull; }
  double AsNumber() const { return type == FieldType::kDouble ? d : static_cast<double>(i); }
};

struct Expr {
  enum class Kind { kLiteral, kField, kUnary, kBinary, kCall };
  Kind kind;
  size_t pos;        // 1-based
  Value literal;     // kLiteral
  std::string name;  // field name, operator or function name
  std::vector<std::unique_ptr<Expr>> args;
  size_t height = 1;  // levels of this node and those below it
};

// Expressions nest at most this deep, counting operators and parentheses:
// the checker and the evaluator recurse once per level.
inline constexpr size_t kMaxExpressionDepth = 256;

// Fails on a syntax error, or when the expression nests deeper than
// kMaxExpressionDepth (a chain `a + b + c ...` is one level per operator).
absl::StatusOr<std::unique_ptr<Expr>> ParseExpression(std::string_view text);

// ` in "TEXT"` for an error message: the expression, cut short when long.
std::string InExpression(std::string_view text);

// Looks up a field's type; std::nullopt for a field that does not exist,
// FieldType::kNull for a field whose type is not known before run time.
using FieldTypeLookup = std::function<std::optional<FieldType>(std::string_view)>;

// Type-checks `expr`; returns its result type (kNull = unknown until run time).
absl::StatusOr<FieldType> CheckExpression(const Expr& expr, const FieldTypeLookup& lookup);

// Field names the expression references.
void CollectFields(const Expr& expr, std::vector<std::string>* out);

// An expression bound to one schema: field references resolved to columns.
// Immutable after construction; Eval is safe to call from one thread at a time.
class BoundExpression {
 public:
  // Fails when the expression does not type-check against `schema`.
  static absl::StatusOr<BoundExpression> Bind(const Expr& expr, const SchemaRef& schema);

  // The value for row `row` of `batch` (which has schema()). OutOfRange
  // when an integer result does not fit int64 (it is never wrapped); the
  // message names the position and the operation.
  absl::StatusOr<Value> Eval(const Batch& batch, size_t row) const;
  FieldType result_type() const { return result_type_; }
  const SchemaRef& schema() const { return schema_; }

 private:
  struct Node;
  BoundExpression() = default;
  static Value EvalNode(const Node& n, const Batch& batch, size_t row, std::string* error);
  static Value EvalCall(const Node& n, const Batch& batch, size_t row, std::string* error);

  SchemaRef schema_;
  std::shared_ptr<const Node> root_;
  FieldType result_type_ = FieldType::kNull;
};

}  // namespace sluice
