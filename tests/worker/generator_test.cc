#include <map>
#include <set>

#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/generator_source.h"

namespace sluice {
namespace {

proto::OperatorSpec Spec(int64_t count, double duplicate_rate) {
  proto::OperatorSpec spec;
  spec.set_id("gen");
  auto* g = spec.mutable_generator();
  g->set_devices(37);
  g->set_count(count);
  g->set_start_time_ms(1'000'000);
  g->set_interval_ms(1000);
  g->set_jitter_ms(5000);
  g->set_duplicate_rate(duplicate_rate);
  g->set_seed(42);
  g->mutable_watermark()->set_max_out_of_orderness_ms(5000);
  return spec;
}

// Runs all subtasks of a generator with parallelism p; returns event_id -> (device, ts, temp) and
// copies seen.
std::map<int64_t, std::tuple<std::string, int64_t, double, int>> RunAll(
    const proto::OperatorSpec& spec, int p, std::vector<CaptureOutput>* outs) {
  std::map<int64_t, std::tuple<std::string, int64_t, double, int>> events;
  outs->resize(p);
  for (int s = 0; s < p; ++s) {
    GeneratorSource source(spec.generator());
    OperatorContext ctx;
    ctx.spec = &spec;
    ctx.subtask = s;
    ctx.parallelism = p;
    EXPECT_TRUE(source.Run(ctx, (*outs)[s]).ok());
    for (const Batch& b : (*outs)[s].main) {
      for (size_t r = 0; r < b.num_rows(); ++r) {
        auto& e = events[b.column(0).ints[r]];
        e = {std::string(b.column(1).StringAt(r)), b.column(2).ints[r], b.column(3).doubles[r],
             std::get<3>(e) + 1};
      }
    }
  }
  return events;
}

TEST(GeneratorTest, SameSeedSameEventsAtAnyParallelism) {
  proto::OperatorSpec spec = Spec(10'000, 0.0);
  std::vector<CaptureOutput> one, three;
  auto a = RunAll(spec, 1, &one);
  auto b = RunAll(spec, 3, &three);
  ASSERT_EQ(a.size(), 10'000u);
  EXPECT_EQ(a, b);
  EXPECT_EQ(std::get<0>(a[0]), "dev-00000");
  EXPECT_EQ(std::get<0>(a[36]), "dev-00036");
  EXPECT_EQ(std::get<0>(a[37]), "dev-00000");
}

TEST(GeneratorTest, OutOfOrdernessStaysWithinJitterAndWatermarksNeverMakeEventsLate) {
  proto::OperatorSpec spec = Spec(20'000, 0.0);
  std::vector<CaptureOutput> outs;
  auto events = RunAll(spec, 2, &outs);
  bool some_out_of_order = false;
  for (const auto& [id, e] : events) {
    int64_t nominal = 1'000'000 + (id / 37) * 1000;
    EXPECT_LE(std::get<1>(e), nominal);
    EXPECT_GE(std::get<1>(e), nominal - 5000);
    some_out_of_order |= std::get<1>(e) != nominal;
  }
  EXPECT_TRUE(some_out_of_order);
  // In each subtask's stream, every record is after the last watermark emitted before it.
  for (const auto& out : outs) {
    ASSERT_EQ(out.watermarks.size(), out.main.size() + 1);  // one per batch, then +inf
    EXPECT_EQ(out.watermarks.back(), kMaxWatermark);
    for (size_t b = 1; b < out.main.size(); ++b) {
      for (int64_t ts : out.main[b].event_time()) EXPECT_GT(ts, out.watermarks[b - 1]);
    }
  }
}

TEST(GeneratorTest, DuplicatesKeepTheirEventIdAndFollowTheRate) {
  proto::OperatorSpec spec = Spec(20'000, 0.1);
  std::vector<CaptureOutput> outs;
  auto events = RunAll(spec, 2, &outs);
  ASSERT_EQ(events.size(), 20'000u);
  int dup = 0;
  for (const auto& [id, e] : events) {
    ASSERT_LE(std::get<3>(e), 2);
    dup += std::get<3>(e) == 2;
  }
  EXPECT_NEAR(dup / 20'000.0, 0.1, 0.01);
}

TEST(GeneratorTest, TemperaturesFollowTheConfiguredDistribution) {
  proto::OperatorSpec spec = Spec(5'000, 0.0);
  spec.mutable_generator()->set_temperature_min(-10);
  spec.mutable_generator()->set_temperature_max(0);
  spec.mutable_generator()->set_temperature_noise(1);
  std::vector<CaptureOutput> outs;
  auto events = RunAll(spec, 1, &outs);
  double lo = 1e9, hi = -1e9;
  for (const auto& [id, e] : events) {
    lo = std::min(lo, std::get<2>(e));
    hi = std::max(hi, std::get<2>(e));
  }
  EXPECT_GE(lo, -11.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_LT(lo, -9.0);  // the range is actually used
  EXPECT_GT(hi, -1.0);
}

}  // namespace
}  // namespace sluice
