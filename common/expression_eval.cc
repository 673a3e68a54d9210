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

// An operator or function, resolved once at binding.
enum class Op {
  kNone,  // literals and fields
  kNot,
  kNeg,
  kAnd,
  kOr,
  kEq,
  kNe,
  kLt,
  kLe,
  kGt,
  kGe,  // comparisons: keep together, in this order
  kAdd,
  kSub,
  kMul,
  kDiv,
  kMod,
  kNow,
  kConcat,
  kLower,
  kUpper,
  kLength,
  kAbs,
  kMin,
  kMax,
  kFloor,
  kCeil,
  kSqrt,
  kRound,
};

struct BoundExpression::Node {
  Expr::Kind kind;
  Op op = Op::kNone;
  size_t pos = 0;
  std::string name;
  Value literal;
  int column = -1;
  FieldType column_type = FieldType::kNull;
  std::vector<Node> args;
};

namespace {

Op OpOf(const Expr& e) {
  static const auto* const kOps = new std::vector<std::pair<std::string_view, Op>>{
      {"and", Op::kAnd},     {"or", Op::kOr},       {"==", Op::kEq},
      {"!=", Op::kNe},       {"<", Op::kLt},        {"<=", Op::kLe},
      {">", Op::kGt},        {">=", Op::kGe},       {"+", Op::kAdd},
      {"-", Op::kSub},       {"*", Op::kMul},       {"/", Op::kDiv},
      {"%", Op::kMod},       {"now", Op::kNow},     {"concat", Op::kConcat},
      {"lower", Op::kLower}, {"upper", Op::kUpper}, {"length", Op::kLength},
      {"abs", Op::kAbs},     {"min", Op::kMin},     {"max", Op::kMax},
      {"floor", Op::kFloor}, {"ceil", Op::kCeil},   {"sqrt", Op::kSqrt},
      {"round", Op::kRound},
  };
  if (e.kind == Expr::Kind::kUnary) return e.name == "not" ? Op::kNot : Op::kNeg;
  if (e.kind != Expr::Kind::kBinary && e.kind != Expr::Kind::kCall) return Op::kNone;
  for (const auto& [name, op] : *kOps) {
    if (name == e.name) return op;
  }
  return Op::kNone;
}

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

std::string Overflow(size_t pos, const std::string& what) {
  return absl::StrCat("position ", pos, ": integer overflow: ", what,
                      " is outside the int64 range");
}

// Integer arithmetic is exact or an error, never wrapped; division is
// always in doubles. A division or remainder by zero is null.
Value Arith(Op op, size_t pos, const Value& a, const Value& b, std::string* error) {
  if (op != Op::kDiv && a.type == FieldType::kInt64 && b.type == FieldType::kInt64) {
    int64_t r = 0;
    bool overflow = false;
    switch (op) {
      case Op::kAdd:
        overflow = __builtin_add_overflow(a.i, b.i, &r);
        break;
      case Op::kSub:
        overflow = __builtin_sub_overflow(a.i, b.i, &r);
        break;
      case Op::kMul:
        overflow = __builtin_mul_overflow(a.i, b.i, &r);
        break;
      default:  // %
        if (b.i == 0) return Value();
        r = b.i == -1 ? 0 : a.i % b.i;  // INT64_MIN % -1 traps in hardware
        break;
    }
    if (overflow) {
      const char* sign = op == Op::kAdd ? " + " : op == Op::kSub ? " - " : " * ";
      *error = Overflow(pos, absl::StrCat(a.i, sign, b.i));
      return Value();
    }
    return Value::Int(r);
  }
  double x = a.AsNumber(), y = b.AsNumber();
  switch (op) {
    case Op::kAdd:
      return Value::Double(x + y);
    case Op::kSub:
      return Value::Double(x - y);
    case Op::kMul:
      return Value::Double(x * y);
    default:
      break;
  }
  if (y == 0) return Value();  // division by zero is null, not a crash
  if (op == Op::kDiv) return Value::Double(x / y);
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

// ==, !=, <, <=, >, >=; null when the values cannot be compared.
Value CompareOp(Op op, const Value& a, const Value& b) {
  if (!Comparable(a, b)) return Value();
  const int c = Compare(a, b);
  switch (op) {
    case Op::kEq:
      return Value::Bool(c == 0);
    case Op::kNe:
      return Value::Bool(c != 0);
    case Op::kLt:
      return Value::Bool(c < 0);
    case Op::kLe:
      return Value::Bool(c <= 0);
    case Op::kGt:
      return Value::Bool(c > 0);
    default:
      return Value::Bool(c >= 0);
  }
}

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
    n.op = OpOf(e);
    n.pos = e.pos;
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

absl::StatusOr<Value> BoundExpression::Eval(const Batch& batch, size_t row) const {
  std::string error;
  Value v = EvalNode(*root_, batch, row, &error);
  if (!error.empty()) return absl::OutOfRangeError(error);
  return v;
}

// Type mismatches that slipped past binding yield null. An error (an
// integer overflow) sets *error; the value is then meaningless.
Value BoundExpression::EvalNode(const Node& n, const Batch& batch, size_t row, std::string* error) {
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
      Value v = EvalNode(n.args[0], batch, row, error);
      if (v.is_null()) return v;
      if (n.op == Op::kNot) return v.type == FieldType::kBool ? Value::Bool(!v.b) : Value();
      if (v.type == FieldType::kInt64) {
        if (v.i == INT64_MIN) {
          *error = Overflow(n.pos, absl::StrCat("-(", v.i, ")"));
          return Value();
        }
        return Value::Int(-v.i);
      }
      return v.type == FieldType::kDouble ? Value::Double(-v.d) : Value();
    }
    case Expr::Kind::kBinary: {
      Value a = EvalNode(n.args[0], batch, row, error);
      if (n.op == Op::kAnd || n.op == Op::kOr) {
        // Three-valued logic with short circuit.
        bool is_and = n.op == Op::kAnd;
        if (a.type == FieldType::kBool && a.b != is_and) return Value::Bool(!is_and);
        Value b = EvalNode(n.args[1], batch, row, error);
        if (b.type == FieldType::kBool && b.b != is_and) return Value::Bool(!is_and);
        if (a.is_null() || b.is_null()) return Value();
        return Value::Bool(is_and);
      }
      Value b = EvalNode(n.args[1], batch, row, error);
      if (a.is_null() || b.is_null()) return Value();
      if (n.op >= Op::kEq && n.op <= Op::kGe) return CompareOp(n.op, a, b);
      if (!IsNumber(a) || !IsNumber(b)) return Value();
      return Arith(n.op, n.pos, a, b, error);
    }
    case Expr::Kind::kCall:
      return EvalCall(n, batch, row, error);
  }
  return Value();
}

Value BoundExpression::EvalCall(const Node& n, const Batch& batch, size_t row, std::string* error) {
  std::vector<Value> args;
  args.reserve(n.args.size());
  for (const auto& a : n.args) args.push_back(EvalNode(a, batch, row, error));
  switch (n.op) {
    case Op::kNow:
      return Value::Int(absl::ToUnixMillis(absl::Now()));
    case Op::kConcat: {
      std::string s;
      for (const auto& a : args) s += ToText(a);
      return Value::String(s);
    }
    default:
      break;
  }
  for (const auto& a : args) {
    if (a.is_null()) return Value();
  }
  switch (n.op) {
    case Op::kLower:
    case Op::kUpper:
    case Op::kLength:
      if (args[0].type != FieldType::kString) return Value();
      if (n.op == Op::kLength) return Value::Int(static_cast<int64_t>(args[0].s.size()));
      return Value::String(n.op == Op::kLower ? absl::AsciiStrToLower(args[0].s)
                                              : absl::AsciiStrToUpper(args[0].s));
    default:
      break;
  }
  for (const auto& a : args) {
    if (!IsNumber(a)) return Value();
  }
  switch (n.op) {
    case Op::kAbs:
      if (args[0].type == FieldType::kDouble) return Value::Double(std::fabs(args[0].d));
      if (args[0].i == INT64_MIN) {
        *error = Overflow(n.pos, absl::StrCat("abs(", args[0].i, ")"));
        return Value();
      }
      return Value::Int(args[0].i < 0 ? -args[0].i : args[0].i);
    case Op::kMin:
    case Op::kMax: {
      bool take_first = (Compare(args[0], args[1]) <= 0) == (n.op == Op::kMin);
      const Value& v = take_first ? args[0] : args[1];
      if (args[0].type == FieldType::kInt64 && args[1].type == FieldType::kInt64) return v;
      return Value::Double(v.AsNumber());
    }
    default:
      break;
  }
  double x = args[0].AsNumber();
  switch (n.op) {
    case Op::kFloor:
      return Value::Double(std::floor(x));
    case Op::kCeil:
      return Value::Double(std::ceil(x));
    case Op::kSqrt:
      return x < 0 ? Value() : Value::Double(std::sqrt(x));
    case Op::kRound: {
      double scale = args.size() > 1 ? std::pow(10.0, args[1].AsNumber()) : 1.0;
      return Value::Double(std::round(x * scale) / scale);
    }
    default:
      return Value();
  }
}

}  // namespace sluice
