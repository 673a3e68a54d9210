#include "worker/operators/window_operator.h"

#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"

namespace sluice {
namespace {

proto::OperatorSpec WindowSpec() {
  proto::OperatorSpec spec;
  spec.set_id("w");
  auto* w = spec.mutable_window();
  w->add_key_by("dev");
  w->set_type("tumbling");
  w->set_size_ms(1000);
  auto add = [&](const char* name, proto::AggregateFunction f, const char* field) {
    auto* a = w->add_aggregates();
    a->set_name(name);
    a->set_function(f);
    a->set_field(field);
  };
  add("n", proto::AGGREGATE_COUNT, "");
  add("total", proto::AGGREGATE_SUM, "v");
  add("lo", proto::AGGREGATE_MIN, "v");
  add("hi", proto::AGGREGATE_MAX, "v");
  add("mean", proto::AGGREGATE_AVG, "v");
  return spec;
}

SchemaRef InputSchema() {
  return std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"v", FieldType::kDouble}});
}

struct Expected {
  int64_t n = 0;
  double total = 0, lo = 1e300, hi = -1e300;
};

TEST(WindowOperatorTest, AggregatesMatchABruteForceComputation) {
  proto::OperatorSpec spec = WindowSpec();
  WindowOperator op(spec.window());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;

  std::mt19937 rng(3);
  std::map<std::pair<std::string, int64_t>, Expected> expected;
  for (int batch = 0; batch < 20; ++batch) {
    BatchBuilder b(InputSchema());
    for (int i = 0; i < 500; ++i) {
      std::string dev = absl::StrCat("d", rng() % 7);
      int64_t ts = batch * 500 + static_cast<int64_t>(rng() % 800);  // mildly out of order
      double v = static_cast<double>(rng() % 10000) / 100.0;
      b.SetString(0, dev);
      b.SetDouble(1, v);
      b.FinishRow(ts);
      Expected& e = expected[{dev, ts / 1000 * 1000}];
      ++e.n;
      e.total += v;
      e.lo = std::min(e.lo, v);
      e.hi = std::max(e.hi, v);
    }
    ASSERT_TRUE(op.ProcessBatch(b.Take(), out).ok());
    // Watermark trails by the 800 ms disorder bound: nothing is late.
    ASSERT_TRUE(op.ProcessWatermark(batch * 500 - 801, out).ok());
  }
  ASSERT_TRUE(op.Finish(out).ok());
  EXPECT_EQ(out.SideRows("late"), 0u);

  std::map<std::pair<std::string, int64_t>, std::vector<double>> got;
  for (const Batch& b : out.main) {
    ASSERT_EQ(b.schema()->size(), 8u);
    EXPECT_EQ(b.schema()->field(1).name, "window_start");
    for (size_t r = 0; r < b.num_rows(); ++r) {
      auto key = std::make_pair(std::string(b.column(0).StringAt(r)), b.column(1).ints[r]);
      EXPECT_EQ(b.column(2).ints[r], key.second + 1000);
      EXPECT_EQ(b.event_time()[r], key.second + 999);
      EXPECT_FALSE(got.contains(key)) << "window fired twice";
      got[key] = {static_cast<double>(b.column(3).ints[r]), b.column(4).doubles[r],
                  b.column(5).doubles[r], b.column(6).doubles[r], b.column(7).doubles[r]};
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [key, e] : expected) {
    const auto& g = got[key];
    EXPECT_EQ(g[0], e.n);
    EXPECT_NEAR(g[1], e.total, 1e-9);
    EXPECT_EQ(g[2], e.lo);
    EXPECT_EQ(g[3], e.hi);
    EXPECT_NEAR(g[4], e.total / e.n, 1e-9);
  }
}

TEST(WindowOperatorTest, FiresOnWatermarkAndRoutesLateRecordsToSideOutput) {
  proto::OperatorSpec spec = WindowSpec();
  WindowOperator op(spec.window());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;
  auto one = [&](const char* dev, int64_t ts) {
    BatchBuilder b(InputSchema());
    b.SetString(0, dev);
    b.SetDouble(1, 1.0);
    b.FinishRow(ts);
    return b.Take();
  };
  ASSERT_TRUE(op.ProcessBatch(one("a", 100), out).ok());
  ASSERT_TRUE(op.ProcessWatermark(998, out).ok());
  EXPECT_EQ(out.MainRows(), 0u);  // [0, 1000) still open at watermark 998
  ASSERT_TRUE(op.ProcessWatermark(999, out).ok());
  EXPECT_EQ(out.MainRows(), 1u);
  EXPECT_EQ(out.watermarks.back(), 999);
  ASSERT_TRUE(op.ProcessBatch(one("a", 500), out).ok());  // its window has fired
  EXPECT_EQ(out.SideRows("late"), 1u);
  EXPECT_EQ(out.MainRows(), 1u);
  ASSERT_TRUE(op.ProcessBatch(one("a", 1000), out).ok());  // next window: on time
  ASSERT_TRUE(op.Finish(out).ok());
  EXPECT_EQ(out.MainRows(), 2u);
}

}  // namespace
}  // namespace sluice
