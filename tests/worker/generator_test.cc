#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "catalog/typed_kind.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/generator/generator_source.h"

namespace sluice {
namespace {

proto::OperatorSpec Spec(int64_t count, double duplicate_rate) {
  proto::OperatorSpec spec;
  spec.set_id("gen");
  proto::GeneratorConfig g;
  g.set_devices(37);
  g.set_count(count);
  g.set_start_time_ms(1'000'000);
  g.set_interval_ms(1000);
  g.set_jitter_ms(5000);
  g.set_duplicate_rate(duplicate_rate);
  g.set_seed(42);
  g.mutable_watermark()->set_max_out_of_orderness_ms(5000);
  spec.mutable_config()->PackFrom(g);
  return spec;
}

// The generator settings packed in `spec`.
proto::GeneratorConfig GeneratorSettings(const proto::OperatorSpec& spec) {
  return *UnpackSettings<proto::GeneratorConfig>(spec);
}

// Runs all subtasks of a generator with parallelism p; returns event_id -> (device, ts, temp) and
// copies seen.
void RunAllInto(const proto::OperatorSpec& spec, int p, std::vector<CaptureOutput>* outs,
                std::map<int64_t, std::tuple<std::string, int64_t, double, int>>* events);

std::map<int64_t, std::tuple<std::string, int64_t, double, int>> RunAll(
    const proto::OperatorSpec& spec, int p, std::vector<CaptureOutput>* outs) {
  std::map<int64_t, std::tuple<std::string, int64_t, double, int>> events;
  RunAllInto(spec, p, outs, &events);
  return events;
}

void RunAllInto(const proto::OperatorSpec& spec, int p, std::vector<CaptureOutput>* outs,
                std::map<int64_t, std::tuple<std::string, int64_t, double, int>>* result) {
  auto& events = *result;
  outs->resize(p);
  for (int s = 0; s < p; ++s) {
    GeneratorSource source(GeneratorSettings(spec));
    OperatorContext ctx;
    ctx.spec = &spec;
    ctx.subtask = s;
    ctx.parallelism = p;
    EXPECT_TRUE(source.Open(ctx).ok());
    while (true) {
      auto poll = source.PollNext((*outs)[s]);
      ASSERT_TRUE(poll.ok()) << poll.status();
      if (*poll == SourceReader::Poll::kEnd) break;
    }
    for (const Batch& b : (*outs)[s].main) {
      for (size_t r = 0; r < b.num_rows(); ++r) {
        auto& e = events[b.column(0).ints[r]];
        e = {std::string(b.column(1).StringAt(r)), b.column(2).ints[r], b.column(3).doubles[r],
             std::get<3>(e) + 1};
      }
    }
  }
}

// Every row a capture holds, as (event_id, device, ts, temperature), in order.
std::vector<std::tuple<int64_t, std::string, int64_t, double>> Rows(const CaptureOutput& out) {
  std::vector<std::tuple<int64_t, std::string, int64_t, double>> rows;
  for (const Batch& b : out.main) {
    for (size_t r = 0; r < b.num_rows(); ++r) {
      rows.emplace_back(b.column(0).ints[r], std::string(b.column(1).StringAt(r)),
                        b.column(2).ints[r], b.column(3).doubles[r]);
    }
  }
  return rows;
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
  proto::GeneratorConfig g = GeneratorSettings(spec);
  g.set_temperature_min(-10);
  g.set_temperature_max(0);
  g.set_temperature_noise(1);
  spec.mutable_config()->PackFrom(g);
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

TEST(GeneratorTest, ResumingAtAnyPositionEmitsExactlyTheEventsThatFollow) {
  proto::OperatorSpec spec = Spec(5'000, 0.2);
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.subtask = 1;
  ctx.parallelism = 3;
  ctx.max_batch_bytes = 64 * 56;  // small batches: many positions
  GeneratorSource full(GeneratorSettings(spec));
  ASSERT_TRUE(full.Open(ctx).ok());
  CaptureOutput all;
  std::vector<std::pair<std::string, size_t>> positions;  // position, rows before it
  positions.push_back({full.Position(), 0});
  while (true) {
    auto poll = full.PollNext(all);
    ASSERT_TRUE(poll.ok());
    if (*poll == SourceReader::Poll::kEnd) break;
    positions.push_back({full.Position(), all.MainRows()});
  }
  const auto expected = Rows(all);
  // The subtask's events are exactly those with index % 3 == 1, each once or twice.
  std::set<int64_t> ids;
  for (const auto& row : expected) ids.insert(std::get<0>(row));
  EXPECT_EQ(ids.size(), 1'667u);
  for (int64_t id : ids) EXPECT_EQ(id % 3, 1);

  for (size_t k = 0; k < positions.size(); k += 7) {
    GeneratorSource resumed(GeneratorSettings(spec));
    ASSERT_TRUE(resumed.Open(ctx).ok());
    ASSERT_TRUE(resumed.Seek(positions[k].first).ok());
    CaptureOutput tail;
    while (true) {
      auto poll = resumed.PollNext(tail);
      ASSERT_TRUE(poll.ok());
      if (*poll == SourceReader::Poll::kEnd) break;
    }
    const auto got = Rows(tail);
    ASSERT_EQ(got.size(), expected.size() - positions[k].second) << "position " << k;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.begin() + positions[k].second));
    EXPECT_EQ(tail.watermarks.back(), kMaxWatermark);
  }
  // A position of another subtask is refused.
  GeneratorSource other(GeneratorSettings(spec));
  ASSERT_TRUE(other.Open(ctx).ok());
  proto::GeneratorPosition wrong;
  wrong.set_event_index(3);
  EXPECT_FALSE(other.Seek(wrong.SerializeAsString()).ok());
}

TEST(GeneratorTest, ARateSaysNothingYetUntilTheNextBatchIsDue) {
  proto::OperatorSpec spec = Spec(1'000, 0.0);
  proto::GeneratorConfig g = GeneratorSettings(spec);
  g.set_rate(200);  // one subtask: 10 rows every 50 ms
  spec.mutable_config()->PackFrom(g);
  ManualClock clock;
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.clock = &clock;
  GeneratorSource source(GeneratorSettings(spec));
  ASSERT_TRUE(source.Open(ctx).ok());
  CaptureOutput out;
  ASSERT_EQ(*source.PollNext(out), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 10u);
  ASSERT_EQ(*source.PollNext(out), SourceReader::Poll::kNothingYet);
  EXPECT_EQ(source.NextPollMs(), clock.NowMs() + 50);
  clock.Advance(49);
  ASSERT_EQ(*source.PollNext(out), SourceReader::Poll::kNothingYet);
  clock.Advance(1);
  ASSERT_EQ(*source.PollNext(out), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 20u);
}

}  // namespace
}  // namespace sluice
