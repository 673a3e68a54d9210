#pragma once

// dedup: drops a record whose key it has seen within `ttl` of event time.
//
// Its input is partitioned by the key, and each subtask keeps the keys it
// saw in keyed state (state/keyed_state.h), checkpointed with the job, so a
// restore remembers them. Keys are kept in buckets of `ttl` of event time
// (a bucket is a namespace of the state): a record at time t is a duplicate
// when its key is in the bucket of t or of a neighbouring one at an event
// time within ttl of t. A bucket is dropped, whole, by a timer once the
// watermark has passed its end by ttl: no record on time can match it any
// more, and state does not grow without bound. (A record so late that its
// bucket is gone passes as new.) Records without duplicates pass in their
// order; the watermark passes through.
//
// Dropped records are counted (OperatorCounters::AddDuplicates: metrics and
// `status`).

#include <memory>
#include <optional>
#include <string>

#include "catalog/operator.h"
#include "common/key_encoding.h"
#include "state/keyed_state.h"
#include "worker/operators/dedup/dedup.pb.h"
#include "worker/operators/keyed_state_context.h"

namespace sluice {

class DedupOperator : public Operator {
 public:
  explicit DedupOperator(proto::DedupConfig config) : config_(std::move(config)) {}

  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;
  absl::Status ProcessWatermark(int64_t watermark, Output& out) override;
  absl::StatusOr<OperatorSnapshot> Snapshot(int64_t checkpoint_id,
                                            const std::string& keyed_dir) override;

  // Buckets holding keys now, on this subtask (tests).
  size_t buckets() const { return state_->timers().size(); }

 private:
  // Whether `key` was seen within ttl of `ts`; remembers it at `ts` if not.
  absl::StatusOr<bool> SeenBefore(const StateKey& key, int64_t ts);
  // Drops the buckets whose time has passed.
  absl::Status Expire(int64_t watermark);
  absl::Status WithContext(const absl::Status& status) const;

  const proto::DedupConfig config_;
  PrivateStateDir private_dir_;  // before state_: removed after it closed
  std::unique_ptr<KeyedState> state_;
  SchemaRef input_schema_;
  std::optional<KeyEncoder> key_encoder_;
  BatchKeys keys_;
  std::string value_;
  int64_t watermark_ = INT64_MIN;
};

}  // namespace sluice
