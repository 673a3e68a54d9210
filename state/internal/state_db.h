#pragma once

// The RocksDB instance behind a KeyedState: its options (memory, WAL off,
// compaction that leaves checkpoints incremental), column families
// ("values" and "timers", keys as in store_keys.h), restoring from a
// checkpoint directory, writing one, and adding sorted files. Every RocksDB
// error comes back as an absl::Status that names the operation and the
// directory.
//
// Used by KeyedState's thread, and by a snapshot's write-back thread for
// NewSortedWriter, AddFiles and DeleteValues (RocksDB is thread-safe; the
// state orders the two threads' writes, write_back.h). RocksDB's own
// background threads flush and compact.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/key_group.h"

namespace rocksdb {
struct Options;
class ColumnFamilyHandle;
class DB;
class Iterator;
class Slice;
class SstFileWriter;
class Status;
class WriteBatch;
}  // namespace rocksdb

namespace sluice::state_internal {

class StateDb;

// How a memory budget is split. RocksDB's share bounds its block cache, and
// its memtables are charged to that cache (a WriteBufferManager), as are
// index blocks (cache_index_and_filter_blocks): memtables, blocks and
// table-reader memory stay within `rocksdb`. The rest is the cache's.
struct MemorySplit {
  int64_t cache = 0;
  int64_t rocksdb = 0;
  int64_t write_buffer = 0;  // one memtable; at most two per column family
};
MemorySplit SplitMemoryBudget(int64_t budget);

// Iterates keys in [begin, end) of one column family.
class StoreScan {
 public:
  ~StoreScan();
  bool Valid() const;
  std::string_view key() const;
  std::string_view value() const;
  void Next();
  void Seek(std::string_view key);
  // The iterator's error, if it stopped on one.
  absl::Status status(std::string_view what) const;

 private:
  friend class StateDb;
  StoreScan() = default;

  std::string begin_, end_;
  std::unique_ptr<rocksdb::Slice> end_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Entries of the values column family, in ascending key order, written
// into SST files `<dir>/<prefix>-<n>.sst` (StateDb::AddFiles adds them to the
// store): a faster way than the memtable for a large sorted run. Usable on
// any thread.
class SortedWriter {
 public:
  ~SortedWriter();
  absl::Status Put(std::string_view key, std::string_view value);
  absl::Status Delete(std::string_view key);
  // Completes the files; their paths (none when nothing was written).
  absl::StatusOr<std::vector<std::string>> Finish();

 private:
  friend class StateDb;
  SortedWriter() = default;
  absl::Status Roll();  // starts a new file when the current one is full

  const StateDb* db_ = nullptr;
  std::string dir_, prefix_;
  std::unique_ptr<rocksdb::SstFileWriter> writer_;
  std::vector<std::string> files_;
  size_t file_entries_ = 0;
  bool finished_ = false;
};

class StateDb {
 public:
  struct Options {
    std::string dir;  // created if missing; must not hold another instance
    MemorySplit memory;
    // A directory Checkpoint() wrote, to start from; empty for none. Its
    // SST files are hard-linked into `dir` (copied across file systems),
    // the rest copied; it is left unchanged. Files named delta-*.sst in it
    // (a snapshot's entries that the checkpoint lacks, write_back.h) are
    // then added on top, and key groups outside `owned` deleted.
    std::string restore_dir;
    KeyGroups owned;
  };

  static absl::StatusOr<std::unique_ptr<StateDb>> Open(const Options& options);
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  const std::string& dir() const { return dir_; }
  rocksdb::ColumnFamilyHandle* values() const { return values_; }
  rocksdb::ColumnFamilyHandle* timers() const { return timers_; }

  // Applies `batch` (without a WAL: checkpoints are the durability).
  absl::Status Write(rocksdb::WriteBatch* batch);
  // A writer of sorted values into `dir`.
  std::unique_ptr<SortedWriter> NewSortedWriter(std::string dir, std::string prefix) const;
  // Adds SST files of the values column family (non-overlapping) to the
  // store, on top of what it holds; `files` stay where they are (the store
  // links them).
  absl::Status AddFiles(const std::vector<std::string>& files);
  // Reads a value; false when absent.
  absl::StatusOr<bool> Get(std::string_view key, std::string* value);
  // Deletes the values keyed [begin, end).
  absl::Status DeleteValues(std::string_view begin, std::string_view end);
  // Scans [begin, end) of `cf`, positioned at its first key.
  std::unique_ptr<StoreScan> Scan(rocksdb::ColumnFamilyHandle* cf, std::string begin,
                                  std::string end) const;
  // Flushes the memtables and writes a checkpoint (hard links to the SST
  // files, plus MANIFEST, CURRENT and OPTIONS) into `dir`, which must not
  // exist yet.
  absl::Status Checkpoint(const std::string& dir);
  // Live SST bytes plus memtable bytes.
  int64_t ApproximateBytes() const;

 private:
  StateDb() = default;
  absl::Status DropKeyGroupsOutside(const KeyGroups& owned);
  absl::Status Error(std::string_view what, const rocksdb::Status& s) const;

  friend class SortedWriter;

  std::string dir_;
  std::unique_ptr<rocksdb::Options> options_;  // as opened, for SortedWriter
  mutable std::atomic<int> next_file_ = 0;     // staging names for AddFiles
  size_t sorted_file_entries_ = 0;             // entries per file of a SortedWriter
  rocksdb::DB* db_ = nullptr;
  rocksdb::ColumnFamilyHandle* default_ = nullptr;
  rocksdb::ColumnFamilyHandle* values_ = nullptr;
  rocksdb::ColumnFamilyHandle* timers_ = nullptr;
};

}  // namespace sluice::state_internal
