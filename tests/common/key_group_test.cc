#include "common/key_group.h"

#include <algorithm>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(KeyGroupTest, RangesCoverEveryKeyGroupOnceInOrder) {
  for (int max_parallelism : {1, 2, 7, 128, 1000, 32768}) {
    for (int parallelism : {1, 2, 3, 5, 7, 64, 127, 128, 1000, 32768}) {
      if (parallelism > max_parallelism) continue;
      int next = 0;
      for (int s = 0; s < parallelism; ++s) {
        KeyGroups r = KeyGroupRange(s, parallelism, max_parallelism);
        ASSERT_EQ(r.start, next) << "subtask " << s << " of " << parallelism << "/"
                                 << max_parallelism;
        ASSERT_LT(r.start, r.end) << "empty range for subtask " << s;
        next = r.end;
      }
      EXPECT_EQ(next, max_parallelism) << parallelism << "/" << max_parallelism;
    }
  }
}

TEST(KeyGroupTest, RangesAgreeWithSubtaskForKeyGroup) {
  for (int max_parallelism : {1, 10, 128, 4096}) {
    for (int parallelism = 1; parallelism <= std::min(max_parallelism, 130); ++parallelism) {
      std::vector<int> owner(max_parallelism, -1);
      for (int s = 0; s < parallelism; ++s) {
        KeyGroups r = KeyGroupRange(s, parallelism, max_parallelism);
        for (int kg = r.start; kg < r.end; ++kg) owner[kg] = s;
      }
      for (int kg = 0; kg < max_parallelism; ++kg) {
        ASSERT_EQ(owner[kg], SubtaskForKeyGroup(kg, max_parallelism, parallelism))
            << "key group " << kg << " at " << parallelism << "/" << max_parallelism;
      }
    }
  }
}

TEST(KeyGroupTest, SplitsEvenlyWhenItDivides) {
  EXPECT_EQ(KeyGroupRange(0, 4, 128), (KeyGroups{0, 32}));
  EXPECT_EQ(KeyGroupRange(3, 4, 128), (KeyGroups{96, 128}));
  EXPECT_EQ(KeyGroupRange(0, 1, 128), (KeyGroups{0, 128}));
}

}  // namespace
TEST(KeyGroupTest, KeyGroupOfAgreesWithKeyGroupForHash) {
  std::mt19937_64 rng(11);
  for (int max_parallelism : {1, 2, 3, 7, 100, 128, 1000, 4096, 32767, 32768}) {
    KeyGroupOf key_group_of(max_parallelism);
    for (uint64_t edge : {uint64_t{0}, ~uint64_t{0}, uint64_t{0xffffffff}, uint64_t{1} << 32}) {
      ASSERT_EQ(key_group_of(edge), KeyGroupForHash(edge, max_parallelism));
    }
    for (int i = 0; i < 100'000; ++i) {
      const uint64_t h = rng();
      ASSERT_EQ(key_group_of(h), KeyGroupForHash(h, max_parallelism))
          << "hash " << h << " max_parallelism " << max_parallelism;
    }
  }
}

}  // namespace sluice
