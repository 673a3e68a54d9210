// Incremental checkpoints, end to end on one subtask: a window operator's
// snapshots uploaded by the task's uploader, judged by the manifests.

#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "store/memory_object_store.h"
#include "tests/state/state_test_util.h"
#include "tests/worker/capture_output.h"
#include "worker/checkpointing/snapshot_uploader.h"
#include "worker/operators/window/window_operator.h"

namespace sluice {
namespace {

proto::WindowConfig CountSettings() {
  proto::WindowConfig w;
  w.add_key_by("dev");
  w.set_type("tumbling");
  w.set_size_ms(3'600'000);
  auto* a = w.add_aggregates();
  a->set_name("total");
  a->set_function(proto::AGGREGATE_SUM);
  a->set_field("v");
  return w;
}

// One reading for each of the devices [from, to) (stepping by `step`).
Batch Readings(int from, int to, int step, double v) {
  BatchBuilder b(std::make_shared<const Schema>(
      std::vector<Field>{{"dev", FieldType::kString}, {"v", FieldType::kDouble}}));
  for (int d = from; d < to; d += step) {
    b.SetString(0, absl::StrCat("device-", d));
    b.SetDouble(1, v);
    b.FinishRow(1000);
  }
  return b.Take();
}

// 100k keys, then about 5% of them change between two checkpoints: the
// second checkpoint's manifest says it uploaded at most 15% of the bytes of
// the full snapshot it describes.
TEST(IncrementalCheckpointTest, FivePercentChangedKeysUploadAtMostFifteenPercent) {
  constexpr int kKeys = 100'000;
  const proto::WindowConfig settings = CountSettings();
  proto::OperatorSpec spec;
  spec.set_id("w");
  spec.mutable_config()->PackFrom(settings);
  testing::TempDir dir;
  OperatorContext ctx;
  ctx.spec = &spec;
  ctx.state_dir = dir.Sub("db");
  WindowOperator op(settings);
  ASSERT_TRUE(op.Open(ctx).ok());
  CaptureOutput out;
  for (int from = 0; from < kKeys; from += 4096) {
    ASSERT_TRUE(op.ProcessBatch(Readings(from, std::min(kKeys, from + 4096), 1, 1.0), out).ok());
  }

  MemoryObjectStore store;
  SubtaskFiles known;
  auto checkpoint = [&](int64_t id) -> proto::SubtaskSnapshot {
    LocalSnapshot s;
    s.job_id = "job";
    s.attempt = 1;
    s.barrier = {id, 0, proto::CHECKPOINT, ""};
    s.local_dir = dir.Sub(absl::StrCat("chk-", id));
    const std::string keyed = s.local_dir + "/w";
    std::filesystem::create_directories(s.local_dir);
    auto snap = op.Snapshot(id, keyed);
    EXPECT_TRUE(snap.ok()) << snap.status();
    s.operators.push_back(
        {"w", snap->small_state, snap->has_keyed_files ? keyed : "", snap->complete_files});
    auto uploaded = UploadSnapshot(store, s, known);
    EXPECT_TRUE(uploaded.ok()) << uploaded.status();
    return *uploaded;
  };
  const proto::SubtaskSnapshot first = checkpoint(1);
  ASSERT_GT(first.state_bytes(), 0);
  EXPECT_EQ(first.uploaded_bytes(),
            first.state_bytes() - static_cast<int64_t>(first.operators(0).small_state().size()));

  // Every 20th key changes: 5%.
  ASSERT_TRUE(op.ProcessBatch(Readings(0, kKeys, 20, 2.0), out).ok());
  const proto::SubtaskSnapshot second = checkpoint(2);
  const double fraction =
      static_cast<double>(second.uploaded_bytes()) / static_cast<double>(second.state_bytes());
  RecordProperty("uploaded_fraction", absl::StrCat(fraction));
  EXPECT_LE(fraction, 0.15) << second.uploaded_bytes() << " of " << second.state_bytes()
                            << " bytes uploaded";
  // The files it refers to are all in the store, with the sizes it lists.
  for (const auto& f : second.operators(0).files()) {
    auto size = store.Size(f.key());
    ASSERT_TRUE(size.ok());
    ASSERT_TRUE(size->has_value()) << f.key();
    EXPECT_EQ(**size, f.size()) << f.key();
  }
}

}  // namespace
}  // namespace sluice
