// Unit tests of the local and in-memory stores (the shared contract plus what
// is particular to each) and of opening stores by URI.

#include "store/object_store.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "store/local_object_store.h"
#include "store/memory_object_store.h"
#include "tests/store/object_store_contract.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

INSTANTIATE_TEST_SUITE_P(
    Stores, ObjectStoreContractTest,
    ::testing::Values(StoreFactory{"Local",
                                   [](const std::string& scratch) {
                                     return std::make_unique<LocalObjectStore>(scratch + "/store");
                                   }},
                      StoreFactory{
                          "Memory",
                          [](const std::string&) { return std::make_unique<MemoryObjectStore>(); }},
                      StoreFactory{"OpenedByUri",
                                   [](const std::string& scratch) {
                                     return *OpenObjectStore("file://" + scratch + "/by-uri");
                                   }}),
    FactoryName);

bool Exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

class LocalObjectStoreTest : public ::testing::Test {
 protected:
  ScratchDir scratch_;
  std::string root_ = scratch_.path() + "/root";
  LocalObjectStore store_{root_};
};

TEST_F(LocalObjectStoreTest, KeysAreFilesUnderTheRoot) {
  ASSERT_THAT(store_.Put("ckpt/1/meta", "m"), IsOk());
  EXPECT_EQ(ReadLocalFile(root_ + "/ckpt/1/meta"), "m");
  EXPECT_EQ(store_.uri(), "file://" + root_);
  EXPECT_TRUE(absl::IsInvalidArgument(store_.Put("../escape", "x")));
  EXPECT_TRUE(absl::IsInvalidArgument(store_.Put("ckpt/../../escape", "x")));
  EXPECT_FALSE(Exists(scratch_.path() + "/escape"));
}

TEST_F(LocalObjectStoreTest, MissingRootListsEmptyAndIsCreatedOnWrite) {
  EXPECT_THAT(*store_.List(""), IsEmpty());
  EXPECT_FALSE(Exists(root_));
  ASSERT_THAT(store_.Put("x", "1"), IsOk());
  EXPECT_TRUE(Exists(root_ + "/x"));
}

TEST_F(LocalObjectStoreTest, RelativeRootIsMadeAbsolute) {
  LocalObjectStore relative("some/dir");
  EXPECT_EQ(relative.uri(), "file://" + std::filesystem::current_path().string() + "/some/dir");
}

TEST_F(LocalObjectStoreTest, TempFilesOfWritesInProgressAreNotListed) {
  ASSERT_THAT(store_.Put("a/real", "1"), IsOk());
  WriteLocalFile(root_ + "/a/.sluice-tmp-real-abc123", "partial");
  WriteLocalFile(root_ + "/.sluice-tmp-x-abc123", "partial");
  EXPECT_THAT(*store_.List(""), ElementsAre(ObjectInfo{"a/real", 1}));
  EXPECT_THAT(DirEntries(root_ + "/a"), ElementsAre(".sluice-tmp-real-abc123", "real"));
}

TEST_F(LocalObjectStoreTest, DeleteRemovesDirectoriesLeftEmpty) {
  ASSERT_THAT(store_.Put("ckpt/7/op/sst-1", "1"), IsOk());
  ASSERT_THAT(store_.Put("ckpt/7/meta", "m"), IsOk());
  ASSERT_THAT(store_.Delete("ckpt/7/op/sst-1"), IsOk());
  EXPECT_FALSE(Exists(root_ + "/ckpt/7/op"));
  EXPECT_TRUE(Exists(root_ + "/ckpt/7/meta"));
  ASSERT_THAT(store_.Delete("ckpt/7/meta"), IsOk());
  EXPECT_FALSE(Exists(root_ + "/ckpt"));
  EXPECT_TRUE(Exists(root_)) << "the root itself stays";
}

TEST_F(LocalObjectStoreTest, AKeyCannotAlsoBeADirectory) {
  ASSERT_THAT(store_.Put("a/b", "1"), IsOk());
  EXPECT_FALSE(store_.Put("a", "2").ok());
  EXPECT_TRUE(absl::IsNotFound(store_.Get("a").status()));
  EXPECT_EQ(*store_.Size("a"), std::nullopt);
  EXPECT_THAT(store_.Delete("a"), IsOk());
  EXPECT_FALSE(store_.Put("a/b/c", "3").ok());
  EXPECT_TRUE(absl::IsNotFound(store_.Get("a/b/c").status()));
  EXPECT_THAT(*store_.List(""), ElementsAre(ObjectInfo{"a/b", 1}));
}

// Deletes remove empty directories while List walks them: the walk must skip
// what vanished rather than fail, and Put must recreate what it needs.
TEST_F(LocalObjectStoreTest, ListAndPutTolerateDirectoriesVanishing) {
  ASSERT_THAT(store_.Put("stable/x", "s"), IsOk());
  std::atomic<int> running{2};
  std::atomic<int> errors{0};
  // Two writers share directories: one's Delete removes a directory the
  // other's Put is about to write into.
  std::vector<std::thread> churn;
  for (int t = 0; t < 2; ++t) {
    churn.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::string key = "churn/" + std::to_string(i % 3) + "/deep/" + std::to_string(t) +
                                "-" + std::to_string(i);
        absl::Status s = store_.Put(key, "v");
        if (s.ok()) s = store_.Delete(key);
        if (!s.ok()) {
          ADD_FAILURE() << s;
          ++errors;
        }
      }
      --running;
    });
  }
  int lists = 0;
  while (running.load() > 0) {
    absl::StatusOr<std::vector<ObjectInfo>> all = store_.List("");
    if (!all.ok()) {
      ADD_FAILURE() << all.status();
      break;
    }
    bool stable = false;
    for (const ObjectInfo& o : *all) stable |= o.key == "stable/x";
    EXPECT_TRUE(stable);
    ++lists;
  }
  for (std::thread& t : churn) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GT(lists, 0);
  EXPECT_THAT(*store_.List(""), ElementsAre(ObjectInfo{"stable/x", 1}));
}

TEST_F(LocalObjectStoreTest, FailedDownloadKeepsTheOldFile) {
  const std::string target = scratch_.path() + "/local/out";
  std::filesystem::create_directories(scratch_.path() + "/local");
  WriteLocalFile(target, "old");
  EXPECT_TRUE(absl::IsNotFound(store_.GetFile("absent", target)));
  EXPECT_EQ(ReadLocalFile(target), "old");
  EXPECT_THAT(DirEntries(scratch_.path() + "/local"), ElementsAre("out"));
}

TEST(MemoryObjectStoreTest, FaultsFailCallsWithoutEffect) {
  MemoryObjectStore store;
  std::vector<std::pair<MemoryObjectStore::Op, std::string>> seen;
  store.SetFault([&](MemoryObjectStore::Op op, std::string_view key) {
    seen.emplace_back(op, std::string(key));
    if (key.substr(0, 4) == "bad/") return absl::UnavailableError("injected");
    return absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsUnavailable(store.Put("bad/1", "x")));
  EXPECT_THAT(store.Put("good/1", "x"), IsOk());
  EXPECT_TRUE(absl::IsUnavailable(store.Get("bad/1").status()));
  EXPECT_TRUE(absl::IsUnavailable(store.Size("bad/1").status()));
  EXPECT_TRUE(absl::IsUnavailable(store.List("bad/").status()));
  EXPECT_TRUE(absl::IsUnavailable(store.Delete("bad/1")));
  EXPECT_THAT(seen, ElementsAre(std::pair(MemoryObjectStore::Op::kPut, std::string("bad/1")),
                                std::pair(MemoryObjectStore::Op::kPut, std::string("good/1")),
                                std::pair(MemoryObjectStore::Op::kGet, std::string("bad/1")),
                                std::pair(MemoryObjectStore::Op::kSize, std::string("bad/1")),
                                std::pair(MemoryObjectStore::Op::kList, std::string("bad/")),
                                std::pair(MemoryObjectStore::Op::kDelete, std::string("bad/1"))));
  store.SetFault(nullptr);
  EXPECT_THAT(*store.List(""), ElementsAre(ObjectInfo{"good/1", 1}));
  ASSERT_THAT(store.Put("bad/1", "now"), IsOk());
  EXPECT_EQ(*store.Get("bad/1"), "now");
}

TEST(MemoryObjectStoreTest, FaultOnDeleteKeepsTheObject) {
  MemoryObjectStore store;
  ASSERT_THAT(store.Put("k", "v"), IsOk());
  store.SetFault([](MemoryObjectStore::Op op, std::string_view) {
    return op == MemoryObjectStore::Op::kDelete ? absl::DeadlineExceededError("slow")
                                                : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(store.Delete("k")));
  EXPECT_EQ(*store.Get("k"), "v");
}

TEST(MemoryObjectStoreTest, CountsSuccessfulCalls) {
  MemoryObjectStore store;
  ASSERT_THAT(store.Put("a", "123"), IsOk());
  ASSERT_THAT(store.Put("b", "45"), IsOk());
  store.SetFault([](MemoryObjectStore::Op, std::string_view) { return absl::AbortedError("x"); });
  EXPECT_FALSE(store.Put("c", "6789").ok());
  store.SetFault(nullptr);
  ASSERT_THAT(store.Get("a"), IsOk());
  ASSERT_THAT(store.Delete("a"), IsOk());
  ASSERT_THAT(store.Delete("absent"), IsOk());
  ASSERT_THAT(store.List(""), IsOk());
  const MemoryObjectStore::Stats stats = store.stats();
  EXPECT_EQ(stats.puts, 2);
  EXPECT_EQ(stats.bytes_put, 5);
  EXPECT_EQ(stats.gets, 1);
  EXPECT_EQ(stats.deletes, 2);
  EXPECT_EQ(stats.lists, 1);
}

TEST(MemoryObjectStoreTest, NamedStoresShareObjects) {
  auto first = OpenObjectStore("mem://shared-ns-test");
  auto second = OpenObjectStore("mem://shared-ns-test");
  auto other = OpenObjectStore("mem://other-ns-test");
  ASSERT_TRUE(first.ok() && second.ok() && other.ok());
  ASSERT_THAT((*first)->Put("k", "v"), IsOk());
  EXPECT_EQ(*(*second)->Get("k"), "v");
  EXPECT_TRUE(absl::IsNotFound((*other)->Get("k").status()));
  EXPECT_EQ((*first)->uri(), "mem://shared-ns-test");
  MemoryObjectStore a, b;
  ASSERT_THAT(a.Put("k", "v"), IsOk());
  EXPECT_TRUE(absl::IsNotFound(b.Get("k").status())) << "unnamed stores are private";
}

TEST(OpenObjectStoreTest, Schemes) {
  ScratchDir scratch;
  auto file = OpenObjectStore("file://" + scratch.path() + "/a");
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->uri(), "file://" + scratch.path() + "/a");
  auto plain = OpenObjectStore(scratch.path() + "/b/");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)->uri(), "file://" + scratch.path() + "/b");
  auto localhost = OpenObjectStore("file://localhost" + scratch.path());
  ASSERT_TRUE(localhost.ok()) << localhost.status();
  EXPECT_EQ((*localhost)->uri(), "file://" + scratch.path());

  S3Options s3;
  s3.access_key = "AKIDEXAMPLE";
  s3.secret_key = "never-printed-secret";
  auto bucket = OpenObjectStore("s3://my-bucket/some/prefix/", s3);
  ASSERT_TRUE(bucket.ok()) << bucket.status();
  EXPECT_EQ((*bucket)->uri(), "s3://my-bucket/some/prefix");
  auto root = OpenObjectStore("s3://my-bucket", s3);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ((*root)->uri(), "s3://my-bucket");
}

TEST(OpenObjectStoreTest, BadUris) {
  for (const char* uri : {"", "ftp://host/x", "file://relative/dir", "s3://", "s3:///prefix",
                          "mem://", "s3://bucket/a/../b"}) {
    S3Options s3;
    s3.access_key = "a";
    s3.secret_key = "b";
    const absl::Status s = OpenObjectStore(uri, s3).status();
    EXPECT_TRUE(absl::IsInvalidArgument(s)) << uri << ": " << s;
  }
  S3Options bad_endpoint;
  bad_endpoint.access_key = "a";
  bad_endpoint.secret_key = "b";
  bad_endpoint.endpoint = "127.0.0.1:9000";
  EXPECT_TRUE(absl::IsInvalidArgument(OpenObjectStore("s3://b", bad_endpoint).status()));
}

TEST(OpenObjectStoreTest, S3NeedsCredentials) {
  const char* id = std::getenv("AWS_ACCESS_KEY_ID");
  const char* secret = std::getenv("AWS_SECRET_ACCESS_KEY");
  const std::string saved_id = id ? id : "", saved_secret = secret ? secret : "";
  ::unsetenv("AWS_ACCESS_KEY_ID");
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  const absl::Status missing = OpenObjectStore("s3://bucket").status();
  EXPECT_TRUE(absl::IsFailedPrecondition(missing)) << missing;
  EXPECT_THAT(std::string(missing.message()), HasSubstr("AWS_ACCESS_KEY_ID"));
  ::setenv("AWS_ACCESS_KEY_ID", "from-env", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "from-env-secret", 1);
  EXPECT_TRUE(OpenObjectStore("s3://bucket").ok());
  if (id)
    ::setenv("AWS_ACCESS_KEY_ID", saved_id.c_str(), 1);
  else
    ::unsetenv("AWS_ACCESS_KEY_ID");
  if (secret)
    ::setenv("AWS_SECRET_ACCESS_KEY", saved_secret.c_str(), 1);
  else
    ::unsetenv("AWS_SECRET_ACCESS_KEY");
}

}  // namespace
}  // namespace sluice::testing
