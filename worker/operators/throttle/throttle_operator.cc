#include "worker/operators/throttle/throttle_operator.h"

#include <algorithm>
#include <cmath>

#include "common/status_macros.h"

namespace sluice {

absl::Status ThrottleOperator::Open(const OperatorContext& ctx) {
  RETURN_IF_ERROR(Operator::Open(ctx));
  if (!(rate_ > 0) || !std::isfinite(rate_)) {
    return absl::InvalidArgumentError("throttle rate must be a positive number");
  }
  burst_ = std::max(1.0, rate_ / 20);
  tokens_ = burst_;
  refilled_ms_ = ctx.clock->NowMs();
  return absl::OkStatus();
}

void ThrottleOperator::Refill() {
  const int64_t now = ctx_.clock->NowMs();
  tokens_ = std::min(burst_, tokens_ + rate_ * static_cast<double>(now - refilled_ms_) / 1000.0);
  refilled_ms_ = now;
}

absl::Status ThrottleOperator::ProcessBatch(Batch batch, Output& out) {
  if (batch.empty()) return absl::OkStatus();
  held_.push_back(std::move(batch));
  return Release(out);
}

absl::Status ThrottleOperator::ContinuePending(Output& out) { return Release(out); }

absl::Status ThrottleOperator::Release(Output& out) {
  Refill();
  while (!held_.empty() && tokens_ >= 1) {
    Batch& front = held_.front();
    const size_t left = front.num_rows() - held_offset_;
    const size_t n = std::min(left, static_cast<size_t>(tokens_));
    tokens_ -= static_cast<double>(n);
    if (held_offset_ == 0 && n == left) {
      Batch whole = std::move(front);
      held_.pop_front();
      RETURN_IF_ERROR(out.Emit(std::move(whole)));
      continue;
    }
    Batch part(front.schema());
    part.AppendRange(front, held_offset_, held_offset_ + n);
    held_offset_ += n;
    if (held_offset_ == front.num_rows()) {
      held_.pop_front();
      held_offset_ = 0;
    }
    RETURN_IF_ERROR(out.Emit(std::move(part)));
  }
  if (!held_.empty()) {
    // Come back when a slice's worth of tokens has accrued.
    const double want =
        std::min(burst_, static_cast<double>(held_.front().num_rows() - held_offset_));
    due_ms_ = refilled_ms_ + static_cast<int64_t>(std::ceil((want - tokens_) * 1000.0 / rate_));
  }
  return absl::OkStatus();
}

}  // namespace sluice
