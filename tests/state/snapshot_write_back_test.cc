// A snapshot's entries are written in the background (state/internal/write_back.h)
// while the state goes on changing: the snapshot holds the state as it was
// at its start, and the live state every change, in order.

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/state/state_test_util.h"

namespace sluice {
namespace {

using testing::Counter;
using testing::CounterOptions;
using testing::KeyBytes;
using testing::MergeInto;
using testing::OpenOrDie;
using testing::ReadAll;
using testing::TempDir;

using Entries = std::map<std::pair<int64_t, std::string>, Counter>;

void Merge(KeyedState& state, Entries& expected, int64_t ns, const std::string& name, Counter add) {
  const std::string key = KeyBytes(name);
  MergeInto(state, ns, key, add);
  Counter& e = expected[{ns, key}];
  e.sum += add.sum;
  e.count += add.count;
}

Entries Restore(const std::string& snapshot, const std::string& db) {
  KeyedStateOptions options = CounterOptions(db);
  options.restore_dir = snapshot;
  auto restored = OpenOrDie(options);
  return restored == nullptr ? Entries() : ReadAll(*restored);
}

// Holds snapshot write-backs while closed.
class Gate {
 public:
  std::function<void()> Hook() {
    return [this] {
      absl::MutexLock lock(&mu_);
      ++entered_;
      mu_.Await(absl::Condition(
          +[](bool* closed) { return !*closed; }, &closed_));
    };
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    closed_ = false;
  }
  // Waits until `n` write-backs have started; false after 10 s.
  bool AwaitEntered(int n) {
    absl::MutexLock lock(&mu_);
    auto reached = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return entered_ >= n; };
    return mu_.AwaitWithTimeout(absl::Condition(&reached), absl::Seconds(10));
  }

 private:
  absl::Mutex mu_;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int entered_ ABSL_GUARDED_BY(mu_) = 0;
};

// 30k entries in three namespaces, snapshotted once (so that they are in
// RocksDB), then some changed and one deleted.
void Fill(KeyedState& state, Entries& expected, const std::string& first_snapshot) {
  for (int i = 0; i < 30'000; ++i) Merge(state, expected, i % 3, absl::StrCat("k", i), {i, 1});
  ASSERT_TRUE(state.Snapshot(first_snapshot).ok());
  for (int i = 0; i < 30'000; i += 7) Merge(state, expected, i % 3, absl::StrCat("k", i), {1, 1});
  const std::string gone = KeyBytes("k3");
  ASSERT_TRUE(state.Delete(0, state.Key(gone)).ok());
  expected.erase({0, gone});
}

// A state with a memory budget of `budget` bytes, filled (Fill), whose
// second snapshot (chk-2) has started and is held at the gate.
class HeldSnapshotTest : public ::testing::Test {
 protected:
  void HoldSecondSnapshot(int64_t budget) {
    KeyedStateOptions options = CounterOptions(dir_.Sub("db"));
    options.memory_budget = budget;
    options.before_write_back = gate_.Hook();
    state_ = OpenOrDie(options);
    ASSERT_NE(state_, nullptr);
    Fill(*state_, expected_, dir_.Sub("chk-1"));
    at_snapshot_ = expected_;
    gate_.Close();
    auto started = state_->StartSnapshot(dir_.Sub("chk-2"));
    ASSERT_TRUE(started.ok()) << started.status();
    started_ = *std::move(started);
    ASSERT_TRUE(gate_.AwaitEntered(2));  // the write is held, not done
  }

  TempDir dir_;
  Gate gate_;
  std::unique_ptr<KeyedState> state_;
  Entries expected_, at_snapshot_;
  std::shared_ptr<SnapshotCompletion> started_;
};

TEST_F(HeldSnapshotTest, ChangesDuringTheWriteAreNotInTheSnapshot) {
  HoldSecondSnapshot(64 << 20);  // no spill: it would wait for the gate
  // Changes to entries the write holds, new entries, and a dropped group
  // that RocksDB holds (its deletion must come after the write).
  for (int i = 0; i < 30'000; i += 5)
    Merge(*state_, expected_, i % 3, absl::StrCat("k", i), {2, 1});
  for (int i = 0; i < 1000; ++i) Merge(*state_, expected_, 7, absl::StrCat("new", i), {i, 1});
  const StateGroup dropped = state_->Groups().front();
  ASSERT_TRUE(state_->DropGroup(dropped).ok());
  std::erase_if(expected_, [&](const auto& e) {
    return e.first.first == dropped.ns &&
           state_->Key(e.first.second).key_group == dropped.key_group;
  });
  gate_.Open();
  ASSERT_TRUE(started_->Wait().ok());

  EXPECT_EQ(Restore(dir_.Sub("chk-2"), dir_.Sub("db2")), at_snapshot_);
  EXPECT_EQ(ReadAll(*state_), expected_);
  ASSERT_TRUE(state_->Snapshot(dir_.Sub("chk-3")).ok());
  EXPECT_EQ(Restore(dir_.Sub("chk-3"), dir_.Sub("db3")), expected_);
}

TEST_F(HeldSnapshotTest, ASpillWaitsForTheWrite) {
  HoldSecondSnapshot(8 << 20);  // room for a copy of 30k entries, not for 300k more
  std::thread opener([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    gate_.Open();
  });
  // These spill: the first spill waits for the write.
  for (int i = 0; i < 300'000; ++i) Merge(*state_, expected_, 9, absl::StrCat("n", i), {i, 1});
  opener.join();
  ASSERT_TRUE(started_->Wait().ok());
  EXPECT_LE(state_->cache_bytes(), state_->cache_budget());

  EXPECT_EQ(Restore(dir_.Sub("chk-2"), dir_.Sub("db2")), at_snapshot_);
  EXPECT_EQ(ReadAll(*state_), expected_);
}

TEST(SnapshotWriteBackTest, AFailedWriteFailsTheSnapshotAndTheState) {
  TempDir dir;
  KeyedStateOptions options = CounterOptions(dir.Sub("db"));
  const std::string snapshot = dir.Sub("chk-1");
  // The snapshot's directory disappears before the write.
  options.before_write_back = [snapshot] { std::filesystem::remove_all(snapshot); };
  auto state = OpenOrDie(options);
  Entries expected;
  for (int i = 0; i < 1000; ++i) Merge(*state, expected, 0, absl::StrCat("k", i), {i, 1});
  auto started = state->StartSnapshot(snapshot);
  ASSERT_TRUE(started.ok()) << started.status();
  const absl::Status written = (*started)->Wait();
  EXPECT_TRUE(absl::IsDataLoss(written)) << written;
  // RocksDB lacks entries the cache has as clean: nothing goes on, and the
  // task that sees DataLoss restarts from a checkpoint.
  const absl::Status next = state->Snapshot(dir.Sub("chk-2"));
  EXPECT_TRUE(absl::IsDataLoss(next)) << next;
  EXPECT_NE(next.message().find("writing a snapshot's entries"), std::string_view::npos) << next;
}

}  // namespace
}  // namespace sluice
