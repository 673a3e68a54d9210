#pragma once

// Key groups: the unit of keyed state and of keyed routing. A key hashes to
// one of `max_parallelism` key groups; subtask i of an operator with
// parallelism p owns the contiguous range of key groups mapped to it below
// (the same scheme Flink uses, so state can later be redistributed by range).
// The hash is stable across processes and runs; never use a seeded hash here.
// StableHash reads 8-byte words and the tail in host byte order, which is
// little-endian on the platforms sluice builds for (x86-64, AArch64); its
// values are pinned by tests/common/key_encoding_test.cc, computed by
// tests/common/stable_hash_golden.py.

#include <cstdint>
#include <cstring>
#include <string_view>

namespace sluice {

inline constexpr int kDefaultMaxParallelism = 128;

inline uint64_t StableHash(std::string_view s) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ULL;
  uint64_t h = 0xcbf29ce484222325ULL ^ (s.size() * kMul);
  size_t i = 0;
  for (; i + 8 <= s.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, s.data() + i, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  }
  uint64_t tail = 0;
  const size_t rest = s.size() - i;
  if (rest > 0 && s.size() >= 8) {
    std::memcpy(&tail, s.data() + s.size() - 8, 8);
    tail >>= 8 * (8 - rest);
  } else if (rest >= 4) {
    uint32_t lo, hi;
    std::memcpy(&lo, s.data() + i, 4);
    std::memcpy(&hi, s.data() + i + rest - 4, 4);
    tail = lo | (uint64_t{hi} << (8 * (rest - 4)));
  } else if (rest > 0) {
    for (size_t k = 0; k < rest; ++k) tail |= uint64_t{static_cast<uint8_t>(s[i + k])} << (8 * k);
  }
  h = (h ^ tail) * kMul;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 32;
  return h;
}

inline int KeyGroupForHash(uint64_t hash, int max_parallelism) {
  // A 32-bit modulo: several times cheaper than a 64-bit one on the hot path.
  const uint32_t folded = static_cast<uint32_t>(hash ^ (hash >> 32));
  return static_cast<int>(folded % static_cast<uint32_t>(max_parallelism));
}

// KeyGroupForHash for one max_parallelism, with the division replaced by a
// precomputed reciprocal (exact for 32-bit operands: Lemire, Kaser and
// Kurz, "Faster remainder by direct computation", 2019). Same results as
// KeyGroupForHash, several times cheaper on the routing hot path.
class KeyGroupOf {
 public:
  explicit KeyGroupOf(int max_parallelism)
      : divisor_(static_cast<uint32_t>(max_parallelism)),
        reciprocal_(~uint64_t{0} / divisor_ + 1) {}

  int operator()(uint64_t hash) const {
    const uint32_t folded = static_cast<uint32_t>(hash ^ (hash >> 32));
    const uint64_t low = reciprocal_ * folded;
    return static_cast<int>((static_cast<unsigned __int128>(low) * divisor_) >> 64);
  }

 private:
  uint32_t divisor_;
  uint64_t reciprocal_;
};

inline int SubtaskForKeyGroup(int key_group, int max_parallelism, int parallelism) {
  return key_group * parallelism / max_parallelism;
}

// Key groups [start, end) of one subtask.
struct KeyGroups {
  int start = 0;
  int end = 0;
  friend bool operator==(const KeyGroups&, const KeyGroups&) = default;
};

// The key groups kg with SubtaskForKeyGroup(kg, max_parallelism, parallelism)
// == subtask: the smallest kg with kg * parallelism >= subtask *
// max_parallelism up to (not including) that of the next subtask. Requires
// 0 <= subtask < parallelism <= max_parallelism, so no range is empty.
inline KeyGroups KeyGroupRange(int subtask, int parallelism, int max_parallelism) {
  auto first = [&](int64_t s) {
    return static_cast<int>((s * max_parallelism + parallelism - 1) / parallelism);
  };
  return {first(subtask), first(int64_t{subtask} + 1)};
}

}  // namespace sluice
