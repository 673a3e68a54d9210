#include "state/window_table.h"

#include <cstdint>

namespace sluice {

Accumulator* WindowTable::Get(int64_t window_start, std::string_view key) {
  if (last_window_ == nullptr || last_start_ != window_start) {
    last_window_ = &windows_[window_start];
    last_start_ = window_start;
  }
  Window& w = *last_window_;
  // Look up by view first: the key string is built only for a new entry.
  auto it = w.index.find(absl::string_view(key.data(), key.size()));
  if (it == w.index.end()) {
    it = w.index.emplace(std::string(key), static_cast<uint32_t>(w.accs.size())).first;
    w.accs.resize(w.accs.size() + width_);
  }
  return &w.accs[it->second];
}

void WindowTable::FireBefore(int64_t before, const FireFn& fn) { FireSome(before, SIZE_MAX, fn); }

bool WindowTable::FireSome(int64_t before, size_t limit, const FireFn& fn) {
  size_t fired = 0;
  while (!windows_.empty() && windows_.begin()->first < before) {
    auto w = windows_.begin();
    if (!cursor_.has_value()) cursor_ = w->second.index.cbegin();
    auto& it = *cursor_;
    for (; it != w->second.index.cend() && fired < limit; ++it, ++fired) {
      fn(w->first, it->first, &w->second.accs[it->second]);
    }
    if (it != w->second.index.cend()) return false;  // the limit came first
    cursor_.reset();
    if (last_window_ == &w->second) last_window_ = nullptr;
    windows_.erase(w);
  }
  return true;
}

size_t WindowTable::num_entries() const {
  size_t n = 0;
  for (const auto& [start, w] : windows_) n += w.index.size();
  return n;
}

}  // namespace sluice
