// file_sink as a transactional sink: what a reader of the output directory
// (every non-hidden file) sees at each step of the commit protocol, in an
// exactly-once job and in an at-least-once one.

#include "connectors/file/file_sink.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

Batch Rows(int from, int n) {
  auto schema = std::make_shared<const Schema>(std::vector<Field>{{"n", FieldType::kInt64}});
  BatchBuilder b(schema);
  for (int i = 0; i < n; ++i) {
    b.SetInt(0, from + i);
    b.FinishRow(i);
  }
  return b.Take();
}

class FileSinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           absl::StrCat("sluice-file-sink-test-", getpid(), "-",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    config_.set_path(dir_.string());
    spec_.set_id("out");
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<FileSink> Open(bool exactly_once, int64_t attempt = 1,
                                 const OperatorRestore* restore = nullptr) {
    auto sink = std::make_unique<FileSink>(config_);
    OperatorContext ctx;
    ctx.job_id = "job1";
    ctx.attempt = attempt;
    ctx.spec = &spec_;
    ctx.exactly_once = exactly_once;
    ctx.restore = restore;
    absl::Status s = sink->Open(ctx);
    EXPECT_TRUE(s.ok()) << s;
    return sink;
  }

  // The values a reader sees, counted: every line of every non-hidden file.
  std::map<std::string, int> Visible() const {
    std::map<std::string, int> seen;
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.starts_with(".")) continue;
      std::ifstream in(e.path());
      for (std::string line; std::getline(in, line);) ++seen[line];
    }
    return seen;
  }
  int Hidden() const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      n += e.path().filename().string().starts_with(".") ? 1 : 0;
    }
    return n;
  }
  static std::map<std::string, int> Lines(int from, int to) {
    std::map<std::string, int> m;
    for (int i = from; i < to; ++i) ++m[absl::StrCat("{\"n\":", i, "}")];
    return m;
  }

  fs::path dir_;
  proto::FileSinkConfig config_;
  proto::OperatorSpec spec_;
  CaptureOutput out_;
};

TEST_F(FileSinkTest, ExactlyOncePublishesACheckpointsRowsOnlyWhenItCompletes) {
  auto sink = Open(/*exactly_once=*/true);
  ASSERT_TRUE(sink->ProcessBatch(Rows(0, 3), out_).ok());
  absl::StatusOr<OperatorSnapshot> s1 = sink->Snapshot(1, "");
  ASSERT_TRUE(s1.ok());
  ASSERT_TRUE(sink->ProcessBatch(Rows(3, 2), out_).ok());
  absl::StatusOr<OperatorSnapshot> s2 = sink->Snapshot(2, "");
  ASSERT_TRUE(s2.ok());
  EXPECT_TRUE(Visible().empty());  // pre-committed, not visible
  EXPECT_EQ(sink->pending_commits(), 2u);

  ASSERT_TRUE(sink->NotifyCheckpointComplete(1).ok());
  EXPECT_EQ(Visible(), Lines(0, 3));
  ASSERT_TRUE(sink->NotifyCheckpointComplete(2).ok());
  EXPECT_EQ(Visible(), Lines(0, 5));
  EXPECT_EQ(Hidden(), 0);
  // Rows after the last barrier wait for the next checkpoint, even at the end.
  ASSERT_TRUE(sink->ProcessBatch(Rows(5, 1), out_).ok());
  ASSERT_TRUE(sink->Finish(out_).ok());
  EXPECT_EQ(Visible(), Lines(0, 5));
  ASSERT_TRUE(sink->Snapshot(3, "").ok());
  ASSERT_TRUE(sink->NotifyCheckpointComplete(3).ok());
  EXPECT_EQ(Visible(), Lines(0, 6));
}

TEST_F(FileSinkTest, ACompletionThatSkipsACheckpointCommitsEverythingBeforeIt) {
  auto sink = Open(true);
  ASSERT_TRUE(sink->ProcessBatch(Rows(0, 2), out_).ok());
  ASSERT_TRUE(sink->Snapshot(1, "").ok());  // checkpoint 1 is aborted later
  ASSERT_TRUE(sink->ProcessBatch(Rows(2, 2), out_).ok());
  ASSERT_TRUE(sink->Snapshot(2, "").ok());
  ASSERT_TRUE(sink->NotifyCheckpointComplete(2).ok());
  EXPECT_EQ(Visible(), Lines(0, 4));
  EXPECT_EQ(sink->pending_commits(), 0u);
}

TEST_F(FileSinkTest, ARestoreCommitsWhatItsCheckpointPreCommittedAndDropsTheRest) {
  OperatorRestore restore;
  {
    auto sink = Open(true);
    ASSERT_TRUE(sink->ProcessBatch(Rows(0, 3), out_).ok());
    absl::StatusOr<OperatorSnapshot> s = sink->Snapshot(7, "");
    ASSERT_TRUE(s.ok());
    restore.small_state = s->small_state;
    restore.checkpoint_id = 7;
    // Checkpoint 7 completes, but the task dies before it hears so, after
    // writing rows that no checkpoint covers.
    ASSERT_TRUE(sink->ProcessBatch(Rows(100, 4), out_).ok());
  }
  EXPECT_TRUE(Visible().empty());
  auto restored = Open(true, /*attempt=*/2, &restore);
  EXPECT_EQ(Visible(), Lines(0, 3));
  EXPECT_EQ(Hidden(), 0);  // the dead attempt's open file is gone

  // The old attempt's copy of the handle, committed again (a paused task
  // that resumes): a no-op.
  auto again = Open(true, 2, &restore);
  EXPECT_EQ(Visible(), Lines(0, 3));
}

TEST_F(FileSinkTest, APendingFileThatIsGoneIsAnErrorNotASilentGap) {
  auto sink = Open(true);
  ASSERT_TRUE(sink->ProcessBatch(Rows(0, 3), out_).ok());
  ASSERT_TRUE(sink->Snapshot(1, "").ok());
  for (const auto& e : fs::directory_iterator(dir_)) fs::remove(e.path());
  absl::Status s = sink->NotifyCheckpointComplete(1);
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
}

TEST_F(FileSinkTest, AtLeastOncePublishesAtEachBarrierAndAtTheEnd) {
  auto sink = Open(/*exactly_once=*/false);
  ASSERT_TRUE(sink->ProcessBatch(Rows(0, 3), out_).ok());
  absl::StatusOr<OperatorSnapshot> s = sink->Snapshot(1, "");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->small_state.empty());
  EXPECT_EQ(Visible(), Lines(0, 3));
  ASSERT_TRUE(sink->ProcessBatch(Rows(3, 2), out_).ok());
  ASSERT_TRUE(sink->Finish(out_).ok());
  EXPECT_EQ(Visible(), Lines(0, 5));
  EXPECT_EQ(Hidden(), 0);
}

}  // namespace
}  // namespace sluice
