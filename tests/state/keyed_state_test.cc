#include "state/keyed_state.h"

#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/state/state_test_util.h"

namespace sluice {
namespace {

using testing::AddCounters;
using testing::Counter;
using testing::CounterBytes;
using testing::CounterOptions;
using testing::GetCounter;
using testing::KeyBytes;
using testing::MergeInto;
using testing::OpenOrDie;
using testing::ReadAll;
using testing::TempDir;
using testing::ToCounter;

TEST(KeyedStateTest, GetPutMergeAndDelete) {
  TempDir dir;
  auto state = OpenOrDie(CounterOptions(dir.Sub("db")));
  const std::string a = KeyBytes("a"), b = KeyBytes("b");

  EXPECT_EQ(GetCounter(*state, 1, a), std::nullopt);
  ASSERT_TRUE(state->Put(1, state->Key(a), CounterBytes({5, 1})).ok());
  EXPECT_EQ(GetCounter(*state, 1, a), (Counter{5, 1}));
  EXPECT_EQ(GetCounter(*state, 2, a), std::nullopt);  // another namespace

  MergeInto(*state, 1, b, {3, 1});
  MergeInto(*state, 1, b, {4, 1});
  EXPECT_EQ(GetCounter(*state, 1, b), (Counter{7, 2}));
  MergeInto(*state, 1, a, {1, 1});  // merges into the value put
  EXPECT_EQ(GetCounter(*state, 1, a), (Counter{6, 2}));

  ASSERT_TRUE(state->Delete(1, state->Key(a)).ok());
  EXPECT_EQ(GetCounter(*state, 1, a), std::nullopt);
  MergeInto(*state, 1, a, {2, 1});  // starts over
  EXPECT_EQ(GetCounter(*state, 1, a), (Counter{2, 1}));

  EXPECT_FALSE(state->Put(1, state->Key(a), "short").ok());
}

TEST(KeyedStateTest, RejectsKeyGroupsItDoesNotOwn) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  options.key_group_start = 10;
  options.key_group_end = 20;
  auto state = OpenOrDie(options);
  for (int i = 0; i < 100; ++i) {
    const std::string k = KeyBytes(absl::StrCat("k", i));
    const StateKey key = state->Key(k);
    EXPECT_EQ(state->Merge(0, key).ok(), state->Owns(key.key_group)) << key.key_group;
  }
}

TEST(KeyedStateTest, KeyGroupsAreTheRoutingOnes) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  options.max_parallelism = 100;
  options.key_group_end = 100;
  auto state = OpenOrDie(options);
  for (int i = 0; i < 1000; ++i) {
    const std::string k = KeyBytes(absl::StrCat("dev-", i));
    EXPECT_EQ(state->Key(k).key_group, KeyGroupForHash(StableHash(k), 100));
  }
}

TEST(KeyedStateTest, GroupsComeInKeyGroupOrderWithEveryEntryOnce) {
  TempDir dir;
  auto state = OpenOrDie(CounterOptions(dir.Sub("db")));
  std::map<std::pair<int64_t, std::string>, Counter> expected;
  for (int64_t ns : {2000, -1000, 0}) {
    for (int i = 0; i < 3000; ++i) {
      const std::string k = KeyBytes(absl::StrCat("key-", i));
      MergeInto(*state, ns, k, {i, 1});
      expected[{ns, k}] = {i, 1};
    }
  }
  const std::vector<StateGroup> groups = state->Groups();
  ASSERT_FALSE(groups.empty());
  EXPECT_TRUE(std::is_sorted(groups.begin(), groups.end()));
  EXPECT_EQ(groups.size(), 3u * 128u);  // 3000 keys cover all 128 key groups
  EXPECT_EQ(ReadAll(*state), expected);
}

TEST(KeyedStateTest, ADroppedGroupIsGoneFromCacheAndStore) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  options.memory_budget = 2 << 20;  // spills
  auto state = OpenOrDie(options);
  for (int i = 0; i < 40000; ++i) MergeInto(*state, i % 2, KeyBytes(absl::StrCat("k", i)), {1, 1});
  for (const StateGroup& g : state->Groups()) {
    if (g.ns == 0) {
      ASSERT_TRUE(state->DropGroup(g).ok());
    }
  }
  for (const StateGroup& g : state->Groups()) EXPECT_EQ(g.ns, 1);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(GetCounter(*state, i % 2, KeyBytes(absl::StrCat("k", i))).has_value(), i % 2 == 1);
  }
}

// A budget far below the data: the cache spills to RocksDB, stays within its
// budget, and every value is still right, however often a key was merged
// before and after its group spilled.
TEST(KeyedStateTest, SpillsBeyondTheBudgetAndStaysCorrect) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  options.memory_budget = 2 << 20;
  auto state = OpenOrDie(options);
  const int64_t cache_budget = state->cache_budget();
  ASSERT_LE(cache_budget, options.memory_budget);

  constexpr int kKeys = 40'000;  // about 2 MiB of entries per namespace
  std::map<std::pair<int64_t, std::string>, Counter> expected;
  std::mt19937 rng(7);
  int64_t max_cache = 0;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kKeys; ++i) {
      const int64_t ns = static_cast<int64_t>(rng() % 3) * 1000;
      const int k = static_cast<int>(rng() % kKeys);
      const std::string key = KeyBytes(absl::StrCat("device-", k));
      MergeInto(*state, ns, key, {k, 1});
      Counter& e = expected[{ns, key}];
      e.sum += k;
      e.count += 1;
      max_cache = std::max(max_cache, state->cache_bytes());
    }
  }
  EXPECT_LE(max_cache, cache_budget);
  EXPECT_GT(state->ApproximateStateBytes(), state->cache_bytes());  // some of it is in RocksDB

  // Point reads see the same, from the cache or the store.
  int checked = 0;
  for (const auto& [id, counter] : expected) {
    if (++checked % 7 != 0) continue;
    EXPECT_EQ(GetCounter(*state, id.first, id.second), counter);
  }
  EXPECT_EQ(ReadAll(*state), expected);
  EXPECT_LE(state->cache_bytes(), cache_budget);
}

TEST(KeyedStateTest, SnapshotRestoresTheSameEntriesAndTimers) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  options.memory_budget = 2 << 20;  // part of it spilled, part cached
  auto state = OpenOrDie(options);
  std::map<std::pair<int64_t, std::string>, Counter> expected;
  for (int i = 0; i < 50'000; ++i) {
    const int64_t ns = i % 3;
    const std::string key = KeyBytes(absl::StrCat("k", i % 20'000));
    MergeInto(*state, ns, key, {i, 1});
    Counter& e = expected[{ns, key}];
    e.sum += i;
    e.count += 1;
  }
  const std::string deleted = KeyBytes("k17");
  ASSERT_TRUE(state->Delete(2, state->Key(deleted)).ok());
  expected.erase({2, deleted});
  state->timers().Register({100, 5, 1});
  state->timers().Register({50, 7, 0});
  ASSERT_TRUE(state->Snapshot(dir.Sub("chk-1")).ok());
  // Changes after the snapshot are not in it.
  MergeInto(*state, 0, KeyBytes("later"), {1, 1});
  state->timers().Register({1, 1, 1});

  KeyedStateOptions restore = CounterOptions(dir.Sub("db2"));
  restore.restore_dir = dir.Sub("chk-1");
  auto restored = OpenOrDie(restore);
  EXPECT_EQ(ReadAll(*restored), expected);
  EXPECT_EQ(GetCounter(*restored, 0, KeyBytes("later")), std::nullopt);
  EXPECT_EQ(restored->timers().all(), (absl::btree_set<Timer>{{50, 7, 0}, {100, 5, 1}}));
  // The snapshot directory is left as it was: a second restore works too.
  KeyedStateOptions again = CounterOptions(dir.Sub("db3"));
  again.restore_dir = dir.Sub("chk-1");
  EXPECT_EQ(ReadAll(*OpenOrDie(again)), expected);

  // A restored state goes on: merges update the restored values.
  const std::string k1 = KeyBytes("k1");
  MergeInto(*restored, 1, k1, {1000, 1});
  Counter e = expected[{1, k1}];
  e.sum += 1000;
  e.count += 1;
  EXPECT_EQ(GetCounter(*restored, 1, k1), e);
}

TEST(KeyedStateTest, RestoreKeepsExactlyTheOwnedKeyGroups) {
  TempDir dir;
  auto state = OpenOrDie(CounterOptions(dir.Sub("db")));
  std::map<std::pair<int64_t, std::string>, Counter> owned;
  const KeyGroups range = KeyGroupRange(1, 4, 128);  // [32, 64)
  for (int i = 0; i < 5000; ++i) {
    const std::string key = KeyBytes(absl::StrCat("k", i));
    MergeInto(*state, 7, key, {i, 1});
    const int kg = state->Key(key).key_group;
    state->timers().Register({10, kg, 7});
    if (kg >= range.start && kg < range.end) owned[{7, key}] = {i, 1};
  }
  ASSERT_TRUE(state->Snapshot(dir.Sub("chk")).ok());

  KeyedStateOptions restore = CounterOptions(dir.Sub("db2"));
  restore.key_group_start = range.start;
  restore.key_group_end = range.end;
  restore.restore_dir = dir.Sub("chk");
  auto narrow = OpenOrDie(restore);
  for (const StateGroup& g : narrow->Groups()) {
    EXPECT_GE(g.key_group, range.start);
    EXPECT_LT(g.key_group, range.end);
  }
  EXPECT_EQ(ReadAll(*narrow), owned);
  EXPECT_EQ(narrow->timers().size(), static_cast<size_t>(range.end - range.start));
  for (const Timer& t : narrow->timers().all()) {
    EXPECT_GE(t.key_group, range.start);
    EXPECT_LT(t.key_group, range.end);
  }
}

// Consecutive checkpoints share the SST files of what did not change.
TEST(KeyedStateTest, ASecondCheckpointAddsOnlyWhatChanged) {
  TempDir dir;
  auto state = OpenOrDie(CounterOptions(dir.Sub("db")));
  constexpr int kKeys = 100'000;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(
        state->Put(0, state->Key(KeyBytes(absl::StrCat("device-", i))), CounterBytes({i, 1})).ok());
  }
  ASSERT_TRUE(state->Snapshot(dir.Sub("chk-1")).ok());
  std::mt19937 rng(5);
  for (int n = 0; n < kKeys / 20; ++n) {  // 5%
    const int i = static_cast<int>(rng() % kKeys);
    MergeInto(*state, 0, KeyBytes(absl::StrCat("device-", i)), {1, 1});
  }
  ASSERT_TRUE(state->Snapshot(dir.Sub("chk-2")).ok());

  // By inode: a file of chk-1 in chk-2 is a hard link to it, whatever its
  // name (a delta file of chk-1 that RocksDB took in has a number there).
  auto sst_files = [](const std::string& path) {
    std::map<ino_t, uintmax_t> files;
    for (const auto& e : std::filesystem::directory_iterator(path)) {
      struct stat st;
      if (e.path().extension() == ".sst" && ::stat(e.path().c_str(), &st) == 0) {
        files[st.st_ino] = e.file_size();
      }
    }
    return files;
  };
  const auto first = sst_files(dir.Sub("chk-1"));
  const auto second = sst_files(dir.Sub("chk-2"));
  uintmax_t total = 0, added = 0;
  for (const auto& [inode, size] : second) {
    total += size;
    if (!first.contains(inode)) added += size;
  }
  ASSERT_GT(total, 0u);
  EXPECT_LE(static_cast<double>(added), 0.15 * static_cast<double>(total))
      << added << " new bytes of " << total;
  // The links a snapshot gives RocksDB to take in are gone: none left over.
  for (const auto& e : std::filesystem::directory_iterator(dir.Sub("db"))) {
    EXPECT_EQ(e.path().filename().string().find("ingest-"), std::string::npos) << e.path();
  }
}

}  // namespace
}  // namespace sluice
