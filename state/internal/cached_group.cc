#include "state/internal/cached_group.h"

#include <algorithm>
#include <bit>

namespace sluice::state_internal {

CachedGroup::CachedGroup(size_t value_width)
    : padded_width_((value_width + 7) & ~size_t{7}),
      index_(0, IndexHash{padded_width_}, IndexEq{padded_width_}) {}

size_t CachedGroup::CapacityAfterInsert(size_t capacity, size_t size) {
  if (capacity == 0) return 1;
  const size_t growth = capacity - capacity / 8;  // absl's CapacityToGrowth (16-wide groups)
  return size + 1 > growth ? capacity * 2 + 1 : capacity;
}

size_t CachedGroup::NextBlockSize(size_t entry_size) const {
  if (entry_size > kMaxBlock) return entry_size;
  size_t size =
      blocks_.empty() ? first_block_ : std::min<size_t>(kMaxBlock, blocks_.back().size * 2);
  while (size < entry_size) size *= 2;
  return size;
}

size_t CachedGroup::InsertCost(size_t key_size) const {
  const size_t entry = EntrySize(key_size);
  size_t cost = 0;
  if (blocks_.empty() || blocks_.back().size - blocks_.back().used < entry) {
    cost += NextBlockSize(entry);
  }
  const size_t capacity = index_.capacity();
  cost += IndexBytes(CapacityAfterInsert(capacity, index_.size())) - IndexBytes(capacity);
  return cost;
}

EntryHeader* CachedGroup::Append(const Probe& probe, EntryKind kind) {
  const size_t entry = EntrySize(probe.key.size());
  if (blocks_.empty() || blocks_.back().size - blocks_.back().used < entry) {
    const size_t size = NextBlockSize(entry);
    blocks_.push_back({std::make_unique_for_overwrite<std::byte[]>(size), size, 0});
    block_bytes_ += size;
  }
  Block& b = blocks_.back();
  auto* header = reinterpret_cast<EntryHeader*>(b.data.get() + b.used);
  b.used += entry;
  entry_bytes_ += entry;
  header->key_size = static_cast<uint32_t>(probe.key.size());
  header->kind = kind;
  char* value = ValueOf(header);
  std::memset(value, 0, padded_width_);
  if (!probe.key.empty()) std::memcpy(value + padded_width_, probe.key.data(), probe.key.size());
  return header;
}

EntryHeader* CachedGroup::FindOrInsert(const Probe& probe, EntryKind kind, bool* inserted) {
  *inserted = false;
  auto it = index_.lazy_emplace(probe, [&](const Index::constructor& construct) {
    construct(Append(probe, kind));
    *inserted = true;
  });
  return *it;
}

const EntryHeader* CachedGroup::Next(Position* pos) const {
  while (pos->block < blocks_.size()) {
    const Block& b = blocks_[pos->block];
    if (pos->offset < b.used) {
      const auto* e = reinterpret_cast<const EntryHeader*>(b.data.get() + pos->offset);
      pos->offset += EntrySize(e->key_size);
      return e;
    }
    ++pos->block;
    pos->offset = 0;
  }
  return nullptr;
}

void CachedGroup::Clear() {
  Index(0, IndexHash{padded_width_}, IndexEq{padded_width_}).swap(index_);
  blocks_ = std::vector<Block>();
  block_bytes_ = 0;
  entry_bytes_ = 0;
}

void CachedGroup::Reserve(size_t entries, size_t entry_bytes) {
  index_.reserve(entries);
  first_block_ = std::clamp(std::bit_ceil(entry_bytes), kMinBlock, kMaxBlock);
}

}  // namespace sluice::state_internal
