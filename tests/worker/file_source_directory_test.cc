// A file_source over a directory: what its listing reads and skips, and
// following a directory that files keep arriving in, with idleness.

#include <algorithm>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/clock.h"
#include "connectors/file/file_source.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"
#include "tests/worker/file_source_helpers.h"

namespace sluice {
namespace {

class FileSourceDirectoryTest : public FileSourceTestBase {};

// What a directory's listing leaves out is named with the reason, and an
// entry that cannot be examined (a symbolic link loop) is one of them
// rather than an exception that would take the worker down.
TEST_F(FileSourceDirectoryTest, SkipsWhatItDoesNotReadAndSaysWhy) {
  const std::string a = Write("a.jsonl", "{}\n");
  const std::string b = Write("b.jsonl", "{}\n");
  Write(".hidden", "{}\n");
  Write("_SUCCESS", "");
  std::filesystem::create_directories(dir_ / "sub");
  Write("sub/c.jsonl", "{}\n");
  std::filesystem::create_symlink(dir_ / "loop2", dir_ / "loop1");
  std::filesystem::create_symlink(dir_ / "loop1", dir_ / "loop2");
  std::filesystem::create_symlink(dir_ / "missing", dir_ / "broken");
  std::filesystem::create_symlink(dir_ / "a.jsonl", dir_ / "link.jsonl");

  absl::StatusOr<SourceFiles> listed = ListSourceFiles(dir_.string());
  ASSERT_TRUE(listed.ok()) << listed.status();
  EXPECT_EQ(listed->files, (std::vector<std::string>{a, b, (dir_ / "link.jsonl").string()}));
  std::map<std::string, std::string> skipped;
  for (const auto& s : listed->skipped) {
    skipped[std::filesystem::path(s.path).filename().string()] = s.reason;
  }
  ASSERT_EQ(skipped.size(), 6u);
  EXPECT_NE(skipped[".hidden"].find("hidden"), std::string::npos);
  EXPECT_NE(skipped["_SUCCESS"].find("hidden"), std::string::npos);
  EXPECT_NE(skipped["sub"].find("subdirectory"), std::string::npos);
  EXPECT_NE(skipped["loop1"].find("cannot be examined"), std::string::npos) << skipped["loop1"];
  EXPECT_NE(skipped["loop2"].find("cannot be examined"), std::string::npos);
  EXPECT_NE(skipped["broken"].find("broken link"), std::string::npos) << skipped["broken"];
}

// What the source skips is counted (sluice_source_skipped_files_total), by
// subtask 0 only: every subtask lists the same directory.
TEST_F(FileSourceDirectoryTest, TheSourceCountsWhatItSkips) {
  struct Counts : OperatorCounters {
    void AddSkippedFiles(int64_t n) override { skipped += n; }
    void AddWindowRecords(int64_t, int64_t) override {}
    void AddDuplicates(int64_t) override {}
    int64_t skipped = 0;
  };
  Write("a.jsonl", "{\"ts\": 1}\n");
  Write("_SUCCESS", "");
  Write(".part-x.inprogress", "");
  std::filesystem::create_directories(dir_ / "sub");
  std::filesystem::create_symlink(dir_ / "missing", dir_ / "broken");
  Config(dir_.string());
  for (int subtask : {0, 1}) {
    Counts counts;
    OperatorContext ctx = Context();
    ctx.counters = &counts;
    ctx.subtask = subtask;
    ctx.parallelism = 2;
    Reading r = Read(ctx);
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(counts.skipped, subtask == 0 ? 4 : 0) << subtask;
  }
}

TEST_F(FileSourceDirectoryTest, APathThatIsNeitherFileNorDirectoryIsAnError) {
  std::filesystem::create_symlink(dir_ / "x", dir_ / "y");
  std::filesystem::create_symlink(dir_ / "y", dir_ / "x");
  absl::StatusOr<SourceFiles> listed = ListSourceFiles((dir_ / "x").string());
  EXPECT_TRUE(absl::IsNotFound(listed.status())) << listed.status();
}

// One poll of `reader` into `out`; kEnd when it fails.
SourceReader::Poll PollOnce(FileSourceReader& reader, CaptureOutput& out) {
  absl::StatusOr<SourceReader::Poll> p = reader.PollNext(out);
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : SourceReader::Poll::kEnd;
}

// Following a directory: the source never ends, reads the files that
// appear (if they sort after the others), and after idle_timeout without
// an event says once that it is idle.
TEST_F(FileSourceDirectoryTest, FollowReadsNewFilesAndGoesIdleAfterTheTimeout) {
  Write("2026-01-01T10.jsonl", "{\"ts\": 1000}\n");
  ManualClock clock;
  const OperatorContext ctx = FollowContext(clock, 5000);
  FileSourceReader reader(config_);
  ASSERT_TRUE(reader.Open(ctx).ok());
  CaptureOutput out;
  auto poll = [&] { return PollOnce(reader, out); };
  EXPECT_EQ(poll(), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 1u);
  EXPECT_EQ(poll(), SourceReader::Poll::kNothingYet);  // waits; never kEnd
  EXPECT_EQ(reader.NextPollMs(), clock.NowMs() + 250);

  // A new file that sorts last is read at the next listing; one that sorts
  // before it appeared too late and is skipped.
  Write("2026-01-01T11.jsonl", "{\"ts\": 2000}\n{\"ts\": 3000}\n");
  clock.Advance(250);
  EXPECT_EQ(poll(), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 3u);
  Write("2026-01-01T09.jsonl", "{\"ts\": 500}\n");
  clock.Advance(250);
  EXPECT_EQ(poll(), SourceReader::Poll::kNothingYet);
  EXPECT_EQ(out.MainRows(), 3u);

  // 5 s after the last event: idle, said once.
  EXPECT_EQ(std::count(out.watermarks.begin(), out.watermarks.end(), kIdleWatermark), 0);
  clock.Advance(4000);
  EXPECT_EQ(poll(), SourceReader::Poll::kNothingYet);
  clock.Advance(750);
  EXPECT_EQ(poll(), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.watermarks.back(), kIdleWatermark);
  clock.Advance(1000);
  EXPECT_EQ(poll(), SourceReader::Poll::kNothingYet);
  EXPECT_EQ(std::count(out.watermarks.begin(), out.watermarks.end(), kIdleWatermark), 1);

  // Events again: records and a real watermark follow.
  Write("2026-01-01T12.jsonl", "{\"ts\": 4000}\n");
  clock.Advance(250);
  EXPECT_EQ(poll(), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 4u);
  EXPECT_EQ(out.watermarks.back(), 4000 - 10 - 1);
}

// A split that comes back from idleness can go idle again, however its
// batches end; and a position taken while it waits for its next file
// restores after more files have arrived.
TEST_F(FileSourceDirectoryTest, FollowGoesIdleAgainAndRestoresWhileWaiting) {
  ManualClock clock;
  const OperatorContext ctx = FollowContext(clock, 1000);
  Config(dir_.string()).set_batch_rows(1);
  FileSourceReader reader(config_);
  ASSERT_TRUE(reader.Open(ctx).ok());
  CaptureOutput out;
  auto poll = [&](FileSourceReader& r) { return PollOnce(r, out); };
  auto idles = [&] {
    return std::count(out.watermarks.begin(), out.watermarks.end(), kIdleWatermark);
  };
  clock.Advance(1000);
  EXPECT_EQ(poll(reader), SourceReader::Poll::kEmitted);
  EXPECT_EQ(idles(), 1);

  Write("a.jsonl", "{\"ts\": 1000}\n");
  clock.Advance(250);
  EXPECT_EQ(poll(reader), SourceReader::Poll::kEmitted);  // the one row: a full batch
  EXPECT_EQ(out.MainRows(), 1u);
  EXPECT_EQ(poll(reader), SourceReader::Poll::kNothingYet);
  const proto::FilePosition waiting = FilePositionOf(reader);  // past the listing
  EXPECT_EQ(waiting.file(), "");
  clock.Advance(999);
  EXPECT_EQ(poll(reader), SourceReader::Poll::kNothingYet);
  EXPECT_EQ(idles(), 1);
  clock.Advance(1);
  EXPECT_EQ(poll(reader), SourceReader::Poll::kEmitted);
  EXPECT_EQ(idles(), 2);

  Write("b.jsonl", "{\"ts\": 2000}\n");
  FileSourceReader restored(config_);
  ASSERT_TRUE(restored.Open(ctx).ok());
  absl::Status seek = restored.Seek(waiting.SerializeAsString());
  ASSERT_TRUE(seek.ok()) << seek;
  EXPECT_EQ(poll(restored), SourceReader::Poll::kEmitted);
  EXPECT_EQ(out.MainRows(), 2u);
  EXPECT_EQ(out.main.back().event_time()[0], 2000);
}

TEST_F(FileSourceDirectoryTest, FollowNeedsADirectory) {
  const std::string path = Write("one.jsonl", "{\"ts\": 1}\n");
  Config(path).set_follow(true);
  FileSourceReader reader(config_);
  absl::Status s = reader.Open(Context());
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  EXPECT_NE(s.message().find("follow needs a directory"), std::string::npos) << s;
}

}  // namespace
}  // namespace sluice
