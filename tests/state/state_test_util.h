#pragma once

// Helpers for keyed-state tests: a temporary directory, a two-counter value
// type, and key bytes.

#include <stdlib.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>

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

}  // namespace sluice::testing
