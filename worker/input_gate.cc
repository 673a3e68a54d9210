#include "worker/input_gate.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"

namespace sluice {

InputGate::InputGate(int num_channels, int credits_per_channel, std::shared_ptr<Mailbox> mailbox)
    : channels_(num_channels),
      open_channels_(num_channels),
      capacity_(credits_per_channel),
      num_channels_(num_channels),
      mailbox_(std::move(mailbox)) {}

absl::StatusOr<int> InputGate::Attach(int channel, std::shared_ptr<CreditListener> listener) {
  absl::MutexLock lock(&mu_);
  if (channel < 0 || channel >= num_channels_) {
    return absl::InvalidArgumentError(absl::StrCat("no input channel ", channel));
  }
  if (!error_.ok()) return error_;
  Channel& c = channels_[channel];
  if (c.listener != nullptr) {
    return absl::AlreadyExistsError(
        absl::StrCat("input channel ", channel, " already has a sender"));
  }
  c.listener = std::move(listener);
  return capacity_ - c.queued_credits;
}

absl::Status InputGate::Deliver(int channel, StreamElement element, int credits) {
  {
    absl::MutexLock lock(&mu_);
    if (channel < 0 || channel >= num_channels_) {
      return absl::InvalidArgumentError(absl::StrCat("no input channel ", channel));
    }
    if (!error_.ok()) return error_;
    Channel& c = channels_[channel];
    if (element.kind != StreamElement::Kind::kBatch && credits != 0) {
      return absl::InvalidArgumentError("control events cost no credit");
    }
    if (c.queued_credits + credits > capacity_) {
      return absl::ResourceExhaustedError(absl::StrCat("sender on input channel ", channel,
                                                       " exceeded its credit (", c.queued_credits,
                                                       " + ", credits, " > ", capacity_, ")"));
    }
    if (element.kind == StreamElement::Kind::kWatermark && !c.queue.empty() &&
        c.queue.back().element.kind == StreamElement::Kind::kWatermark &&
        element.watermark != kIdleWatermark && c.queue.back().element.watermark != kIdleWatermark) {
      // Nothing between them: the later watermark says all the earlier one did.
      c.queue.back().element.watermark =
          std::max(c.queue.back().element.watermark, element.watermark);
    } else {
      c.queue.push_back({std::move(element), credits});
      c.queued_credits += credits;
    }
  }
  mailbox_->Wake();
  return absl::OkStatus();
}

void InputGate::Fail(absl::Status reason) {
  {
    absl::MutexLock lock(&mu_);
    if (error_.ok()) error_ = std::move(reason);
  }
  mailbox_->Wake();
}

void InputGate::Close(absl::Status reason) {
  std::vector<std::shared_ptr<CreditListener>> listeners;
  {
    absl::MutexLock lock(&mu_);
    if (error_.ok()) error_ = reason;
    for (auto& c : channels_) {
      if (c.listener != nullptr) listeners.push_back(std::move(c.listener));
      c.listener = nullptr;
      c.queue.clear();
      c.queued_credits = 0;
    }
  }
  for (auto& l : listeners) l->OnGateClosed(reason);
}

int64_t InputGate::QueuedCredits() const {
  absl::MutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& c : channels_) n += c.queued_credits;
  return n;
}

absl::StatusOr<std::optional<InputGate::Event>> InputGate::Poll() {
  std::shared_ptr<CreditListener> credit_to;
  int credits = 0;
  std::optional<Event> event;
  {
    absl::MutexLock lock(&mu_);
    if (!error_.ok()) return error_;
    while (!event.has_value()) {
      if (recombine_) {  // a channel ended at the previous poll
        recombine_ = false;
        event = CombineWatermarks();
        if (event.has_value()) break;
      }
      if (open_channels_ == 0) return Event::Of(Event::Kind::kEnd);
      if (idle_next_) {  // after the watermark that every idle channel had reached
        idle_next_ = false;
        reported_idle_ = true;
        Event idle = Event::Of(Event::Kind::kWatermark);
        idle.watermark = kIdleWatermark;
        return idle;
      }
      // The next element of the first non-empty channel, round robin.
      const size_t n = channels_.size();
      size_t c = n;
      for (size_t k = 0; k < n; ++k) {
        size_t i = (next_ + k) % n;
        if (!channels_[i].queue.empty() && !channels_[i].blocked) {
          c = i;
          break;
        }
      }
      if (c == n) return std::optional<Event>();
      next_ = (c + 1) % n;
      Channel& ch = channels_[c];
      Queued q = std::move(ch.queue.front());
      ch.queue.pop_front();
      ch.queued_credits -= q.credits;
      if (q.credits > 0) {
        credit_to = ch.listener;
        credits = q.credits;
      }
      switch (q.element.kind) {
        case StreamElement::Kind::kBatch:
          ch.idle = false;
          event = Event::Of(Event::Kind::kBatch);
          event->batch = std::move(q.element.batch);
          break;
        case StreamElement::Kind::kWatermark:
          if (q.element.watermark == kIdleWatermark) {
            ch.idle = true;
          } else {
            ch.idle = false;
            ch.watermark = std::max(ch.watermark, q.element.watermark);
          }
          break;
        case StreamElement::Kind::kBarrier:
          event = Event::Of(Event::Kind::kBarrier);
          event->barrier = std::move(q.element.barrier);
          event->channel = static_cast<int>(c);
          break;
        case StreamElement::Kind::kEndOfStream:
          if (!ch.ended) {
            ch.ended = true;
            --open_channels_;
            ch.watermark = std::numeric_limits<int64_t>::max();
            recombine_ = true;  // the watermark it releases comes at the next poll
            event = Event::Of(Event::Kind::kChannelEnded);
            event->channel = static_cast<int>(c);
          }
          break;
      }
      if (!event.has_value()) event = CombineWatermarks();
      if (credit_to != nullptr) break;  // a batch: hand its credit back now
    }
  }
  if (credit_to != nullptr) credit_to->OnCredit(credits);
  return event;
}

// Idle channels do not hold the others back. When every open one is idle,
// each has sent all it had: the largest of their watermarks holds, and the
// gate's task is idle too.
std::optional<InputGate::Event> InputGate::CombineWatermarks() {
  int64_t active_min = std::numeric_limits<int64_t>::max();
  int64_t idle_max = std::numeric_limits<int64_t>::min();
  bool any_active = false, any_idle = false;
  for (const auto& x : channels_) {
    if (x.ended) continue;
    if (x.idle) {
      any_idle = true;
      idle_max = std::max(idle_max, x.watermark);
    } else {
      any_active = true;
      active_min = std::min(active_min, x.watermark);
    }
  }
  const bool all_idle = any_idle && !any_active;
  if (!all_idle) reported_idle_ = false;
  const int64_t combined = any_active ? active_min
                           : any_idle ? idle_max
                                      : std::numeric_limits<int64_t>::max();  // all ended
  if (combined > combined_watermark_) {
    combined_watermark_ = combined;
    Event e = Event::Of(Event::Kind::kWatermark);
    e.watermark = combined;
    if (all_idle && !reported_idle_) idle_next_ = true;
    return e;
  }
  if (all_idle && !reported_idle_) {
    reported_idle_ = true;
    Event e = Event::Of(Event::Kind::kWatermark);
    e.watermark = kIdleWatermark;
    return e;
  }
  return std::nullopt;
}

void InputGate::Block(int channel) {
  absl::MutexLock lock(&mu_);
  channels_[channel].blocked = true;
}

void InputGate::UnblockAll() {
  {
    absl::MutexLock lock(&mu_);
    for (Channel& c : channels_) c.blocked = false;
  }
  mailbox_->Wake();
}

}  // namespace sluice
