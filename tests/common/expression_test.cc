#include "common/expression.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

class ExpressionTest : public ::testing::Test {
 protected:
  ExpressionTest() {
    schema_ = std::make_shared<const Schema>(std::vector<Field>{{"t", FieldType::kDouble},
                                                                {"n", FieldType::kInt64},
                                                                {"dev", FieldType::kString},
                                                                {"flag", FieldType::kBool}});
    BatchBuilder b(schema_);
    b.SetDouble(0, 21.5);
    b.SetInt(1, 7);
    b.SetString(2, "Dev-01");
    b.SetBool(3, true);
    b.FinishRow(0);
    b.FinishRow(0);  // all null
    batch_ = b.Take();
  }

  absl::StatusOr<Value> EvalOrError(const std::string& text, size_t row = 0) {
    auto e = ParseExpression(text);
    EXPECT_TRUE(e.ok()) << text << ": " << e.status();
    auto bound = BoundExpression::Bind(**e, schema_);
    EXPECT_TRUE(bound.ok()) << text << ": " << bound.status();
    return bound->Eval(batch_, row);
  }
  Value Eval(const std::string& text, size_t row = 0) {
    absl::StatusOr<Value> v = EvalOrError(text, row);
    EXPECT_TRUE(v.ok()) << text << ": " << v.status();
    return v.ok() ? *v : Value();
  }

  SchemaRef schema_;
  Batch batch_;
};

TEST_F(ExpressionTest, ArithmeticAndComparison) {
  EXPECT_EQ(Eval("n * 2 + 1").i, 15);
  EXPECT_DOUBLE_EQ(Eval("t / 2").d, 10.75);
  EXPECT_DOUBLE_EQ(Eval("n / 2").d, 3.5);
  EXPECT_EQ(Eval("n % 4").i, 3);
  EXPECT_TRUE(Eval("t > -50 and t < 150").b);
  EXPECT_FALSE(Eval("not (t >= 21.5)").b);
  EXPECT_TRUE(Eval("dev == 'Dev-01' or n = 3").b);
  EXPECT_TRUE(Eval("-n < 0 && flag").b);
}

TEST_F(ExpressionTest, Functions) {
  EXPECT_EQ(Eval("lower(dev)").s, "dev-01");
  EXPECT_EQ(Eval("upper(dev)").s, "DEV-01");
  EXPECT_EQ(Eval("length(dev)").i, 6);
  EXPECT_DOUBLE_EQ(Eval("round(t * 1.8 + 32, 1)").d, 70.7);
  EXPECT_DOUBLE_EQ(Eval("abs(-t)").d, 21.5);
  EXPECT_EQ(Eval("max(n, 3)").i, 7);
  EXPECT_EQ(Eval("concat(dev, ':', n)").s, "Dev-01:7");
}

TEST_F(ExpressionTest, NowIsTheWallClockInEpochMilliseconds) {
  const auto before = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  Value v = Eval("now()");
  const auto after = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  ASSERT_EQ(v.type, FieldType::kInt64);
  EXPECT_GE(v.i, before);
  EXPECT_LE(v.i, after);
  EXPECT_FALSE(ParseExpression("now(1)").ok() &&
               CheckExpression(**ParseExpression("now(1)"), [](std::string_view) {
                 return std::optional<FieldType>(FieldType::kNull);
               }).ok());
}

TEST_F(ExpressionTest, NullsPropagateAndNeverPassAFilter) {
  EXPECT_TRUE(Eval("t > 0", 1).is_null());
  EXPECT_TRUE(Eval("n + 1", 1).is_null());
  EXPECT_FALSE(Eval("t > 0 and false", 1).b);  // false wins over null
  EXPECT_TRUE(Eval("t > 0 or true", 1).b);
  EXPECT_TRUE(Eval("missing_field > 1").is_null());
  EXPECT_TRUE(Eval("n / 0").is_null());
}

// INT64_MIN is written -9223372036854775807 - 1: the literal 9223372036854775808
// does not fit int64, so it is a double.
TEST_F(ExpressionTest, IntegerOverflowIsAnErrorNeverAWrappedValue) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"9223372036854775807 + 1",
       "position 21: integer overflow: 9223372036854775807 + 1 is outside the int64 range"},
      {"(-9223372036854775807 - 1) - 1", "integer overflow: -9223372036854775808 - 1"},
      {"4611686018427387904 * 2", "integer overflow: 4611686018427387904 * 2"},
      {"n * 9223372036854775807", "integer overflow: 7 * 9223372036854775807"},
      {"abs(-9223372036854775807 - 1)",
       "position 1: integer overflow: abs(-9223372036854775808) is outside"},
      {"-(-9223372036854775807 - 1)", "position 1: integer overflow: -(-9223372036854775808)"},
      {"concat('x', 9223372036854775807 + n)", "integer overflow"},
  };
  for (const auto& c : cases) {
    absl::StatusOr<Value> v = EvalOrError(c.text);
    ASSERT_FALSE(v.ok()) << c.text << " gave " << v->i;
    EXPECT_EQ(v.status().code(), absl::StatusCode::kOutOfRange);
    EXPECT_NE(std::string(v.status().message()).find(c.message), std::string::npos)
        << c.text << " -> " << v.status().message();
  }
  // Results that fit are exact.
  EXPECT_EQ(Eval("3037000499 * 3037000499").i, int64_t{9223372030926249001});
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) + 9223372036854775807").i, -1);
  EXPECT_EQ(Eval("abs(-9223372036854775807)").i, INT64_MAX);
  // The remainder by -1 is 0, also of INT64_MIN (which traps in hardware).
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) % -1").i, 0);
  EXPECT_EQ(Eval("n % -1").i, 0);
  EXPECT_EQ(Eval("-7 % 3").i, -1);  // the sign of the dividend, as in SQL
  // Mixed with a double, the arithmetic is in doubles.
  EXPECT_DOUBLE_EQ(Eval("9223372036854775807 + 1.0").d, 9223372036854775808.0);
}

TEST(ExpressionParseTest, ErrorsCarryPositions) {
  struct Case {
    const char* text;
    const char* message;
  } cases[] = {
      {"temperature > > 3", "position 15: unexpected '>'"},
      {"(a + 1", "position 7: expected ')'"},
      {"a = 'open", "position 5: unterminated string literal"},
      {"a # 2", "position 3: unexpected character '#'"},
      {"", "position 1: unexpected end of expression"},
  };
  for (const auto& c : cases) {
    auto e = ParseExpression(c.text);
    ASSERT_FALSE(e.ok()) << c.text;
    EXPECT_NE(std::string(e.status().message()).find(c.message), std::string::npos)
        << c.text << " -> " << e.status().message();
  }
}

std::string Repeat(std::string_view s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out.append(s);
  return out;
}

TEST(ExpressionParseTest, NestingDeeperThanTheLimitIsAnErrorNotACrash) {
  const std::string deep[] = {
      absl::StrCat(Repeat("(", 6000), "n", Repeat(")", 6000)),
      absl::StrCat("n", Repeat(" + 1", 100000)),
      absl::StrCat(Repeat("not ", 100000), "true"),
      absl::StrCat(Repeat("-", 100000), "1"),
      absl::StrCat(Repeat("abs(", 6000), "1", Repeat(")", 6000)),
      absl::StrCat(Repeat("min(1, ", 6000), "1", Repeat(")", 6000)),
  };
  for (const std::string& text : deep) {
    auto e = ParseExpression(text);
    ASSERT_FALSE(e.ok()) << text.substr(0, 20);
    EXPECT_NE(std::string(e.status().message()).find("the expression nests deeper than 256 levels"),
              std::string::npos)
        << e.status();
  }
  // Up to the limit, expressions parse and evaluate.
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"n", FieldType::kInt64}});
  BatchBuilder b(schema);
  b.SetInt(0, 5);
  b.FinishRow(0);
  const Batch batch = b.Take();
  const std::pair<std::string, int64_t> fine[] = {
      {absl::StrCat(Repeat("(", 255), "n", Repeat(")", 255)), 5},
      {absl::StrCat("n", Repeat(" + 1", 255)), 260},
      {absl::StrCat(Repeat("-", 254), "n"), 5},
      {absl::StrCat(Repeat("abs(", 255), "n", Repeat(")", 255)), 5},
  };
  for (const auto& [text, want] : fine) {
    auto e = ParseExpression(text);
    ASSERT_TRUE(e.ok()) << e.status();
    auto bound = BoundExpression::Bind(**e, schema);
    ASSERT_TRUE(bound.ok()) << bound.status();
    absl::StatusOr<Value> v = bound->Eval(batch, 0);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->i, want) << text.substr(0, 20);
  }
}

TEST(ExpressionCheckTest, TypeErrorsAgainstKnownFields) {
  FieldTypeLookup lookup = [](std::string_view name) -> std::optional<FieldType> {
    if (name == "t") return FieldType::kDouble;
    if (name == "dev") return FieldType::kString;
    return std::nullopt;
  };
  auto check = [&](const char* text) {
    auto e = ParseExpression(text);
    EXPECT_TRUE(e.ok());
    return CheckExpression(**e, lookup);
  };
  EXPECT_EQ(*check("t > 1 and dev == 'x'"), FieldType::kBool);
  EXPECT_NE(
      std::string(check("dev > 1").status().message()).find("cannot compare string with int64"),
      std::string::npos);
  EXPECT_NE(
      std::string(check("temp > 1").status().message()).find("position 1: unknown field 'temp'"),
      std::string::npos);
  EXPECT_NE(std::string(check("t and true").status().message()).find("expects bool operands"),
            std::string::npos);
  EXPECT_NE(std::string(check("frob(t)").status().message()).find("unknown function 'frob'"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice
