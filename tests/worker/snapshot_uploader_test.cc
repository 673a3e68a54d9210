#include "worker/checkpointing/snapshot_uploader.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "store/memory_object_store.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

class SnapshotUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ =
        fs::temp_directory_path() / absl::StrCat("sluice-upload-test-", getpid(), "-",
                                                 ::testing::UnitTest::GetInstance()->random_seed());
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }

  // A local snapshot of operator "w" with the given files (name -> content).
  LocalSnapshot Snapshot(int64_t id, const std::map<std::string, std::string>& files,
                         proto::CheckpointKind kind = proto::CHECKPOINT) {
    const fs::path dir = root_ / absl::StrCat("chk-", id) / "w";
    fs::create_directories(dir);
    for (const auto& [name, content] : files) std::ofstream(dir / name) << content;
    LocalSnapshot s;
    s.job_id = "job";
    s.attempt = 3;
    s.task = 1;
    s.subtask = 0;
    s.barrier = {id, 0, kind, kind == proto::SAVEPOINT ? "sp" : ""};
    s.operators.push_back({"w", "small", dir.string(), nullptr});
    s.local_dir = (root_ / absl::StrCat("chk-", id)).string();
    return s;
  }

  std::map<std::string, std::string> Keys(const proto::SubtaskSnapshot& s) {
    std::map<std::string, std::string> out;
    for (const auto& f : s.operators(0).files()) out[f.name()] = f.key();
    return out;
  }

  fs::path root_;
  MemoryObjectStore store_;
  SubtaskFiles known_;
};

TEST_F(SnapshotUploaderTest, UploadsOnlySstFilesTheStoreDoesNotHold) {
  auto first = UploadSnapshot(
      store_, Snapshot(1, {{"000010.sst", "aaaa"}, {"000011.sst", "bbbbbb"}, {"MANIFEST-5", "m1"}}),
      known_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->uploaded_bytes(), 12);
  EXPECT_EQ(first->state_bytes(), 12 + 5);  // files and the small state
  EXPECT_EQ(first->operators(0).small_state(), "small");
  EXPECT_EQ(Keys(*first),
            (std::map<std::string, std::string>{{"000010.sst", "job/shared/w-0/a3-000010.sst"},
                                                {"000011.sst", "job/shared/w-0/a3-000011.sst"},
                                                {"MANIFEST-5", "job/chk-1/w-0/MANIFEST-5"}}));

  // 000010 was compacted away; 000011 is unchanged; 000012 is new.
  auto second = UploadSnapshot(
      store_, Snapshot(2, {{"000011.sst", "bbbbbb"}, {"000012.sst", "ccc"}, {"MANIFEST-5", "m2"}}),
      known_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->uploaded_bytes(), 3 + 2);
  EXPECT_EQ(Keys(*second)["000011.sst"], "job/shared/w-0/a3-000011.sst");
  EXPECT_EQ(Keys(*second)["MANIFEST-5"], "job/chk-2/w-0/MANIFEST-5");
  EXPECT_EQ(*store_.Get("job/shared/w-0/a3-000012.sst"), "ccc");
}

// A snapshot's delta file comes back in the next checkpoint under a number
// RocksDB gave it: the same contents are not sent again. A delta name is
// never taken for its contents by name alone.
TEST_F(SnapshotUploaderTest, KnownContentsUnderANewNameAreNotSentAgain) {
  auto first = UploadSnapshot(store_, Snapshot(1, {{"delta-0-0.sst", "dddd"}}), known_);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->uploaded_bytes(), 4);

  auto second = UploadSnapshot(
      store_, Snapshot(2, {{"000020.sst", "dddd"}, {"delta-1-0.sst", "ee"}}), known_);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(second->uploaded_bytes(), 2);
  EXPECT_EQ(Keys(*second)["000020.sst"], "job/shared/w-0/a3-delta-0-0.sst");

  // After a restore (a new attempt), a delta name may recur with other
  // contents.
  LocalSnapshot restored = Snapshot(3, {{"delta-1-0.sst", "ff"}});
  restored.attempt = 4;
  auto third = UploadSnapshot(store_, restored, known_);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(third->uploaded_bytes(), 2);
  EXPECT_EQ(Keys(*third)["delta-1-0.sst"], "job/shared/w-0/a4-delta-1-0.sst");
  const std::string dir = (root_ / "restore").string();
  ASSERT_TRUE(DownloadOperatorState(store_, third->operators(0), dir).ok());
  std::ifstream in(dir + "/delta-1-0.sst");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "ff");
}

TEST_F(SnapshotUploaderTest, ASavepointSharesNothing) {
  ASSERT_TRUE(UploadSnapshot(store_, Snapshot(1, {{"000010.sst", "aaaa"}}), known_).ok());
  auto sp = UploadSnapshot(store_, Snapshot(2, {{"000010.sst", "aaaa"}}, proto::SAVEPOINT), known_);
  ASSERT_TRUE(sp.ok()) << sp.status();
  EXPECT_EQ(sp->uploaded_bytes(), 4);
  EXPECT_EQ(Keys(*sp)["000010.sst"], "savepoints/sp/w-0/000010.sst");
}

TEST_F(SnapshotUploaderTest, DownloadRestoresTheFilesAndRejectsACorruptOne) {
  auto up =
      UploadSnapshot(store_, Snapshot(1, {{"000010.sst", "aaaa"}, {"CURRENT", "M\n"}}), known_);
  ASSERT_TRUE(up.ok()) << up.status();
  const std::string dir = (root_ / "restore").string();
  ASSERT_TRUE(DownloadOperatorState(store_, up->operators(0), dir).ok());
  std::ifstream in(dir + "/000010.sst");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "aaaa");

  ASSERT_TRUE(store_.Put("job/shared/w-0/a3-000010.sst", "aaab").ok());  // same size, other bytes
  absl::Status s = DownloadOperatorState(store_, up->operators(0), (root_ / "again").string());
  EXPECT_TRUE(absl::IsDataLoss(s)) << s;
  EXPECT_NE(s.message().find("000010.sst"), std::string::npos) << s;
}

TEST_F(SnapshotUploaderTest, AFailedUploadNamesTheOperatorAndLeavesKnownFilesAlone) {
  store_.SetFault([](MemoryObjectStore::Op op, std::string_view) {
    return op == MemoryObjectStore::Op::kPut ? absl::UnavailableError("store down")
                                             : absl::OkStatus();
  });
  auto up = UploadSnapshot(store_, Snapshot(1, {{"000010.sst", "aaaa"}}), known_);
  ASSERT_FALSE(up.ok());
  EXPECT_TRUE(absl::IsUnavailable(up.status()));
  EXPECT_NE(up.status().message().find("w subtask 0"), std::string::npos) << up.status();
  EXPECT_FALSE(known_.Find("w", "000010.sst").has_value());
}

}  // namespace
}  // namespace sluice
