// Parser and type checker of the expression language (see expression.h).

#include <algorithm>
#include <cctype>
#include <charconv>

#include "absl/strings/str_cat.h"
#include "common/expression.h"
#include "common/json.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

struct Token {
  enum class Type { kEnd, kNumber, kString, kIdent, kOp };
  Type type;
  std::string text;
  size_t pos;  // 1-based
};

absl::Status ErrorAt(size_t pos, std::string_view msg) {
  return absl::InvalidArgumentError(absl::StrCat("position ", pos, ": ", std::string(msg)));
}

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view s) {
  std::vector<Token> out;
  size_t i = 0;
  while (i < s.size()) {
    char c = s[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    size_t start = i;
    if (std::isdigit(static_cast<unsigned char>(c)) ||
        (c == '.' && i + 1 < s.size() && std::isdigit(static_cast<unsigned char>(s[i + 1])))) {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
              ((s[i] == '+' || s[i] == '-') && (s[i - 1] == 'e' || s[i - 1] == 'E')))) {
        ++i;
      }
      out.push_back({Token::Type::kNumber, std::string(s.substr(start, i - start)), start + 1});
    } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
      while (i < s.size() &&
             (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_' || s[i] == '.'))
        ++i;
      out.push_back({Token::Type::kIdent, std::string(s.substr(start, i - start)), start + 1});
    } else if (c == '\'' || c == '"') {
      std::string text;
      ++i;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && i + 1 < s.size()) ++i;
        text.push_back(s[i++]);
      }
      if (i >= s.size()) return ErrorAt(start + 1, "unterminated string literal");
      ++i;
      out.push_back({Token::Type::kString, std::move(text), start + 1});
    } else {
      static constexpr std::string_view kTwo[] = {"==", "!=", "<=", ">=", "&&", "||"};
      std::string op;
      for (auto two : kTwo) {
        if (s.substr(i, 2) == two) op = std::string(two);
      }
      if (op.empty()) {
        if (std::string_view("+-*/%<>(),!=").find(c) == std::string_view::npos) {
          return ErrorAt(start + 1, absl::StrCat("unexpected character '", std::string(1, c), "'"));
        }
        op = std::string(1, c);
        if (op == "=") op = "==";
      }
      i += op.size() == 2 && s.substr(i, 2) == op ? 2 : 1;
      if (op == "&&") op = "and";
      if (op == "||") op = "or";
      if (op == "!") op = "not";
      out.push_back({Token::Type::kOp, op, start + 1});
    }
  }
  out.push_back({Token::Type::kEnd, "", s.size() + 1});
  return out;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Expr>> ParseAll() {
    ASSIGN_OR_RETURN(auto e, ParseNested());
    if (Peek().type != Token::Type::kEnd) {
      return ErrorAt(Peek().pos, absl::StrCat("unexpected '", Peek().text, "'"));
    }
    return e;
  }

 private:
  const Token& Peek() const { return t_[i_]; }
  bool IsWord(std::string_view w) const {
    const Token& t = Peek();
    return (t.type == Token::Type::kOp || t.type == Token::Type::kIdent) && t.text == w;
  }
  static std::unique_ptr<Expr> Make(Expr::Kind kind, size_t pos, std::string name) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    e->name = std::move(name);
    return e;
  }
  // Adds `arg` below `e`; an error when that makes `e` too deep.
  static absl::Status AddArg(Expr& e, std::unique_ptr<Expr> arg) {
    e.height = std::max(e.height, arg->height + 1);
    e.args.push_back(std::move(arg));
    if (e.height <= kMaxExpressionDepth) return absl::OkStatus();
    return TooDeep(e.pos);
  }
  static absl::Status TooDeep(size_t pos) {
    return ErrorAt(
        pos, absl::StrCat("the expression nests deeper than ", kMaxExpressionDepth, " levels"));
  }
  static absl::StatusOr<std::unique_ptr<Expr>> Binary(const Token& op, std::unique_ptr<Expr> l,
                                                      std::unique_ptr<Expr> r) {
    auto e = Make(Expr::Kind::kBinary, op.pos, op.text);
    RETURN_IF_ERROR(AddArg(*e, std::move(l)));
    RETURN_IF_ERROR(AddArg(*e, std::move(r)));
    return e;
  }
  // ParseOr one level down (parentheses, function arguments): the
  // recursion stops at kMaxExpressionDepth.
  absl::StatusOr<std::unique_ptr<Expr>> ParseNested() {
    if (++depth_ > kMaxExpressionDepth) return TooDeep(Peek().pos);
    absl::StatusOr<std::unique_ptr<Expr>> e = ParseOr();
    --depth_;
    return e;
  }

  absl::StatusOr<std::unique_ptr<Expr>> ParseOr() {
    ASSIGN_OR_RETURN(auto l, ParseAnd());
    while (IsWord("or")) {
      Token op = t_[i_++];
      op.text = "or";
      ASSIGN_OR_RETURN(auto r, ParseAnd());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
    return l;
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseAnd() {
    ASSIGN_OR_RETURN(auto l, ParseNot());
    while (IsWord("and")) {
      Token op = t_[i_++];
      op.text = "and";
      ASSIGN_OR_RETURN(auto r, ParseNot());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
    return l;
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseNot() {
    if (IsWord("not")) {
      size_t pos = t_[i_++].pos;
      if (++depth_ > kMaxExpressionDepth) return TooDeep(pos);
      ASSIGN_OR_RETURN(auto operand, ParseNot());
      --depth_;
      auto e = Make(Expr::Kind::kUnary, pos, "not");
      RETURN_IF_ERROR(AddArg(*e, std::move(operand)));
      return e;
    }
    return ParseCmp();
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseCmp() {
    ASSIGN_OR_RETURN(auto l, ParseSum());
    static constexpr std::string_view kCmp[] = {"==", "!=", "<", "<=", ">", ">="};
    for (auto c : kCmp) {
      if (Peek().type == Token::Type::kOp && Peek().text == c) {
        Token op = t_[i_++];
        ASSIGN_OR_RETURN(auto r, ParseSum());
        return Binary(op, std::move(l), std::move(r));
      }
    }
    return l;
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseSum() {
    ASSIGN_OR_RETURN(auto l, ParseProd());
    while (Peek().type == Token::Type::kOp && (Peek().text == "+" || Peek().text == "-")) {
      Token op = t_[i_++];
      ASSIGN_OR_RETURN(auto r, ParseProd());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
    return l;
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseProd() {
    ASSIGN_OR_RETURN(auto l, ParseUnary());
    while (Peek().type == Token::Type::kOp &&
           (Peek().text == "*" || Peek().text == "/" || Peek().text == "%")) {
      Token op = t_[i_++];
      ASSIGN_OR_RETURN(auto r, ParseUnary());
      ASSIGN_OR_RETURN(l, Binary(op, std::move(l), std::move(r)));
    }
    return l;
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParseUnary() {
    if (Peek().type == Token::Type::kOp && Peek().text == "-") {
      size_t pos = t_[i_++].pos;
      if (++depth_ > kMaxExpressionDepth) return TooDeep(pos);
      ASSIGN_OR_RETURN(auto operand, ParseUnary());
      --depth_;
      auto e = Make(Expr::Kind::kUnary, pos, "-");
      RETURN_IF_ERROR(AddArg(*e, std::move(operand)));
      return e;
    }
    return ParsePrimary();
  }
  absl::StatusOr<std::unique_ptr<Expr>> ParsePrimary() {
    const Token tok = Peek();
    switch (tok.type) {
      case Token::Type::kEnd:
        return ErrorAt(tok.pos, "unexpected end of expression");
      case Token::Type::kNumber: {
        ++i_;
        auto e = Make(Expr::Kind::kLiteral, tok.pos, "");
        int64_t iv = 0;
        auto [p, ec] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), iv);
        if (ec == std::errc() && p == tok.text.data() + tok.text.size()) {
          e->literal = Value::Int(iv);
          return e;
        }
        double dv = 0;
        auto [p2, ec2] = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), dv);
        if (ec2 != std::errc() || p2 != tok.text.data() + tok.text.size()) {
          return ErrorAt(tok.pos, absl::StrCat("bad number '", tok.text, "'"));
        }
        e->literal = Value::Double(dv);
        return e;
      }
      case Token::Type::kString: {
        ++i_;
        auto e = Make(Expr::Kind::kLiteral, tok.pos, "");
        e->literal = Value::String(tok.text);
        return e;
      }
      case Token::Type::kIdent: {
        ++i_;
        if (tok.text == "true" || tok.text == "false" || tok.text == "null") {
          auto e = Make(Expr::Kind::kLiteral, tok.pos, "");
          if (tok.text != "null") e->literal = Value::Bool(tok.text == "true");
          return e;
        }
        if (tok.text == "and" || tok.text == "or") {
          return ErrorAt(tok.pos, absl::StrCat("unexpected '", tok.text, "'"));
        }
        if (Peek().type == Token::Type::kOp && Peek().text == "(") {
          ++i_;
          auto e = Make(Expr::Kind::kCall, tok.pos, tok.text);
          if (!(Peek().type == Token::Type::kOp && Peek().text == ")")) {
            while (true) {
              ASSIGN_OR_RETURN(auto arg, ParseNested());
              RETURN_IF_ERROR(AddArg(*e, std::move(arg)));
              if (Peek().type == Token::Type::kOp && Peek().text == ",") {
                ++i_;
                continue;
              }
              break;
            }
          }
          if (!(Peek().type == Token::Type::kOp && Peek().text == ")")) {
            return ErrorAt(Peek().pos, "expected ')' after function arguments");
          }
          ++i_;
          return e;
        }
        return Make(Expr::Kind::kField, tok.pos, tok.text);
      }
      case Token::Type::kOp:
        if (tok.text == "(") {
          ++i_;
          ASSIGN_OR_RETURN(auto e, ParseNested());
          if (!(Peek().type == Token::Type::kOp && Peek().text == ")")) {
            return ErrorAt(Peek().pos, "expected ')'");
          }
          ++i_;
          return e;
        }
        return ErrorAt(tok.pos, absl::StrCat("unexpected '", tok.text, "'"));
    }
    return ErrorAt(tok.pos, "unexpected token");
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  size_t depth_ = 0;  // recursion through nesting: parentheses, arguments, not, -
};

bool IsNumeric(FieldType t) {
  return t == FieldType::kInt64 || t == FieldType::kDouble || t == FieldType::kNull;
}

std::string Describe(FieldType t) {
  return t == FieldType::kNull ? "unknown" : std::string(FieldTypeName(t));
}

}  // namespace

Value Value::Bool(bool v) {
  Value r;
  r.type = FieldType::kBool;
  r.b = v;
  return r;
}
Value Value::Int(int64_t v) {
  Value r;
  r.type = FieldType::kInt64;
  r.i = v;
  return r;
}
Value Value::Double(double v) {
  Value r;
  r.type = FieldType::kDouble;
  r.d = v;
  return r;
}
Value Value::String(std::string_view v) {
  Value r;
  r.type = FieldType::kString;
  r.s = std::string(v);
  return r;
}

absl::StatusOr<std::unique_ptr<Expr>> ParseExpression(std::string_view text) {
  ASSIGN_OR_RETURN(auto tokens, Tokenize(text));
  return Parser(std::move(tokens)).ParseAll();
}

std::string InExpression(std::string_view text) {
  constexpr size_t kShown = 80;
  if (text.size() <= kShown) return absl::StrCat(" in \"", std::string(text), "\"");
  return absl::StrCat(" in \"", std::string(Utf8Prefix(text, kShown)), "...\" (", text.size(),
                      " bytes)");
}

void CollectFields(const Expr& expr, std::vector<std::string>* out) {
  if (expr.kind == Expr::Kind::kField) out->push_back(expr.name);
  for (const auto& a : expr.args) CollectFields(*a, out);
}

absl::StatusOr<FieldType> CheckExpression(const Expr& e, const FieldTypeLookup& lookup) {
  std::vector<FieldType> args;
  for (const auto& a : e.args) {
    ASSIGN_OR_RETURN(FieldType t, CheckExpression(*a, lookup));
    args.push_back(t);
  }
  auto want = [&](size_t i, bool ok, std::string_view what) -> absl::Status {
    if (ok) return absl::OkStatus();
    return ErrorAt(e.args[i]->pos, absl::StrCat("'", e.name, "' expects ", std::string(what),
                                                ", got ", Describe(args[i])));
  };
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal.type;
    case Expr::Kind::kField: {
      auto t = lookup(e.name);
      if (!t.has_value()) return ErrorAt(e.pos, absl::StrCat("unknown field '", e.name, "'"));
      return *t;
    }
    case Expr::Kind::kUnary:
      if (e.name == "not") {
        RETURN_IF_ERROR(
            want(0, args[0] == FieldType::kBool || args[0] == FieldType::kNull, "a bool"));
        return FieldType::kBool;
      }
      RETURN_IF_ERROR(want(0, IsNumeric(args[0]), "a number"));
      return args[0];
    case Expr::Kind::kBinary: {
      const std::string& op = e.name;
      if (op == "and" || op == "or") {
        for (size_t i = 0; i < 2; ++i) {
          RETURN_IF_ERROR(
              want(i, args[i] == FieldType::kBool || args[i] == FieldType::kNull, "bool operands"));
        }
        return FieldType::kBool;
      }
      if (op == "==" || op == "!=" || op == "<" || op == "<=" || op == ">" || op == ">=") {
        FieldType a = args[0], b = args[1];
        bool ok = a == FieldType::kNull || b == FieldType::kNull ||
                  (IsNumeric(a) && IsNumeric(b)) || a == b;
        if (!ok) {
          return ErrorAt(e.pos,
                         absl::StrCat("cannot compare ", Describe(a), " with ", Describe(b)));
        }
        return FieldType::kBool;
      }
      for (size_t i = 0; i < 2; ++i) RETURN_IF_ERROR(want(i, IsNumeric(args[i]), "numbers"));
      if (op == "/") return FieldType::kDouble;
      if (args[0] == FieldType::kInt64 && args[1] == FieldType::kInt64) return FieldType::kInt64;
      if (args[0] == FieldType::kNull || args[1] == FieldType::kNull) return FieldType::kNull;
      return FieldType::kDouble;
    }
    case Expr::Kind::kCall: {
      const std::string& f = e.name;
      auto arity = [&](size_t lo, size_t hi) -> absl::Status {
        if (args.size() >= lo && args.size() <= hi) return absl::OkStatus();
        return ErrorAt(
            e.pos,
            absl::StrCat(f, "() takes ", lo == hi ? absl::StrCat(lo) : absl::StrCat(lo, " to ", hi),
                         " argument(s), got ", args.size()));
      };
      if (f == "abs") {
        RETURN_IF_ERROR(arity(1, 1));
        RETURN_IF_ERROR(want(0, IsNumeric(args[0]), "a number"));
        return args[0];
      }
      if (f == "now") {
        RETURN_IF_ERROR(arity(0, 0));
        return FieldType::kInt64;
      }
      if (f == "round" || f == "floor" || f == "ceil" || f == "sqrt") {
        RETURN_IF_ERROR(arity(1, f == "round" ? 2 : 1));
        for (size_t i = 0; i < args.size(); ++i)
          RETURN_IF_ERROR(want(i, IsNumeric(args[i]), "a number"));
        return FieldType::kDouble;
      }
      if (f == "min" || f == "max") {
        RETURN_IF_ERROR(arity(2, 2));
        for (size_t i = 0; i < 2; ++i) RETURN_IF_ERROR(want(i, IsNumeric(args[i]), "numbers"));
        return args[0] == FieldType::kInt64 && args[1] == FieldType::kInt64 ? FieldType::kInt64
                                                                            : FieldType::kDouble;
      }
      if (f == "lower" || f == "upper" || f == "length") {
        RETURN_IF_ERROR(arity(1, 1));
        RETURN_IF_ERROR(
            want(0, args[0] == FieldType::kString || args[0] == FieldType::kNull, "a string"));
        return f == "length" ? FieldType::kInt64 : FieldType::kString;
      }
      if (f == "concat") {
        RETURN_IF_ERROR(arity(1, 64));
        return FieldType::kString;
      }
      return ErrorAt(e.pos, absl::StrCat("unknown function '", f, "'"));
    }
  }
  return ErrorAt(e.pos, "bad expression");
}

}  // namespace sluice
