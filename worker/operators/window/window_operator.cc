#include "worker/operators/window/window_operator.h"

#include <stdlib.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/json.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "worker/operators/keyed_state_context.h"

namespace sluice {
namespace {

// One aggregate's running value: `value` is a sum, min or max; `count` the
// number of non-null inputs (or rows, for count()). All zero is the empty
// accumulator. A window's value in keyed state is one per aggregate.
struct Accumulator {
  double value = 0;
  int64_t count = 0;
};
static_assert(sizeof(Accumulator) == 16);

// The operator's small state: a version byte, then the watermark (8 bytes,
// little-endian).
constexpr char kSmallStateVersion = 1;

std::string EncodeSmallState(int64_t watermark) {
  std::string out(1, kSmallStateVersion);
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<char>((static_cast<uint64_t>(watermark) >> (8 * i)) & 0xff));
  return out;
}

absl::StatusOr<int64_t> DecodeSmallState(const std::string& bytes) {
  if (bytes.size() != 9 || bytes[0] != kSmallStateVersion) {
    return absl::InvalidArgumentError(absl::StrCat("window snapshot: ", bytes.size(),
                                                   " bytes of small state, not version ",
                                                   static_cast<int>(kSmallStateVersion)));
  }
  uint64_t u = 0;
  for (int i = 7; i >= 0; --i) u = (u << 8) | static_cast<uint8_t>(bytes[1 + i]);
  return static_cast<int64_t>(u);
}

// A key column holding only nulls is a string column.
FieldType ColumnType(FieldType key_type) {
  return key_type == FieldType::kNull ? FieldType::kString : key_type;
}

// Appends `v` to a key column of its type (or any type, for null).
void AppendKeyValue(const KeyValue& v, Column& col) {
  switch (v.type) {
    case FieldType::kNull:
      col.AppendNull();
      break;
    case FieldType::kBool:
    case FieldType::kInt64:
      col.AppendInt(v.int_value);
      break;
    case FieldType::kDouble:
      col.AppendDouble(v.double_value);
      break;
    case FieldType::kString:
      col.AppendString(v.string_value);
      break;
  }
}

}  // namespace

WindowOperator::WindowOperator(const proto::WindowConfig& config)
    : config_(config),
      size_(config.size_ms()),
      lateness_(config.allowed_lateness_ms()),
      accumulator_bytes_(static_cast<size_t>(config.aggregates_size()) * sizeof(Accumulator)) {
  value_fields_.push_back({"window_start", FieldType::kInt64});
  value_fields_.push_back({"window_end", FieldType::kInt64});
  for (const auto& a : config_.aggregates()) {
    value_fields_.push_back({a.name(), a.function() == proto::AGGREGATE_COUNT
                                           ? FieldType::kInt64
                                           : FieldType::kDouble});
  }
  if (lateness_ > 0) value_fields_.push_back({"revision", FieldType::kInt64});
}

WindowOperator::~WindowOperator() {
  cursor_.reset();
  state_.reset();  // closes RocksDB before its directory goes
}

absl::Status WindowOperator::WithContext(const absl::Status& status) const {
  return InOperator(ctx_, status);
}

absl::Status WindowOperator::Open(const OperatorContext& ctx) {
  RETURN_IF_ERROR(Operator::Open(ctx));
  dead_.set_source(ctx.spec != nullptr ? ctx.spec->id() : "");
  ASSIGN_OR_RETURN(KeyedStateOptions options, KeyedStateOptionsFor(ctx, &private_dir_));
  options.value_width = accumulator_bytes_ + (lateness_ > 0 ? sizeof(int64_t) : 0);
  // A window's key group that gets its first entry gets the timer that
  // fires it, and with allowed lateness the one that drops it.
  // (A group that starts with an update has fired, as it were, already.)
  options.on_new_group = [this](const StateGroup& g) {
    if (g.ns + size_ - 1 > watermark_)
      state_->timers().Register({g.ns + size_ - 1, g.key_group, g.ns});
    if (lateness_ > 0) state_->timers().Register({g.ns + size_ - 1 + lateness_, g.key_group, g.ns});
  };
  // Rows from several source splits carry their own splits' watermarks:
  // only their minimum, from the input gates, may fire windows.
  fire_at_rows_ = ctx.one_source_split;
  if (ctx.restore != nullptr) {
    if (!ctx.restore->small_state.empty()) {
      absl::StatusOr<int64_t> watermark = DecodeSmallState(ctx.restore->small_state);
      if (!watermark.ok()) return WithContext(watermark.status());
      watermark_ = *watermark;
      forwarded_ = *watermark;
    }
  }
  absl::StatusOr<std::unique_ptr<KeyedState>> state = KeyedState::Open(options);
  if (!state.ok()) return WithContext(state.status());
  state_ = std::move(*state);
  return absl::OkStatus();
}

absl::Status WindowOperator::Bind(const SchemaRef& input) {
  std::vector<int> key_cols;
  for (const auto& k : config_.key_by()) key_cols.push_back(input->IndexOf(k));
  agg_columns_.clear();
  not_numbers_.clear();
  for (const auto& a : config_.aggregates()) {
    int idx = -1;
    if (a.function() != proto::AGGREGATE_COUNT) {
      idx = input->IndexOf(a.field());
      if (idx >= 0) {
        FieldType t = input->field(idx).type;
        if (t != FieldType::kInt64 && t != FieldType::kDouble && t != FieldType::kNull) {
          not_numbers_.push_back(
              {idx, absl::StrCat("aggregate '", a.name(), "': field '", a.field(), "' is ",
                                 std::string(FieldTypeName(t)), ", not a number")});
        }
      }
    }
    agg_columns_.push_back(idx);
  }
  input_schema_ = input;
  key_encoder_.emplace(*input, std::move(key_cols));
  return absl::OkStatus();
}

absl::Status WindowOperator::ProcessBatch(Batch batch, Output& out) {
  if (HasPending()) {
    queued_.push_back({std::move(batch), 0});
    return absl::OkStatus();
  }
  return StartBatch(std::move(batch), out);
}

absl::Status WindowOperator::StartBatch(Batch batch, Output& out) {
  if (input_schema_ != batch.schema() &&
      (input_schema_ == nullptr || !(*input_schema_ == *batch.schema()))) {
    RETURN_IF_ERROR(Bind(batch.schema()));
  }
  if (!not_numbers_.empty()) RETURN_IF_ERROR(RejectNotNumbers(batch, out));
  key_encoder_->EncodeRows(batch, &batch_keys_);
  current_.emplace(std::move(batch));
  next_row_ = 0;
  return ConsumeRows(out);
}

absl::Status WindowOperator::ConsumeRows(Output& out) {
  const Batch& batch = *current_;
  const size_t rows = batch.num_rows();
  // Rows are hashed kPrefetchRows ahead of the row being updated, and their
  // state prefetched then: a lookup seldom waits for memory.
  struct Row {
    StateKey key;
    int64_t start;
  };
  Row ahead[kPrefetchRows];
  auto look_ahead = [&](size_t r) {
    Row& row = ahead[r % kPrefetchRows];
    row.key = state_->Key(batch_keys_[r]);
    row.start = FloorDiv(batch.event_time()[r], size_) * size_;
    state_->Prefetch(row.start, row.key);
  };
  const size_t first = next_row_;
  for (size_t r = first; r < std::min(rows, first + kPrefetchRows); ++r) look_ahead(r);
  // A row is judged by the watermark its source had just before it, when
  // the batch says (so batching and timing do not change the answer), and
  // at least by this operator's own watermark (windows it has fired are
  // gone).
  const int64_t* row_watermarks =
      batch.has_row_watermarks() ? batch.row_watermarks().data() : nullptr;
  for (size_t r = first; r < rows; ++r) {
    int64_t watermark = watermark_;
    if (row_watermarks != nullptr && row_watermarks[r] > watermark_) {
      watermark = row_watermarks[r];
      if (fire_at_rows_) {
        const Timer* due = state_->timers().Earliest();
        if (due != nullptr && due->timestamp <= watermark) {
          // Windows end before this row: they fire first, then the rest
          // of the batch follows.
          next_row_ = r;
          RETURN_IF_ERROR(FlushRows(out));
          return AdvanceTo(watermark, out);
        }
        watermark_ = watermark;
      }
    }
    const Row row = ahead[r % kPrefetchRows];
    if (r + kPrefetchRows < rows) look_ahead(r + kPrefetchRows);
    const int64_t start = row.start;
    const int64_t last_ms = start + size_ - 1;
    if (last_ms + lateness_ <= watermark) {
      AddLate(batch, r, start);
      continue;
    }
    // (A key of a key group this subtask does not own is an error.)
    absl::StatusOr<char*> value = state_->Merge(start, row.key);
    if (!value.ok()) return WithContext(value.status());
    Accumulate(batch, r, *value);
    if (last_ms > watermark) {
      ++on_time_;
    } else {
      ++updated_;
    }
    if (lateness_ > 0) RETURN_IF_ERROR(CountResult(start, batch_keys_[r], *value, out));
  }
  current_.reset();
  return FlushRows(out);
}

void WindowOperator::Accumulate(const Batch& batch, size_t r, char* value) const {
  auto* acc = reinterpret_cast<Accumulator*>(value);
  const auto& fns = config_.aggregates();
  for (size_t a = 0; a < agg_columns_.size(); ++a) {
    const int col_idx = agg_columns_[a];
    if (col_idx < 0) {
      if (fns[a].function() == proto::AGGREGATE_COUNT) ++acc[a].count;
      continue;
    }
    const Column& col = batch.column(col_idx);
    if (col.IsNull(r)) continue;
    const double v = col.NumberAt(r);
    switch (fns[a].function()) {
      case proto::AGGREGATE_MIN:
        acc[a].value = acc[a].count == 0 ? v : std::min(acc[a].value, v);
        break;
      case proto::AGGREGATE_MAX:
        acc[a].value = acc[a].count == 0 ? v : std::max(acc[a].value, v);
        break;
      default:  // sum, avg
        acc[a].value += v;
        break;
    }
    ++acc[a].count;
  }
}

absl::Status WindowOperator::CountResult(int64_t start, std::string_view key, char* value,
                                         Output& out) {
  // The entry's count of results: its firing's (revision 0), then one per
  // update after it.
  char* emitted_at = value + accumulator_bytes_;
  int64_t emitted = 0;
  std::memcpy(&emitted, emitted_at, sizeof(emitted));
  if (start + size_ - 1 > watermark_) {
    emitted = 1;  // the firing will emit it
  } else {
    // The window has fired: this record's result is the next revision.
    RETURN_IF_ERROR(AddResult(start, key, value, emitted, updates_, out));
    ++emitted;
  }
  std::memcpy(emitted_at, &emitted, sizeof(emitted));
  return absl::OkStatus();
}

void WindowOperator::AddLate(const Batch& batch, size_t r, int64_t start) {
  if (!late_.has_value()) late_.emplace(LateSchema());
  Batch& late = *late_;
  late.column(0).AppendInt(start);
  late.column(1).AppendInt(start + size_);
  record_json_.clear();
  AppendJsonLine(batch, r, &record_json_);
  record_json_.pop_back();  // the newline
  late.column(2).AppendString(record_json_);
  late.event_time().push_back(batch.event_time()[r]);
}

absl::Status WindowOperator::FlushRows(Output& out) {
  if (ctx_.counters != nullptr && (on_time_ > 0 || updated_ > 0)) {
    ctx_.counters->AddWindowRecords(on_time_, updated_);
  }
  on_time_ = updated_ = 0;
  for (ResultGroup& g : updates_) RETURN_IF_ERROR(WithContext(EmitGroup(g, out)));
  updates_.clear();
  if (!late_.has_value()) return absl::OkStatus();
  Batch late = *std::move(late_);
  late_.reset();
  return out.EmitSide(kLatePort, std::move(late));
}

absl::Status WindowOperator::RejectNotNumbers(Batch& batch, Output& out) {
  std::vector<uint32_t> keep;
  keep.reserve(batch.num_rows());
  for (size_t r = 0; r < batch.num_rows(); ++r) {
    const NotNumber* bad = nullptr;
    for (const NotNumber& n : not_numbers_) {
      if (!batch.column(n.column).IsNull(r)) {
        bad = &n;
        break;
      }
    }
    if (bad == nullptr) {
      keep.push_back(static_cast<uint32_t>(r));
    } else {
      dead_.AddRow(batch, r, bad->reason);
    }
  }
  RETURN_IF_ERROR(dead_.Flush(out));
  if (keep.size() < batch.num_rows()) {
    Batch kept(batch.schema());
    kept.Reserve(keep.size());
    kept.AppendRows(batch, keep);
    batch = std::move(kept);
  }
  return absl::OkStatus();
}

absl::Status WindowOperator::FireSome(int64_t up_to, size_t limit, Output& out, bool* done) {
  std::vector<ResultGroup> groups;
  size_t fired = 0;
  *done = false;
  absl::Status status;
  while (status.ok()) {
    if (cursor_ == nullptr) {
      const Timer* t = state_->timers().Earliest();
      if (t == nullptr || t->timestamp > up_to) {
        *done = true;
        break;
      }
      cursor_timer_ = *t;
      if (lateness_ > 0 && t->timestamp != t->ns + size_ - 1) {
        // The end of the window's lateness: its state goes, unread.
        status = state_->DropGroup({cursor_timer_.key_group, cursor_timer_.ns});
        state_->timers().Delete(cursor_timer_);
        continue;
      }
      absl::StatusOr<std::unique_ptr<GroupCursor>> cursor =
          state_->ReadGroup({t->key_group, t->ns});
      if (!cursor.ok()) {
        status = cursor.status();
        break;
      }
      cursor_ = std::move(*cursor);
    }
    if (!cursor_->Valid()) {
      // The group has fired: drop its timer, and it too unless it waits
      // for late records.
      cursor_.reset();
      if (lateness_ == 0) status = state_->DropGroup({cursor_timer_.key_group, cursor_timer_.ns});
      state_->timers().Delete(cursor_timer_);
      continue;
    }
    if (fired == limit) break;
    status = AddResult(cursor_timer_.ns, cursor_->key(), cursor_->value(), 0, groups, out);
    ++fired;
    if (status.ok()) status = cursor_->Next();
  }
  for (ResultGroup& g : groups) {
    if (status.ok()) status = EmitGroup(g, out);
  }
  return WithContext(status);
}

absl::Status WindowOperator::AddResult(int64_t start, std::string_view key,
                                       const char* accumulators, int64_t revision,
                                       std::vector<ResultGroup>& groups, Output& out) {
  const size_t num_keys = config_.key_by_size();
  const auto& fns = config_.aggregates();
  if (absl::Status s = DecodeKey(key, num_keys, &key_values_); !s.ok()) {
    return absl::InternalError(absl::StrCat("bad key in window state: ", s.message()));
  }
  ResultGroup& g = AddKey(key_values_, groups);
  g.columns[num_keys].AppendInt(start);
  g.columns[num_keys + 1].AppendInt(start + size_);
  for (int a = 0; a < fns.size(); ++a) {
    Accumulator acc;
    std::memcpy(&acc, accumulators + a * sizeof(Accumulator), sizeof(Accumulator));
    Column& col = g.columns[num_keys + 2 + a];
    switch (fns[a].function()) {
      case proto::AGGREGATE_COUNT:
        col.AppendInt(acc.count);
        break;
      case proto::AGGREGATE_AVG:
        if (acc.count == 0)
          col.AppendNull();
        else
          col.AppendDouble(acc.value / static_cast<double>(acc.count));
        break;
      default:
        if (acc.count == 0)
          col.AppendNull();
        else
          col.AppendDouble(acc.value);
        break;
    }
  }
  if (lateness_ > 0) g.columns[num_keys + 2 + fns.size()].AppendInt(revision);
  g.event_time.push_back(start + size_ - 1);
  if (g.event_time.size() >= kTargetBatchRows) return EmitGroup(g, out);
  return absl::OkStatus();
}

WindowOperator::ResultGroup& WindowOperator::AddKey(const std::vector<KeyValue>& key,
                                                    std::vector<ResultGroup>& groups) const {
  // The fitting group whose columns need the fewest changes of type (from
  // all-null to the key's type); the first of those.
  ResultGroup* best = nullptr;
  size_t best_retypes = 0;
  for (ResultGroup& g : groups) {
    size_t retypes = 0;
    bool fits = true;
    for (size_t k = 0; k < key.size() && fits; ++k) {
      if (key[k].type == FieldType::kNull || key[k].type == g.key_types[k]) continue;
      if (g.key_types[k] == FieldType::kNull) {
        ++retypes;
      } else {
        fits = false;
      }
    }
    if (fits && (best == nullptr || retypes < best_retypes)) {
      best = &g;
      best_retypes = retypes;
      if (retypes == 0) break;
    }
  }
  if (best == nullptr) {
    best = &groups.emplace_back();
    best->key_types.assign(key.size(), FieldType::kNull);
    ResetColumns(*best);
  }
  ResultGroup& g = *best;
  for (size_t k = 0; k < key.size(); ++k) {
    const FieldType t = key[k].type;
    if (t != FieldType::kNull && g.key_types[k] == FieldType::kNull) {
      // The column held only nulls: give it the key's type.
      Column typed;
      typed.type = t;
      for (size_t r = 0; r < g.event_time.size(); ++r) typed.AppendNull();
      g.columns[k] = std::move(typed);
      g.key_types[k] = t;
    }
    AppendKeyValue(key[k], g.columns[k]);
  }
  return g;
}

void WindowOperator::ResetColumns(ResultGroup& group) const {
  group.columns.clear();
  group.columns.resize(group.key_types.size() + value_fields_.size());
  for (size_t k = 0; k < group.key_types.size(); ++k) {
    group.columns[k].type = ColumnType(group.key_types[k]);
  }
  for (size_t v = 0; v < value_fields_.size(); ++v) {
    group.columns[group.key_types.size() + v].type = value_fields_[v].type;
  }
  group.event_time.clear();
}

absl::Status WindowOperator::EmitGroup(ResultGroup& group, Output& out) {
  if (group.event_time.empty()) return absl::OkStatus();
  Batch batch(OutputSchema(group.key_types));
  batch.columns() = std::move(group.columns);
  batch.event_time() = std::move(group.event_time);
  ResetColumns(group);
  return out.Emit(std::move(batch));
}

const SchemaRef& WindowOperator::OutputSchema(const std::vector<FieldType>& key_types) {
  std::vector<FieldType> column_types;
  for (FieldType t : key_types) column_types.push_back(ColumnType(t));
  SchemaRef& schema = output_schemas_[column_types];
  if (schema == nullptr) {
    std::vector<Field> fields;
    for (size_t k = 0; k < column_types.size(); ++k) {
      fields.push_back({config_.key_by(static_cast<int>(k)), column_types[k]});
    }
    fields.insert(fields.end(), value_fields_.begin(), value_fields_.end());
    schema = std::make_shared<const Schema>(std::move(fields));
  }
  return schema;
}

absl::Status WindowOperator::ProcessWatermark(int64_t watermark, Output& out) {
  if (watermark == kIdleWatermark) return absl::OkStatus();  // its input gate's business
  if (HasPending()) {
    queued_.push_back({std::nullopt, watermark});
    return absl::OkStatus();
  }
  return StartWatermark(watermark, out);
}

absl::Status WindowOperator::StartWatermark(int64_t watermark, Output& out) {
  if (watermark > watermark_) return AdvanceTo(watermark, out);
  // Row watermarks have fired the windows already.
  if (watermark <= forwarded_) return absl::OkStatus();
  forwarded_ = watermark;
  return out.EmitWatermark(watermark);
}

absl::Status WindowOperator::AdvanceTo(int64_t watermark, Output& out) {
  watermark_ = watermark;
  // Window [s, s+size) fires once watermark >= s + size - 1: its timers.
  firing_ = Firing{watermark, watermark, true};
  return ContinuePending(out);
}

absl::Status WindowOperator::ContinuePending(Output& out) {
  if (firing_.has_value()) {
    bool done = false;
    RETURN_IF_ERROR(FireSome(firing_->up_to, kFireChunk, out, &done));
    if (!done) return absl::OkStatus();
    const Firing fired = *firing_;
    firing_.reset();
    if (!fired.forward || fired.watermark <= forwarded_) return absl::OkStatus();
    forwarded_ = fired.watermark;
    return out.EmitWatermark(fired.watermark);
  }
  if (current_.has_value()) return ConsumeRows(out);
  if (queued_.empty()) return absl::OkStatus();
  Queued next = std::move(queued_.front());
  queued_.pop_front();
  if (next.batch.has_value()) return StartBatch(*std::move(next.batch), out);
  return StartWatermark(next.watermark, out);
}

absl::Status WindowOperator::Finish(Output& out) {
  while (HasPending()) RETURN_IF_ERROR(ContinuePending(out));  // (a task never does this)
  firing_ = Firing{std::numeric_limits<int64_t>::max(), 0, false};
  return ContinuePending(out);
}

absl::StatusOr<OperatorSnapshot> WindowOperator::Snapshot(int64_t checkpoint_id,
                                                          const std::string& keyed_dir) {
  (void)checkpoint_id;
  if (HasPending()) {
    return absl::FailedPreconditionError(
        absl::StrCat("operator '", ctx_.spec->id(), "': snapshot while windows are still firing"));
  }
  absl::StatusOr<std::shared_ptr<SnapshotCompletion>> started = state_->StartSnapshot(keyed_dir);
  RETURN_IF_ERROR(WithContext(started.status()));
  OperatorSnapshot snapshot;
  snapshot.small_state = EncodeSmallState(watermark_);
  snapshot.has_keyed_files = true;
  snapshot.complete_files = [done = *std::move(started)] { return done->Wait(); };
  return snapshot;
}

}  // namespace sluice
