// KeyedState's snapshots: which dirty groups are written now and which are
// copied for the background write (write_back.h), the timers, and the
// RocksDB checkpoint. state/README.md describes the design.

#include <algorithm>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rocksdb/write_batch.h"
#include "state/internal/state_db.h"
#include "state/internal/store_keys.h"
#include "state/keyed_state.h"

namespace sluice {

using state_internal::CachedGroup;
using state_internal::EntryHeader;
using state_internal::EntryKind;

namespace {

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace

KeyedState::SnapshotPlan KeyedState::PlanSnapshot() const {
  // The background's copy counts against the budget: groups go there in
  // key order while their copy fits beside the cache, the rest now.
  const int64_t room = cache_budget_ - cache_bytes_;
  SnapshotPlan plan;
  int64_t later_bytes = 0;
  for (size_t i = 0; i < static_cast<size_t>(key_group_end_ - key_group_start_); ++i) {
    for (const auto& [ns, n] : namespaces_) {
      CachedGroup* g = n.groups[i].get();
      if (g == nullptr || !g->state.dirty) continue;
      const DirtyGroup d{{key_group_start_ + static_cast<int>(i), ns}, g};
      const size_t key_bytes =
          g->state.dirty_key_bytes + g->state.dirty_entries * state_internal::kGroupPrefixSize;
      const int64_t copy =
          state_internal::FrozenRun::EstimateBytes(1, g->state.dirty_entries, key_bytes, width_);
      if (later_bytes + copy > room) {
        plan.now.push_back(d);
        continue;
      }
      later_bytes += copy;
      plan.later.push_back(d);
      plan.later_entries += g->state.dirty_entries;
      plan.later_key_bytes += key_bytes;
    }
  }
  return plan;
}

// The dirty entries of `g`, sorted by key, into `out`.
void KeyedState::SortedDirty(CachedGroup* g, std::vector<EntryHeader*>* out) {
  out->clear();
  CachedGroup::Position pos;
  while (EntryHeader* e = g->Next(&pos)) {
    if (state_internal::IsDirty(e->kind)) out->push_back(e);
  }
  std::sort(out->begin(), out->end(),
            [g](const EntryHeader* a, const EntryHeader* b) { return g->KeyOf(a) < g->KeyOf(b); });
}

absl::Status KeyedState::FlushGroups(const std::vector<DirtyGroup>& groups) {
  if (groups.empty()) return absl::OkStatus();
  // Straight into SST files rather than through the memtable (about twice
  // as fast for a large snapshot), so in key order: key group, namespace,
  // key.
  std::unique_ptr<state_internal::SortedWriter> writer = db_->NewSortedWriter(db_->dir(), "sorted");
  for (const auto& [id, g] : groups) {
    SortedDirty(g, &dirty_);
    for (EntryHeader* e : dirty_) {
      state_internal::ValueKey(id.key_group, id.ns, g->KeyOf(e), &store_key_);
      if (e->kind == EntryKind::kValue) {
        RETURN_IF_ERROR(writer->Put(store_key_, {g->ValueOf(e), width_}));
        e->kind = EntryKind::kClean;
      } else {
        RETURN_IF_ERROR(writer->Delete(store_key_));
        e->kind = EntryKind::kAbsent;
      }
    }
    g->state.MarkClean();
    g->state.in_store = true;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> files, writer->Finish());
  absl::Status added = db_->AddFiles(files);
  std::error_code ec;
  for (const std::string& f : files) std::filesystem::remove(f, ec);  // RocksDB has its links
  return added;
}

state_internal::FrozenRun KeyedState::Freeze(const SnapshotPlan& plan) {
  // Groups come in key order, and the write-back sorts each group's keys.
  state_internal::FrozenRun run(width_);
  run.Reserve(plan.later.size(), plan.later_entries, plan.later_key_bytes);
  for (const auto& [id, g] : plan.later) {
    run.StartSegment();
    CachedGroup::Position pos;
    while (EntryHeader* e = g->Next(&pos)) {
      if (!state_internal::IsDirty(e->kind)) continue;
      state_internal::ValueKey(id.key_group, id.ns, g->KeyOf(e), &store_key_);
      if (e->kind == EntryKind::kValue) {
        run.Add(store_key_, g->ValueOf(e));
        e->kind = EntryKind::kClean;
      } else {
        run.Add(store_key_, nullptr);
        e->kind = EntryKind::kAbsent;
      }
    }
    g->state.MarkClean();
    g->state.in_store = true;
  }
  return run;
}

absl::Status KeyedState::FlushTimers() {
  rocksdb::WriteBatch batch;
  for (const auto& [t, added] : timers_.TakeChanges()) {
    const std::string key = state_internal::TimerKey(t.key_group, t.timestamp, t.ns);
    rocksdb::Status s = added ? batch.Put(db_->timers(), ToSlice(key), rocksdb::Slice())
                              : batch.Delete(db_->timers(), ToSlice(key));
    s.PermitUncheckedError();
  }
  return batch.Count() > 0 ? db_->Write(&batch) : absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<SnapshotCompletion>> KeyedState::StartSnapshot(
    const std::string& dir) {
  RETURN_IF_ERROR(AwaitWriteBack());
  RETURN_IF_ERROR(FlushTimers());
  const SnapshotPlan plan = PlanSnapshot();
  if (absl::Status flushed = FlushGroups(plan.now); !flushed.ok()) {
    // Some entries are marked written and may not be.
    broken_ = absl::DataLossError(absl::StrCat(
        "keyed state: writing a snapshot's entries failed, so RocksDB lacks entries the "
        "cache holds as written: ",
        flushed.message()));
    return broken_;
  }
  // RocksDB before the copy: were the checkpoint to fail, the cache would
  // still hold the entries as dirty.
  RETURN_IF_ERROR(db_->Checkpoint(dir));
  if (plan.later.empty()) return SnapshotCompletion::Done();
  state_internal::FrozenRun run = Freeze(plan);
  frozen_bytes_ = run.bytes();
  cache_bytes_ += frozen_bytes_;
  return write_back_->Start(std::move(run), dir);
}

absl::Status KeyedState::Snapshot(const std::string& dir) {
  ASSIGN_OR_RETURN(std::shared_ptr<SnapshotCompletion> done, StartSnapshot(dir));
  return done->Wait();
}

int64_t KeyedState::ApproximateStateBytes() const {
  return db_->ApproximateBytes() + (cache_bytes_ - frozen_bytes_) + timers_.bytes();
}

}  // namespace sluice
