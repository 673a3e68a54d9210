#include "worker/operators/window/window_operator.h"

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

namespace sluice {
namespace {

using testing_window::Expected;
using testing_window::InputSchema;
using testing_window::OpenedWindow;
using testing_window::WindowSpec;

TEST(WindowOperatorTest, AggregatesMatchABruteForceComputation) {
  OpenedWindow window(WindowSpec());
  ASSERT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
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
  OpenedWindow window(WindowSpec());
  ASSERT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
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

TEST(WindowOperatorTest, AnAggregatedFieldThatIsNotANumberMakesDeadLettersNotAFailure) {
  // With an inferred schema, `v` is a number in one file and a string in
  // another. The rows with a string there are dead letters; the rest, and
  // rows whose v is null, count as usual.
  OpenedWindow window(WindowSpec());
  ASSERT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
  CaptureOutput out;
  BatchBuilder numbers(InputSchema());
  numbers.SetString(0, "a");
  numbers.SetDouble(1, 1.5);
  numbers.FinishRow(100);
  numbers.SetString(0, "b");
  numbers.SetDouble(1, 2.0);
  numbers.FinishRow(200);
  ASSERT_TRUE(op.ProcessBatch(numbers.Take(), out).ok());
  BatchBuilder strings(std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"v", FieldType::kString}}));
  strings.SetString(0, "a");
  strings.SetString(1, "high");
  strings.FinishRow(300);
  strings.SetString(0, "b");  // v null
  strings.FinishRow(400);
  ASSERT_TRUE(op.ProcessBatch(strings.Take(), out).ok());
  ASSERT_TRUE(op.Finish(out).ok());

  ASSERT_EQ(out.SideRows("dead_letter"), 1u);
  const Batch& dead = out.side["dead_letter"][0];
  EXPECT_EQ(dead.column(0).StringAt(0), "w");
  EXPECT_EQ(dead.column(3).StringAt(0), "aggregate 'total': field 'v' is string, not a number");
  EXPECT_EQ(dead.column(4).StringAt(0), "{\"dev\":\"a\",\"v\":\"high\"}");
  EXPECT_EQ(dead.event_time()[0], 300);
  std::map<std::string, std::pair<int64_t, double>> results;  // dev -> n, total
  for (const Batch& b : out.main) {
    for (size_t r = 0; r < b.num_rows(); ++r) {
      results[std::string(b.column(0).StringAt(r))] = {b.column(3).ints[r], b.column(4).doubles[r]};
    }
  }
  EXPECT_EQ(results,
            (std::map<std::string, std::pair<int64_t, double>>{{"a", {1, 1.5}}, {"b", {2, 2.0}}}));
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
  const proto::WindowConfig settings = testing_window::WindowSettings(spec);
  const auto& key_by = settings.key_by();
  OpenedWindow window(spec);
  EXPECT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
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
  OpenedWindow window(WindowSpec({"dev", "site"}));
  ASSERT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
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
  OpenedWindow window(WindowSpec());
  ASSERT_TRUE(window.open.ok()) << window.open;
  WindowOperator& op = window.op;
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

}  // namespace
}  // namespace sluice
