// Evaluation of bound expressions, one row at a time.

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/expression.h"
#include "common/json.h"
#include "common/status_macros.h"

namespace sluice {

struct BoundExpression::Node {
  Expr::Kind kind;
  std::string name;
  Value literal;
  int column = -1;
  FieldType column_type = FieldType::kNull;
  std::vector<Node> args;
};

namespace {

int Compare(const Value& a, const Value& b) {
  if (a.type == FieldType::kString) return a.s.compare(b.s) < 0 ? -1 : (a.s == b.s ? 0 : 1);
  if (a.type == FieldType::kBool) return static_cast<int>(a.b) - static_cast<int>(b.b);
  if (a.type == FieldType::kInt64 && b.type == FieldType::kInt64) {
    return a.i < b.i ? -1 : (a.i == b.i ? 0 : 1);
  }
  double x = a.AsNumber(), y = b.AsNumber();
  return x < y ? -1 : (x == y ? 0 : 1);
}

bool Comparable(const Value& a, const Value& b) {
  auto num = [](FieldType t) { return t == FieldType::kInt64 || t == FieldType::kDouble; };
  return (num(a.type) && num(b.type)) || a.type == b.type;
}

Value Arith(const std::string& op, const Value& a, const Value& b) {
  if (op != "/" && a.type == FieldType::kInt64 && b.type == FieldType::kInt64) {
    if (op == "+") return Value::Int(a.i + b.i);
    if (op == "-") return Value::Int(a.i - b.i);
    if (op == "*") return Value::Int(a.i * b.i);
    if (b.i == 0) return Value();
    return Value::Int(a.i % b.i);
  }
  double x = a.AsNumber(), y = b.AsNumber();
  if (op == "+") return Value::Double(x + y);
  if (op == "-") return Value::Double(x - y);
  if (op == "*") return Value::Double(x * y);
  if (y == 0) return Value();  // division by zero is null, not a crash
  if (op == "/") return Value::Double(x / y);
  return Value::Double(std::fmod(x, y));
}

std::string ToText(const Value& v) {
  switch (v.type) {
    case FieldType::kString:
      return v.s;
    case FieldType::kInt64:
      return absl::StrCat(v.i);
    case FieldType::kDouble:
      return FormatDouble(v.d);
    case FieldType::kBool:
      return v.b ? "true" : "false";
    case FieldType::kNull:
      return "";
  }
  return "";
}

}  // namespace

namespace {
bool IsNumber(const Value& v) {
  return v.type == FieldType::kInt64 || v.type == FieldType::kDouble;
}
}  // namespace

absl::StatusOr<BoundExpression> BoundExpression::Bind(const Expr& expr, const SchemaRef& schema) {
  FieldTypeLookup lookup = [&](std::string_view name) -> std::optional<FieldType> {
    int i = schema->IndexOf(name);
    if (i < 0) return FieldType::kNull;  // absent in this batch: null at run time
    return schema->field(i).type;
  };
  ASSIGN_OR_RETURN(FieldType type, CheckExpression(expr, lookup));
  std::function<Node(const Expr&)> build = [&](const Expr& e) {
    Node n;
    n.kind = e.kind;
    n.name = e.name;
    n.literal = e.literal;
    if (e.kind == Expr::Kind::kField) {
      n.column = schema->IndexOf(e.name);
      if (n.column >= 0) n.column_type = schema->field(n.column).type;
    }
    for (const auto& a : e.args) n.args.push_back(build(*a));
    return n;
  };
  BoundExpression out;
  out.schema_ = schema;
  out.root_ = std::make_shared<const Node>(build(expr));
  out.result_type_ = type;
  return out;
}

Value BoundExpression::Eval(const Batch& batch, size_t row) const {
  return EvalNode(*root_, batch, row);
}

// Type mismatches that slipped past binding yield null.
Value BoundExpression::EvalNode(const Node& n, const Batch& batch, size_t row) {
  switch (n.kind) {
    case Expr::Kind::kLiteral:
      return n.literal;
    case Expr::Kind::kField: {
      if (n.column < 0) return Value();
      const Column& col = batch.column(n.column);
      if (col.IsNull(row)) return Value();
      switch (n.column_type) {
        case FieldType::kInt64:
          return Value::Int(col.ints[row]);
        case FieldType::kBool:
          return Value::Bool(col.ints[row] != 0);
        case FieldType::kDouble:
          return Value::Double(col.doubles[row]);
        case FieldType::kString:
          return Value::String(col.StringAt(row));
        case FieldType::kNull:
          return Value();
      }
      return Value();
    }
    case Expr::Kind::kUnary: {
      Value v = EvalNode(n.args[0], batch, row);
      if (v.is_null()) return v;
      if (n.name == "not") return v.type == FieldType::kBool ? Value::Bool(!v.b) : Value();
      if (v.type == FieldType::kInt64) return Value::Int(-v.i);
      return v.type == FieldType::kDouble ? Value::Double(-v.d) : Value();
    }
    case Expr::Kind::kBinary: {
      const std::string& op = n.name;
      Value a = EvalNode(n.args[0], batch, row);
      if (op == "and" || op == "or") {
        // Three-valued logic with short circuit.
        bool is_and = op == "and";
        if (a.type == FieldType::kBool && a.b != is_and) return Value::Bool(!is_and);
        Value b = EvalNode(n.args[1], batch, row);
        if (b.type == FieldType::kBool && b.b != is_and) return Value::Bool(!is_and);
        if (a.is_null() || b.is_null()) return Value();
        return Value::Bool(is_and);
      }
      Value b = EvalNode(n.args[1], batch, row);
      if (a.is_null() || b.is_null()) return Value();
      if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
        if (!Comparable(a, b)) return Value();
        int c = Compare(a, b);
        if (op == "==") return Value::Bool(c == 0);
        if (op == "!=") return Value::Bool(c != 0);
        if (op == "<") return Value::Bool(c < 0);
        if (op == "<=") return Value::Bool(c <= 0);
        if (op == ">") return Value::Bool(c > 0);
        return Value::Bool(c >= 0);
      }
      if (!IsNumber(a) || !IsNumber(b)) return Value();
      return Arith(op, a, b);
    }
    case Expr::Kind::kCall: {
      std::vector<Value> args;
      args.reserve(n.args.size());
      for (const auto& a : n.args) args.push_back(EvalNode(a, batch, row));
      const std::string& f = n.name;
      if (f == "now") return Value::Int(absl::ToUnixMillis(absl::Now()));
      if (f == "concat") {
        std::string s;
        for (const auto& a : args) s += ToText(a);
        return Value::String(s);
      }
      for (const auto& a : args) {
        if (a.is_null()) return Value();
      }
      if (f == "lower" || f == "upper" || f == "length") {
        if (args[0].type != FieldType::kString) return Value();
        if (f == "length") return Value::Int(static_cast<int64_t>(args[0].s.size()));
        return Value::String(f == "lower" ? absl::AsciiStrToLower(args[0].s)
                                          : absl::AsciiStrToUpper(args[0].s));
      }
      for (const auto& a : args) {
        if (!IsNumber(a)) return Value();
      }
      if (f == "abs") {
        return args[0].type == FieldType::kInt64 ? Value::Int(std::llabs(args[0].i))
                                                 : Value::Double(std::fabs(args[0].d));
      }
      if (f == "min" || f == "max") {
        bool take_first = (Compare(args[0], args[1]) <= 0) == (f == "min");
        const Value& v = take_first ? args[0] : args[1];
        if (args[0].type == FieldType::kInt64 && args[1].type == FieldType::kInt64) return v;
        return Value::Double(v.AsNumber());
      }
      double x = args[0].AsNumber();
      if (f == "floor") return Value::Double(std::floor(x));
      if (f == "ceil") return Value::Double(std::ceil(x));
      if (f == "sqrt") return x < 0 ? Value() : Value::Double(std::sqrt(x));
      double scale = args.size() > 1 ? std::pow(10.0, args[1].AsNumber()) : 1.0;
      return Value::Double(std::round(x * scale) / scale);
    }
  }
  return Value();
}

}  // namespace sluice
