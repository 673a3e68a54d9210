// Whether a record is late depends only on the order of its source's input:
// not on where batches end, and not on a restore in between. A file_source
// feeds a window directly, as a chained task does.

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "tests/worker/file_source_helpers.h"
#include "worker/operators/window_operator.h"

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

// The definition, computed here: a reading is late when its window ends at
// or before the watermark after the readings before it (their max event
// time - out-of-orderness - 1 ms).
std::set<std::pair<std::string, int64_t>> ExpectedLate(const std::vector<StationReading>& in) {
  std::set<std::pair<std::string, int64_t>> late;
  int64_t max_ts = INT64_MIN;
  for (const StationReading& r : in) {
    const int64_t watermark = max_ts == INT64_MIN ? INT64_MIN : max_ts - kOutOfOrderness - 1;
    const int64_t window_end = r.ts - r.ts % kWindow + kWindow;
    if (window_end - 1 <= watermark) late.insert({r.dev, r.ts});
    max_ts = std::max(max_ts, r.ts);
  }
  return late;
}

class LatenessTest : public FileSourceTestBase {
 protected:
  proto::OperatorSpec WindowSpec() {
    proto::OperatorSpec spec;
    spec.set_id("w");
    auto* w = spec.mutable_window();
    w->add_key_by("dev");
    w->set_type("tumbling");
    w->set_size_ms(kWindow);
    auto* a = w->add_aggregates();
    a->set_name("n");
    a->set_function(proto::AGGREGATE_COUNT);
    return spec;
  }

  // Reads `path` into a window with batches cut at `max_batch_bytes`; the
  // late readings, and how many batches there were. With `restart_after`,
  // the source stops after that many polls and a new one goes on from its
  // position (the window keeps its state, as a restore gives it).
  std::pair<std::set<std::pair<std::string, int64_t>>, int> Run(const std::string& path,
                                                                size_t max_batch_bytes,
                                                                int restart_after = -1) {
    proto::OperatorSpec window_spec = WindowSpec();
    WindowOperator window(window_spec.window());
    OperatorContext window_ctx;
    window_ctx.spec = &window_spec;
    EXPECT_TRUE(window.Open(window_ctx).ok());
    IntoWindow into(window);
    Config(path).mutable_watermark()->set_max_out_of_orderness_ms(kOutOfOrderness);
    OperatorContext ctx = Context();
    ctx.max_batch_bytes = max_batch_bytes;
    auto reader = std::make_unique<FileSourceReader>(spec_.file_source());
    EXPECT_TRUE(reader->Open(ctx).ok());
    for (int polls = 0;; ++polls) {
      if (polls == restart_after) {
        const proto::SourcePosition at = reader->Position();
        reader = std::make_unique<FileSourceReader>(spec_.file_source());
        EXPECT_TRUE(reader->Open(ctx).ok());
        EXPECT_TRUE(reader->Seek(at).ok());
      }
      absl::StatusOr<SourceReader::Poll> poll = reader->PollNext(into);
      EXPECT_TRUE(poll.ok()) << poll.status();
      if (!poll.ok() || *poll == SourceReader::Poll::kEnd) break;
    }
    EXPECT_TRUE(window.Finish(into.out).ok());
    std::set<std::pair<std::string, int64_t>> late;
    for (const Batch& b : into.out.side["late"]) {
      const int dev = b.schema()->IndexOf("dev");
      for (size_t r = 0; r < b.num_rows(); ++r) {
        late.insert({std::string(b.column(dev).StringAt(r)), b.event_time()[r]});
      }
    }
    return {late, into.batches};
  }
};

TEST_F(LatenessTest, TheOutageGivesTheSameLateReadingsAtAnyBatchSize) {
  const std::vector<StationReading> in = Outage();
  std::string lines;
  for (const StationReading& r : in) {
    absl::StrAppend(&lines, "{\"ts\": ", r.ts, ", \"dev\": \"", r.dev, "\", \"t\": 20.5}\n");
  }
  const std::string path = Write("in.jsonl", lines);
  const auto want = ExpectedLate(in);
  // Of d's 720 readings, those of 10:45:00 to 10:45:50 are on time.
  ASSERT_EQ(want.size(), 714u);

  // One row a batch, a few rows, and the whole file (fewer than 4096 lines)
  // in one batch, where a watermark per batch found no late reading at all.
  for (const size_t bytes : {size_t{1}, size_t{200}, size_t{8} << 20}) {
    auto [late, batches] = Run(path, bytes);
    EXPECT_EQ(late, want) << bytes << " bytes a batch, " << batches << " batches";
    if (bytes == 1) {
      EXPECT_EQ(batches, static_cast<int>(in.size()));
    }
    if (bytes == 200) {
      EXPECT_GT(batches, static_cast<int>(in.size()) / 10);
    }
  }
  // A source restarted from its position in the middle of d's readings
  // judges the rest as the first one would have.
  auto [late, batches] = Run(path, 200, /*restart_after=*/500);
  EXPECT_EQ(late, want);
}

}  // namespace
}  // namespace sluice
