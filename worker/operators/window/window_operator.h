#pragma once

// Tumbling event-time windows with incremental aggregates per key.
//
// A record with event time t belongs to [start, start + size) where
// start = floor(t / size) * size. A window fires when the watermark reaches
// its last millisecond (end - 1); its results are emitted with event time
// end - 1. At end of input every open window fires.
//
// Lateness. Each record is judged by the watermark in force at its place in
// the input: the watermark its source had just before it, when the batch
// carries row watermarks (Batch::row_watermarks), and at least this
// operator's own. With W that watermark and L = allowed_lateness, a record
// whose window has end - 1 > W is on time; one with end - 1 <= W <
// end - 1 + L updates its window; one later than that goes to the `late`
// output ({window_start, window_end, record}, common/ports.h) and is
// counted, never dropped silently. A window's state is kept until the
// watermark reaches end - 1 + L. With L > 0 results carry `revision`: 0 at
// the firing, then 1, 2, ... for each record that updates the window after
// it fired (one updated result per record, so the results do not depend on
// batching). A key whose first record of a window comes after the window
// fired gets revision 0 then.
//
// Determinism. With one input channel (or chained behind a source) the
// operator fires at the row watermarks themselves, splitting a batch where
// the watermark passes a window's end: its results, revisions and late
// records are the same for any batching, and after a restore. With several
// input channels it fires at the smallest of their watermarks, as the
// task's input gate delivers them; each record's disposition is still
// decided by its own channel's watermark, but a record that updates a window
// its channel has passed and the operator has not yet fired is part of the
// window's first result (revision 0).
//
// Output records: key fields, window_start, window_end (epoch ms), then the
// aggregates in declaration order (count int64; sum/min/max/avg double, null
// when the window saw no non-null input), then `revision` when L > 0.
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
// (state/keyed_state.h) in the window's namespace (its start), followed,
// when L > 0, by the number of results emitted for it (counting its firing
// in advance), which is the revision of its next update. Each
// (window, key group) holding any has an event-time timer at the window's
// last millisecond that fires it, and when L > 0 one at end - 1 + L that
// drops it; timers are keyed state too. A watermark fires the due timers in
// order, so a window's results come out key group by key group, and firing
// reads only the windows that fire. Snapshot() writes the keyed state's
// checkpoint; the operator's own small state is its watermark. Everything
// runs on the task thread.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/operator.h"
#include "common/key_encoding.h"
#include "state/keyed_state.h"
#include "worker/operators/dead_letters.h"
#include "worker/operators/keyed_state_context.h"
#include "worker/operators/window/window.pb.h"

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
  // the watermark follows the last of them. A batch whose row watermarks
  // pass a window's end is paused there while the window fires, and input
  // that arrives meanwhile (from an operator chained before this one) waits
  // in order.
  bool HasPending() const override {
    return firing_.has_value() || current_.has_value() || !queued_.empty();
  }
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
  // ProcessBatch and ProcessWatermark when nothing is pending.
  absl::Status StartBatch(Batch batch, Output& out);
  absl::Status StartWatermark(int64_t watermark, Output& out);
  // Processes the rows of current_ from next_row_ on, until its end or
  // until a row's watermark makes windows due (then firing_ is set).
  absl::Status ConsumeRows(Output& out);
  // Starts firing the windows due at `watermark`, which is then forwarded.
  absl::Status AdvanceTo(int64_t watermark, Output& out);
  // Adds row `r` of `batch` to the accumulators at `value`.
  void Accumulate(const Batch& batch, size_t r, char* value) const;
  // With allowed lateness, after a record merged into the entry (start,
  // key) at `value`: counts the firing to come, or emits the updated
  // result of a fired window with its revision.
  absl::Status CountResult(int64_t start, std::string_view key, char* value, Output& out);
  // The late output's rows for input row `r` of `batch`, in window `start`.
  void AddLate(const Batch& batch, size_t r, int64_t start);
  // Sends what ConsumeRows collected: late records, updated results and
  // counts.
  absl::Status FlushRows(Output& out);
  // Sends the rows of `batch` with a value in a column that is not a number
  // (not_numbers_) to the dead-letter output, and removes them from `batch`.
  absl::Status RejectNotNumbers(Batch& batch, Output& out);
  // Fires up to `limit` entries of the windows whose timers are due at
  // `up_to`; sets *done when none is left.
  absl::Status FireSome(int64_t up_to, size_t limit, Output& out, bool* done);
  // Appends the result of one (window, key) to its group in `groups`.
  absl::Status AddResult(int64_t start, std::string_view key, const char* accumulators,
                         int64_t revision, std::vector<ResultGroup>& groups, Output& out);
  absl::Status WithContext(const absl::Status& status) const;
  // Appends the key `key` to the group of `groups` it fits best, created if
  // none fits, and returns that group.
  ResultGroup& AddKey(const std::vector<KeyValue>& key, std::vector<ResultGroup>& groups) const;
  void ResetColumns(ResultGroup& group) const;
  absl::Status EmitGroup(ResultGroup& group, Output& out);
  const SchemaRef& OutputSchema(const std::vector<FieldType>& key_types);

  proto::WindowConfig config_;
  int64_t size_;
  int64_t lateness_;          // allowed lateness, ms
  size_t accumulator_bytes_;  // of a (window, key)'s value, before its revision count
  // Whether row watermarks may fire windows: true with one input.
  bool fire_at_rows_ = true;
  // The watermark the operator has fired up to, and the last it forwarded.
  int64_t watermark_ = kMinWatermark;
  int64_t forwarded_ = kMinWatermark;
  struct Firing {
    int64_t up_to;      // timers due at this time fire
    int64_t watermark;  // forwarded when they have; none at end of input
    bool forward;
  };
  std::optional<Firing> firing_;
  // A batch paused at next_row_ while windows fire, and input (a batch, or
  // a watermark when `batch` is empty) that arrived since.
  std::optional<Batch> current_;
  size_t next_row_ = 0;
  struct Queued {
    std::optional<Batch> batch;
    int64_t watermark = 0;
  };
  std::deque<Queued> queued_;
  // Collected by ConsumeRows until FlushRows.
  std::optional<Batch> late_;
  std::vector<ResultGroup> updates_;
  int64_t on_time_ = 0, updated_ = 0;
  std::string record_json_;
  std::unique_ptr<GroupCursor> cursor_;  // the group being fired
  Timer cursor_timer_;                   // and its timer

  PrivateStateDir private_dir_;  // made when ctx.state_dir is empty; before state_
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
