#include "worker/operators/window_operator.h"

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

proto::OperatorSpec WindowSpec(const std::vector<std::string>& key_by = {"dev"}) {
  proto::OperatorSpec spec;
  spec.set_id("w");
  auto* w = spec.mutable_window();
  for (const auto& k : key_by) w->add_key_by(k);
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

// Keys whose fields are null, missing, composite or of different types in
// different batches. A key value in these tests is written as its text:
// "null", "b:1", "i:3", "d:2.5" or "s:abc".

// One generated key value and the text its window result must carry.
struct TestValue {
  FieldType type = FieldType::kNull;
  int64_t i = 0;
  double d = 0;
  std::string s;

  // The key this value is: an integral double is that integer.
  std::string Text() const {
    switch (type) {
      case FieldType::kBool:
        return absl::StrCat("b:", i);
      case FieldType::kInt64:
        return absl::StrCat("i:", i);
      case FieldType::kDouble:
        if (d == std::trunc(d)) return absl::StrCat("i:", static_cast<int64_t>(d));
        return absl::StrCat("d:", d);
      case FieldType::kString:
        return absl::StrCat("s:", s);
      case FieldType::kNull:
        break;
    }
    return "null";
  }
};

TestValue Null() { return {}; }
TestValue Bool(bool b) { return {FieldType::kBool, b ? 1 : 0, 0, ""}; }
TestValue Int(int64_t i) { return {FieldType::kInt64, i, 0, ""}; }
TestValue Dbl(double d) { return {FieldType::kDouble, 0, d, ""}; }
TestValue Str(std::string s) { return {FieldType::kString, 0, 0, std::move(s)}; }

std::string OutputText(const Column& col, size_t row) {
  if (col.IsNull(row)) return "null";
  switch (col.type) {
    case FieldType::kBool:
      return absl::StrCat("b:", col.ints[row]);
    case FieldType::kInt64:
      return absl::StrCat("i:", col.ints[row]);
    case FieldType::kDouble:
      return absl::StrCat("d:", col.doubles[row]);
    case FieldType::kString:
      return absl::StrCat("s:", std::string(col.StringAt(row)));
    case FieldType::kNull:
      break;
  }
  return "null";
}

// One input schema: its fields (the key fields present, in any order, plus
// "v"), and for each key field the values rows draw from.
struct InputShape {
  SchemaRef schema;
  std::map<std::string, std::vector<TestValue>> values;
};

void Set(BatchBuilder& b, size_t field, const TestValue& v) {
  switch (v.type) {
    case FieldType::kBool:
      b.SetBool(field, v.i != 0);
      break;
    case FieldType::kInt64:
      b.SetInt(field, v.i);
      break;
    case FieldType::kDouble:
      b.SetDouble(field, v.d);
      break;
    case FieldType::kString:
      b.SetString(field, v.s);
      break;
    case FieldType::kNull:
      break;  // unset fields are null
  }
}

// Feeds the window `spec` random batches of random shapes and checks every
// fired result against a brute-force computation over the same records.
// Returns the output for further checks.
CaptureOutput RunAndCheckAgainstBruteForce(const proto::OperatorSpec& spec,
                                           const std::vector<InputShape>& shapes) {
  const auto& key_by = spec.window().key_by();
  WindowOperator op(spec.window());
  OperatorContext ctx;
  ctx.spec = &spec;
  EXPECT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;

  std::mt19937 rng(11);
  std::map<std::pair<std::string, int64_t>, Expected> expected;
  for (int batch = 0; batch < 40; ++batch) {
    const InputShape& shape = shapes[rng() % shapes.size()];
    BatchBuilder b(shape.schema);
    for (int i = 0; i < 200; ++i) {
      std::vector<std::string> key;
      for (const auto& k : key_by) {
        const int idx = shape.schema->IndexOf(k);
        if (idx < 0) {
          key.push_back("null");  // missing from this schema
          continue;
        }
        const auto& pool = shape.values.at(k);
        const TestValue& v = pool[rng() % pool.size()];
        Set(b, idx, v);
        key.push_back(v.Text());
      }
      const int64_t ts = batch * 500 + static_cast<int64_t>(rng() % 800);
      const double v = static_cast<double>(rng() % 1000) / 10.0;
      b.SetDouble(shape.schema->IndexOf("v"), v);
      b.FinishRow(ts);
      Expected& e = expected[{absl::StrJoin(key, "|"), ts / 1000 * 1000}];
      ++e.n;
      e.total += v;
      e.lo = std::min(e.lo, v);
      e.hi = std::max(e.hi, v);
    }
    absl::Status status = op.ProcessBatch(b.Take(), out);
    EXPECT_TRUE(status.ok()) << status;
    EXPECT_TRUE(op.ProcessWatermark(batch * 500 - 801, out).ok());
  }
  EXPECT_TRUE(op.Finish(out).ok());
  EXPECT_EQ(out.SideRows("late"), 0u);

  const size_t num_keys = key_by.size();
  std::map<std::pair<std::string, int64_t>, std::vector<double>> got;
  for (const Batch& b : out.main) {
    const Schema& schema = *b.schema();
    EXPECT_EQ(schema.size(), num_keys + 7);
    for (size_t k = 0; k < num_keys; ++k) EXPECT_EQ(schema.field(k).name, key_by[k]);
    EXPECT_EQ(schema.field(num_keys).name, "window_start");
    for (size_t r = 0; r < b.num_rows(); ++r) {
      std::vector<std::string> key;
      for (size_t k = 0; k < num_keys; ++k) key.push_back(OutputText(b.column(k), r));
      const int64_t start = b.column(num_keys).ints[r];
      auto id = std::make_pair(absl::StrJoin(key, "|"), start);
      EXPECT_FALSE(got.contains(id)) << id.first << " fired twice for window " << start;
      EXPECT_EQ(b.column(num_keys + 1).ints[r], start + 1000);
      got[id] = {static_cast<double>(b.column(num_keys + 2).ints[r]),
                 b.column(num_keys + 3).doubles[r], b.column(num_keys + 4).doubles[r],
                 b.column(num_keys + 5).doubles[r]};
    }
  }
  EXPECT_EQ(got.size(), expected.size());
  for (const auto& [id, e] : expected) {
    auto it = got.find(id);
    if (it == got.end()) {
      ADD_FAILURE() << "no result for key " << id.first << " window " << id.second;
      continue;
    }
    EXPECT_EQ(it->second[0], e.n) << id.first;
    EXPECT_NEAR(it->second[1], e.total, 1e-9) << id.first;
    EXPECT_EQ(it->second[2], e.lo) << id.first;
    EXPECT_EQ(it->second[3], e.hi) << id.first;
  }
  return out;
}

SchemaRef MakeSchema(std::vector<Field> fields) {
  return std::make_shared<const Schema>(std::move(fields));
}

TEST(WindowOperatorTest, KeysThatAreNullMissingOrChangeTypeKeepTheirOwnResults) {
  const std::vector<InputShape> shapes = {
      {MakeSchema({{"dev", FieldType::kString}, {"v", FieldType::kDouble}}),
       {{"dev", {Str("a"), Str("b"), Str("7"), Str(""), Null()}}}},
      {MakeSchema({{"v", FieldType::kDouble}, {"dev", FieldType::kInt64}}),
       {{"dev", {Int(7), Int(-1), Int(3), Int(0), Null()}}}},
      // 3.0 is the key 3 and -0.0 the key 0; 2.5 stays a double.
      {MakeSchema({{"dev", FieldType::kDouble}, {"v", FieldType::kDouble}}),
       {{"dev", {Dbl(3.0), Dbl(2.5), Dbl(-0.0), Null()}}}},
      {MakeSchema({{"dev", FieldType::kBool}, {"v", FieldType::kDouble}}),
       {{"dev", {Bool(true), Bool(false), Null()}}}},
      {MakeSchema({{"v", FieldType::kDouble}}), {}},  // dev missing
  };
  CaptureOutput out = RunAndCheckAgainstBruteForce(WindowSpec(), shapes);

  // One batch holds one type of key; every type got its own batches.
  std::map<FieldType, int> batches_by_type;
  bool saw_null = false;
  for (const Batch& b : out.main) {
    ++batches_by_type[b.schema()->field(0).type];
    for (size_t r = 0; r < b.num_rows() && !saw_null; ++r) {
      if (!b.column(0).IsNull(r)) continue;
      saw_null = true;
      std::string line;
      AppendJsonLine(b, r, &line);
      EXPECT_EQ(line.rfind("{\"dev\":null,\"window_start\":", 0), 0u) << line;
    }
  }
  EXPECT_TRUE(saw_null);
  for (FieldType t :
       {FieldType::kString, FieldType::kInt64, FieldType::kDouble, FieldType::kBool}) {
    EXPECT_GT(batches_by_type[t], 0) << FieldTypeName(t);
  }
}

TEST(WindowOperatorTest, CompositeKeysFromSchemasThatDiffer) {
  const std::vector<InputShape> shapes = {
      {MakeSchema({{"site", FieldType::kString},
                   {"floor", FieldType::kInt64},
                   {"zone", FieldType::kString},
                   {"v", FieldType::kDouble}}),
       {{"site", {Str("n"), Str("s"), Null()}},
        {"floor", {Int(1), Int(2), Null()}},
        {"zone", {Str("x"), Null()}}}},
      // Fields in another order, floor widened to double, zone missing.
      {MakeSchema({{"v", FieldType::kDouble},
                   {"floor", FieldType::kDouble},
                   {"site", FieldType::kString}}),
       {{"site", {Str("n"), Str("s"), Null()}}, {"floor", {Dbl(1.0), Dbl(2.0), Dbl(1.5)}}}},
      // Floor missing, zone an int.
      {MakeSchema(
           {{"zone", FieldType::kInt64}, {"site", FieldType::kString}, {"v", FieldType::kDouble}}),
       {{"site", {Str("n"), Null()}}, {"zone", {Int(5), Null()}}}},
  };
  RunAndCheckAgainstBruteForce(WindowSpec({"site", "floor", "zone"}), shapes);
}

TEST(WindowOperatorTest, AllNullKeyColumnIsAStringColumn) {
  proto::OperatorSpec spec = WindowSpec({"dev", "site"});
  WindowOperator op(spec.window());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;
  BatchBuilder b(MakeSchema({{"site", FieldType::kInt64}, {"v", FieldType::kDouble}}));
  b.SetInt(0, 4);
  b.SetDouble(1, 1.0);
  b.FinishRow(10);
  b.SetDouble(1, 2.0);  // site null too
  b.FinishRow(20);
  ASSERT_TRUE(op.ProcessBatch(b.Take(), out).ok());
  ASSERT_TRUE(op.Finish(out).ok());
  // A key with site null fits the batch of site 4: one batch, site int64.
  ASSERT_EQ(out.main.size(), 1u);
  const Batch& result = out.main[0];
  EXPECT_EQ(result.schema()->field(0).type, FieldType::kString);
  EXPECT_EQ(result.schema()->field(1).type, FieldType::kInt64);
  ASSERT_EQ(result.num_rows(), 2u);
  std::string json;
  for (size_t r = 0; r < result.num_rows(); ++r) AppendJsonLine(result, r, &json);
  EXPECT_NE(json.find("{\"dev\":null,\"site\":4,"), std::string::npos) << json;
  EXPECT_NE(json.find("{\"dev\":null,\"site\":null,"), std::string::npos) << json;
}

TEST(WindowOperatorChunkTest, ABigFiringComesOutInBoundedPiecesWithTheWatermarkLast) {
  proto::OperatorSpec spec = WindowSpec();
  WindowOperator op(spec.window());
  OperatorContext ctx;
  ctx.spec = &spec;
  ASSERT_TRUE(op.Open(ctx).ok());
  constexpr int kKeys = 50'000;
  BatchBuilder b(InputSchema());
  for (int i = 0; i < kKeys; ++i) {
    b.SetString(0, absl::StrCat("dev-", i));
    b.SetDouble(1, i);
    b.FinishRow(500);
  }
  CaptureOutput out;
  ASSERT_TRUE(op.ProcessBatch(b.Take(), out).ok());
  ASSERT_TRUE(op.ProcessWatermark(5000, out).ok());
  EXPECT_EQ(out.MainRows(), WindowOperator::kFireChunk);  // the first piece only
  EXPECT_TRUE(out.watermarks.empty());
  EXPECT_TRUE(op.HasPending());
  int pieces = 1;
  while (op.HasPending()) {
    const size_t before = out.MainRows();
    ASSERT_TRUE(op.ContinuePending(out).ok());
    EXPECT_LE(out.MainRows() - before, WindowOperator::kFireChunk);
    ++pieces;
  }
  EXPECT_EQ(pieces, (kKeys + WindowOperator::kFireChunk - 1) / WindowOperator::kFireChunk);
  EXPECT_EQ(out.MainRows(), static_cast<size_t>(kKeys));
  ASSERT_EQ(out.watermarks, std::vector<int64_t>{5000});
  double total = 0;
  for (const Batch& batch : out.main) {
    for (size_t r = 0; r < batch.num_rows(); ++r) total += batch.column(4).doubles[r];  // total
  }
  EXPECT_DOUBLE_EQ(total, static_cast<double>(kKeys) * (kKeys - 1) / 2);
}

// --- Snapshots and restore

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
    WindowOperator op(spec.window());
    ASSERT_TRUE(op.Open(ctx).ok());
    Feed(op, input, 0, kBatches, whole);
    ASSERT_TRUE(op.Finish(whole).ok());
  }

  CaptureOutput before, after, discarded;
  OperatorRestore restore;
  restore.keyed_dir = dir.Sub("chk-1");
  {
    WindowOperator op(spec.window());
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
    WindowOperator op(spec.window());
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
    WindowOperator op(spec.window());
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
