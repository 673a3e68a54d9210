#include "state/window_table.h"

#include <vector>

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

}  // namespace
}  // namespace sluice
