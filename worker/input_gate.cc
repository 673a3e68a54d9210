#include "worker/input_gate.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace sluice {

InputGate::InputGate(int num_channels, size_t capacity_per_channel)
    : queues_(num_channels),
      watermarks_(num_channels, std::numeric_limits<int64_t>::min()),
      ended_(num_channels, false),
      open_channels_(num_channels),
      combined_watermark_(std::numeric_limits<int64_t>::min()),
      capacity_(capacity_per_channel),
      num_channels_(num_channels) {}

absl::Status InputGate::Push(int channel, StreamElement element) {
  absl::MutexLock lock(&mu_);
  if (channel < 0 || channel >= static_cast<int>(queues_.size())) {
    return absl::InvalidArgumentError(absl::StrCat("no input channel ", channel));
  }
  auto has_room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !error_.ok() || queues_[channel].size() < capacity_;
  };
  mu_.Await(absl::Condition(&has_room));
  if (!error_.ok()) return error_;
  queues_[channel].push_back(std::move(element));
  return absl::OkStatus();
}

void InputGate::Fail(absl::Status reason) {
  absl::MutexLock lock(&mu_);
  if (error_.ok()) error_ = std::move(reason);
}

void InputGate::Close(absl::Status reason) { Fail(std::move(reason)); }

absl::StatusOr<InputGate::Event> InputGate::Poll() {
  absl::MutexLock lock(&mu_);
  while (true) {
    if (!error_.ok()) return error_;
    if (open_channels_ == 0) return Event{Event::Kind::kEnd, Batch(), 0};
    // Take the next element from the first non-empty channel, round robin.
    const size_t n = queues_.size();
    bool found = false;
    for (size_t k = 0; k < n && !found; ++k) {
      size_t c = (next_ + k) % n;
      if (queues_[c].empty()) continue;
      found = true;
      next_ = (c + 1) % n;
      StreamElement e = std::move(queues_[c].front());
      queues_[c].pop_front();
      switch (e.kind) {
        case StreamElement::Kind::kBatch:
          return Event{Event::Kind::kBatch, std::move(e.batch), 0};
        case StreamElement::Kind::kWatermark:
          watermarks_[c] = std::max(watermarks_[c], e.watermark);
          break;
        case StreamElement::Kind::kEndOfStream:
          if (!ended_[c]) {
            ended_[c] = true;
            --open_channels_;
            watermarks_[c] = std::numeric_limits<int64_t>::max();
          }
          break;
      }
      int64_t combined = *std::min_element(watermarks_.begin(), watermarks_.end());
      if (combined > combined_watermark_) {
        combined_watermark_ = combined;
        return Event{Event::Kind::kWatermark, Batch(), combined};
      }
    }
    if (!found) {
      auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        if (!error_.ok()) return true;
        for (const auto& q : queues_) {
          if (!q.empty()) return true;
        }
        return false;
      };
      mu_.Await(absl::Condition(&ready));
    }
  }
}

}  // namespace sluice
