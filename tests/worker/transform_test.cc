#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/transform_operators.h"

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
  spec.mutable_filter()->set_where("t > -50 and t < 150");
  auto op = FilterOperator::Create(spec.filter());
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
  auto* set = spec.mutable_map()->add_set();
  set->set_field("f");
  set->set_expression("t * 9 / 5 + 32");
  set = spec.mutable_map()->add_set();
  set->set_field("dev");
  set->set_expression("upper(dev)");
  auto op = MapOperator::Create(spec.map());
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

}  // namespace
}  // namespace sluice
