#include "coordinator/control_loop.h"

#include <atomic>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(ControlLoopTest, RunsWorkInOrderOnItsThreadStampedWhenPosted) {
  ManualClock clock(100);
  ControlLoop loop(clock, 10'000);
  std::vector<int64_t> stamps;  // touched on the loop thread only
  std::thread::id ran_on;
  absl::Notification gate;
  // Queued before Start: runs once the thread is there.
  ASSERT_TRUE(loop.Post([&](int64_t) { gate.WaitForNotification(); }));
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(loop.Post([&](int64_t posted) { stamps.push_back(posted); }));
    clock.Advance(5);
  }
  absl::Notification done;
  ASSERT_TRUE(loop.Post([&](int64_t) {
    ran_on = std::this_thread::get_id();
    loop.checker().AssertOnControlThread();
    done.Notify();
  }));
  loop.Start(nullptr);
  gate.Notify();
  done.WaitForNotification();
  EXPECT_EQ(stamps, (std::vector<int64_t>{100, 105, 110}));
  EXPECT_NE(ran_on, std::this_thread::get_id());
  loop.Stop();
}

TEST(ControlLoopTest, StopRunsWhatIsQueuedThenRefusesWork) {
  ControlLoop loop(Clock::Steady(), 10'000);
  loop.Start(nullptr);
  std::atomic<int> ran{0};
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(loop.Post([&](int64_t) { ++ran; }));
  loop.Stop();
  EXPECT_EQ(ran, 100);
  EXPECT_FALSE(loop.Post([&](int64_t) { ++ran; }));
  EXPECT_EQ(ran, 100);
}

TEST(ControlLoopTest, TicksOnTheLoopThread) {
  ControlLoop loop(Clock::Steady(), 5);
  std::atomic<int> ticks{0};
  absl::Notification three;
  loop.Start([&](int64_t) {
    loop.checker().AssertOnControlThread();
    if (++ticks == 3) three.Notify();
  });
  three.WaitForNotification();
  loop.Stop();
}

TEST(ControlThreadCheckerDeathTest, AbortsOffTheOwningThread) {
  ControlThreadChecker checker;
  checker.AssertOnControlThread();
  EXPECT_DEATH(
      {
        std::thread other([&] { checker.AssertOnControlThread(); });
        other.join();
      },
      "instead of the control thread");
}

}  // namespace
}  // namespace sluice
