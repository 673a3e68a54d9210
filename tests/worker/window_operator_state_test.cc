// The window operator's keyed state: a snapshot restores into an operator
// that goes on as the original would, and state far larger than the memory
// budget spills and stays within it.

#include <malloc.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/json.h"
#include "gtest/gtest.h"
#include "tests/state/state_test_util.h"
#include "tests/worker/capture_output.h"
#include "tests/worker/window_test_util.h"
#include "worker/operators/window/window_operator.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLUICE_ASAN 1
#endif
#endif
#ifdef SLUICE_ASAN
#include <sanitizer/allocator_interface.h>
#endif

namespace sluice {
namespace {

using testing_window::Expected;
using testing_window::InputSchema;
using testing_window::WindowSettings;
using testing_window::WindowSpec;

struct Reading {
  std::string dev;
  int64_t ts;
  double v;
};

// Batch b holds readings with times in [500 b, 500 b + 800), followed by
// the watermark 500 b - 801 (nothing on time is late), and, from batch 6 on,
// one reading 3 s behind, which is late.
std::vector<std::vector<Reading>> SnapshotTestInput(int batches, int devices) {
  std::mt19937 rng(17);
  std::vector<std::vector<Reading>> input(batches);
  for (int b = 0; b < batches; ++b) {
    for (int i = 0; i < 400; ++i) {
      input[b].push_back({absl::StrCat("d", rng() % devices),
                          b * 500 + static_cast<int64_t>(rng() % 800),
                          static_cast<double>(rng() % 10000) / 100.0});
    }
    if (b >= 6) input[b].push_back({"late", b * 500 - 3000, 1.0});
  }
  return input;
}

int64_t SnapshotTestWatermark(int b) { return b * 500 - 801; }

void Feed(WindowOperator& op, const std::vector<std::vector<Reading>>& input, int from, int to,
          Output& out) {
  for (int b = from; b < to; ++b) {
    BatchBuilder builder(InputSchema());
    for (const Reading& r : input[b]) {
      builder.SetString(0, r.dev);
      builder.SetDouble(1, r.v);
      builder.FinishRow(r.ts);
    }
    ASSERT_TRUE(op.ProcessBatch(builder.Take(), out).ok());
    ASSERT_TRUE(op.ProcessWatermark(SnapshotTestWatermark(b), out).ok());
  }
}

// Result rows as text, one per (key, window), in a canonical order.
std::vector<std::string> ResultRows(const std::vector<const CaptureOutput*>& outs) {
  std::vector<std::string> rows;
  for (const CaptureOutput* out : outs) {
    for (const Batch& b : out->main) {
      for (size_t r = 0; r < b.num_rows(); ++r) {
        std::string line;
        AppendJsonLine(b, r, &line);
        rows.push_back(line);
      }
    }
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

class WindowSnapshotTest : public ::testing::TestWithParam<int64_t> {};

// Snapshot after part of the input, restore into a new operator, feed it the
// rest: together they emit what one operator emits for all of it, which is
// what a brute-force computation says. With a small budget the snapshot
// holds spilled state too.
TEST_P(WindowSnapshotTest, ARestoredOperatorContinuesAsTheOriginalWould) {
  constexpr int kBatches = 24, kCut = 11;
  const auto input = SnapshotTestInput(kBatches, 3000);
  proto::OperatorSpec spec = WindowSpec();
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.state_memory_budget = GetParam();
  testing::TempDir dir;

  CaptureOutput whole;
  {
    WindowOperator op(WindowSettings(spec));
    ASSERT_TRUE(op.Open(ctx).ok());
    Feed(op, input, 0, kBatches, whole);
    ASSERT_TRUE(op.Finish(whole).ok());
  }

  CaptureOutput before, after, discarded;
  OperatorRestore restore;
  restore.keyed_dir = dir.Sub("chk-1");
  {
    WindowOperator op(WindowSettings(spec));
    ASSERT_TRUE(op.Open(ctx).ok());
    Feed(op, input, 0, kCut, before);
    auto snapshot = op.Snapshot(1, restore.keyed_dir);
    ASSERT_TRUE(snapshot.ok()) << snapshot.status();
    EXPECT_TRUE(snapshot->has_keyed_files);
    restore.small_state = snapshot->small_state;
    // The original goes on past the snapshot, then fails: what it emitted
    // after the snapshot is discarded, and the restored operator must not
    // see any of its changes.
    Feed(op, input, kCut, kCut + 3, discarded);
  }
  {
    OperatorContext restored_ctx = ctx;
    restored_ctx.restore = &restore;
    WindowOperator op(WindowSettings(spec));
    absl::Status opened = op.Open(restored_ctx);
    ASSERT_TRUE(opened.ok()) << opened;
    Feed(op, input, kCut, kBatches, after);
    ASSERT_TRUE(op.Finish(after).ok());
  }

  const std::vector<std::string> combined = ResultRows({&before, &after});
  const std::vector<std::string> uninterrupted = ResultRows({&whole});
  EXPECT_EQ(combined.size(), uninterrupted.size());
  EXPECT_TRUE(combined == uninterrupted);
  EXPECT_EQ(before.SideRows("late") + after.SideRows("late"), whole.SideRows("late"));
  std::vector<int64_t> watermarks = before.watermarks;
  watermarks.insert(watermarks.end(), after.watermarks.begin(), after.watermarks.end());
  EXPECT_EQ(watermarks, whole.watermarks);

  // And the results are right: a brute-force computation over the input,
  // with lateness judged against the watermarks as they were.
  std::map<std::pair<std::string, int64_t>, Expected> expected;
  size_t late = 0;
  int64_t watermark = kMinWatermark;
  for (int b = 0; b < kBatches; ++b) {
    for (const Reading& r : input[b]) {
      const int64_t start = r.ts / 1000 * 1000;
      if (start + 999 <= watermark) {
        ++late;
        continue;
      }
      Expected& e = expected[{r.dev, start}];
      ++e.n;
      e.total += r.v;
      e.lo = std::min(e.lo, r.v);
      e.hi = std::max(e.hi, r.v);
    }
    watermark = SnapshotTestWatermark(b);
  }
  EXPECT_EQ(whole.SideRows("late"), late);
  EXPECT_GT(late, 0u);
  std::map<std::pair<std::string, int64_t>, Expected> got;
  for (const CaptureOutput* out : {&before, &after}) {
    for (const Batch& b : out->main) {
      for (size_t r = 0; r < b.num_rows(); ++r) {
        auto key = std::make_pair(std::string(b.column(0).StringAt(r)), b.column(1).ints[r]);
        EXPECT_FALSE(got.contains(key)) << key.first << " fired twice";
        got[key] = {b.column(3).ints[r], b.column(4).doubles[r], b.column(5).doubles[r],
                    b.column(6).doubles[r]};
      }
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (const auto& [key, e] : expected) {
    const Expected& g = got[key];
    EXPECT_EQ(g.n, e.n) << key.first << " " << key.second;
    EXPECT_NEAR(g.total, e.total, 1e-6) << key.first << " " << key.second;
    EXPECT_EQ(g.lo, e.lo);
    EXPECT_EQ(g.hi, e.hi);
  }
}

INSTANTIATE_TEST_SUITE_P(Budgets, WindowSnapshotTest,
                         ::testing::Values(int64_t{256} << 20,  // all in memory
                                           int64_t{1} << 20),   // mostly spilled
                         [](const ::testing::TestParamInfo<int64_t>& info) {
                           return info.param >= (int64_t{64} << 20) ? std::string("InMemory")
                                                                    : std::string("Spilled");
                         });

// Heap bytes in use by the whole process (RocksDB's threads included).
int64_t HeapBytes() {
#ifdef SLUICE_ASAN
  return static_cast<int64_t>(__sanitizer_get_current_allocated_bytes());
#else
  const struct mallinfo2 m = mallinfo2();
  return static_cast<int64_t>(m.uordblks + m.hblkhd);
#endif
}

int64_t RssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atoll(line.c_str() + 6) * 1024;
  }
  return 0;
}

// Checks each result as it comes, keeping nothing: key k of window w saw
// the values k + w + j for j in [0, kReadings).
class CheckingOutput : public Output {
 public:
  static constexpr int kReadings = 2;

  absl::Status Emit(Batch batch) override {
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      const int64_t k = std::atoll(std::string(batch.column(0).StringAt(r)).c_str() + 1);
      const int64_t w = batch.column(1).ints[r] / 1000;
      const double lo = static_cast<double>(k + w), hi = lo + kReadings - 1;
      if (batch.column(3).ints[r] != kReadings || batch.column(4).doubles[r] != (lo + hi) ||
          batch.column(5).doubles[r] != lo || batch.column(6).doubles[r] != hi) {
        ++wrong;
      }
      ++rows;
    }
    return absl::OkStatus();
  }
  absl::Status EmitSide(std::string_view, Batch batch) override {
    late += batch.num_rows();
    return absl::OkStatus();
  }
  absl::Status EmitWatermark(int64_t) override { return absl::OkStatus(); }

  size_t rows = 0, wrong = 0, late = 0;
};

// State five times the memory budget: the window spills to RocksDB, its
// results stay right, and its memory stays within the budget plus a margin.
// Memory is the process's heap in use (glibc's mallinfo2, or ASan's
// allocator), sampled after every batch, less what it was before the
// operator was created: the operator's growth, RocksDB's included. The
// margin covers what RocksDB holds beyond its share while a flush or a
// compaction runs, and its fixed overhead (state/README.md).
TEST(WindowOperatorMemoryTest, StateFiveTimesTheBudgetSpillsAndStaysWithinIt) {
  constexpr int64_t kBudget = int64_t{2} << 20;
  constexpr int64_t kMargin = int64_t{4} << 20;
  constexpr int kWindows = 2;
  // 2 windows x 50k entries of 104 bytes (header, 5 accumulators, key)
  // plus their index: about 11.5 MB in the cache's terms, 5.5x the budget.
  constexpr int kKeys = 50'000;
  proto::OperatorSpec spec = WindowSpec();
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.state_memory_budget = kBudget;
  std::vector<int> order(kKeys);
  for (int k = 0; k < kKeys; ++k) order[k] = k;
  std::mt19937 rng(3);
  const int64_t heap_before = HeapBytes();
  const int64_t rss_before = RssBytes();
  int64_t peak = 0, peak_state = 0;
  CheckingOutput out;
  {
    WindowOperator op(WindowSettings(spec));
    ASSERT_TRUE(op.Open(ctx).ok());
    // Window by window, keys in random order, each key's readings in a
    // row: the first window spills while it fills and then makes room for
    // the second; both fire from RocksDB in the end.
    for (int w = 0; w < kWindows; ++w) {
      std::shuffle(order.begin(), order.end(), rng);
      BatchBuilder b(InputSchema());
      for (int k : order) {
        for (int j = 0; j < CheckingOutput::kReadings; ++j) {
          b.SetString(0, absl::StrCat("k", k));
          b.SetDouble(1, static_cast<double>(k + w + j));
          b.FinishRow(w * 1000 + 500);
        }
        if (b.num_rows() >= kTargetBatchRows) {
          ASSERT_TRUE(op.ProcessBatch(b.Take(), out).ok());
          peak = std::max(peak, HeapBytes() - heap_before);
        }
      }
      ASSERT_TRUE(op.ProcessBatch(b.Take(), out).ok());
      peak_state = std::max(peak_state, op.ApproximateStateBytes());
    }
    ASSERT_TRUE(op.Finish(out).ok());
    while (op.HasPending()) {
      ASSERT_TRUE(op.ContinuePending(out).ok());
      peak = std::max(peak, HeapBytes() - heap_before);
    }
  }
  EXPECT_EQ(out.rows, static_cast<size_t>(kWindows * kKeys));
  EXPECT_EQ(out.wrong, 0u);
  EXPECT_GT(peak_state, kBudget);  // RocksDB holds most of it
  EXPECT_LE(peak, kBudget + kMargin) << "heap growth " << peak;
  RecordProperty("heap_growth_bytes", std::to_string(peak));
  RecordProperty("rss_growth_bytes", std::to_string(RssBytes() - rss_before));
}

}  // namespace
}  // namespace sluice
