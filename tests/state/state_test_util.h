#pragma once

// Helpers for keyed-state tests: a temporary directory, a two-counter value
// type, and key bytes.

#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/key_encoding.h"
#include "gtest/gtest.h"
#include "state/keyed_state.h"

namespace sluice::testing {

// A directory removed when the object goes.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "sluice-test-XXXXXX").string();
    EXPECT_NE(mkdtemp(pattern.data()), nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The value used in these tests: a sum and a count.
struct Counter {
  int64_t sum = 0;
  int64_t count = 0;
  bool operator==(const Counter&) const = default;
};

// Adds `from` into the value at `into`.
inline void AddCounters(char* into, const char* from) {
  Counter a, b;
  std::memcpy(&a, into, sizeof a);
  std::memcpy(&b, from, sizeof b);
  a.sum += b.sum;
  a.count += b.count;
  std::memcpy(into, &a, sizeof a);
}

inline KeyedStateOptions CounterOptions(const std::string& dir) {
  KeyedStateOptions o;
  o.dir = dir;
  o.value_width = sizeof(Counter);
  return o;
}

// Canonical key bytes of the string key `name`.
inline std::string KeyBytes(const std::string& name) {
  std::string out;
  const KeyValue v = KeyValue::String(name);
  EncodeKey({&v, 1}, &out);
  return out;
}

inline std::string CounterBytes(Counter c) {
  return std::string(reinterpret_cast<const char*>(&c), sizeof c);
}

inline Counter ToCounter(std::string_view bytes) {
  Counter c;
  EXPECT_EQ(bytes.size(), sizeof c);
  std::memcpy(&c, bytes.data(), sizeof c);
  return c;
}

inline std::unique_ptr<KeyedState> OpenOrDie(const KeyedStateOptions& options) {
  auto state = KeyedState::Open(options);
  EXPECT_TRUE(state.ok()) << state.status();
  return state.ok() ? std::move(*state) : nullptr;
}

inline void MergeInto(KeyedState& state, int64_t ns, const std::string& key_bytes, Counter add) {
  absl::StatusOr<char*> v = state.Merge(ns, state.Key(key_bytes));
  ASSERT_TRUE(v.ok()) << v.status();
  AddCounters(*v, reinterpret_cast<const char*>(&add));
}

inline std::optional<Counter> GetCounter(KeyedState& state, int64_t ns,
                                         const std::string& key_bytes) {
  std::string value;
  absl::StatusOr<bool> found = state.Get(ns, state.Key(key_bytes), &value);
  EXPECT_TRUE(found.ok()) << found.status();
  if (!found.ok() || !*found) return std::nullopt;
  return ToCounter(value);
}

// Everything in the state, by (namespace, key), read group by group.
inline std::map<std::pair<int64_t, std::string>, Counter> ReadAll(KeyedState& state) {
  std::map<std::pair<int64_t, std::string>, Counter> all;
  for (const StateGroup& g : state.Groups()) {
    auto cursor = state.ReadGroup(g);
    EXPECT_TRUE(cursor.ok()) << cursor.status();
    if (!cursor.ok()) break;
    GroupCursor& c = **cursor;
    while (c.Valid()) {
      const std::string key(c.key());
      EXPECT_EQ(state.Key(key).key_group, g.key_group);
      EXPECT_FALSE(all.contains({g.ns, key})) << "read twice";
      all[{g.ns, key}] = ToCounter({c.value(), sizeof(Counter)});
      const absl::Status next = c.Next();
      EXPECT_TRUE(next.ok()) << next;
    }
  }
  return all;
}

}  // namespace sluice::testing
