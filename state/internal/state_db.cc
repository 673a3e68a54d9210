#include "state/internal/state_db.h"

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/sst_file_writer.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"
#include "rocksdb/write_buffer_manager.h"
#include "state/internal/store_keys.h"

namespace sluice::state_internal {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kMiB = int64_t{1} << 20;
constexpr char kValuesFamily[] = "values";
constexpr char kTimersFamily[] = "timers";

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
// Debian's Abseil has its own string_view.
absl::string_view Text(std::string_view s) { return {s.data(), s.size()}; }

absl::Status FromRocks(const rocksdb::Status& s, std::string message) {
  if (s.IsNotFound()) return absl::NotFoundError(message);
  if (s.IsCorruption()) return absl::DataLossError(message);
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(message);
  return absl::InternalError(message);
}

rocksdb::ColumnFamilyOptions FamilyOptions(const MemorySplit& memory,
                                           const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions o;
  o.write_buffer_size = static_cast<size_t>(memory.write_buffer);
  o.max_write_buffer_number = 2;
  // A checkpoint adds small level-0 files of what changed; compacting
  // level 0 only every 8 files keeps consecutive checkpoints sharing most
  // of their files.
  o.level0_file_num_compaction_trigger = 8;
  o.level0_slowdown_writes_trigger = 20;
  o.level0_stop_writes_trigger = 36;
  o.target_file_size_base = 8 * kMiB;
  o.max_bytes_for_level_base = 64 * kMiB;
  o.compression = rocksdb::kLZ4Compression;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.block_size = 16 << 10;
  // A key read back after a spill is often a new one: the filter answers
  // without reading a block. Filters and indexes are partitioned: with
  // state far larger than RocksDB's share of the budget, a whole file's
  // filter (hundreds of KiB) does not stay cached, and reading it again for
  // every lookup would cost more than the lookup; a partition is 4 KiB.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  table.partition_filters = true;
  table.metadata_block_size = 4096;
  table.pin_top_level_index_and_filter = true;
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return o;
}

bool IsDeltaFile(const fs::path& path) {
  const std::string name = path.filename().string();
  return name.starts_with("delta-") && name.ends_with(".sst");
}

// The delta files of a snapshot directory, sorted by name.
absl::StatusOr<std::vector<std::string>> DeltaFiles(const std::string& dir) {
  std::error_code ec;
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
    if (entry.is_regular_file() && IsDeltaFile(entry.path())) files.push_back(entry.path());
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("keyed state: reading the snapshot directory ", dir, ": ", ec.message()));
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Hard-links the SST files of `from` into `to` (copies them when that
// fails, across file systems) and copies the rest: SST files are immutable,
// while RocksDB may write to the others.
// Files named delta-*.sst are left out: they are added on top once the
// store is open (DeltaFiles).
absl::Status LinkOrCopyFiles(const std::string& from, const std::string& to) {
  std::error_code ec;
  for (const fs::directory_entry& entry : fs::directory_iterator(from, ec)) {
    if (!entry.is_regular_file() || IsDeltaFile(entry.path())) continue;
    const fs::path dst = fs::path(to) / entry.path().filename();
    bool linked = false;
    if (entry.path().extension() == ".sst") {
      std::error_code link_ec;
      fs::create_hard_link(entry.path(), dst, link_ec);
      linked = !link_ec;
    }
    if (!linked && !fs::copy_file(entry.path(), dst, ec)) {
      return absl::InternalError(absl::StrCat("keyed state: restoring ", entry.path().string(),
                                              " into ", to, ": ", ec.message()));
    }
  }
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("keyed state: reading the snapshot directory ", from, ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace

MemorySplit SplitMemoryBudget(int64_t budget) {
  MemorySplit m;
  m.rocksdb = std::clamp(budget / 4, kMiB, 64 * kMiB);
  m.cache = std::max<int64_t>(budget - m.rocksdb, 256 << 10);
  m.write_buffer = m.rocksdb / 4;
  return m;
}

StoreScan::~StoreScan() = default;
bool StoreScan::Valid() const { return it_->Valid(); }
std::string_view StoreScan::key() const {
  const rocksdb::Slice k = it_->key();
  return {k.data(), k.size()};
}
std::string_view StoreScan::value() const {
  const rocksdb::Slice v = it_->value();
  return {v.data(), v.size()};
}
void StoreScan::Next() { it_->Next(); }
void StoreScan::Seek(std::string_view key) { it_->Seek(ToSlice(key)); }
absl::Status StoreScan::status(std::string_view what) const {
  const rocksdb::Status s = it_->status();
  if (s.ok()) return absl::OkStatus();
  return FromRocks(s, absl::StrCat("keyed state: ", Text(what), ": ", s.ToString()));
}

absl::StatusOr<std::unique_ptr<StateDb>> StateDb::Open(const Options& options) {
  std::error_code ec;
  if (fs::exists(options.dir, ec) && !fs::is_empty(options.dir, ec)) {
    return absl::FailedPreconditionError(
        absl::StrCat("keyed state: directory ", options.dir, " is not empty"));
  }
  fs::create_directories(options.dir, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("keyed state: creating ", options.dir, ": ", ec.message()));
  }
  if (!options.restore_dir.empty()) {
    RETURN_IF_ERROR(LinkOrCopyFiles(options.restore_dir, options.dir));
  }

  auto cache = rocksdb::NewLRUCache(static_cast<size_t>(options.memory.rocksdb));
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.write_buffer_manager =
      std::make_shared<rocksdb::WriteBufferManager>(options.memory.rocksdb / 2, cache);
  db_options.avoid_flush_during_shutdown = true;
  db_options.info_log_level = rocksdb::WARN_LEVEL;
  db_options.keep_log_file_num = 2;
  db_options.stats_dump_period_sec = 0;
  db_options.stats_persist_period_sec = 0;

  const rocksdb::ColumnFamilyOptions family = FamilyOptions(options.memory, cache);
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, family},
      {kValuesFamily, family},
      {kTimersFamily, family},
  };
  std::unique_ptr<StateDb> db(new StateDb());
  db->dir_ = options.dir;
  db->options_ = std::make_unique<rocksdb::Options>(db_options, family);
  // A file's filter holds 8 bytes per entry until it is written: at most
  // an eighth of RocksDB's share.
  db->sorted_file_entries_ =
      std::max<size_t>(4096, static_cast<size_t>(options.memory.rocksdb) / 64);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  const rocksdb::Status s =
      rocksdb::DB::Open(db_options, options.dir, families, &handles, &db->db_);
  if (!s.ok()) return db->Error("opening", s);
  db->default_ = handles[0];
  db->values_ = handles[1];
  db->timers_ = handles[2];
  if (!options.restore_dir.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::string> deltas, DeltaFiles(options.restore_dir));
    RETURN_IF_ERROR(db->AddFiles(deltas));
    RETURN_IF_ERROR(db->DropKeyGroupsOutside(options.owned));
  }
  return db;
}

StateDb::~StateDb() {
  if (db_ == nullptr) return;
  for (rocksdb::ColumnFamilyHandle* h : {default_, values_, timers_}) {
    if (h != nullptr) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }
  db_->Close().PermitUncheckedError();  // the state is discarded: nothing to lose
  delete db_;
}

absl::Status StateDb::Error(std::string_view what, const rocksdb::Status& s) const {
  return FromRocks(s, absl::StrCat("keyed state in ", dir_, ": ", Text(what), ": ", s.ToString()));
}

absl::Status StateDb::DropKeyGroupsOutside(const KeyGroups& owned) {
  std::vector<std::pair<std::string, std::string>> ranges;
  if (owned.start > 0) ranges.emplace_back(KeyGroupStart(0), KeyGroupStart(owned.start));
  if (owned.end < kMaxKeyGroups) ranges.emplace_back(KeyGroupStart(owned.end), KeysEnd());
  if (ranges.empty()) return absl::OkStatus();
  std::vector<rocksdb::Slice> bounds;
  bounds.reserve(2 * ranges.size());
  for (const auto& [begin, end] : ranges) {
    bounds.push_back(ToSlice(begin));
    bounds.push_back(ToSlice(end));
  }
  std::vector<rocksdb::RangePtr> range_ptrs;
  for (size_t i = 0; i < ranges.size(); ++i)
    range_ptrs.emplace_back(&bounds[2 * i], &bounds[2 * i + 1]);
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  for (rocksdb::ColumnFamilyHandle* cf : {values_, timers_}) {
    // Whole files first (cheap), then a range tombstone for the rest.
    rocksdb::Status s = rocksdb::DeleteFilesInRanges(db_, cf, range_ptrs.data(), range_ptrs.size(),
                                                     /*include_end=*/false);
    if (!s.ok()) return Error("dropping key groups outside the owned range", s);
    for (size_t i = 0; i < ranges.size(); ++i) {
      s = db_->DeleteRange(write, cf, bounds[2 * i], bounds[2 * i + 1]);
      if (!s.ok()) return Error("dropping key groups outside the owned range", s);
    }
  }
  return absl::OkStatus();
}

absl::Status StateDb::Write(rocksdb::WriteBatch* batch) {
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  const rocksdb::Status s = db_->Write(write, batch);
  return s.ok() ? absl::OkStatus() : Error("writing", s);
}

SortedWriter::~SortedWriter() {
  if (finished_) return;
  std::error_code ec;
  for (const std::string& f : files_) fs::remove(f, ec);  // incomplete
}

absl::Status SortedWriter::Roll() {
  if (writer_ != nullptr && file_entries_ < db_->sorted_file_entries_) return absl::OkStatus();
  if (writer_ != nullptr) {
    const rocksdb::Status s = writer_->Finish();
    if (!s.ok()) return db_->Error("writing a sorted file", s);
  }
  writer_ =
      std::make_unique<rocksdb::SstFileWriter>(rocksdb::EnvOptions(), *db_->options_, db_->values_);
  files_.push_back(absl::StrCat(dir_, "/", prefix_, "-", files_.size(), ".sst"));
  file_entries_ = 0;
  const rocksdb::Status s = writer_->Open(files_.back());
  return s.ok() ? absl::OkStatus() : db_->Error("creating a sorted file", s);
}

absl::Status SortedWriter::Put(std::string_view key, std::string_view value) {
  RETURN_IF_ERROR(Roll());
  ++file_entries_;
  const rocksdb::Status s = writer_->Put(ToSlice(key), ToSlice(value));
  return s.ok() ? absl::OkStatus() : db_->Error("writing a sorted file", s);
}

absl::Status SortedWriter::Delete(std::string_view key) {
  RETURN_IF_ERROR(Roll());
  ++file_entries_;
  const rocksdb::Status s = writer_->Delete(ToSlice(key));
  return s.ok() ? absl::OkStatus() : db_->Error("writing a sorted file", s);
}

absl::StatusOr<std::vector<std::string>> SortedWriter::Finish() {
  if (writer_ != nullptr) {
    const rocksdb::Status s = writer_->Finish();
    if (!s.ok()) return db_->Error("writing a sorted file", s);
    writer_.reset();
  }
  finished_ = true;
  return files_;
}

std::unique_ptr<SortedWriter> StateDb::NewSortedWriter(std::string dir, std::string prefix) const {
  std::unique_ptr<SortedWriter> w(new SortedWriter());
  w->db_ = this;
  w->dir_ = std::move(dir);
  w->prefix_ = std::move(prefix);
  return w;
}

absl::Status StateDb::AddFiles(const std::vector<std::string>& files) {
  if (files.empty()) return absl::OkStatus();
  // Ingestion moves its files into the store: give it links of its own.
  std::vector<std::string> staged;
  absl::Status status;
  for (const std::string& f : files) {
    staged.push_back(absl::StrCat(dir_, "/ingest-", next_file_++, ".sst"));
    std::error_code ec;
    fs::create_hard_link(f, staged.back(), ec);
    if (ec && !fs::copy_file(f, staged.back(), ec)) {
      status = absl::InternalError(
          absl::StrCat("keyed state: linking ", f, " into ", dir_, ": ", ec.message()));
      break;
    }
  }
  if (status.ok()) {
    rocksdb::IngestExternalFileOptions ingest;
    ingest.move_files = true;
    ingest.write_global_seqno = false;
    const rocksdb::Status s = db_->IngestExternalFile(values_, staged, ingest);
    if (!s.ok()) status = Error("adding sorted files", s);
  }
  std::error_code ec;
  for (const std::string& f : staged) fs::remove(f, ec);  // left over when not ingested
  return status;
}

absl::StatusOr<bool> StateDb::Get(std::string_view key, std::string* value) {
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), values_, ToSlice(key), value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return Error("reading", s);
  return true;
}

absl::Status StateDb::DeleteValues(std::string_view begin, std::string_view end) {
  rocksdb::WriteOptions write;
  write.disableWAL = true;
  const rocksdb::Status s = db_->DeleteRange(write, values_, ToSlice(begin), ToSlice(end));
  return s.ok() ? absl::OkStatus() : Error("deleting a range", s);
}

std::unique_ptr<StoreScan> StateDb::Scan(rocksdb::ColumnFamilyHandle* cf, std::string begin,
                                         std::string end) const {
  std::unique_ptr<StoreScan> scan(new StoreScan());
  scan->begin_ = std::move(begin);
  scan->end_ = std::move(end);
  scan->end_slice_ = std::make_unique<rocksdb::Slice>(ToSlice(scan->end_));
  rocksdb::ReadOptions read;
  read.iterate_upper_bound = scan->end_slice_.get();
  read.fill_cache = false;  // a scan reads each block once
  scan->it_.reset(db_->NewIterator(read, cf));
  scan->it_->Seek(ToSlice(scan->begin_));
  return scan;
}

absl::Status StateDb::Checkpoint(const std::string& dir) {
  rocksdb::FlushOptions flush;
  flush.wait = true;
  flush.allow_write_stall = true;
  rocksdb::Status s =
      db_->Flush(flush, std::vector<rocksdb::ColumnFamilyHandle*>{values_, timers_});
  if (!s.ok()) return Error("flushing for a checkpoint", s);
  rocksdb::Checkpoint* raw = nullptr;
  s = rocksdb::Checkpoint::Create(db_, &raw);
  if (!s.ok()) return Error("preparing a checkpoint", s);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  s = checkpoint->CreateCheckpoint(dir);
  if (!s.ok()) return Error(absl::StrCat("writing a checkpoint to ", dir), s);
  return absl::OkStatus();
}

int64_t StateDb::ApproximateBytes() const {
  int64_t total = 0;
  for (rocksdb::ColumnFamilyHandle* cf : {values_, timers_}) {
    for (const char* property :
         {"rocksdb.live-sst-files-size", "rocksdb.cur-size-all-mem-tables"}) {
      uint64_t v = 0;
      if (db_->GetIntProperty(cf, property, &v)) total += static_cast<int64_t>(v);
    }
  }
  return total;
}

}  // namespace sluice::state_internal
