#pragma once

// The asynchronous half of a keyed-state snapshot.
//
// At a snapshot, the state's thread checkpoints RocksDB (hard links: what
// was written before the barrier) and copies the cache's dirty entries into
// a FrozenRun. A WriteBack then, on a thread of its own, sorts the run,
// writes it as SST files into the snapshot's directory (`delta-*.sst`:
// what the RocksDB checkpoint there lacks; a restore adds them on top) and
// adds the same files to the live RocksDB instance, which makes the cached
// entries they hold clean for real.
//
// Until that is done, the state's thread must not write to RocksDB, nor
// free a cached entry the run holds (RocksDB may not have its value yet):
// KeyedState waits (Wait) before either. A range deletion meanwhile is
// queued and applied right after the files are added (DeleteValuesAfter),
// so RocksDB sees every change in the order the state made it. Reads need
// no wait: a key the cache does not hold is not in the run.
//
// Threads: WriteBack's methods are called by the state's thread; the write
// runs on its own thread, one write at a time. A SnapshotCompletion may be
// waited on from any thread, and outlives both.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

namespace sluice {

// The end of a snapshot's asynchronous part, shared with whoever uploads
// the snapshot's directory.
class SnapshotCompletion {
 public:
  // An already complete snapshot.
  static std::shared_ptr<SnapshotCompletion> Done();

  // Blocks until the snapshot's directory is complete; an error when it
  // could not be completed.
  absl::Status Wait() const;
  void Finish(absl::Status status);

 private:
  mutable absl::Mutex mu_;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
};

namespace state_internal {

class StateDb;

// Entries copied out of the cache: store keys with their values (or
// deletions). Added in segments, each segment's keys above the previous
// segment's; Sort() orders the keys within each segment.
class FrozenRun {
 public:
  explicit FrozenRun(size_t value_width) : width_(value_width) {}

  // The bytes a run of `segments` segments and `entries` entries with
  // `key_bytes` bytes of keys in all holds, as reserved by Reserve.
  static int64_t EstimateBytes(size_t segments, size_t entries, size_t key_bytes,
                               size_t value_width);
  void Reserve(size_t segments, size_t entries, size_t key_bytes);

  void StartSegment() { segments_.push_back(entries_.size()); }
  // Copies `store_key` and value_width bytes of `value`; a null value is a
  // deletion.
  void Add(std::string_view store_key, const char* value);
  void Sort();

  size_t size() const { return entries_.size(); }
  size_t value_width() const { return width_; }
  int64_t bytes() const;
  std::string_view key(size_t i) const {
    return {bytes_.data() + entries_[i].offset, entries_[i].key_size};
  }
  // value_width bytes; null for a deletion.
  const char* value(size_t i) const {
    const Entry& e = entries_[i];
    return e.deleted ? nullptr : bytes_.data() + e.offset + e.key_size;
  }

 private:
  struct Entry {
    uint64_t offset;
    uint32_t key_size;
    bool deleted;
  };

  size_t width_;
  std::string bytes_;  // keys, each followed by its value
  std::vector<Entry> entries_;
  std::vector<size_t> segments_;  // the index of each segment's first entry
};

class WriteBack {
 public:
  // `before_write` (tests) runs on the write's thread before it writes.
  WriteBack(StateDb* db, std::function<void()> before_write);
  // Waits for the write under way.
  ~WriteBack();
  WriteBack(const WriteBack&) = delete;
  WriteBack& operator=(const WriteBack&) = delete;

  // Starts writing `run` into `dir` (which exists) and then into the store.
  // Call when no write is under way (after Wait).
  std::shared_ptr<SnapshotCompletion> Start(FrozenRun run, std::string dir);
  // True while a write is under way.
  bool pending() const;
  // Waits for the write under way, if any. DataLoss once a write failed:
  // the store then lacks entries the cache has as clean, and the state is
  // unusable.
  absl::Status Wait();
  // Deletes the values keyed [begin, end): after the write under way, or
  // now when there is none.
  absl::Status DeleteValuesAfter(std::string begin, std::string end);

 private:
  // The write, on thread_.
  void Run(FrozenRun run, const std::string& dir, const std::shared_ptr<SnapshotCompletion>& done);
  absl::Status Write(FrozenRun& run, const std::string& dir);

  StateDb* const db_;
  const std::function<void()> before_write_;
  std::thread thread_;  // the write under way, or the last one until joined
  // Files are delta-<nonce>-<n>-<k>.sst: unique across the instances that
  // restore from one snapshot (attempts), as the uploader's keys assume.
  // Only the write's thread uses next_file_.
  uint64_t nonce_;
  int next_file_ = 0;
  mutable absl::Mutex mu_;
  bool running_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status status_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, std::string>> deferred_ ABSL_GUARDED_BY(mu_);
};

}  // namespace state_internal
}  // namespace sluice
