#include "coordinator/checkpoint_coordinator.h"

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/checkpoint_layout.h"
#include "coordinator/plan_builder.h"
#include "gtest/gtest.h"
#include "job/job_file.h"
#include "store/memory_object_store.h"
#include "tests/coordinator/fake_worker_client.h"

namespace sluice {
namespace {

using Call = FakeWorkerClient::Call;

// src (2 subtasks) -> hash -> w -> out (2 subtasks).
constexpr char kJob[] = R"(name: j
parallelism: 2
checkpoint: {interval: 10s, min_pause: 2s, timeout: 30s, retain: 2}
operators:
  - {id: src, type: generator, count: 10}
  - {id: w, type: window, input: src, key_by: device_id, window: {size: 1m}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
)";

// Runs store work when the test says so, like the control loop would.
class ManualStoreIo : public StoreIo {
 public:
  void Run(Work work, Done done) override { queue_.push_back({std::move(work), std::move(done)}); }
  int RunAll(int64_t now_ms) {
    int n = 0;
    while (!queue_.empty()) {
      auto item = std::move(queue_.front());
      queue_.pop_front();
      item.second(item.first(), now_ms);
      ++n;
    }
    return n;
  }

 private:
  std::deque<std::pair<Work, Done>> queue_;
};

class CheckpointCoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto graph = ParseJobYaml(kJob, "job.yaml", "");
    ASSERT_TRUE(graph.ok()) << graph.status();
    auto plan = BuildPlan(*graph, "job-1");
    ASSERT_TRUE(plan.ok()) << plan.status();
    plan_ = *std::move(plan);
    plan_.set_attempt(1);
    // Task 0 (src) and task 1 (w -> out); subtask s on worker "w<s>".
    for (int t = 0; t < plan_.tasks_size(); ++t) {
      for (int s = 0; s < 2; ++s) {
        auto* a = plan_.add_assignments();
        a->set_task(t);
        a->set_subtask(s);
        a->set_worker_id(absl::StrCat("w", s));
        a->set_worker_address(absl::StrCat("w", s, ":1"));
      }
    }
    cc_ = std::make_unique<CheckpointCoordinator>("job-1", plan_.graph(), store_, &rpc_, &io_,
                                                  thread_);
    cc_->OnAttempt(plan_);
    // Every task of the attempt has run for one interval: the first
    // checkpoint is due at now_.
    cc_->Tick(now_ - 10'000, true);
    EXPECT_TRUE(rpc_.Calls(Call::kTrigger).empty());
  }

  proto::CheckpointAck Ack(int64_t id, int task, int subtask, const std::string& file = "") {
    proto::CheckpointAck ack;
    ack.set_job_id("job-1");
    ack.set_attempt(1);
    ack.set_checkpoint_id(id);
    auto* s = ack.mutable_snapshot();
    s->set_task(task);
    s->set_subtask(subtask);
    s->set_state_bytes(100);
    s->set_uploaded_bytes(10);
    if (!file.empty()) {
      auto* op = s->add_operators();
      op->set_operator_id("w");
      auto* f = op->add_files();
      f->set_name(file);
      f->set_key(file);
      f->set_size(1);
      EXPECT_TRUE(store_->Put(file, "x").ok());
    }
    return ack;
  }

  // Acks checkpoint `id` from every subtask; task 1 refers to `file`.
  void AckAll(int64_t id, const std::string& file = "") {
    for (int t = 0; t < 2; ++t) {
      for (int s = 0; s < 2; ++s) cc_->OnAck(Ack(id, t, s, t == 1 && s == 0 ? file : ""), now_);
    }
  }

  int64_t now_ = 1'000'000;
  ControlThreadChecker thread_;
  FakeWorkerClient rpc_;
  ManualStoreIo io_;
  std::shared_ptr<MemoryObjectStore> store_ = std::make_shared<MemoryObjectStore>();
  proto::ExecutionPlan plan_;
  std::unique_ptr<CheckpointCoordinator> cc_;
};

TEST_F(CheckpointCoordinatorTest, TriggersEveryWorkerOfTheAttemptOnlyOnceAllTasksRun) {
  cc_->Tick(now_, /*all_running=*/false);
  EXPECT_TRUE(rpc_.Calls(Call::kTrigger).empty());
  cc_->Tick(now_, true);
  auto triggers = rpc_.Calls(Call::kTrigger);
  ASSERT_EQ(triggers.size(), 2u);  // one per worker
  EXPECT_EQ(triggers[0]->trigger.checkpoint_id(), 1);
  EXPECT_EQ(triggers[0]->trigger.attempt(), 1);
  cc_->Tick(now_ + 20'000, true);  // one pending at a time
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 2u);
}

TEST_F(CheckpointCoordinatorTest, CompletesOnlyWhenEverySubtaskAckedThenWritesMetadataAndNotifies) {
  cc_->Tick(now_, true);
  for (int s = 0; s < 2; ++s) cc_->OnAck(Ack(1, 0, s), now_);
  cc_->OnAck(Ack(1, 1, 0), now_);
  cc_->OnAck(Ack(1, 1, 0), now_);  // twice: counted once
  EXPECT_EQ(io_.RunAll(now_), 0);  // not complete: nothing written
  EXPECT_EQ(cc_->Latest(), nullptr);
  cc_->OnAck(Ack(1, 1, 1), now_ + 50);
  EXPECT_EQ(cc_->Latest(), nullptr);  // until _metadata is in the store
  EXPECT_TRUE(rpc_.Calls(Call::kNotify).empty());
  // _metadata, then (the attempt's first) removal of leftovers.
  EXPECT_EQ(io_.RunAll(now_ + 60), 2);
  ASSERT_NE(cc_->Latest(), nullptr);
  EXPECT_EQ(cc_->Latest()->checkpoint_id(), 1);
  EXPECT_EQ(cc_->Latest()->subtasks_size(), 4);
  EXPECT_EQ(cc_->Latest()->state_bytes(), 400);
  EXPECT_EQ(cc_->Latest()->uploaded_bytes(), 40);
  EXPECT_EQ(cc_->Latest()->duration_ms(), 50);
  auto stored = store_->Get("job-1/chk-1/_metadata");
  ASSERT_TRUE(stored.ok());
  proto::CheckpointMetadata m;
  ASSERT_TRUE(m.ParseFromString(*stored));
  EXPECT_EQ(m.subtasks_size(), 4);
  auto notifies = rpc_.Calls(Call::kNotify);
  ASSERT_EQ(notifies.size(), 2u);
  EXPECT_TRUE(notifies[0]->notify.complete());
}

TEST_F(CheckpointCoordinatorTest, IntervalAndMinPauseSpaceCheckpoints) {
  cc_->Tick(now_, true);
  AckAll(1);
  io_.RunAll(now_ + 9'000);  // completed 9 s after its trigger
  cc_->Tick(now_ + 10'000, true);
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 2u);  // interval passed, min_pause not
  cc_->Tick(now_ + 11'000, true);
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 4u);
}

TEST_F(CheckpointCoordinatorTest, ADeclineAbortsOnlyThatCheckpoint) {
  cc_->Tick(now_, true);
  proto::CheckpointDecline d;
  d.set_job_id("job-1");
  d.set_attempt(1);
  d.set_checkpoint_id(1);
  d.set_task(1);
  d.set_reason("disk full");
  cc_->OnDecline(d, now_);
  EXPECT_EQ(cc_->aborted_count(), 1);
  auto notifies = rpc_.Calls(Call::kNotify);
  ASSERT_EQ(notifies.size(), 2u);
  EXPECT_FALSE(notifies[0]->notify.complete());
  AckAll(1);  // late acks of the aborted one change nothing
  EXPECT_EQ(io_.RunAll(now_), 0);
  cc_->Tick(now_ + 10'000, true);  // the job goes on: the next one starts
  auto triggers = rpc_.Calls(Call::kTrigger);
  ASSERT_EQ(triggers.size(), 4u);
  EXPECT_EQ(triggers[2]->trigger.checkpoint_id(), 2);
}

TEST_F(CheckpointCoordinatorTest, ACheckpointNotCompleteByItsTimeoutIsAborted) {
  cc_->Tick(now_, true);
  cc_->OnAck(Ack(1, 0, 0), now_);
  cc_->Tick(now_ + 30'001, true);
  EXPECT_EQ(cc_->aborted_count(), 1);
  EXPECT_EQ(cc_->Latest(), nullptr);
}

TEST_F(CheckpointCoordinatorTest, AFailedMetadataWriteAbortsAndNothingCompletes) {
  store_->SetFault([](MemoryObjectStore::Op op, std::string_view key) {
    if (op == MemoryObjectStore::Op::kPut && key.find("_metadata") != std::string_view::npos) {
      return absl::UnavailableError("store down");
    }
    return absl::OkStatus();
  });
  cc_->Tick(now_, true);
  AckAll(1);
  io_.RunAll(now_);
  EXPECT_EQ(cc_->Latest(), nullptr);
  EXPECT_EQ(cc_->aborted_count(), 1);
}

TEST_F(CheckpointCoordinatorTest, RetentionDeletesOldCheckpointsAndFilesNoRetainedOneUses) {
  // Checkpoint 1 uses a; 2 uses a, b; 3 uses b, c (retain: 2).
  const std::vector<std::vector<std::string>> files = {{"a"}, {"a", "b"}, {"b", "c"}};
  for (int64_t id = 1; id <= 3; ++id) {
    now_ += 20'000;
    cc_->Tick(now_, true);
    for (int t = 0; t < 2; ++t) {
      for (int s = 0; s < 2; ++s) {
        proto::CheckpointAck ack = Ack(id, t, s);
        if (t == 1 && s == 0) {
          auto* op = ack.mutable_snapshot()->add_operators();
          op->set_operator_id("w");
          for (const auto& f : files[id - 1]) {
            const std::string key = absl::StrCat("job-1/shared/w-0/a1-", f, ".sst");
            ASSERT_TRUE(store_->Put(key, "sst").ok());
            auto* sf = op->add_files();
            sf->set_name(f);
            sf->set_key(key);
          }
          const std::string private_key = absl::StrCat("job-1/chk-", id, "/w-0/MANIFEST");
          ASSERT_TRUE(store_->Put(private_key, "m").ok());
          op->add_files()->set_key(private_key);
        }
        cc_->OnAck(ack, now_);
      }
    }
    io_.RunAll(now_);  // _metadata, then retention
  }
  auto keys = store_->List("");
  ASSERT_TRUE(keys.ok());
  std::vector<std::string> left;
  for (const auto& o : *keys) left.push_back(o.key);
  EXPECT_EQ(left, (std::vector<std::string>{
                      "job-1/chk-2/_metadata", "job-1/chk-2/w-0/MANIFEST", "job-1/chk-3/_metadata",
                      "job-1/chk-3/w-0/MANIFEST", "job-1/shared/w-0/a1-a.sst",
                      "job-1/shared/w-0/a1-b.sst", "job-1/shared/w-0/a1-c.sst"}));
  // Checkpoint 4 drops 2: its a goes, b stays (3 uses it).
  now_ += 20'000;
  cc_->Tick(now_, true);
  AckAll(4);
  io_.RunAll(now_);
  EXPECT_FALSE(store_->Get("job-1/shared/w-0/a1-a.sst").ok());
  EXPECT_TRUE(store_->Get("job-1/shared/w-0/a1-b.sst").ok());
  EXPECT_FALSE(store_->Get("job-1/chk-2/_metadata").ok());
}

TEST_F(CheckpointCoordinatorTest, SavepointWaitsForThePendingCheckpointAndIsSelfContained) {
  cc_->Tick(now_, true);  // checkpoint 1 pending
  absl::StatusOr<proto::CheckpointMetadata> result = absl::UnknownError("not yet");
  cc_->TriggerSavepoint("before-upgrade", now_, [&](absl::StatusOr<proto::CheckpointMetadata> m) {
    result = std::move(m);
  });
  cc_->Tick(now_ + 1, true);
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 2u);
  AckAll(1);
  io_.RunAll(now_ + 2);
  cc_->Tick(now_ + 3, true);  // now the savepoint, despite min_pause
  auto triggers = rpc_.Calls(Call::kTrigger);
  ASSERT_EQ(triggers.size(), 4u);
  EXPECT_EQ(triggers[2]->trigger.kind(), proto::SAVEPOINT);
  EXPECT_EQ(triggers[2]->trigger.savepoint_name(), "before-upgrade");
  AckAll(2);
  io_.RunAll(now_ + 4);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->name(), "before-upgrade");
  EXPECT_TRUE(store_->Get("savepoints/before-upgrade/_metadata").ok());
  EXPECT_EQ(cc_->Latest()->checkpoint_id(), 1);  // a savepoint is not a retained checkpoint
  auto listed = cc_->List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].kind(), proto::SAVEPOINT);
}

TEST_F(CheckpointCoordinatorTest, StoppingFailsWaitingSavepointsAndAbortsThePendingCheckpoint) {
  cc_->Tick(now_, true);
  absl::Status got;
  cc_->TriggerSavepoint("s", now_, [&](auto m) { got = m.status(); });
  cc_->Stop("the job restarts");
  EXPECT_TRUE(absl::IsFailedPrecondition(got)) << got;
  EXPECT_EQ(cc_->aborted_count(), 1);
  cc_->Tick(now_ + 60'000, true);  // no attempt: nothing triggered
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 2u);
}

TEST_F(CheckpointCoordinatorTest, ACompletionIsSentAgainUntilEverySubtaskConfirmedIt) {
  cc_->Tick(now_, true);
  AckAll(1);
  io_.RunAll(now_);
  ASSERT_EQ(rpc_.Calls(Call::kNotify).size(), 2u);
  // Worker w0 answers for its subtasks; w1's call fails (it was paused).
  rpc_.confirms["w0:1"] = {{0, 0}, {1, 0}};
  for (auto& c : rpc_.calls) {
    if (c.kind != Call::kNotify || c.done == nullptr) continue;
    auto done = std::move(c.done);
    c.done = nullptr;
    done(c.address == "w0:1" ? absl::OkStatus() : absl::UnavailableError("timeout"));
  }
  cc_->Tick(now_ + 500, true);
  EXPECT_EQ(rpc_.Calls(Call::kNotify).size(), 2u);  // not yet: once a second
  cc_->Tick(now_ + 1000, true);
  auto notifies = rpc_.Calls(Call::kNotify);
  ASSERT_EQ(notifies.size(), 3u);  // to w1 only
  EXPECT_EQ(notifies[2]->address, "w1:1");
  EXPECT_EQ(notifies[2]->notify.checkpoint_id(), 1);
  EXPECT_TRUE(notifies[2]->notify.complete());
  rpc_.confirms["w1:1"] = {{0, 1}, {1, 1}};
  rpc_.CompleteAll(Call::kNotify, absl::OkStatus());
  cc_->Tick(now_ + 5000, true);
  EXPECT_EQ(rpc_.Calls(Call::kNotify).size(), 3u);  // everyone confirmed
}

TEST_F(CheckpointCoordinatorTest, ANewerCompletionReplacesAnUnconfirmedOne) {
  cc_->Tick(now_, true);
  AckAll(1);
  io_.RunAll(now_);
  rpc_.CompleteAll(Call::kNotify, absl::UnavailableError("down"));
  now_ += 20'000;
  cc_->Tick(now_, true);  // resends 1, and triggers 2
  AckAll(2);
  io_.RunAll(now_);
  rpc_.CompleteAll(Call::kNotify, absl::UnavailableError("down"));
  cc_->Tick(now_ + 1000, true);
  auto notifies = rpc_.Calls(Call::kNotify);
  EXPECT_EQ(notifies.back()->notify.checkpoint_id(), 2);  // committing 2 commits 1 too
  EXPECT_EQ(notifies[notifies.size() - 2]->notify.checkpoint_id(), 2);
}

TEST_F(CheckpointCoordinatorTest, OnceEveryTaskIsFinishingAFinalCheckpointIsTakenAtOnce) {
  cc_->Tick(now_ - 5'000, true, /*all_finishing=*/true);  // the interval has not passed
  auto triggers = rpc_.Calls(Call::kTrigger);
  ASSERT_EQ(triggers.size(), 2u);
  AckAll(1);
  io_.RunAll(now_);
  auto notifies = rpc_.Calls(Call::kNotify);
  ASSERT_EQ(notifies.size(), 2u);
  EXPECT_TRUE(notifies[0]->notify.complete());
  EXPECT_TRUE(notifies[0]->notify.final());
  cc_->Tick(now_ + 1, true, true);  // one final checkpoint per attempt
  EXPECT_EQ(rpc_.Calls(Call::kTrigger).size(), 2u);
}

TEST_F(CheckpointCoordinatorTest, ASavepointThatCannotStartFailsWithinTheTimeout) {
  absl::Status got = absl::UnknownError("not yet");
  cc_->TriggerSavepoint("s", now_, [&](auto m) { got = m.status(); });
  cc_->Tick(now_ + 29'000, /*all_running=*/false);
  EXPECT_TRUE(absl::IsUnknown(got));
  cc_->Tick(now_ + 30'001, false);
  EXPECT_TRUE(absl::IsDeadlineExceeded(got)) << got;
  EXPECT_NE(got.message().find("not every task of the job is running"), std::string::npos) << got;
}

TEST_F(CheckpointCoordinatorTest, AnAttemptsFirstCheckpointRemovesWhatNoCheckpointUses) {
  // Left by checkpoints that never completed: checkpoint 1's directory (it
  // is aborted below), a shared file an earlier attempt uploaded; and a
  // shared file of this attempt, which its next checkpoints may use.
  for (const char* key : {"job-1/chk-1/w-0/MANIFEST-5", "job-1/shared/w-0/a0-000009.sst",
                          "job-1/shared/w-0/a1-000011.sst", "job-1/shared/w-0/a0-000007.sst"}) {
    ASSERT_TRUE(store_->Put(key, "x").ok());
  }
  cc_->Tick(now_, true);
  proto::CheckpointDecline d;
  d.set_job_id("job-1");
  d.set_attempt(1);
  d.set_checkpoint_id(1);
  d.set_reason("disk full");
  cc_->OnDecline(d, now_);
  now_ += 20'000;
  cc_->Tick(now_, true);
  AckAll(2, "job-1/shared/w-0/a0-000007.sst");  // a retained checkpoint uses this one
  io_.RunAll(now_);
  ASSERT_NE(cc_->Latest(), nullptr);
  EXPECT_FALSE(store_->Get("job-1/chk-1/w-0/MANIFEST-5").ok());
  EXPECT_FALSE(store_->Get("job-1/shared/w-0/a0-000009.sst").ok());
  EXPECT_TRUE(store_->Get("job-1/shared/w-0/a1-000011.sst").ok());
  EXPECT_TRUE(store_->Get("job-1/shared/w-0/a0-000007.sst").ok());
  EXPECT_TRUE(store_->Get("job-1/chk-2/_metadata").ok());
}

TEST_F(CheckpointCoordinatorTest, RecoveredCheckpointsContinueTheIds) {
  proto::CheckpointMetadata old;
  old.set_job_id("job-1");
  old.set_checkpoint_id(7);
  cc_->Recover({old}, 9);  // chk-8 and chk-9 were started, never completed
  EXPECT_EQ(cc_->Latest()->checkpoint_id(), 7);
  cc_->Tick(now_, true);
  EXPECT_EQ(rpc_.Calls(Call::kTrigger)[0]->trigger.checkpoint_id(), 10);
}

}  // namespace
}  // namespace sluice
