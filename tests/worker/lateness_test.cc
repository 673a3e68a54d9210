// Whether a record is on time, updates its window or is late depends only
// on the order of its source's input: not on where batches end, and not on
// a restore in between. A file_source feeds a window directly, as a chained
// task does, and the task's loop is played: the window's pending work is
// done before the next poll.

#include <algorithm>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/ports.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "tests/worker/file_source_helpers.h"
#include "worker/operators/window/window_operator.h"

namespace sluice {
namespace {

constexpr int64_t kMinute = 60'000;
constexpr int64_t kWindow = 5 * kMinute;
constexpr int64_t kOutOfOrderness = 30'000;

// The source's output, straight into the window (batches and watermarks in
// their order); the window's output is captured.
class IntoWindow : public Output {
 public:
  explicit IntoWindow(WindowOperator& window) : window_(window) {}
  absl::Status Emit(Batch batch) override {
    ++batches;
    return window_.ProcessBatch(std::move(batch), out);
  }
  absl::Status EmitSide(std::string_view port, Batch batch) override {
    return out.EmitSide(port, std::move(batch));
  }
  absl::Status EmitWatermark(int64_t watermark) override {
    return window_.ProcessWatermark(watermark, out);
  }

  CaptureOutput out;
  int batches = 0;

 private:
  WindowOperator& window_;
};

struct StationReading {
  std::string dev;
  int64_t ts;
};

// The outage: stations a, b and c report every 10 s from 08:40:00 to
// 10:46:00; then station d sends the 720 readings it buffered, 08:46:00 to
// 10:45:50. (2026-11-26T08:40:00Z is 1795682400000.)
std::vector<StationReading> Outage() {
  const int64_t t0 = 1'795'682'400'000;
  std::vector<StationReading> in;
  for (int64_t t = t0; t <= t0 + 126 * kMinute; t += 10'000) {
    for (const char* dev : {"a", "b", "c"}) in.push_back({dev, t});
  }
  for (int i = 0; i < 720; ++i) in.push_back({"d", t0 + 6 * kMinute + i * 10'000});
  return in;
}

using Late = std::set<std::pair<std::string, int64_t>>;             // dev, ts
using Result = std::tuple<std::string, int64_t, int64_t, int64_t>;  // dev, start, n, revision

struct Outputs {
  Late late;
  std::multiset<Result> results;
  int64_t on_time = 0, updated = 0;
};

// The definition, computed here from the readings in order. The watermark
// before a reading is the max event time of those before it, less the
// out-of-orderness and 1 ms. A window [s, s + size) fires (revision 0 of
// each of its keys) when the watermark reaches its last ms, e = s + size - 1.
// A reading with e > watermark is on time; one with e <= watermark <
// e + lateness updates its fired window (the next revision of its key); a
// later one is late. What is open at the end fires then.
Outputs Expected(const std::vector<StationReading>& in, int64_t lateness) {
  Outputs want;
  struct Entry {
    int64_t n = 0;
    int64_t emitted = 0;
  };
  std::map<int64_t, std::map<std::string, Entry>> open, fired;
  auto fire = [&](std::map<int64_t, std::map<std::string, Entry>>::iterator w) {
    for (auto& [dev, e] : w->second) {
      want.results.insert({dev, w->first, e.n, 0});
      e.emitted = 1;
    }
    fired.insert(*w);
  };
  int64_t max_ts = INT64_MIN;
  for (const StationReading& r : in) {
    const int64_t watermark = max_ts == INT64_MIN ? INT64_MIN : max_ts - kOutOfOrderness - 1;
    while (!open.empty() && open.begin()->first + kWindow - 1 <= watermark) {
      fire(open.begin());
      open.erase(open.begin());
    }
    const int64_t start = r.ts - r.ts % kWindow;
    const int64_t last = start + kWindow - 1;
    max_ts = std::max(max_ts, r.ts);
    if (last + lateness <= watermark) {
      want.late.insert({r.dev, r.ts});
    } else if (last > watermark) {
      ++want.on_time;
      ++open[start][r.dev].n;
    } else {
      ++want.updated;
      Entry& e = fired[start][r.dev];
      ++e.n;
      want.results.insert({r.dev, start, e.n, e.emitted++});
    }
  }
  for (auto w = open.begin(); w != open.end(); ++w) fire(w);
  return want;
}

// The value of `"name":` in a JSON object as written by sluice.
std::string JsonField(std::string_view json, std::string_view name) {
  const std::string key = absl::StrCat("\"", std::string(name), "\":");
  const size_t at = json.find(key);
  if (at == std::string_view::npos) return "";
  std::string_view v = json.substr(at + key.size());
  if (v.starts_with('"')) return std::string(v.substr(1, v.find('"', 1) - 1));
  return std::string(v.substr(0, v.find_first_of(",}")));
}

class LatenessTest : public FileSourceTestBase {
 protected:
  struct Counts : OperatorCounters {
    void AddSkippedFiles(int64_t) override {}
    void AddWindowRecords(int64_t on, int64_t up) override {
      on_time += on;
      updated += up;
    }
    void AddDuplicates(int64_t) override {}
    int64_t on_time = 0, updated = 0;
  };

  proto::WindowConfig WindowSettings(int64_t lateness) {
    proto::WindowConfig w;
    w.add_key_by("dev");
    w.set_type("tumbling");
    w.set_size_ms(kWindow);
    w.set_allowed_lateness_ms(lateness);
    auto* a = w.add_aggregates();
    a->set_name("n");
    a->set_function(proto::AGGREGATE_COUNT);
    return w;
  }

  // Reads `path` into a window in batches of up to `batch_rows`; what the
  // window emitted, and how many batches there were. With `restart_after`,
  // the source stops after that many polls and a new one goes on from its
  // position (the window keeps its state, as a restore gives it).
  std::pair<Outputs, int> Run(const std::string& path, int64_t lateness, int batch_rows,
                              int restart_after = -1) {
    const proto::WindowConfig settings = WindowSettings(lateness);
    proto::OperatorSpec window_spec;
    window_spec.set_id("w");
    window_spec.mutable_config()->PackFrom(settings);
    WindowOperator window(settings);
    Counts counts;
    OperatorContext window_ctx;
    window_ctx.spec = &window_spec;
    window_ctx.counters = &counts;
    EXPECT_TRUE(window.Open(window_ctx).ok());
    IntoWindow into(window);
    Config(path).mutable_watermark()->set_max_out_of_orderness_ms(kOutOfOrderness);
    Config(path).set_batch_rows(batch_rows);
    OperatorContext ctx = Context();
    auto reader = std::make_unique<FileSourceReader>(config_);
    EXPECT_TRUE(reader->Open(ctx).ok());
    for (int polls = 0;; ++polls) {
      if (polls == restart_after) {
        const std::string at = reader->Position();
        reader = std::make_unique<FileSourceReader>(config_);
        EXPECT_TRUE(reader->Open(ctx).ok());
        EXPECT_TRUE(reader->Seek(at).ok());
      }
      absl::StatusOr<SourceReader::Poll> poll = reader->PollNext(into);
      EXPECT_TRUE(poll.ok()) << poll.status();
      while (window.HasPending()) EXPECT_TRUE(window.ContinuePending(into.out).ok());
      if (!poll.ok() || *poll == SourceReader::Poll::kEnd) break;
    }
    EXPECT_TRUE(window.Finish(into.out).ok());
    Outputs got;
    for (const Batch& b : into.out.side["late"]) {
      EXPECT_EQ(*b.schema(), *LateSchema());
      for (size_t r = 0; r < b.num_rows(); ++r) {
        const std::string_view record = b.column(2).StringAt(r);
        int64_t ts = 0;
        EXPECT_TRUE(absl::SimpleAtoi(JsonField(record, "ts"), &ts)) << record;
        // The record as it came, and the window it missed.
        EXPECT_EQ(JsonField(record, "t"), "20.5");
        EXPECT_EQ(b.column(0).ints[r], ts - ts % kWindow);
        EXPECT_EQ(b.column(1).ints[r], ts - ts % kWindow + kWindow);
        got.late.insert({JsonField(record, "dev"), ts});
      }
    }
    for (const Batch& b : into.out.main) {
      const int dev = b.schema()->IndexOf("dev"), start = b.schema()->IndexOf("window_start"),
                n = b.schema()->IndexOf("n"), revision = b.schema()->IndexOf("revision");
      EXPECT_EQ(revision >= 0, lateness > 0);
      for (size_t r = 0; r < b.num_rows(); ++r) {
        got.results.insert({std::string(b.column(dev).StringAt(r)), b.column(start).ints[r],
                            b.column(n).ints[r], revision >= 0 ? b.column(revision).ints[r] : 0});
      }
    }
    got.on_time = counts.on_time;
    got.updated = counts.updated;
    return {got, into.batches};
  }

  std::string OutageFile() {
    std::string lines;
    for (const StationReading& r : Outage()) {
      absl::StrAppend(&lines, "{\"ts\": ", r.ts, ", \"dev\": \"", r.dev, "\", \"t\": 20.5}\n");
    }
    return Write("in.jsonl", lines);
  }

  void ExpectSame(const Outputs& got, const Outputs& want, const std::string& what) {
    EXPECT_EQ(got.late, want.late) << what;
    EXPECT_EQ(got.results, want.results) << what;
    if (got.results != want.results) {
      std::vector<Result> extra, missing;
      std::set_difference(got.results.begin(), got.results.end(), want.results.begin(),
                          want.results.end(), std::back_inserter(extra));
      std::set_difference(want.results.begin(), want.results.end(), got.results.begin(),
                          got.results.end(), std::back_inserter(missing));
      ADD_FAILURE() << testing::PrintToString(extra) << " not expected, "
                    << testing::PrintToString(missing) << " missing";
    }
    EXPECT_EQ(got.on_time, want.on_time) << what;
    EXPECT_EQ(got.updated, want.updated) << what;
  }
};

TEST_F(LatenessTest, TheOutageGivesTheSameLateReadingsAtAnyBatchSize) {
  const std::vector<StationReading> in = Outage();
  const std::string path = OutageFile();
  const Outputs want = Expected(in, 0);
  // Of d's 720 readings, those of 10:45:00 to 10:45:50 are on time.
  ASSERT_EQ(want.late.size(), 714u);
  ASSERT_EQ(want.updated, 0);

  // One row a batch, 7 rows, and the whole file (fewer than 4096 lines) in
  // one batch, where a watermark per batch found no late reading at all.
  for (const int rows : {1, 7, 4096}) {
    auto [got, batches] = Run(path, 0, rows);
    ExpectSame(got, want, absl::StrCat(rows, " rows a batch, ", batches, " batches"));
    EXPECT_EQ(batches, (static_cast<int>(in.size()) + rows - 1) / rows);
  }
  // A source restarted from its position in the middle of d's readings
  // judges the rest as the first one would have.
  auto [got, batches] = Run(path, 0, 7, /*restart_after=*/500);
  ExpectSame(got, want, "restarted");
}

// With 10 minutes of allowed lateness, d's readings from 10:35:00 on update
// windows that have fired, one revision per reading, and the rest are late.
TEST_F(LatenessTest, AllowedLatenessUpdatesWindowsTheSameAtAnyBatchSize) {
  const std::vector<StationReading> in = Outage();
  const std::string path = OutageFile();
  const Outputs want = Expected(in, 10 * kMinute);
  ASSERT_EQ(want.updated, 60);
  ASSERT_EQ(want.late.size(), 654u);
  // Window 10:35 of d: revisions 0 to 29 with counts 1 to 30.
  const int64_t w1035 = 1'795'682'400'000 + 115 * kMinute;
  EXPECT_EQ(want.results.count({"d", w1035, 30, 29}), 1u);
  EXPECT_EQ(want.results.count({"d", w1035, 1, 0}), 1u);

  for (const int rows : {1, 7, 4096}) {
    auto [got, batches] = Run(path, 10 * kMinute, rows);
    ExpectSame(got, want, absl::StrCat(rows, " rows a batch, ", batches, " batches"));
  }
  auto [got, batches] = Run(path, 10 * kMinute, 7, /*restart_after=*/500);
  ExpectSame(got, want, "restarted");
}

}  // namespace
}  // namespace sluice
