#include "state/internal/cached_group.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice::state_internal {
namespace {

Probe ProbeOf(const std::string& key) { return {key, StableHash(key)}; }

TEST(CachedGroupTest, FindsEntriesAndListsThemInInsertionOrder) {
  CachedGroup group(24);
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back(absl::StrCat("key-", i, std::string(i % 40, 'x')));
  for (const std::string& k : keys) {
    ASSERT_EQ(group.Find(ProbeOf(k)), nullptr);
    bool inserted = false;
    EntryHeader* e = group.FindOrInsert(ProbeOf(k), EntryKind::kValue, &inserted);
    ASSERT_TRUE(inserted);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(group.ValueOf(e)) % 8, 0u);  // aligned values
    std::memcpy(group.ValueOf(e), k.data(), std::min<size_t>(24, k.size()));
    EXPECT_EQ(group.FindOrInsert(ProbeOf(k), EntryKind::kAbsent, &inserted), e);
    EXPECT_FALSE(inserted);
    EXPECT_EQ(e->kind, EntryKind::kValue);
  }
  for (const std::string& k : keys) {
    EntryHeader* e = group.Find(ProbeOf(k));
    ASSERT_NE(e, nullptr) << k;
    EXPECT_EQ(group.KeyOf(e), k);
    EXPECT_EQ(std::string(group.ValueOf(e), std::min<size_t>(24, k.size())), k.substr(0, 24));
  }
  CachedGroup::Position pos;
  size_t n = 0;
  while (const EntryHeader* e = group.Next(&pos)) EXPECT_EQ(group.KeyOf(e), keys[n++]);
  EXPECT_EQ(n, keys.size());
  group.Clear();
  EXPECT_EQ(group.bytes(), 0u);
  EXPECT_EQ(group.Find(ProbeOf(keys[0])), nullptr);
}

// KeyedState keeps its budget by asking InsertCost before each insertion:
// it must be exactly what the insertion adds, reserved or not.
TEST(CachedGroupTest, InsertCostIsWhatAnInsertionAdds) {
  CachedGroup reserved(16);
  reserved.Reserve(1000, 40'000);
  EXPECT_LE(reserved.bytes(), CachedGroup::ReserveCost(1000));
  for (int i = 0; i < 5000; ++i) {
    const std::string k = absl::StrCat("r", i);
    const size_t before = reserved.bytes();
    const size_t cost = reserved.InsertCost(k.size());
    bool inserted = false;
    reserved.FindOrInsert(ProbeOf(k), EntryKind::kAbsent, &inserted);
    ASSERT_EQ(reserved.bytes() - before, cost) << "insertion " << i;
  }
  CachedGroup group(16);
  for (int i = 0; i < 200'000; ++i) {
    const std::string k = absl::StrCat("k", i, i % 997 == 0 ? std::string(70'000, 'y') : "");
    const size_t before = group.bytes();
    const size_t cost = group.InsertCost(k.size());
    bool inserted = false;
    group.FindOrInsert(ProbeOf(k), EntryKind::kAbsent, &inserted);
    ASSERT_TRUE(inserted);
    ASSERT_EQ(group.bytes() - before, cost) << "insertion " << i;
  }
}

}  // namespace
}  // namespace sluice::state_internal
