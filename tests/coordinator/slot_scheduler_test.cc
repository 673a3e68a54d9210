#include "coordinator/slot_scheduler.h"

#include "gtest/gtest.h"

namespace sluice {
namespace {

class SlotSchedulerTest : public ::testing::Test {
 protected:
  std::string Add(const std::string& address, int slots) {
    std::optional<WorkerInfo> replaced;
    return registry_.Register(address, slots, 0, &replaced).id;
  }
  static std::vector<std::string> Workers(const std::vector<SlotGrant>& slots) {
    std::vector<std::string> out;
    for (const auto& s : slots) out.push_back(s.worker_id);
    return out;
  }

  ControlThreadChecker thread_;
  WorkerRegistry registry_{5'000, thread_};
  SlotScheduler scheduler_{&registry_, thread_};
};

TEST_F(SlotSchedulerTest, InterleavesSlotsAcrossWorkersInRegistrationOrder) {
  const std::string a = Add("a:1", 2), b = Add("b:1", 2), c = Add("c:1", 1);
  auto slots = scheduler_.Allocate(5);
  ASSERT_TRUE(slots.has_value());
  EXPECT_EQ(Workers(*slots), (std::vector<std::string>{a, b, c, a, b}));
  EXPECT_EQ((*slots)[1].worker_address, "b:1");
  EXPECT_EQ(scheduler_.FreeSlots(), 0);
}

TEST_F(SlotSchedulerTest, TakesFreeSlotsFirstFromTheLeastUsedRound) {
  const std::string a = Add("a:1", 2), b = Add("b:1", 2), c = Add("c:1", 1);
  auto first = scheduler_.Allocate(2);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(Workers(*first), (std::vector<std::string>{a, b}));
  auto second = scheduler_.Allocate(3);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(Workers(*second), (std::vector<std::string>{a, b, c}));
}

TEST_F(SlotSchedulerTest, TakesNothingWhenTooFewAreFree) {
  Add("a:1", 1);
  Add("b:1", 1);
  EXPECT_FALSE(scheduler_.Allocate(3).has_value());
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
  EXPECT_EQ(scheduler_.Workers(), 2);
}

TEST_F(SlotSchedulerTest, ReleaseGivesSlotsBackAndSkipsWorkersThatAreGone) {
  const std::string a = Add("a:1", 1);
  Add("b:1", 1);
  auto slots = scheduler_.Allocate(2);
  ASSERT_TRUE(slots.has_value());
  EXPECT_EQ(scheduler_.FreeSlots(), 0);
  std::optional<WorkerInfo> replaced;
  registry_.Register("a:1", 1, 0, &replaced);  // a restarted: its slots are new
  EXPECT_EQ(scheduler_.FreeSlots(), 1);
  scheduler_.Release(*slots);
  EXPECT_EQ(scheduler_.FreeSlots(), 2);
  auto again = scheduler_.Allocate(2);
  ASSERT_TRUE(again.has_value());
  EXPECT_NE((*again)[0].worker_id, a);
}

}  // namespace
}  // namespace sluice
