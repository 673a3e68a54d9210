#pragma once

// How keyed state is laid out in RocksDB (state/README.md argues the
// layout). Every key starts with its key group, 2 bytes big-endian, so that
// a key-group range is a key range (rescaling drops or ingests ranges).
//
//   values CF:  key_group[2] namespace[8] key[*]
//   timers CF:  key_group[2] timestamp[8] namespace[8]     (empty value)
//
// Namespaces and timestamps are int64s written big-endian with the sign bit
// flipped, so that byte order is numeric order. `key` is the canonical key
// encoding (common/key_encoding.h), as is.

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::state_internal {

// Key groups fit the 2-byte prefix with room to spare: the largest prefix,
// 0x7fff, leaves keys starting with 0xff free as an upper bound of all keys.
inline constexpr int kMaxKeyGroups = 1 << 15;
inline constexpr size_t kGroupPrefixSize = 10;  // key group + namespace

inline void AppendKeyGroup(int key_group, std::string* out) {
  out->push_back(static_cast<char>((key_group >> 8) & 0xff));
  out->push_back(static_cast<char>(key_group & 0xff));
}

inline void AppendOrderedInt64(int64_t v, std::string* out) {
  const uint64_t u = static_cast<uint64_t>(v) ^ (uint64_t{1} << 63);
  for (int shift = 56; shift >= 0; shift -= 8)
    out->push_back(static_cast<char>((u >> shift) & 0xff));
}

inline int64_t ReadOrderedInt64(std::string_view bytes) {
  uint64_t u = 0;
  for (size_t i = 0; i < 8; ++i) u = (u << 8) | static_cast<uint8_t>(bytes[i]);
  return static_cast<int64_t>(u ^ (uint64_t{1} << 63));
}

inline int ReadKeyGroup(std::string_view bytes) {
  return (static_cast<uint8_t>(bytes[0]) << 8) | static_cast<uint8_t>(bytes[1]);
}

// The first key of key group `key_group`.
inline std::string KeyGroupStart(int key_group) {
  std::string out;
  AppendKeyGroup(key_group, &out);
  return out;
}

// A key above every key of every key group.
inline std::string KeysEnd() { return std::string(3, '\xff'); }

// The prefix shared by the entries of (key_group, ns).
inline std::string GroupPrefix(int key_group, int64_t ns) {
  std::string out;
  out.reserve(kGroupPrefixSize);
  AppendKeyGroup(key_group, &out);
  AppendOrderedInt64(ns, &out);
  return out;
}

// The first key after every key with prefix GroupPrefix(key_group, ns): the
// prefix plus one, as a big-endian number (never all 0xff bytes: key
// groups stay below kMaxKeyGroups).
inline std::string GroupEnd(int key_group, int64_t ns) {
  std::string out = GroupPrefix(key_group, ns);
  for (size_t i = out.size(); i-- > 0;) {
    out[i] = static_cast<char>(static_cast<uint8_t>(out[i]) + 1);
    if (out[i] != '\0') break;
  }
  return out;
}

inline void ValueKey(int key_group, int64_t ns, std::string_view key, std::string* out) {
  out->clear();
  AppendKeyGroup(key_group, out);
  AppendOrderedInt64(ns, out);
  out->append(key.data(), key.size());
}

inline std::string TimerKey(int key_group, int64_t timestamp, int64_t ns) {
  std::string out;
  AppendKeyGroup(key_group, &out);
  AppendOrderedInt64(timestamp, &out);
  AppendOrderedInt64(ns, &out);
  return out;
}

}  // namespace sluice::state_internal
