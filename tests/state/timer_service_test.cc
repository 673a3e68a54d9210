#include "state/timer_service.h"

#include <vector>

#include "gtest/gtest.h"

namespace sluice {
namespace {

std::vector<Timer> PopAll(TimerService& timers) {
  std::vector<Timer> out;
  while (const Timer* t = timers.Earliest()) {
    out.push_back(*t);
    timers.Delete(*t);
  }
  return out;
}

TEST(TimerServiceTest, FiresInTimestampOrderThenKeyGroupThenNamespace) {
  TimerService timers;
  timers.Register({300, 1, 0});
  timers.Register({100, 9, 5});
  timers.Register({100, 2, 7});
  timers.Register({-50, 4, -1});
  timers.Register({100, 2, 3});
  timers.Register({100, 9, 5});  // again: still one timer
  EXPECT_EQ(timers.size(), 5u);
  EXPECT_EQ(PopAll(timers),
            (std::vector<Timer>{{-50, 4, -1}, {100, 2, 3}, {100, 2, 7}, {100, 9, 5}, {300, 1, 0}}));
  EXPECT_EQ(timers.Earliest(), nullptr);
}

TEST(TimerServiceTest, ChangesSinceTheLastTakeAreWhatTheStoreNeeds) {
  TimerService timers;
  timers.Register({1, 0, 0});
  timers.Register({2, 0, 0});
  auto first = timers.TakeChanges();
  EXPECT_EQ(first.size(), 2u);
  EXPECT_TRUE(first.at({1, 0, 0}));
  timers.Delete({1, 0, 0});
  timers.Register({3, 0, 0});
  timers.Delete({9, 9, 9});  // not registered: no change
  auto second = timers.TakeChanges();
  EXPECT_EQ(second.size(), 2u);
  EXPECT_FALSE(second.at({1, 0, 0}));
  EXPECT_TRUE(second.at({3, 0, 0}));
  EXPECT_TRUE(timers.TakeChanges().empty());
}

}  // namespace
}  // namespace sluice
