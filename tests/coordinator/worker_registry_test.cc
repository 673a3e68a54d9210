#include "coordinator/worker_registry.h"

#include "common/clock.h"
#include "gtest/gtest.h"

namespace sluice {
namespace {

constexpr int64_t kTimeout = 5'000;

class WorkerRegistryTest : public ::testing::Test {
 protected:
  const WorkerInfo& Register(const std::string& address, int slots = 1) {
    std::optional<WorkerInfo> replaced;
    const WorkerInfo& w = registry_.Register(address, slots, clock_.NowMs(), &replaced);
    EXPECT_FALSE(replaced.has_value());
    return w;
  }

  ManualClock clock_;
  ControlThreadChecker thread_;
  WorkerRegistry registry_{kTimeout, thread_};
};

TEST_F(WorkerRegistryTest, ExpiresExactlyAtTheTimeout) {
  const std::string id = Register("a:1").id;
  clock_.Advance(kTimeout - 1);
  EXPECT_TRUE(registry_.Expire(clock_.NowMs()).empty());
  clock_.Advance(1);
  std::vector<LostWorker> lost = registry_.Expire(clock_.NowMs());
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].id, id);
  EXPECT_EQ(lost[0].address, "a:1");
  EXPECT_EQ(lost[0].silent_ms, kTimeout);
  EXPECT_EQ(registry_.Find(id), nullptr);
  EXPECT_FALSE(registry_.Heartbeat(id, clock_.NowMs()));  // forgotten: must re-register
}

TEST_F(WorkerRegistryTest, HeartbeatsPostponeExpiryAndNeverMoveBack) {
  const std::string a = Register("a:1").id;
  const std::string b = Register("b:1").id;
  const int64_t t0 = clock_.NowMs();
  clock_.Advance(3'000);
  EXPECT_TRUE(registry_.Heartbeat(a, clock_.NowMs()));
  EXPECT_TRUE(registry_.Heartbeat(a, t0));  // a late-processed older arrival
  clock_.Advance(2'000);
  std::vector<LostWorker> lost = registry_.Expire(clock_.NowMs());
  ASSERT_EQ(lost.size(), 1u);
  EXPECT_EQ(lost[0].id, b);
  EXPECT_EQ(registry_.Find(a)->last_heartbeat_ms, t0 + 3'000);
  clock_.Advance(2'999);
  EXPECT_TRUE(registry_.Expire(clock_.NowMs()).empty());
}

TEST_F(WorkerRegistryTest, IdsCountRegistrationsAndOrderIsKept) {
  EXPECT_EQ(Register("a:1").id, "worker-1");
  EXPECT_EQ(Register("b:1").id, "worker-2");
  EXPECT_EQ(Register("c:1").id, "worker-3");
  std::vector<const WorkerInfo*> order = registry_.InRegistrationOrder();
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order[0]->address, "a:1");
  EXPECT_EQ(order[2]->address, "c:1");
  EXPECT_FALSE(registry_.Heartbeat("worker-9", clock_.NowMs()));
}

TEST_F(WorkerRegistryTest, RegisteringAtAKnownAddressReplacesThatWorker) {
  const std::string old_id = Register("a:1", 2).id;
  registry_.UseSlots(old_id, 2);
  std::optional<WorkerInfo> replaced;
  const std::string new_id = registry_.Register("a:1", 3, clock_.NowMs(), &replaced).id;
  ASSERT_TRUE(replaced.has_value());
  EXPECT_EQ(replaced->id, old_id);
  EXPECT_NE(new_id, old_id);
  EXPECT_EQ(registry_.Find(old_id), nullptr);
  EXPECT_EQ(registry_.Find(new_id)->slots, 3);
  EXPECT_EQ(registry_.Find(new_id)->used_slots, 0);
  EXPECT_EQ(registry_.size(), 1);
}

TEST_F(WorkerRegistryTest, SlotAccountingIgnoresUnknownWorkers) {
  const std::string a = Register("a:1", 2).id;
  registry_.UseSlots(a, 2);
  registry_.ReleaseSlots(a, 1);
  registry_.ReleaseSlots("worker-9", 1);
  EXPECT_EQ(registry_.Find(a)->used_slots, 1);
}

TEST_F(WorkerRegistryTest, AHeartbeatFromAnotherAddressUnderAKnownIdIsUnknown) {
  std::optional<WorkerInfo> replaced;
  const std::string id = registry_.Register("a:1", 1, clock_.NowMs(), &replaced).id;
  EXPECT_TRUE(registry_.Heartbeat(id, clock_.NowMs(), "a:1"));
  // A worker that registered with a coordinator before a restart, under the
  // id that now names a:1, must re-register.
  EXPECT_FALSE(registry_.Heartbeat(id, clock_.NowMs(), "b:1"));
}

}  // namespace
}  // namespace sluice
