#pragma once

// throttle: passes at most `rate` records per second per subtask, for
// demos and backpressure tests. Rows over the rate are held back as
// pending work (Operator::HasPending): the task takes no new input until
// they have gone, so the throttle slows everything upstream through the
// normal credit path. Tokens accrue at `rate` per second up to a burst of
// 50 ms worth; a held-back batch leaves in slices as tokens allow.

#include <deque>

#include "catalog/operator.h"
#include "worker/operators/throttle/throttle.pb.h"

namespace sluice {

class ThrottleOperator : public Operator {
 public:
  explicit ThrottleOperator(const proto::ThrottleConfig& config) : rate_(config.rate()) {}

  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;
  bool HasPending() const override { return !held_.empty(); }
  int64_t PendingDueMs() const override { return due_ms_; }
  absl::Status ContinuePending(Output& out) override;

 private:
  void Refill();
  absl::Status Release(Output& out);

  const double rate_;
  double burst_ = 1;
  double tokens_ = 0;
  int64_t refilled_ms_ = 0;
  std::deque<Batch> held_;
  size_t held_offset_ = 0;  // rows of held_.front() already passed
  int64_t due_ms_ = 0;
};

}  // namespace sluice
