#include "worker/operators/dedup/dedup_operator.h"

#include <cstring>
#include <filesystem>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "worker/operators/keyed_state_context.h"

namespace sluice {
namespace {

int64_t BucketOf(int64_t ts, int64_t ttl) { return FloorDiv(ts, ttl); }

// The last moment of bucket `b`, saturating.
int64_t BucketEnd(int64_t b, int64_t ttl) {
  if (b >= std::numeric_limits<int64_t>::max() / ttl - 1)
    return std::numeric_limits<int64_t>::max();
  if (b <= std::numeric_limits<int64_t>::min() / ttl + 1)
    return std::numeric_limits<int64_t>::min();
  return (b + 1) * ttl - 1;
}

}  // namespace

absl::Status DedupOperator::WithContext(const absl::Status& status) const {
  return InOperator(ctx_, status);
}

absl::Status DedupOperator::Open(const OperatorContext& ctx) {
  RETURN_IF_ERROR(Operator::Open(ctx));
  ASSIGN_OR_RETURN(KeyedStateOptions options, KeyedStateOptionsFor(ctx, &private_dir_));
  options.value_width = sizeof(int64_t);  // the event time the key was seen at
  const int64_t ttl = config_.ttl_ms();
  // A bucket's group gets the timer that drops it once no on-time record
  // can match it: the watermark passed its end by ttl.
  options.on_new_group = [this, ttl](const StateGroup& g) {
    const int64_t end = BucketEnd(g.ns, ttl);
    const int64_t due = end > std::numeric_limits<int64_t>::max() - ttl
                            ? std::numeric_limits<int64_t>::max()
                            : end + ttl;
    state_->timers().Register({due, g.key_group, g.ns});
  };
  if (ctx.restore != nullptr) {
    if (!ctx.restore->small_state.empty()) {
      if (ctx.restore->small_state.size() != sizeof(int64_t)) {
        return WithContext(absl::DataLossError("its snapshot's watermark is not readable"));
      }
      std::memcpy(&watermark_, ctx.restore->small_state.data(), sizeof(int64_t));
    }
  }
  absl::StatusOr<std::unique_ptr<KeyedState>> state = KeyedState::Open(options);
  if (!state.ok()) return WithContext(state.status());
  state_ = *std::move(state);
  return absl::OkStatus();
}

absl::StatusOr<bool> DedupOperator::SeenBefore(const StateKey& key, int64_t ts) {
  const int64_t ttl = config_.ttl_ms();
  const int64_t b = BucketOf(ts, ttl);
  for (int64_t nb : {b, b - 1, b + 1}) {
    ASSIGN_OR_RETURN(bool found, state_->Get(nb, key, &value_));
    if (!found) continue;
    int64_t seen;
    std::memcpy(&seen, value_.data(), sizeof(seen));
    // |ts - seen| <= ttl, without overflow.
    const bool within =
        ts >= seen
            ? static_cast<uint64_t>(ts) - static_cast<uint64_t>(seen) <= static_cast<uint64_t>(ttl)
            : static_cast<uint64_t>(seen) - static_cast<uint64_t>(ts) <= static_cast<uint64_t>(ttl);
    if (within) return true;
  }
  char bytes[sizeof(int64_t)];
  std::memcpy(bytes, &ts, sizeof(ts));
  RETURN_IF_ERROR(state_->Put(b, key, std::string_view(bytes, sizeof(bytes))));
  return false;
}

absl::Status DedupOperator::ProcessBatch(Batch batch, Output& out) {
  if (input_schema_ != batch.schema() &&
      (input_schema_ == nullptr || !(*input_schema_ == *batch.schema()))) {
    std::vector<int> cols;
    for (const auto& k : config_.key()) cols.push_back(batch.schema()->IndexOf(k));
    key_encoder_.emplace(*batch.schema(), std::move(cols));
    input_schema_ = batch.schema();
  }
  key_encoder_->EncodeRows(batch, &keys_);
  std::vector<uint32_t> keep;
  keep.reserve(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    absl::StatusOr<bool> seen = SeenBefore(state_->Key(keys_[r]), batch.event_time()[r]);
    if (!seen.ok()) return WithContext(seen.status());
    if (!*seen) keep.push_back(static_cast<uint32_t>(r));
  }
  const int64_t dropped = static_cast<int64_t>(batch.num_rows() - keep.size());
  if (dropped > 0 && ctx_.counters != nullptr) ctx_.counters->AddDuplicates(dropped);
  if (dropped == 0) return out.Emit(std::move(batch));
  if (keep.empty()) return absl::OkStatus();
  Batch kept(batch.schema());
  kept.AppendRows(batch, keep);
  return out.Emit(std::move(kept));
}

absl::Status DedupOperator::Expire(int64_t watermark) {
  while (const Timer* t = state_->timers().Earliest()) {
    if (t->timestamp > watermark) break;
    const Timer due = *t;
    RETURN_IF_ERROR(WithContext(state_->DropGroup({due.key_group, due.ns})));
    state_->timers().Delete(due);
  }
  return absl::OkStatus();
}

absl::Status DedupOperator::ProcessWatermark(int64_t watermark, Output& out) {
  if (watermark != kIdleWatermark && watermark > watermark_) {
    watermark_ = watermark;
    RETURN_IF_ERROR(Expire(watermark));
  }
  return out.EmitWatermark(watermark);
}

absl::StatusOr<OperatorSnapshot> DedupOperator::Snapshot(int64_t, const std::string& keyed_dir) {
  absl::StatusOr<std::shared_ptr<SnapshotCompletion>> started = state_->StartSnapshot(keyed_dir);
  RETURN_IF_ERROR(WithContext(started.status()));
  OperatorSnapshot snapshot;
  snapshot.small_state.assign(reinterpret_cast<const char*>(&watermark_), sizeof(watermark_));
  snapshot.has_keyed_files = true;
  snapshot.complete_files = [done = *std::move(started)] { return done->Wait(); };
  return snapshot;
}

}  // namespace sluice
