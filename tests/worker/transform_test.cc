#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/transform/transform_operators.h"

namespace sluice {
namespace {

Batch Readings() {
  auto schema = std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"t", FieldType::kDouble}});
  BatchBuilder b(schema);
  const double temps[] = {-60, 20, 155, 30};
  for (int i = 0; i < 4; ++i) {
    b.SetString(0, absl::StrCat("d", i));
    b.SetDouble(1, temps[i]);
    b.FinishRow(i);
  }
  b.SetString(0, "null-temp");
  b.FinishRow(4);
  return b.Take();
}

TEST(TransformTest, FilterKeepsRowsWhoseConditionIsTrue) {
  proto::OperatorSpec spec;
  spec.set_id("f");
  proto::FilterConfig filter;
  filter.set_where("t > -50 and t < 150");
  spec.mutable_config()->PackFrom(filter);
  auto op = FilterOperator::Create(filter);
  ASSERT_TRUE(op.ok());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE((*op)->Open(ctx).ok());
  CaptureOutput out;
  ASSERT_TRUE((*op)->ProcessBatch(Readings(), out).ok());
  ASSERT_EQ(out.MainRows(), 2u);
  EXPECT_EQ(out.main[0].column(0).StringAt(0), "d1");
  EXPECT_EQ(out.main[0].column(0).StringAt(1), "d3");
  EXPECT_EQ(out.main[0].event_time(), (std::vector<int64_t>{1, 3}));
}

TEST(TransformTest, MapAddsAndReplacesFieldsFromTheInputRecord) {
  proto::OperatorSpec spec;
  spec.set_id("m");
  proto::MapConfig map;
  auto* set = map.add_set();
  set->set_field("f");
  set->set_expression("t * 9 / 5 + 32");
  set = map.add_set();
  set->set_field("dev");
  set->set_expression("upper(dev)");
  spec.mutable_config()->PackFrom(map);
  auto op = MapOperator::Create(map);
  ASSERT_TRUE(op.ok());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE((*op)->Open(ctx).ok());
  CaptureOutput out;
  ASSERT_TRUE((*op)->ProcessBatch(Readings(), out).ok());
  ASSERT_EQ(out.main.size(), 1u);
  const Batch& b = out.main[0];
  ASSERT_EQ(b.schema()->size(), 3u);
  EXPECT_EQ(b.schema()->field(2).name, "f");
  EXPECT_DOUBLE_EQ(b.column(2).doubles[1], 68.0);
  EXPECT_TRUE(b.column(2).IsNull(4));
  EXPECT_EQ(b.column(0).StringAt(1), "D1");
  EXPECT_DOUBLE_EQ(b.column(1).doubles[3], 30.0);  // passthrough
}

// Readings with an int64 count n: INT64_MAX in row 1, INT64_MIN in row 2.
Batch Counts() {
  auto schema = std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"n", FieldType::kInt64}});
  BatchBuilder b(schema);
  const int64_t counts[] = {5, INT64_MAX, INT64_MIN, -3};
  for (int i = 0; i < 4; ++i) {
    b.SetString(0, absl::StrCat("d", i));
    b.SetInt(1, counts[i]);
    b.FinishRow(100 + i);
  }
  return b.Take();
}

// Dead letters as "source|file|line|reason|raw" (null file and line as "-").
std::vector<std::string> Dead(const CaptureOutput& out) {
  std::vector<std::string> lines;
  auto it = out.side.find("dead_letter");
  if (it == out.side.end()) return lines;
  for (const Batch& b : it->second) {
    for (size_t r = 0; r < b.num_rows(); ++r) {
      EXPECT_TRUE(b.column(1).IsNull(r));
      EXPECT_TRUE(b.column(2).IsNull(r));
      EXPECT_TRUE(b.column(5).IsNull(r));
      lines.push_back(absl::StrCat(std::string(b.column(0).StringAt(r)), "|",
                                   std::string(b.column(3).StringAt(r)), "|",
                                   std::string(b.column(4).StringAt(r)), "|", b.event_time()[r]));
    }
  }
  return lines;
}

template <typename Op>
std::unique_ptr<Op> Open(std::unique_ptr<Op> op, const proto::OperatorSpec& spec) {
  OperatorContext ctx;
  ctx.spec = &spec;
  EXPECT_TRUE(op->Open(ctx).ok());
  return op;
}

TEST(TransformTest, AnOverflowingMapSendsTheRecordToTheDeadLetterOutput) {
  proto::OperatorSpec spec;
  spec.set_id("m");
  proto::MapConfig map;
  auto* set = map.add_set();
  set->set_field("next");
  set->set_expression("n + 1");
  set = map.add_set();
  set->set_field("size");
  set->set_expression("abs(n)");
  spec.mutable_config()->PackFrom(map);
  auto op = Open(*MapOperator::Create(map), spec);
  CaptureOutput out;
  ASSERT_TRUE(op->ProcessBatch(Counts(), out).ok());
  // Rows 0 and 3 fit; row 1's n + 1 and row 2's abs(n) do not, and each
  // record is a dead letter once, with the first failing field.
  ASSERT_EQ(out.MainRows(), 2u);
  const Batch& b = out.main[0];
  EXPECT_EQ(b.column(0).StringAt(0), "d0");
  EXPECT_EQ(b.column(2).ints[0], 6);
  EXPECT_EQ(b.column(3).ints[0], 5);
  EXPECT_EQ(b.column(0).StringAt(1), "d3");
  EXPECT_EQ(b.column(2).ints[1], -2);
  EXPECT_EQ(b.column(3).ints[1], 3);
  EXPECT_EQ(b.event_time(), (std::vector<int64_t>{100, 103}));
  EXPECT_EQ(Dead(out),
            (std::vector<std::string>{
                "m|set.next: position 3: integer overflow: 9223372036854775807 + 1 is "
                "outside the int64 range|{\"dev\":\"d1\",\"n\":9223372036854775807}|101",
                "m|set.size: position 1: integer overflow: abs(-9223372036854775808) is "
                "outside the int64 range|{\"dev\":\"d2\",\"n\":-9223372036854775808}|102",
            }));
}

TEST(TransformTest, AFilterSendsRecordsItCannotJudgeToTheDeadLetterOutput) {
  proto::OperatorSpec spec;
  spec.set_id("f");
  proto::FilterConfig filter;
  filter.set_where("n * 2 > 0");
  spec.mutable_config()->PackFrom(filter);
  auto op = Open(*FilterOperator::Create(filter), spec);
  CaptureOutput out;
  ASSERT_TRUE(op->ProcessBatch(Counts(), out).ok());
  ASSERT_EQ(out.MainRows(), 1u);
  EXPECT_EQ(out.main[0].column(0).StringAt(0), "d0");
  std::vector<std::string> dead = Dead(out);
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].find("f|where: position 3: integer overflow: 9223372036854775807 * 2"),
            std::string::npos);
  EXPECT_NE(dead[1].find("f|where: position 3: integer overflow: -9223372036854775808 * 2"),
            std::string::npos);
}

TEST(TransformTest, AConditionThatIsNotABoolIsADeadLetterNotASilentDrop) {
  // With an inferred schema, `where: "n + 1"` passes validation (n's type
  // is unknown), and the records show what it is.
  proto::OperatorSpec spec;
  spec.set_id("f");
  proto::FilterConfig filter;
  filter.set_where("n - 3");
  spec.mutable_config()->PackFrom(filter);
  auto op = Open(*FilterOperator::Create(filter), spec);
  CaptureOutput out;
  ASSERT_TRUE(op->ProcessBatch(Counts(), out).ok());
  EXPECT_EQ(out.MainRows(), 0u);
  std::vector<std::string> dead = Dead(out);
  ASSERT_EQ(dead.size(), 4u);  // INT64_MIN - 3 overflows; the others are int64
  EXPECT_EQ(dead[0], "f|where: the condition is int64, not bool|{\"dev\":\"d0\",\"n\":5}|100");
  EXPECT_NE(dead[2].find("integer overflow"), std::string::npos);
}

TEST(TransformTest, RecordsWhoseTypesDoNotFitTheExpressionAreDeadLetters) {
  // The field is a string in this batch (another file of an inferred
  // schema), a number in the next: the first batch is dead letters, the
  // second passes, and the operator never fails.
  proto::OperatorSpec spec;
  spec.set_id("m");
  proto::MapConfig map;
  auto* set = map.add_set();
  set->set_field("n2");
  set->set_expression("n * 2");
  spec.mutable_config()->PackFrom(map);
  auto op = Open(*MapOperator::Create(map), spec);
  CaptureOutput out;
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"n", FieldType::kString}});
  BatchBuilder b(schema);
  b.SetString(0, "seven");
  b.FinishRow(1);
  ASSERT_TRUE(op->ProcessBatch(b.Take(), out).ok());
  ASSERT_TRUE(op->ProcessBatch(Counts(), out).ok());
  std::vector<std::string> dead = Dead(out);
  ASSERT_EQ(dead.size(), 3u);
  EXPECT_EQ(dead[0], "m|set.n2: position 1: '*' expects numbers, got string|{\"n\":\"seven\"}|1");
  EXPECT_EQ(out.MainRows(), 2u);
}

}  // namespace
}  // namespace sluice
