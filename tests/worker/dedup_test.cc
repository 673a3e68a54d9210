// dedup: which records it drops, judged against a set of seen (key, time)
// pairs kept by the test; that state expires with the watermark; and that a
// restore from its snapshot remembers the keys.

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "worker/operators/dedup/dedup_operator.h"

namespace sluice {
namespace {

struct Counts : OperatorCounters {
  void AddSkippedFiles(int64_t) override {}
  void AddWindowRecords(int64_t, int64_t) override {}
  void AddDuplicates(int64_t n) override { duplicates += n; }
  int64_t duplicates = 0;
};

// Rows (id, ts).
Batch Rows(const std::vector<std::pair<int64_t, int64_t>>& rows) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"id", FieldType::kInt64}});
  BatchBuilder b(schema);
  for (const auto& [id, ts] : rows) {
    b.SetInt(0, id);
    b.FinishRow(ts);
  }
  return b.Take();
}

std::vector<int64_t> Ids(const CaptureOutput& out) {
  std::vector<int64_t> ids;
  for (const Batch& b : out.main) {
    for (size_t r = 0; r < b.num_rows(); ++r) ids.push_back(b.column(0).ints[r]);
  }
  return ids;
}

class DedupTest : public ::testing::Test {
 protected:
  std::unique_ptr<DedupOperator> Open(const OperatorRestore* restore = nullptr) {
    proto::DedupConfig config;
    config.add_key("id");
    config.set_ttl_ms(1000);
    auto op = std::make_unique<DedupOperator>(config);
    spec_.set_id("dedup");
    OperatorContext ctx;
    ctx.spec = &spec_;
    ctx.counters = &counts_;
    ctx.restore = restore;
    EXPECT_TRUE(op->Open(ctx).ok());
    return op;
  }

  proto::OperatorSpec spec_;
  Counts counts_;
};

TEST_F(DedupTest, DropsAKeySeenWithinTheTtlAndPassesItAfter) {
  auto op = Open();
  CaptureOutput out;
  ASSERT_TRUE(
      op->ProcessBatch(Rows({{1, 100}, {2, 100}, {1, 150}, {1, 1100}, {1, 1101}}), out).ok());
  ASSERT_TRUE(op->ProcessBatch(Rows({{2, 1200}, {3, 5000}, {3, 4500}}), out).ok());
  // 1@150 and 1@1100 are within 1000 ms of 1@100; 1@1101 is not (and is
  // then remembered); 2@1200 is more than 1000 ms after 2@100; 3@4500 is
  // within the ttl before 3@5000.
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{1, 2, 1, 2, 3}));
  EXPECT_EQ(counts_.duplicates, 3);
}

TEST_F(DedupTest, KeysExpireWithTheWatermarkSoStateDoesNotGrow) {
  auto op = Open();
  CaptureOutput out;
  for (int64_t t = 0; t < 100'000; t += 500) {
    ASSERT_TRUE(op->ProcessBatch(Rows({{t, t}}), out).ok());
    ASSERT_TRUE(op->ProcessWatermark(t, out).ok());
  }
  // Buckets of 1 s are dropped 1 s after they end: a few remain at a time.
  EXPECT_LE(op->buckets(), 4u);
  EXPECT_EQ(out.watermarks.back(), 99'500);
}

TEST_F(DedupTest, ARestoreRemembersTheKeysOfItsSnapshot) {
  OperatorRestore restore;
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("sluice-dedup-test-", getpid()))
          .string();
  std::filesystem::remove_all(dir);
  {
    auto op = Open();
    CaptureOutput out;
    ASSERT_TRUE(op->ProcessBatch(Rows({{7, 100}, {8, 100}}), out).ok());
    absl::StatusOr<OperatorSnapshot> s = op->Snapshot(1, dir);
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE(s->complete_files().ok());
    restore.small_state = s->small_state;
    restore.keyed_dir = dir;
  }
  auto op = Open(&restore);
  CaptureOutput out;
  ASSERT_TRUE(op->ProcessBatch(Rows({{7, 120}, {9, 120}, {8, 130}}), out).ok());
  EXPECT_EQ(Ids(out), (std::vector<int64_t>{9}));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sluice
