#pragma once

// The cached entries of one group: one namespace within one key group. A
// part of KeyedState's write-back cache, owned by its thread.
//
// Entries live in an arena of blocks, each entry
//
//   EntryHeader (8 bytes) | value (value_width, padded to 8) | key (padded to 8)
//
// so a value is 8-byte aligned and its key sits next to it (one cache line
// for a small entry). A hash index of entry pointers finds them by key.
// Entries are appended and never moved or removed one by one (a deleted key
// keeps its entry, marked), so an entry stays where it is until Clear()
// frees them all.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "common/key_group.h"

namespace sluice::state_internal {

// What a cached entry holds, relative to the store.
enum class EntryKind : uint8_t {
  kClean,    // the value, equal to the store's
  kValue,    // the value, not yet written to the store
  kDeleted,  // deleted, not yet written to the store
  kAbsent,   // no value, and the store has none either
};

inline bool IsDirty(EntryKind k) { return k == EntryKind::kValue || k == EntryKind::kDeleted; }

struct EntryHeader {
  uint32_t key_size;
  EntryKind kind;
};
static_assert(sizeof(EntryHeader) == 8);

// A key to look up, with its StableHash.
struct Probe {
  std::string_view key;
  uint64_t hash;
};

class CachedGroup {
 public:
  explicit CachedGroup(size_t value_width);
  CachedGroup(const CachedGroup&) = delete;
  CachedGroup& operator=(const CachedGroup&) = delete;

  EntryHeader* Find(const Probe& probe) const {
    auto it = index_.find(probe);
    return it == index_.end() ? nullptr : *it;
  }
  // Starts loading the index slots where `probe` would be.
  void Prefetch(const Probe& probe) const { index_.prefetch(probe); }
  // The entry of `probe`, appended with `kind` and a zeroed value when
  // absent (then *inserted is set).
  EntryHeader* FindOrInsert(const Probe& probe, EntryKind kind, bool* inserted);
  // At most the bytes that FindOrInsert adds to bytes() for a key of
  // `key_size` bytes.
  size_t InsertCost(size_t key_size) const;
  // Frees every entry.
  void Clear();
  // Sizes an empty group for `entries` entries taking `entry_bytes` in all
  // (what its key group's previous group held): one index allocation and a
  // first block to match, rather than many small ones growing.
  void Reserve(size_t entries, size_t entry_bytes);
  // At least what Reserve(entries, ...) adds to bytes().
  static size_t ReserveCost(size_t entries) { return IndexBytes(2 * (entries + entries / 7) + 1); }
  // Bytes of the entries appended so far.
  size_t entry_bytes() const { return entry_bytes_; }

  char* ValueOf(EntryHeader* e) const { return reinterpret_cast<char*>(e) + sizeof(EntryHeader); }
  const char* ValueOf(const EntryHeader* e) const {
    return reinterpret_cast<const char*>(e) + sizeof(EntryHeader);
  }
  std::string_view KeyOf(const EntryHeader* e) const { return KeyAt(e, padded_width_); }

  // Entries in the order they were inserted: `pos` starts value-initialized;
  // returns null at the end.
  struct Position {
    size_t block = 0;
    size_t offset = 0;
  };
  const EntryHeader* Next(Position* pos) const;
  EntryHeader* Next(Position* pos) {
    return const_cast<EntryHeader*>(static_cast<const CachedGroup*>(this)->Next(pos));
  }

  size_t size() const { return index_.size(); }
  // Heap bytes held: blocks and index.
  size_t bytes() const { return block_bytes_ + IndexBytes(index_.capacity()); }

  // Where the group's entries are (maintained by KeyedState):
  struct State {
    bool complete = true;   // every entry of the group is cached (so a miss is absent)
    bool in_store = false;  // the store may hold entries of the group
    bool dirty = false;     // some entry IsDirty
    // The entries that are IsDirty, and their keys' bytes.
    size_t dirty_entries = 0;
    size_t dirty_key_bytes = 0;
    void MarkClean() {
      dirty = false;
      dirty_entries = 0;
      dirty_key_bytes = 0;
    }
  };
  State state;

 private:
  struct Block {
    std::unique_ptr<std::byte[]> data;
    size_t size;
    size_t used;
  };
  // Blocks grow from kMinBlock to kMaxBlock; a bigger entry gets a block of
  // its own.
  static constexpr size_t kMinBlock = 512;
  static constexpr size_t kMaxBlock = 1 << 16;

  struct IndexHash {
    using is_transparent = void;
    size_t padded_width;
    size_t operator()(const EntryHeader* e) const { return StableHash(KeyAt(e, padded_width)); }
    size_t operator()(const Probe& p) const { return p.hash; }
  };
  struct IndexEq {
    using is_transparent = void;
    size_t padded_width;
    bool operator()(const EntryHeader* a, const EntryHeader* b) const { return a == b; }
    bool operator()(const Probe& p, const EntryHeader* e) const {
      return e->key_size == p.key.size() &&
             SameBytes(p.key.data(), KeyAt(e, padded_width).data(), p.key.size());
    }
    bool operator()(const EntryHeader* e, const Probe& p) const { return (*this)(p, e); }
  };
  using Index = absl::flat_hash_set<EntryHeader*, IndexHash, IndexEq>;

  static std::string_view KeyAt(const EntryHeader* e, size_t padded_width) {
    return {reinterpret_cast<const char*>(e) + sizeof(EntryHeader) + padded_width, e->key_size};
  }
  // memcmp(a, b, n) == 0, without a call for the common key sizes.
  static bool SameBytes(const char* a, const char* b, size_t n) {
    if (n < 8 || n > 16) return std::memcmp(a, b, n) == 0;
    uint64_t a0, a1, b0, b1;  // the first and last 8 bytes (overlapping when n < 16)
    std::memcpy(&a0, a, 8);
    std::memcpy(&b0, b, 8);
    std::memcpy(&a1, a + n - 8, 8);
    std::memcpy(&b1, b + n - 8, 8);
    return ((a0 ^ b0) | (a1 ^ b1)) == 0;
  }
  size_t EntrySize(size_t key_size) const {
    return sizeof(EntryHeader) + padded_width_ + ((key_size + 7) & ~size_t{7});
  }
  // The size of the block to add for an entry of `entry_size` bytes.
  size_t NextBlockSize(size_t entry_size) const;
  // Heap bytes of an index of `capacity` slots: control bytes (one per slot
  // plus a group's worth of clones) and 8-byte slots.
  static size_t IndexBytes(size_t capacity) { return capacity == 0 ? 0 : capacity * 9 + 16; }
  // The capacity after the next insertion into an index of `capacity`
  // slots holding `size` entries, none erased: absl's flat_hash_set grows
  // to 2 * capacity + 1 when it is 7/8 full.
  static size_t CapacityAfterInsert(size_t capacity, size_t size);
  EntryHeader* Append(const Probe& probe, EntryKind kind);

  const size_t padded_width_;
  std::vector<Block> blocks_;
  size_t block_bytes_ = 0;
  size_t entry_bytes_ = 0;
  size_t first_block_ = kMinBlock;
  Index index_;
};

}  // namespace sluice::state_internal
