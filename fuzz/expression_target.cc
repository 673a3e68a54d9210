// The expression language of `where:` and `set:`: the input is the
// expression text. It goes through ParseExpression, CheckExpression and
// CollectFields, then binds to two schemas (the same field names with
// different types, as records of two sources may have) and evaluates on
// every row of a batch holding nulls and extreme values.
//
// Checked: an evaluation error is OutOfRange (integer overflow, the only
// one Eval reports) and says where; a value that is not null has the type
// the binding promised (or int64 where double was promised, which the map
// operator widens), since operators lay out their output columns by it.

#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/batch.h"
#include "common/expression.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/targets.h"

namespace sluice::fuzz {
namespace {

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Fields: i int64, d double, s string, b bool, z (type unknown: always null).
Batch TypedBatch() {
  BatchBuilder b(std::make_shared<const Schema>(std::vector<Field>{{"i", FieldType::kInt64},
                                                                   {"d", FieldType::kDouble},
                                                                   {"s", FieldType::kString},
                                                                   {"b", FieldType::kBool},
                                                                   {"z", FieldType::kNull}}));
  struct Row {
    int64_t i;
    double d;
    std::string_view s;
    bool b;
  };
  const Row rows[] = {
      {kMin, -kInf, "", false},
      {kMax, kInf, "Dev-01", true},
      {-1, std::numeric_limits<double>::quiet_NaN(), "\xc3\x89t\xc3\xa9 \xff", true},
      {0, -0.0, "0", false},
      {1, 1e308, std::string_view("a\0b", 3), true},
      {kMin + 1, std::numeric_limits<double>::denorm_min(), "x", false},
      {3037000500, -1e308, "ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ", true},
  };
  for (const Row& r : rows) {
    b.SetInt(0, r.i);
    b.SetDouble(1, r.d);
    b.SetString(2, r.s);
    b.SetBool(3, r.b);
    b.FinishRow(r.i);
  }
  b.FinishRow(0);     // every field null
  b.SetInt(0, kMax);  // some null, some not
  b.SetString(2, "null");
  b.FinishRow(kMin);
  return b.Take();
}

// The same names with other types, and z known.
Batch OtherTypedBatch() {
  BatchBuilder b(std::make_shared<const Schema>(std::vector<Field>{{"i", FieldType::kDouble},
                                                                   {"d", FieldType::kString},
                                                                   {"s", FieldType::kBool},
                                                                   {"b", FieldType::kInt64},
                                                                   {"z", FieldType::kInt64}}));
  const int64_t ints[] = {kMin, kMax, -1, 0, 1};
  for (size_t r = 0; r < std::size(ints); ++r) {
    b.SetDouble(0, static_cast<double>(ints[r]));
    b.SetString(1, std::to_string(ints[r]));
    b.SetBool(2, r % 2 == 0);
    b.SetInt(3, ints[r]);
    if (r != 2) b.SetInt(4, ints[(r + 1) % std::size(ints)]);
    b.FinishRow(0);
  }
  return b.Take();
}

void EvalAll(const Expr& expr, const Batch& batch) {
  absl::StatusOr<BoundExpression> bound = BoundExpression::Bind(expr, batch.schema());
  if (!bound.ok()) return;
  const FieldType promised = bound->result_type();
  for (size_t row = 0; row < batch.num_rows(); ++row) {
    absl::StatusOr<Value> v = bound->Eval(batch, row);
    if (!v.ok()) {
      FUZZ_CHECK(absl::IsOutOfRange(v.status()), "Eval fails with OutOfRange only");
      FUZZ_CHECK(v.status().message().find("position ") != std::string_view::npos,
                 "an evaluation error names the position");
      continue;
    }
    if (v->is_null() || promised == FieldType::kNull) continue;
    FUZZ_CHECK(
        v->type == promised || (promised == FieldType::kDouble && v->type == FieldType::kInt64),
        "a value has the type the binding promised");
  }
}

}  // namespace

int FuzzExpression(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::unique_ptr<Expr>> expr = ParseExpression(text);
  if (!expr.ok()) return 0;
  FUZZ_CHECK(*expr != nullptr, "a parsed expression is not null");

  std::vector<std::string> fields;
  CollectFields(**expr, &fields);
  // As job validation checks it: known fields typed, the rest unknown.
  (void)CheckExpression(**expr, [](std::string_view name) -> std::optional<FieldType> {
    if (name == "i") return FieldType::kInt64;
    if (name == "d") return FieldType::kDouble;
    if (name == "s") return FieldType::kString;
    if (name == "b") return FieldType::kBool;
    if (name == "z") return FieldType::kNull;
    return std::nullopt;
  });

  static const Batch* const typed = new Batch(TypedBatch());
  static const Batch* const other = new Batch(OtherTypedBatch());
  EvalAll(**expr, *typed);
  EvalAll(**expr, *other);
  return 0;
}

}  // namespace sluice::fuzz
