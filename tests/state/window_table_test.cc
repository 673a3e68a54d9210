#include "state/window_table.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(WindowTableTest, AccumulatesPerWindowAndKeyAndFiresInOrder) {
  WindowTable table(2);
  table.Get(60, "b")[0].count += 1;
  table.Get(0, "a")[0].count += 1;
  table.Get(0, "a")[1].value += 2.5;
  table.Get(0, "b")[0].count += 3;
  table.Get(120, "a")[0].count += 1;
  EXPECT_EQ(table.num_windows(), 3u);
  EXPECT_EQ(table.num_entries(), 4u);

  std::vector<std::tuple<int64_t, std::string, int64_t>> fired;
  table.FireBefore(61, [&](int64_t start, std::string_view key, const Accumulator* acc) {
    fired.emplace_back(start, std::string(key), acc[0].count);
    if (start == 0 && key == "a") {
      EXPECT_DOUBLE_EQ(acc[1].value, 2.5);
    }
  });
  ASSERT_EQ(fired.size(), 3u);
  EXPECT_EQ(std::get<0>(fired[0]), 0);
  EXPECT_EQ(std::get<0>(fired[2]), 60);
  EXPECT_EQ(table.num_windows(), 1u);

  // A fired window starts fresh if touched again.
  EXPECT_EQ(table.Get(0, "a")[0].count, 0);
}

TEST(WindowTableTest, FiresInChunksAndResumesWhereItStopped) {
  WindowTable table(1);
  std::map<std::pair<int64_t, std::string>, int64_t> expected;
  for (int64_t w = 0; w < 3; ++w) {
    for (int k = 0; k < 7; ++k) {
      table.Get(w * 10, absl::StrCat("k", k))[0].count = w * 100 + k;
      expected[{w * 10, absl::StrCat("k", k)}] = w * 100 + k;
    }
  }
  table.Get(30, "later")[0].count = 1;
  std::map<std::pair<int64_t, std::string>, int64_t> fired;
  int64_t last_start = -1;
  int calls = 0;
  bool done = false;
  while (!done) {
    size_t in_call = 0;
    done = table.FireSome(30, 4, [&](int64_t start, std::string_view key, const Accumulator* acc) {
      EXPECT_GE(start, last_start);  // window order
      last_start = start;
      ++in_call;
      EXPECT_TRUE(fired.emplace(std::make_pair(start, std::string(key)), acc[0].count).second);
    });
    EXPECT_LE(in_call, 4u);
    ++calls;
  }
  EXPECT_EQ(fired, expected);  // every entry once, the later window untouched
  EXPECT_EQ(calls, 6);         // 21 entries, 4 at a time
  EXPECT_EQ(table.num_windows(), 1u);
  EXPECT_EQ(table.num_entries(), 1u);
}

}  // namespace
}  // namespace sluice
