#include "tests/store/object_store_contract.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"

namespace sluice::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A valid key of exactly `size` bytes: 200-byte segments.
std::string LongKey(size_t size) {
  std::string key;
  while (key.size() < size) {
    if (!key.empty()) key += '/';
    key += std::string(std::min<size_t>(200, size - key.size()), 'k');
  }
  return key;
}

std::vector<std::string> Keys(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& o : objects) keys.push_back(o.key);
  return keys;
}

}  // namespace

std::string FactoryName(const ::testing::TestParamInfo<StoreFactory>& info) {
  return info.param.name;
}

ScratchDir::ScratchDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "sluice-store-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string RandomBytes(size_t size, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xFF);
  return out;
}

void WriteLocalFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
  ASSERT_TRUE(out.good()) << path;
}

std::string ReadLocalFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream data;
  data << in.rdbuf();
  return data.str();
}

std::vector<std::string> DirEntries(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

void ObjectStoreContractTest::SetUp() {
  local_ = scratch_.path() + "/local";
  std::filesystem::create_directories(local_);
  store_ = GetParam().make(scratch_.path());
  ASSERT_NE(store_, nullptr);
}

TEST_P(ObjectStoreContractTest, PutGetOverwrite) {
  ASSERT_THAT(store_->Put("a/b.txt", "hello"), IsOk());
  EXPECT_EQ(*store_->Get("a/b.txt"), "hello");
  ASSERT_THAT(store_->Put("a/b.txt", "world!"), IsOk());
  EXPECT_EQ(*store_->Get("a/b.txt"), "world!");
  EXPECT_EQ(*store_->Size("a/b.txt"), 6);
}

TEST_P(ObjectStoreContractTest, EmptyAndBinaryObjects) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  ASSERT_THAT(store_->Put("empty", ""), IsOk());
  ASSERT_THAT(store_->Put("binary", all_bytes), IsOk());
  EXPECT_EQ(*store_->Get("empty"), "");
  EXPECT_EQ(*store_->Size("empty"), 0);
  EXPECT_EQ(*store_->Get("binary"), all_bytes);
  EXPECT_THAT(*store_->List(""), ElementsAre(ObjectInfo{"binary", 256}, ObjectInfo{"empty", 0}));
}

TEST_P(ObjectStoreContractTest, AbsentKeys) {
  EXPECT_TRUE(absl::IsNotFound(store_->Get("no/such").status()));
  EXPECT_EQ(*store_->Size("no/such"), std::nullopt);
  EXPECT_THAT(store_->Delete("no/such"), IsOk());
  const absl::Status s = store_->GetFile("no/such", local_ + "/out");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_THAT(DirEntries(local_), IsEmpty()) << "a failed download leaves nothing";
  EXPECT_THAT(*store_->List(""), IsEmpty());
}

TEST_P(ObjectStoreContractTest, PutFileGetFileMultiMegabyte) {
  const std::string data = RandomBytes((5 << 20) + 123, 7);
  WriteLocalFile(local_ + "/in.bin", data);
  ASSERT_THAT(store_->PutFile("files/big.bin", local_ + "/in.bin"), IsOk());
  EXPECT_EQ(*store_->Size("files/big.bin"), static_cast<int64_t>(data.size()));
  // The download creates missing directories and replaces an existing file.
  const std::string out = local_ + "/restore/sst/big.bin";
  ASSERT_THAT(store_->GetFile("files/big.bin", out), IsOk());
  EXPECT_TRUE(ReadLocalFile(out) == data);
  WriteLocalFile(out, "stale");
  ASSERT_THAT(store_->GetFile("files/big.bin", out), IsOk());
  EXPECT_TRUE(ReadLocalFile(out) == data);
  EXPECT_THAT(DirEntries(local_ + "/restore/sst"), ElementsAre("big.bin")) << "no temp files left";
  absl::StatusOr<std::string> got = store_->Get("files/big.bin");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == data);
}

TEST_P(ObjectStoreContractTest, PutFileOfMissingFileFails) {
  EXPECT_FALSE(store_->PutFile("x", local_ + "/does-not-exist").ok());
  EXPECT_EQ(*store_->Size("x"), std::nullopt);
}

TEST_P(ObjectStoreContractTest, ListsByPrefixSorted) {
  for (const char* key : {"b/2", "a/1", "a/10", "a/2", "a-b", "ab/c", "c", "a/sub/x"}) {
    ASSERT_THAT(store_->Put(key, key), IsOk()) << key;
  }
  EXPECT_THAT(Keys(*store_->List("")),
              ElementsAre("a-b", "a/1", "a/10", "a/2", "a/sub/x", "ab/c", "b/2", "c"));
  EXPECT_THAT(Keys(*store_->List("a/")), ElementsAre("a/1", "a/10", "a/2", "a/sub/x"));
  EXPECT_THAT(Keys(*store_->List("a")),
              ElementsAre("a-b", "a/1", "a/10", "a/2", "a/sub/x", "ab/c"));
  EXPECT_THAT(Keys(*store_->List("a/1")), ElementsAre("a/1", "a/10"));
  EXPECT_THAT(Keys(*store_->List("a/sub/")), ElementsAre("a/sub/x"));
  EXPECT_THAT(*store_->List("zzz"), IsEmpty());
  EXPECT_THAT(*store_->List("a/sub/x/"), IsEmpty());
  EXPECT_THAT(*store_->List("b/"), ElementsAre(ObjectInfo{"b/2", 3}));
}

TEST_P(ObjectStoreContractTest, Delete) {
  ASSERT_THAT(store_->Put("d/one", "1"), IsOk());
  ASSERT_THAT(store_->Put("d/two", "2"), IsOk());
  ASSERT_THAT(store_->Delete("d/one"), IsOk());
  EXPECT_TRUE(absl::IsNotFound(store_->Get("d/one").status()));
  EXPECT_THAT(Keys(*store_->List("d/")), ElementsAre("d/two"));
  EXPECT_THAT(store_->Delete("d/one"), IsOk()) << "deleting twice is fine";
  ASSERT_THAT(store_->Delete("d/two"), IsOk());
  EXPECT_THAT(*store_->List(""), IsEmpty());
  ASSERT_THAT(store_->Put("d/one", "again"), IsOk()) << "a deleted key can be written again";
  EXPECT_EQ(*store_->Get("d/one"), "again");
}

TEST_P(ObjectStoreContractTest, RejectsInvalidKeys) {
  WriteLocalFile(local_ + "/f", "data");
  for (const std::string& key :
       {std::string(""), std::string("/abs"), std::string("a//b"), std::string("a/"),
        std::string("../x"), std::string("a/../b"), std::string("./a"), std::string("a/."),
        std::string("a\nb"), std::string("tab\there"), std::string("nul\0x", 5),
        std::string(".sluice-tmp-x"), std::string("a/.sluice-tmpfoo"), std::string(256, 'k'),
        LongKey(1025)}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Put(key, "x")));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->PutFile(key, local_ + "/f")));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Get(key).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->GetFile(key, local_ + "/g")));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Size(key).status()));
    EXPECT_TRUE(absl::IsInvalidArgument(store_->Delete(key)));
  }
  for (const char* prefix : {"/x", "../", "a/../b", "a//", "x\n"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(store_->List(prefix).status())) << prefix;
  }
  const absl::Status s = store_->Put("a/../../etc", "x");
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("a/../../etc"));
  EXPECT_THAT(*store_->List(""), IsEmpty());
  // Dots inside names, and names starting with a dot, are fine; so are long
  // keys. (Segments stop at 200 bytes here: s3rver stores an object as files
  // named segment + "._S3rver_metadata.json" and fails past 255 bytes. And an
  // S3 store's prefix counts against S3's limit of 1024 bytes.)
  for (const std::string& key : {std::string("..a"), std::string("a.."), std::string(".hidden/x"),
                                 std::string("a/.b"), std::string(200, 's'), LongKey(1000)}) {
    EXPECT_THAT(store_->Put(key, "ok"), IsOk()) << key;
  }
  EXPECT_EQ(store_->List("")->size(), 6u);
}

TEST_P(ObjectStoreContractTest, ConcurrentPuts) {
  constexpr int kThreads = 6;
  constexpr int kPerThread = 12;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string key = absl::StrCat("t", t, "/obj-", i);
        if (!store_->Put(key, key).ok()) ++failures;
        // Everyone also overwrites one shared key with a whole value of its own.
        if (!store_->Put("shared", std::string(10000 + t, static_cast<char>('a' + t))).ok()) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const std::vector<ObjectInfo> all = *store_->List("t");
  ASSERT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const ObjectInfo& o : all) EXPECT_EQ(*store_->Get(o.key), o.key);
  const std::string shared = *store_->Get("shared");
  ASSERT_GE(shared.size(), 10000u);
  const size_t t = shared.size() - 10000;
  EXPECT_EQ(shared, std::string(10000 + t, static_cast<char>('a' + t)));
}

TEST_P(ObjectStoreContractTest, ReadersNeverSeeAPartialObject) {
  const std::string a(1 << 20, 'a'), b(1 << 20, 'b');
  ASSERT_THAT(store_->Put("flip", a), IsOk());
  std::atomic<bool> done{false};
  std::atomic<int> reads{0};
  std::thread reader([&] {
    while (!done) {
      absl::StatusOr<std::string> got = store_->Get("flip");
      if (!got.ok() || (*got != a && *got != b)) {
        ADD_FAILURE() << (got.ok() ? absl::StrCat("read ", got->size(),
                                                  " bytes: ", got->substr(0, 3), "...")
                                   : got.status().ToString());
      }
      ++reads;
    }
  });
  // Overwrite until the reader has read a good number of times in between.
  for (int i = 0; i < 12 || (reads.load() < 20 && i < 500); ++i) {
    ASSERT_THAT(store_->Put("flip", i % 2 ? a : b), IsOk());
  }
  done = true;
  reader.join();
}

TEST_P(ObjectStoreContractTest, UriNamesTheStore) { EXPECT_FALSE(store_->uri().empty()); }

}  // namespace sluice::testing
