#include "worker/mailbox.h"

#include <thread>

#include "gtest/gtest.h"

namespace sluice {
namespace {

TEST(MailboxTest, MailRunsOnTheCallingThreadInOrderOfArrival) {
  Mailbox mailbox;
  std::vector<int> ran;
  std::thread::id ran_on;
  std::thread poster([&] {
    for (int i = 0; i < 3; ++i) mailbox.Put([&ran, i] { ran.push_back(i); });
  });
  poster.join();
  mailbox.Put([&] { ran_on = std::this_thread::get_id(); });
  EXPECT_EQ(mailbox.RunDue(), 4);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  EXPECT_EQ(mailbox.RunDue(), 0);
}

TEST(MailboxTest, TimersRunOnceTheClockReachesThemInDueOrder) {
  ManualClock clock;
  Mailbox mailbox(&clock);
  std::vector<int> ran;
  mailbox.Schedule(clock.NowMs() + 20, [&] { ran.push_back(20); });
  mailbox.Schedule(clock.NowMs() + 10, [&] { ran.push_back(10); });
  EXPECT_EQ(mailbox.RunDue(), 0);
  clock.Advance(10);
  EXPECT_EQ(mailbox.RunDue(), 1);
  clock.Advance(10);
  EXPECT_EQ(mailbox.RunDue(), 1);
  EXPECT_EQ(ran, (std::vector<int>{10, 20}));
}

TEST(MailboxTest, WaitReturnsOnWakeOrMailAndAWakeBeforeTheWaitIsNotLost) {
  Mailbox mailbox;
  mailbox.Wake();
  mailbox.WaitUntil(std::nullopt);  // returns at once: the wake came first
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    mailbox.Put([] {});
  });
  mailbox.WaitUntil(std::nullopt);  // returns when the mail arrives
  waker.join();
  EXPECT_EQ(mailbox.RunDue(), 1);
  const int64_t start = Clock::Steady().NowMs();
  mailbox.WaitUntil(start + 30);  // nothing comes: the deadline ends the wait
  EXPECT_GE(Clock::Steady().NowMs(), start + 30);
}

}  // namespace
}  // namespace sluice
