#pragma once

// Keyed window state: for each window (identified by its start) and each key
// (encoded bytes, see common/key_encoding.h), a fixed number of aggregate
// accumulators. Windows are fired — read out and dropped — in order of their
// start, so state holds only windows that have not yet fired.
//
// In-memory for now; the interface is what a RocksDB-backed table (keys
// prefixed by key group, then key, then window) will implement.
// Not thread-safe: owned by one operator on one task thread.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace sluice {

// One aggregate's running value: `value` is a sum, min or max; `count` the
// number of non-null inputs (or rows, for count()).
struct Accumulator {
  double value = 0;
  int64_t count = 0;
};

class WindowTable {
 public:
  explicit WindowTable(size_t accumulators_per_key) : width_(accumulators_per_key) {}

  // The accumulators of (window_start, key), created zeroed when absent.
  // The pointer is valid until the next call.
  Accumulator* Get(int64_t window_start, std::string_view key);

  // Calls `fn` for every key of every window with start < `before`, in
  // window order, then drops those windows.
  using FireFn =
      std::function<void(int64_t window_start, std::string_view key, const Accumulator* accs)>;
  void FireBefore(int64_t before, const FireFn& fn);
  // The same, for at most `limit` entries; a window is dropped once all its
  // entries fired. Returns true when no window with start < `before` is
  // left. Between calls that leave entries, the table must not change
  // (no Get): firing resumes where it stopped.
  bool FireSome(int64_t before, size_t limit, const FireFn& fn);

  size_t num_windows() const { return windows_.size(); }
  size_t num_entries() const;

 private:
  struct Window {
    absl::flat_hash_map<std::string, uint32_t> index;  // key -> offset in accs
    std::vector<Accumulator> accs;
  };

  size_t width_;
  std::map<int64_t, Window> windows_;
  // Where firing of windows_.begin() stopped, when it stopped part-way.
  std::optional<absl::flat_hash_map<std::string, uint32_t>::const_iterator> cursor_;
  // One-entry cache: consecutive records often hit the same window.
  int64_t last_start_ = 0;
  Window* last_window_ = nullptr;
};

}  // namespace sluice
