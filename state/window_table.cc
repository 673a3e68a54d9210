#include "state/window_table.h"

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

void WindowTable::FireBefore(int64_t before, const FireFn& fn) {
  auto it = windows_.begin();
  while (it != windows_.end() && it->first < before) {
    for (const auto& [key, offset] : it->second.index) fn(it->first, key, &it->second.accs[offset]);
    if (last_window_ == &it->second) last_window_ = nullptr;
    it = windows_.erase(it);
  }
}

size_t WindowTable::num_entries() const {
  size_t n = 0;
  for (const auto& [start, w] : windows_) n += w.index.size();
  return n;
}

}  // namespace sluice
