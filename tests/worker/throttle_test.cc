#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/throttle/throttle_operator.h"

namespace sluice {
namespace {

Batch Rows(int first, int n) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"x", FieldType::kInt64}});
  BatchBuilder b(schema);
  for (int i = first; i < first + n; ++i) {
    b.SetInt(0, i);
    b.FinishRow(i);
  }
  return b.Take();
}

std::vector<int64_t> Xs(const CaptureOutput& out) {
  std::vector<int64_t> xs;
  for (const Batch& b : out.main)
    xs.insert(xs.end(), b.column(0).ints.begin(), b.column(0).ints.end());
  return xs;
}

TEST(ThrottleTest, PassesAtMostRatePerSecondAndHoldsTheRestInOrder) {
  ManualClock clock;
  proto::OperatorSpec spec;
  spec.set_id("t");
  proto::ThrottleConfig throttle;
  throttle.set_rate(1000);  // burst: 50 rows
  spec.mutable_config()->PackFrom(throttle);
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.clock = &clock;
  ThrottleOperator op(throttle);
  ASSERT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;
  ASSERT_TRUE(op.ProcessBatch(Rows(0, 300), out).ok());
  EXPECT_EQ(out.MainRows(), 50u);  // the initial burst
  ASSERT_TRUE(op.HasPending());
  EXPECT_EQ(op.PendingDueMs(), clock.NowMs() + 50);

  // Over 250 ms of simulated time, 250 more rows may pass; never more than the rate allows.
  int64_t start = clock.NowMs();
  while (op.HasPending()) {
    clock.Set(std::max(clock.NowMs() + 1, op.PendingDueMs()));
    ASSERT_TRUE(op.ContinuePending(out).ok());
    const double allowed = 50 + (clock.NowMs() - start) * 1.0;
    EXPECT_LE(static_cast<double>(out.MainRows()), allowed + 1e-9);
  }
  EXPECT_EQ(clock.NowMs() - start, 250);
  std::vector<int64_t> expected(300);
  for (int i = 0; i < 300; ++i) expected[i] = i;
  EXPECT_EQ(Xs(out), expected);
}

TEST(ThrottleTest, IdleTimeDoesNotBuildUpMoreThanABurst) {
  ManualClock clock;
  proto::OperatorSpec spec;
  proto::ThrottleConfig throttle;
  throttle.set_rate(100);  // burst: 5 rows
  spec.mutable_config()->PackFrom(throttle);
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.clock = &clock;
  ThrottleOperator op(throttle);
  ASSERT_TRUE(op.Open(ctx).ok());
  clock.Advance(60'000);
  CaptureOutput out;
  ASSERT_TRUE(op.ProcessBatch(Rows(0, 100), out).ok());
  EXPECT_EQ(out.MainRows(), 5u);
}

TEST(ThrottleTest, RejectsANonPositiveRate) {
  proto::OperatorSpec spec;
  proto::ThrottleConfig throttle;
  throttle.set_rate(0);
  spec.mutable_config()->PackFrom(throttle);
  OperatorContext ctx;
  ctx.spec = &spec;
  ThrottleOperator op(throttle);
  EXPECT_FALSE(op.Open(ctx).ok());
}

}  // namespace
}  // namespace sluice
