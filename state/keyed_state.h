#pragma once

// The keyed state of one stateful subtask: a value per (key group,
// namespace, key), and event-time timers. A namespace is an int64 the
// operator chooses (a window operator: the window's start). Keys are the
// canonical key encoding (common/key_encoding.h) and belong to the key group
// that keyed routing sends them to: KeyGroupOf(StableHash(key)).
//
// Values have a fixed width (`value_width` bytes; all zero is the empty
// value). They live in one RocksDB instance (column family "values", timers
// in "timers"; layout in state/internal/store_keys.h) behind an in-memory
// write-back cache held within a memory budget. While the state fits in the
// cache, nothing on the path of a record touches RocksDB. Past the budget
// the cache spills: it writes the dirty entries of its least recently used
// namespaces to RocksDB and frees them, and a later access to such a key
// reads it back. state/README.md explains the cache and its accounting.
//
// Entries are read group by group, a group being the entries of one
// namespace in one key group (ReadGroup), so reading a namespace costs in
// proportion to its entries, not to all state.
//
// Thread ownership: a KeyedState is created, used and destroyed by one
// thread (its task's); RocksDB's background threads flush and compact
// concurrently, and a snapshot's entries are written on a thread the state
// starts and joins (StartSnapshot). An error from RocksDB comes back as a
// status naming the operation and leaves the state unusable: the task fails
// and restarts from a checkpoint. A failed write of a snapshot's entries is
// DataLoss, which fails a task's checkpoint and the task.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/key_group.h"
#include "state/internal/cached_group.h"
#include "state/internal/write_back.h"
#include "state/timer_service.h"

namespace rocksdb {
class WriteBatch;
}  // namespace rocksdb

namespace sluice {

namespace state_internal {
class StateDb;
class StoreScan;
}  // namespace state_internal

// The entries of one namespace in one key group.
struct StateGroup {
  int key_group = 0;
  int64_t ns = 0;
  friend auto operator<=>(const StateGroup&, const StateGroup&) = default;
};

struct KeyedStateOptions {
  // The RocksDB instance's directory: created if missing, and must be empty.
  std::string dir;
  int max_parallelism = kDefaultMaxParallelism;
  // The key groups this subtask owns: [key_group_start, key_group_end).
  int key_group_start = 0;
  int key_group_end = kDefaultMaxParallelism;
  // Bytes for the cache and RocksDB's memtables, block cache and index
  // blocks together (state/README.md: how it is split, and the margin).
  int64_t memory_budget = int64_t{256} << 20;
  size_t value_width = 0;
  // Called when a group gets its first entry, as a merge or put creates it
  // (not for the groups a restore brings back). A window operator
  // registers the group's timer here.
  std::function<void(const StateGroup& group)> on_new_group;
  // A directory Snapshot() wrote, to start from; empty for a fresh start.
  // It is left as it is: its files are hard-linked (or copied) into `dir`.
  // Entries and timers of key groups this subtask does not own are
  // dropped, so a snapshot of another parallelism restores too.
  std::string restore_dir;
  // Tests: runs on a snapshot's write-back thread before it writes.
  std::function<void()> before_write_back;
};

// A fresh directory under the system's temporary directory, for an
// operator run without a state directory of its task (tests).
absl::StatusOr<std::string> MakeTemporaryStateDir();

// A key with its hash and key group, computed once (KeyedState::Key).
struct StateKey {
  std::string_view bytes;
  uint64_t hash = 0;
  int key_group = 0;
};

// Reads the entries of one group, one at a time: from the cache in the
// order they were first written when it holds all of them, from RocksDB in
// key order otherwise. Valid until the state changes.
class GroupCursor {
 public:
  ~GroupCursor();
  bool Valid() const { return valid_; }
  std::string_view key() const { return key_; }
  // value_width bytes, not necessarily aligned.
  const char* value() const { return value_; }
  absl::Status Next();

 private:
  friend class KeyedState;
  explicit GroupCursor(size_t width);
  // Moves to the next live cached entry.
  void NextCached();
  // Takes the scan's current entry.
  absl::Status LoadScanned();

  size_t width_;
  state_internal::CachedGroup* group_ = nullptr;
  state_internal::CachedGroup::Position position_;
  std::unique_ptr<state_internal::StoreScan> scan_;
  bool valid_ = false;
  std::string_view key_;
  const char* value_ = nullptr;
};

class KeyedState {
 public:
  static absl::StatusOr<std::unique_ptr<KeyedState>> Open(const KeyedStateOptions& options);
  ~KeyedState();
  KeyedState(const KeyedState&) = delete;
  KeyedState& operator=(const KeyedState&) = delete;

  StateKey Key(std::string_view bytes) const {
    const uint64_t hash = StableHash(bytes);
    return {bytes, hash, key_group_of_(hash)};
  }
  bool Owns(int key_group) const {
    return key_group >= key_group_start_ && key_group < key_group_end_;
  }

  // The value of `key` in `ns` into *value; false when there is none.
  absl::StatusOr<bool> Get(int64_t ns, const StateKey& key, std::string* value);
  // Sets the value of `key` in `ns` (value_width bytes).
  absl::Status Put(int64_t ns, const StateKey& key, std::string_view value);
  absl::Status Delete(int64_t ns, const StateKey& key);
  // The value of `key` in `ns`, to update in place (a read-modify-write in
  // one lookup): 8-byte aligned, created empty when absent, valid until
  // the next call on this state. Reads RocksDB only for a key that is not
  // cached in a group that has spilled.
  absl::StatusOr<char*> Merge(int64_t ns, const StateKey& key);

  // Starts loading where Merge(ns, key) will look: call it a few keys
  // ahead of a run of merges.
  void Prefetch(int64_t ns, const StateKey& key) const {
    if (const state_internal::CachedGroup* group = RecentGroup(ns, key.key_group)) {
      group->Prefetch({key.bytes, key.hash});
    }
  }

  // Every group that may hold entries, in key-group order (then namespace).
  std::vector<StateGroup> Groups() const;
  // A cursor over the entries of `group` (none when it is unknown).
  absl::StatusOr<std::unique_ptr<GroupCursor>> ReadGroup(const StateGroup& group);
  // Deletes every entry of `group`.
  absl::Status DropGroup(const StateGroup& group);

  TimerService& timers() { return timers_; }

  // Snapshots the state into `dir` (which must not exist), in two parts.
  // Now: writes the timers changed since the last snapshot, flushes
  // RocksDB's memtables, writes a RocksDB checkpoint into `dir` (hard links
  // to immutable SST files, so consecutive snapshots share the files of
  // what did not change) and copies the cache's dirty entries aside. Then,
  // on a thread of the state's own, those entries are sorted and written
  // into `dir` as delta-*.sst files, which RocksDB takes in too (the cache
  // keeps them, now clean). The directory is complete when the returned
  // completion is; the state meanwhile goes on, and waits for the write
  // only before it writes to RocksDB itself or reads a group that is not
  // complete (state/README.md). The copy counts against the budget: the
  // dirty entries of the groups that do not fit beside the cache are
  // written before the checkpoint instead, on this thread. A failed write is DataLoss, in the
  // completion and in every later call that waits for it (this one
  // included): the state is unusable, and its task must restart from a
  // checkpoint.
  absl::StatusOr<std::shared_ptr<SnapshotCompletion>> StartSnapshot(const std::string& dir);
  // StartSnapshot, then waits for the directory to be complete.
  absl::Status Snapshot(const std::string& dir);

  // Live SST bytes, memtables, cache and timers: the state's size.
  int64_t ApproximateStateBytes() const;
  // What the cache holds, as accounted against its budget (the memory
  // budget less RocksDB's share).
  int64_t cache_bytes() const { return cache_bytes_; }
  int64_t cache_budget() const { return cache_budget_; }

 private:
  struct Namespace {
    // By key group - key_group_start_; null for a group with no entries.
    std::vector<std::unique_ptr<state_internal::CachedGroup>> groups;
    int live_groups = 0;
    uint64_t last_use = 0;
  };

  explicit KeyedState(const KeyedStateOptions& options);
  // The group of (ns, key_group) if ns is one of the two namespaces used
  // last (the common case: records of one window, or of two at a window's
  // edge); null otherwise, or when there is no such group.
  state_internal::CachedGroup* RecentGroup(int64_t ns, int key_group) const {
    const Namespace* n = recent_[0].ns == ns   ? recent_[0].n
                         : recent_[1].ns == ns ? recent_[1].n
                                               : nullptr;
    // Unsigned: a key group below the owned range wraps around too.
    const size_t index = static_cast<size_t>(key_group - key_group_start_);
    if (n == nullptr || index >= n->groups.size()) return nullptr;
    return n->groups[index].get();
  }
  // Makes `n` the namespace used last.
  void Touch(int64_t ns, Namespace* n);
  absl::Status Restore();
  // Reads groups of the store into the cache while they fit in half of it.
  absl::Status Preload();
  absl::StatusOr<char*> MergeSlow(int64_t ns, const StateKey& key);
  // The group of (ns, key_group), created when absent.
  absl::StatusOr<state_internal::CachedGroup*> GroupFor(int64_t ns, int key_group);
  state_internal::CachedGroup* FindGroup(int64_t ns, int key_group) const;
  // The cached entry of `key`, read from the store first when `group` is
  // not complete (kAbsent when the store has none either). Spills first if
  // the cache could exceed its budget, which may write `group` out too.
  absl::StatusOr<state_internal::EntryHeader*> Load(state_internal::CachedGroup* group, int64_t ns,
                                                    const StateKey& key);
  // Spills until `bytes` more fit in the budget.
  absl::Status MakeRoom(int64_t bytes);
  // Writes out and frees the least recently used namespaces' groups until
  // the cache holds at most `target` bytes.
  absl::Status Spill(int64_t target);
  // Adds the dirty entries of `group` to `batch` and marks them clean.
  void AppendDirty(const StateGroup& id, state_internal::CachedGroup* group,
                   rocksdb::WriteBatch* batch);
  // Frees a group's entries (clean ones: the store holds what they hold).
  void ReleaseGroup(state_internal::CachedGroup* group);
  absl::Status WriteIfFull(rocksdb::WriteBatch* batch);
  // Waits for a snapshot's write-back under way, then stops counting its
  // copy of the entries.
  absl::Status AwaitWriteBack();
  // A snapshot's dirty groups, in key order: those written now, on this
  // thread, and those copied for the background, as many as fit beside the
  // cache in its budget.
  struct DirtyGroup {
    StateGroup id;
    state_internal::CachedGroup* group;
  };
  struct SnapshotPlan {
    std::vector<DirtyGroup> now, later;
    size_t later_entries = 0;
    size_t later_key_bytes = 0;  // store keys
  };
  SnapshotPlan PlanSnapshot() const;
  // Writes the dirty entries of `groups` into RocksDB (sorted files, added
  // to it) and marks them clean.
  absl::Status FlushGroups(const std::vector<DirtyGroup>& groups);
  // Copies the dirty entries of plan.later into a run and marks them clean.
  state_internal::FrozenRun Freeze(const SnapshotPlan& plan);
  void SortedDirty(state_internal::CachedGroup* g, std::vector<state_internal::EntryHeader*>* out);
  absl::Status FlushTimers();
  absl::Status CheckWidth(std::string_view value) const;

  const size_t width_;
  const int key_group_start_;
  const int key_group_end_;
  const KeyGroupOf key_group_of_;
  const std::function<void(const StateGroup&)> on_new_group_;
  bool restoring_ = false;
  int64_t cache_budget_ = 0;
  int64_t cache_bytes_ = 0;
  int64_t batch_bytes_ = 0;  // writes go to RocksDB in batches of about this size
  std::unique_ptr<state_internal::StateDb> db_;
  // After db_: destroyed first, waiting for a write into db_.
  std::unique_ptr<state_internal::WriteBack> write_back_;
  // The bytes of the run a write-back under way holds, counted in
  // cache_bytes_ until it is done.
  int64_t frozen_bytes_ = 0;
  // DataLoss once entries marked written did not reach RocksDB: the state
  // is unusable.
  absl::Status broken_;
  TimerService timers_;
  std::map<int64_t, Namespace> namespaces_;
  // By key group - key_group_start_: the size of its last dropped group,
  // which a new group of the key group reserves (windows repeat their keys).
  struct SizeHint {
    size_t entries = 0;
    size_t bytes = 0;
  };
  std::vector<SizeHint> size_hints_;
  // The two namespaces used last, the last one first (n null when unused).
  struct Recent {
    int64_t ns = 0;
    Namespace* n = nullptr;
  };
  Recent recent_[2];
  uint64_t use_clock_ = 0;
  std::string store_key_, store_value_;              // scratch
  std::vector<state_internal::EntryHeader*> dirty_;  // scratch of Freeze
};

inline absl::StatusOr<char*> KeyedState::Merge(int64_t ns, const StateKey& key) {
  if (state_internal::CachedGroup* group = RecentGroup(ns, key.key_group)) {
    if (state_internal::EntryHeader* e = group->Find({key.bytes, key.hash})) {
      if (e->kind == state_internal::EntryKind::kValue) return group->ValueOf(e);
    }
  }
  return MergeSlow(ns, key);
}

}  // namespace sluice
