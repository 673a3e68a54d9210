#pragma once

// Tumbling event-time windows with incremental aggregates per key.
//
// A record with event time t belongs to [start, start + size) where
// start = floor(t / size) * size. A window fires when the watermark reaches
// its last millisecond (end - 1); its results are emitted with event time
// end - 1 and its state dropped. A record whose window already fired is late:
// it goes to the `late` side output and is counted, never dropped silently.
// At end of input every open window fires.
//
// Output records: key fields, window_start, window_end (epoch ms), then the
// aggregates in declaration order (count int64; sum/min/max/avg double, null
// when the window saw no non-null input).
//
// Key columns have the types of the key values, which may differ between keys
// (a field that is an int in some records and a string in others). A batch
// has one schema, so a firing emits a batch per combination of key types it
// meets. A null or missing key field is a null in a batch that fits the key's
// other fields; its column there has the type of the other keys (string when
// all of them are null). An integral double key comes out as int64, the form
// it is keyed by (see common/key_encoding.h). A key field that changes type
// never fails the job.
//
// State: the accumulators of each (window, key) are keyed state
// (state/keyed_state.h) in the window's namespace (its start), and each
// (window, key group) holding any has an event-time timer at the window's
// last millisecond, also keyed state. A watermark fires the due timers in
// order, so a window's results come out key group by key group, and firing
// reads only the windows that fire. Snapshot() writes the keyed state's
// checkpoint; the operator's own small state is its watermark. Everything
// runs on the task thread.

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/key_encoding.h"
#include "state/keyed_state.h"
#include "worker/operators/dead_letters.h"
#include "worker/operators/operator.h"

namespace sluice {

class WindowOperator : public Operator {
 public:
  explicit WindowOperator(const proto::WindowConfig& config);
  ~WindowOperator() override;

  // Opens the keyed state in ctx.state_dir (a private temporary directory,
  // removed with the operator, when that is empty), restoring ctx.restore.
  absl::Status Open(const OperatorContext& ctx) override;
  absl::Status ProcessBatch(Batch batch, Output& out) override;
  absl::Status ProcessWatermark(int64_t watermark, Output& out) override;
  absl::Status Finish(Output& out) override;
  // A watermark that closes windows fires them kFireChunk entries at a
  // time, as pending work, so the task's output credit paces a big firing;
  // the watermark follows the last of them.
  bool HasPending() const override { return firing_.has_value(); }
  int64_t PendingDueMs() const override { return 0; }
  absl::Status ContinuePending(Output& out) override;
  absl::StatusOr<OperatorSnapshot> Snapshot(int64_t checkpoint_id,
                                            const std::string& keyed_dir) override;

  // The size of the window state: RocksDB's files and memtables, and the
  // cache.
  int64_t ApproximateStateBytes() const { return state_->ApproximateStateBytes(); }

  static constexpr size_t kFireChunk = 4 * kTargetBatchRows;
  // How far ahead of the row it updates ProcessBatch prefetches state.
  static constexpr size_t kPrefetchRows = 8;

 private:
  // Output rows of one firing whose key values share their types.
  struct ResultGroup {
    std::vector<FieldType> key_types;  // kNull while a key column holds only nulls
    std::vector<Column> columns;       // keys, window_start, window_end, aggregates
    std::vector<int64_t> event_time;
  };

  absl::Status Bind(const SchemaRef& input);
  // Sends the rows of `batch` with a value in a column that is not a number
  // (not_numbers_) to the dead-letter output, and removes them from `batch`.
  absl::Status RejectNotNumbers(Batch& batch, Output& out);
  // Fires up to `limit` entries of the windows whose timers are due at
  // `up_to`; sets *done when none is left.
  absl::Status FireSome(int64_t up_to, size_t limit, Output& out, bool* done);
  // Appends the result of one (window, key) to its group in `groups`.
  absl::Status AddResult(int64_t start, std::string_view key, const char* accumulators,
                         std::vector<ResultGroup>& groups, Output& out);
  absl::Status WithContext(const absl::Status& status) const;
  // Appends the key `key` to the group of `groups` it fits best, created if
  // none fits, and returns that group.
  ResultGroup& AddKey(const std::vector<KeyValue>& key, std::vector<ResultGroup>& groups) const;
  void ResetColumns(ResultGroup& group) const;
  absl::Status EmitGroup(ResultGroup& group, Output& out);
  const SchemaRef& OutputSchema(const std::vector<FieldType>& key_types);

  proto::WindowConfig config_;
  int64_t size_;
  int64_t watermark_ = kMinWatermark;
  struct Firing {
    int64_t up_to;      // timers due at this time fire
    int64_t watermark;  // forwarded when they have; none at end of input
    bool forward;
  };
  std::optional<Firing> firing_;
  std::unique_ptr<GroupCursor> cursor_;  // the group being fired
  Timer cursor_timer_;                   // and its timer

  std::string private_dir_;  // made when ctx.state_dir is empty
  std::unique_ptr<KeyedState> state_;

  BatchKeys batch_keys_;              // keys of the batch being processed
  std::vector<KeyValue> key_values_;  // decoded key of the entry being fired
  std::vector<Field> value_fields_;   // window_start, window_end, aggregates
  // Output schemas by the types of their key columns.
  std::map<std::vector<FieldType>, SchemaRef> output_schemas_;

  // Bound to the current input schema:
  SchemaRef input_schema_;
  std::optional<KeyEncoder> key_encoder_;
  std::vector<int> agg_columns_;  // input column per aggregate, -1 for count()
  // Aggregated columns whose type is not a number (an inferred schema):
  // their rows, unless null there, are dead letters.
  struct NotNumber {
    int column;
    std::string reason;
  };
  std::vector<NotNumber> not_numbers_;
  DeadLetters dead_;
};

}  // namespace sluice
