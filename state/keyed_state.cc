#include "state/keyed_state.h"

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "rocksdb/write_batch.h"
#include "state/internal/state_db.h"
#include "state/internal/store_keys.h"

namespace sluice {

absl::StatusOr<std::string> MakeTemporaryStateDir() {
  std::error_code ec;
  std::string pattern = (std::filesystem::temp_directory_path(ec) / "sluice-state-XXXXXX").string();
  if (ec || mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("creating a temporary state directory ", pattern));
  }
  return pattern;
}

using state_internal::CachedGroup;
using state_internal::EntryHeader;
using state_internal::EntryKind;
using state_internal::StateDb;

namespace {

// Bytes of a namespace besides its groups' entries: the map node and the
// group table.
int64_t NamespaceBytes(size_t groups) { return 96 + static_cast<int64_t>(groups * sizeof(void*)); }

// Makes `e` a dirty `kind` (kValue or kDeleted), counted once in its group.
void MarkDirty(CachedGroup* group, EntryHeader* e, EntryKind kind) {
  if (!state_internal::IsDirty(e->kind)) {
    ++group->state.dirty_entries;
    group->state.dirty_key_bytes += e->key_size;
  }
  e->kind = kind;
  group->state.dirty = true;
}

}  // namespace

// --- GroupCursor

GroupCursor::GroupCursor(size_t width) : width_(width) {}
GroupCursor::~GroupCursor() = default;

void GroupCursor::NextCached() {
  while (const EntryHeader* e = group_->Next(&position_)) {
    if (e->kind == EntryKind::kDeleted || e->kind == EntryKind::kAbsent) continue;
    key_ = group_->KeyOf(e);
    value_ = group_->ValueOf(e);
    return;
  }
  valid_ = false;
}

absl::Status GroupCursor::LoadScanned() {
  if (!scan_->Valid()) {
    valid_ = false;
    return scan_->status("reading a group");
  }
  const std::string_view key = scan_->key();
  const std::string_view value = scan_->value();
  if (key.size() < state_internal::kGroupPrefixSize || value.size() != width_) {
    return absl::DataLossError(absl::StrCat("keyed state: an entry of ", key.size(),
                                            " key bytes has a value of ", value.size(),
                                            " bytes, not ", width_));
  }
  key_ = key.substr(state_internal::kGroupPrefixSize);
  value_ = value.data();
  return absl::OkStatus();
}

absl::Status GroupCursor::Next() {
  if (!valid_) return absl::OkStatus();
  if (scan_ == nullptr) {
    NextCached();
    return absl::OkStatus();
  }
  scan_->Next();
  return LoadScanned();
}

// --- KeyedState: opening and restoring

KeyedState::KeyedState(const KeyedStateOptions& options)
    : width_(options.value_width),
      key_group_start_(options.key_group_start),
      key_group_end_(options.key_group_end),
      key_group_of_(options.max_parallelism),
      on_new_group_(options.on_new_group) {}

KeyedState::~KeyedState() = default;

absl::StatusOr<std::unique_ptr<KeyedState>> KeyedState::Open(const KeyedStateOptions& options) {
  if (options.max_parallelism < 1 || options.max_parallelism > state_internal::kMaxKeyGroups ||
      options.key_group_start < 0 || options.key_group_start >= options.key_group_end ||
      options.key_group_end > options.max_parallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("keyed state: key groups [", options.key_group_start, ", ",
                     options.key_group_end, ") of max_parallelism ", options.max_parallelism,
                     " (at most ", state_internal::kMaxKeyGroups, ")"));
  }
  std::unique_ptr<KeyedState> state(new KeyedState(options));
  state->size_hints_.resize(static_cast<size_t>(options.key_group_end - options.key_group_start));
  const state_internal::MemorySplit memory =
      state_internal::SplitMemoryBudget(options.memory_budget);
  state->cache_budget_ = memory.cache;
  state->batch_bytes_ = std::clamp<int64_t>(memory.cache / 64, 64 << 10, 1 << 20);
  StateDb::Options db;
  db.dir = options.dir;
  db.memory = memory;
  db.restore_dir = options.restore_dir;
  db.owned = {options.key_group_start, options.key_group_end};
  ASSIGN_OR_RETURN(state->db_, StateDb::Open(db));
  state->write_back_ =
      std::make_unique<state_internal::WriteBack>(state->db_.get(), options.before_write_back);
  if (!options.restore_dir.empty()) {
    state->restoring_ = true;
    RETURN_IF_ERROR(state->Restore());
    state->restoring_ = false;
  }
  return state;
}

absl::Status KeyedState::Restore() {
  const std::string begin = state_internal::KeyGroupStart(key_group_start_);
  const std::string end = key_group_end_ < state_internal::kMaxKeyGroups
                              ? state_internal::KeyGroupStart(key_group_end_)
                              : state_internal::KeysEnd();
  auto timers = db_->Scan(db_->timers(), begin, end);
  for (; timers->Valid(); timers->Next()) {
    const std::string_view k = timers->key();
    if (k.size() != 18) {
      return absl::DataLossError(absl::StrCat("keyed state: a timer key of ", k.size(), " bytes"));
    }
    timers_.Restore({state_internal::ReadOrderedInt64(k.substr(2)), state_internal::ReadKeyGroup(k),
                     state_internal::ReadOrderedInt64(k.substr(10))});
  }
  RETURN_IF_ERROR(timers->status("reading timers"));
  // Which groups the store holds: one seek per group, not a read of every
  // entry.
  auto values = db_->Scan(db_->values(), begin, end);
  while (values->Valid()) {
    const std::string_view k = values->key();
    if (k.size() < state_internal::kGroupPrefixSize) {
      return absl::DataLossError(absl::StrCat("keyed state: a key of ", k.size(), " bytes"));
    }
    const int key_group = state_internal::ReadKeyGroup(k);
    const int64_t ns = state_internal::ReadOrderedInt64(k.substr(2));
    ASSIGN_OR_RETURN(CachedGroup * group, GroupFor(ns, key_group));
    group->state = {.complete = false, .in_store = true, .dirty = false};
    values->Seek(state_internal::GroupEnd(key_group, ns));
  }
  RETURN_IF_ERROR(values->status("listing groups"));
  return Preload();
}

absl::Status KeyedState::Preload() {
  // A group read in whole is complete: its keys need no reads from the
  // store later. Half the cache is left for what comes next.
  const int64_t limit = cache_budget_ / 2;
  for (auto& [ns, n] : namespaces_) {
    for (size_t i = 0; i < n.groups.size(); ++i) {
      CachedGroup* group = n.groups[i].get();
      if (group == nullptr) continue;
      const int key_group = key_group_start_ + static_cast<int>(i);
      auto scan = db_->Scan(db_->values(), state_internal::GroupPrefix(key_group, ns),
                            state_internal::GroupEnd(key_group, ns));
      for (; scan->Valid(); scan->Next()) {
        const std::string_view key = scan->key().substr(state_internal::kGroupPrefixSize);
        const std::string_view value = scan->value();
        RETURN_IF_ERROR(CheckWidth(value));
        if (cache_bytes_ + static_cast<int64_t>(group->InsertCost(key.size())) > limit) {
          ReleaseGroup(group);  // its entries are clean: nothing to write
          return absl::OkStatus();
        }
        const size_t before = group->bytes();
        bool inserted = false;
        EntryHeader* e = group->FindOrInsert({key, StableHash(key)}, EntryKind::kClean, &inserted);
        cache_bytes_ += static_cast<int64_t>(group->bytes() - before);
        if (width_ > 0) std::memcpy(group->ValueOf(e), value.data(), width_);
      }
      RETURN_IF_ERROR(scan->status("reading a group"));
      group->state.complete = true;
    }
  }
  return absl::OkStatus();
}

// --- KeyedState: groups and the cache's budget

CachedGroup* KeyedState::FindGroup(int64_t ns, int key_group) const {
  if (!Owns(key_group)) return nullptr;
  if (recent_[0].n != nullptr && recent_[0].ns == ns) {
    return recent_[0].n->groups[key_group - key_group_start_].get();
  }
  auto it = namespaces_.find(ns);
  if (it == namespaces_.end()) return nullptr;
  return it->second.groups[key_group - key_group_start_].get();
}

absl::StatusOr<CachedGroup*> KeyedState::GroupFor(int64_t ns, int key_group) {
  if (!Owns(key_group)) {
    return absl::InvalidArgumentError(absl::StrCat("keyed state: key group ", key_group,
                                                   " is outside the owned range [",
                                                   key_group_start_, ", ", key_group_end_, ")"));
  }
  const size_t num_groups = static_cast<size_t>(key_group_end_ - key_group_start_);
  if (recent_[0].n == nullptr || recent_[0].ns != ns) {
    auto it = namespaces_.find(ns);
    if (it == namespaces_.end()) {
      RETURN_IF_ERROR(MakeRoom(NamespaceBytes(num_groups)));
      it = namespaces_.try_emplace(ns).first;
      it->second.groups.resize(num_groups);
      cache_bytes_ += NamespaceBytes(num_groups);
    }
    Touch(ns, &it->second);
  }
  Namespace& n = *recent_[0].n;
  std::unique_ptr<CachedGroup>& slot = n.groups[key_group - key_group_start_];
  if (slot == nullptr) {
    const SizeHint hint = size_hints_[key_group - key_group_start_];
    RETURN_IF_ERROR(MakeRoom(sizeof(CachedGroup) + CachedGroup::ReserveCost(hint.entries)));
    slot = std::make_unique<CachedGroup>(width_);
    if (!restoring_) slot->Reserve(hint.entries, hint.bytes);
    cache_bytes_ += static_cast<int64_t>(sizeof(CachedGroup) + slot->bytes());
    ++n.live_groups;
    if (on_new_group_ && !restoring_) on_new_group_({key_group, ns});
  }
  return slot.get();
}

void KeyedState::Touch(int64_t ns, Namespace* n) {
  if (recent_[0].n != n) {
    recent_[1] = recent_[0];
    recent_[0] = {ns, n};
  }
  n->last_use = ++use_clock_;
}

absl::StatusOr<EntryHeader*> KeyedState::Load(CachedGroup* group, int64_t ns, const StateKey& key) {
  RETURN_IF_ERROR(MakeRoom(static_cast<int64_t>(group->InsertCost(key.bytes.size()))));
  const state_internal::Probe probe{key.bytes, key.hash};
  EntryKind kind = EntryKind::kAbsent;  // a complete group has all its keys
  if (!group->state.complete) {
    // Not known to be absent: a key that is not cached may be in the store.
    if (EntryHeader* e = group->Find(probe)) return e;
    state_internal::ValueKey(key.key_group, ns, key.bytes, &store_key_);
    ASSIGN_OR_RETURN(const bool stored, db_->Get(store_key_, &store_value_));
    if (stored) {
      RETURN_IF_ERROR(CheckWidth(store_value_));
      kind = EntryKind::kClean;
    }
  }
  const size_t before = group->bytes();
  bool inserted = false;
  EntryHeader* e = group->FindOrInsert(probe, kind, &inserted);
  cache_bytes_ += static_cast<int64_t>(group->bytes() - before);
  if (kind == EntryKind::kClean && width_ > 0) {
    std::memcpy(group->ValueOf(e), store_value_.data(), width_);
  }
  return e;
}

absl::Status KeyedState::MakeRoom(int64_t bytes) {
  if (cache_bytes_ + bytes <= cache_budget_) return absl::OkStatus();
  if (frozen_bytes_ > 0 && !write_back_->pending()) {
    RETURN_IF_ERROR(AwaitWriteBack());  // done: its copy is freed
    if (cache_bytes_ + bytes <= cache_budget_) return absl::OkStatus();
  }
  // Spill a quarter more than needed, so that spills come in batches.
  return Spill(std::max<int64_t>(0, cache_budget_ * 3 / 4 - bytes));
}

void KeyedState::AppendDirty(const StateGroup& id, CachedGroup* group, rocksdb::WriteBatch* batch) {
  if (!group->state.dirty) return;
  CachedGroup::Position pos;
  while (EntryHeader* e = group->Next(&pos)) {
    if (!state_internal::IsDirty(e->kind)) continue;
    state_internal::ValueKey(id.key_group, id.ns, group->KeyOf(e), &store_key_);
    // A batch in memory fails only on absurd sizes.
    if (e->kind == EntryKind::kValue) {
      batch->Put(db_->values(), store_key_, rocksdb::Slice(group->ValueOf(e), width_))
          .PermitUncheckedError();
      e->kind = EntryKind::kClean;
    } else {
      batch->Delete(db_->values(), store_key_).PermitUncheckedError();
      e->kind = EntryKind::kAbsent;
    }
    group->state.in_store = true;
  }
  group->state.MarkClean();
}

void KeyedState::ReleaseGroup(CachedGroup* group) {
  cache_bytes_ -= static_cast<int64_t>(group->bytes());
  group->Clear();
  group->state.complete = !group->state.in_store;
}

absl::Status KeyedState::WriteIfFull(rocksdb::WriteBatch* batch) {
  if (static_cast<int64_t>(batch->GetDataSize()) < batch_bytes_) return absl::OkStatus();
  RETURN_IF_ERROR(db_->Write(batch));
  batch->Clear();
  return absl::OkStatus();
}

absl::Status KeyedState::AwaitWriteBack() {
  if (!broken_.ok()) return broken_;
  absl::Status status = write_back_->Wait();
  cache_bytes_ -= frozen_bytes_;
  frozen_bytes_ = 0;
  return status;
}

absl::Status KeyedState::Spill(int64_t target) {
  // A clean entry freed here may not be in RocksDB until the write-back is.
  RETURN_IF_ERROR(AwaitWriteBack());
  // Merges into the second most recent namespace do not touch it.
  auto last_use = [&](const Namespace& n) {
    return &n == recent_[0].n ? UINT64_MAX : &n == recent_[1].n ? UINT64_MAX - 1 : n.last_use;
  };
  rocksdb::WriteBatch batch;
  while (cache_bytes_ > target) {
    // The least recently used namespace that holds entries: for windows,
    // one that gets few records now.
    Namespace* victim = nullptr;
    int64_t victim_ns = 0;
    for (auto& [ns, n] : namespaces_) {
      if (victim != nullptr && last_use(n) >= last_use(*victim)) continue;
      bool holds = false;
      for (const auto& g : n.groups) holds = holds || (g != nullptr && g->bytes() > 0);
      if (holds) {
        victim = &n;
        victim_ns = ns;
      }
    }
    if (victim == nullptr) break;  // nothing left to spill
    for (size_t i = 0; i < victim->groups.size() && cache_bytes_ > target; ++i) {
      CachedGroup* g = victim->groups[i].get();
      if (g == nullptr || g->bytes() == 0) continue;
      AppendDirty({key_group_start_ + static_cast<int>(i), victim_ns}, g, &batch);
      ReleaseGroup(g);
      RETURN_IF_ERROR(WriteIfFull(&batch));
    }
  }
  return batch.Count() > 0 ? db_->Write(&batch) : absl::OkStatus();
}

// --- KeyedState: entries

absl::Status KeyedState::CheckWidth(std::string_view value) const {
  if (value.size() == width_) return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat("keyed state: a stored value of ", value.size(), " bytes, not ", width_));
}

absl::StatusOr<bool> KeyedState::Get(int64_t ns, const StateKey& key, std::string* value) {
  CachedGroup* group = FindGroup(ns, key.key_group);
  if (group == nullptr) return false;  // the store has no such group either
  ASSIGN_OR_RETURN(EntryHeader * e, Load(group, ns, key));
  if (e->kind != EntryKind::kClean && e->kind != EntryKind::kValue) return false;
  value->assign(group->ValueOf(e), width_);
  return true;
}

absl::Status KeyedState::Put(int64_t ns, const StateKey& key, std::string_view value) {
  if (value.size() != width_) {
    return absl::InvalidArgumentError(
        absl::StrCat("keyed state: Put of ", value.size(), " bytes, not ", width_));
  }
  ASSIGN_OR_RETURN(CachedGroup * group, GroupFor(ns, key.key_group));
  RETURN_IF_ERROR(MakeRoom(static_cast<int64_t>(group->InsertCost(key.bytes.size()))));
  const size_t before = group->bytes();
  bool inserted = false;
  // A put replaces any value: no need to read the store's.
  EntryHeader* e = group->FindOrInsert({key.bytes, key.hash}, EntryKind::kAbsent, &inserted);
  cache_bytes_ += static_cast<int64_t>(group->bytes() - before);
  MarkDirty(group, e, EntryKind::kValue);
  if (width_ > 0) std::memcpy(group->ValueOf(e), value.data(), width_);
  return absl::OkStatus();
}

absl::Status KeyedState::Delete(int64_t ns, const StateKey& key) {
  CachedGroup* group = FindGroup(ns, key.key_group);
  if (group == nullptr) return absl::OkStatus();  // the store has no such group either
  const state_internal::Probe probe{key.bytes, key.hash};
  EntryHeader* e = group->Find(probe);
  if (e == nullptr) {
    if (group->state.complete) return absl::OkStatus();  // absent
    // The store may hold it: remember to delete it there.
    RETURN_IF_ERROR(MakeRoom(static_cast<int64_t>(group->InsertCost(key.bytes.size()))));
    const size_t before = group->bytes();
    bool inserted = false;
    e = group->FindOrInsert(probe, EntryKind::kClean, &inserted);  // marked deleted below
    cache_bytes_ += static_cast<int64_t>(group->bytes() - before);
  }
  if (e->kind != EntryKind::kAbsent) MarkDirty(group, e, EntryKind::kDeleted);
  return absl::OkStatus();
}

absl::StatusOr<char*> KeyedState::MergeSlow(int64_t ns, const StateKey& key) {
  ASSIGN_OR_RETURN(CachedGroup * group, GroupFor(ns, key.key_group));
  ASSIGN_OR_RETURN(EntryHeader * e, Load(group, ns, key));
  switch (e->kind) {
    case EntryKind::kClean:
    case EntryKind::kValue:
      break;
    case EntryKind::kDeleted:
    case EntryKind::kAbsent:
      // No value: it starts empty.
      std::memset(group->ValueOf(e), 0, width_);
      break;
  }
  MarkDirty(group, e, EntryKind::kValue);
  return group->ValueOf(e);
}

// --- KeyedState: groups

std::vector<StateGroup> KeyedState::Groups() const {
  std::vector<StateGroup> out;
  for (const auto& [ns, n] : namespaces_) {
    for (size_t i = 0; i < n.groups.size(); ++i) {
      if (n.groups[i] != nullptr) out.push_back({key_group_start_ + static_cast<int>(i), ns});
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

absl::StatusOr<std::unique_ptr<GroupCursor>> KeyedState::ReadGroup(const StateGroup& id) {
  std::unique_ptr<GroupCursor> cursor(new GroupCursor(width_));
  CachedGroup* group = FindGroup(id.ns, id.key_group);
  if (group == nullptr) return cursor;
  if (group->state.complete) {
    cursor->group_ = group;
    cursor->valid_ = true;
    cursor->NextCached();
    return cursor;
  }
  // Part of the group is in the store only: write the rest there and read
  // it all back, in key order.
  RETURN_IF_ERROR(AwaitWriteBack());
  rocksdb::WriteBatch batch;
  AppendDirty(id, group, &batch);
  if (batch.Count() > 0) RETURN_IF_ERROR(db_->Write(&batch));
  ReleaseGroup(group);
  cursor->scan_ = db_->Scan(db_->values(), state_internal::GroupPrefix(id.key_group, id.ns),
                            state_internal::GroupEnd(id.key_group, id.ns));
  cursor->valid_ = true;
  RETURN_IF_ERROR(cursor->LoadScanned());
  return cursor;
}

absl::Status KeyedState::DropGroup(const StateGroup& id) {
  if (!Owns(id.key_group)) return absl::OkStatus();
  auto it = namespaces_.find(id.ns);
  if (it == namespaces_.end()) return absl::OkStatus();
  Namespace& n = it->second;
  std::unique_ptr<CachedGroup>& slot = n.groups[id.key_group - key_group_start_];
  if (slot == nullptr) return absl::OkStatus();
  if (slot->state.in_store) {
    RETURN_IF_ERROR(write_back_->DeleteValuesAfter(state_internal::GroupPrefix(id.key_group, id.ns),
                                                   state_internal::GroupEnd(id.key_group, id.ns)));
  }
  if (slot->size() > 0) {
    // At most an eighth of the cache, so that a hint never crowds it.
    const size_t cap = static_cast<size_t>(cache_budget_ / 8);
    if (slot->entry_bytes() <= cap) {
      size_hints_[id.key_group - key_group_start_] = {slot->size(), slot->entry_bytes()};
    }
  }
  cache_bytes_ -= static_cast<int64_t>(slot->bytes() + sizeof(CachedGroup));
  slot.reset();
  if (--n.live_groups == 0) {
    cache_bytes_ -= NamespaceBytes(n.groups.size());
    for (Recent& r : recent_) {
      if (r.n == &n) r = Recent();
    }
    namespaces_.erase(it);
  }
  return absl::OkStatus();
}

}  // namespace sluice
