#pragma once

// Turns parsed JSON lines into rows of a columnar batch under file_source's
// schema rules: a declared schema (fields it does not name are ignored), or
// one inferred and extended as lines arrive (a new field is added; an int64
// field that meets a fraction, or an integer beyond int64, widens to
// double). The event-time field is read from each line and scaled to ms.
//
// A line is checked whole before anything of it is appended, so a rejected
// line leaves no trace. Keys map to columns through the field order of the
// previous line first (lines usually repeat it), then a hash table.
// Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/batch.h"
#include "common/time_util.h"
#include "connectors/file/internal/json_line_parser.h"

namespace sluice::internal {

class RowDecoder {
 public:
  // `declared` empty means: infer the schema.
  RowDecoder(std::vector<Field> declared, std::string event_time_field, TimeUnitScale unit);

  enum class Outcome {
    kAppended,
    kRejected,    // *reason says why
    kNeedsFlush,  // the line changes the schema: take the open batch, then add it again
  };
  // `watermark`: the source's watermark before this line, kept with the row
  // (Batch::row_watermarks).
  Outcome Add(const std::vector<JsonField>& fields, int64_t watermark, std::string* reason);

  // Event times outside these bounds are rejected (unset: no bound);
  // max_future and max_past count from now_ms, the wall clock, which the
  // caller sets (set_now_ms) as it reads.
  struct TimeBounds {
    std::optional<int64_t> min_ms, max_future_ms, max_past_ms;
  };
  void set_time_bounds(const TimeBounds& bounds) { bounds_ = bounds; }
  void set_now_ms(int64_t now_ms) { now_ms_ = now_ms; }

  // Event time (ms) of the row last appended.
  int64_t last_event_time() const { return last_event_time_; }
  size_t num_rows() const { return batch_.num_rows(); }
  // Whether Batch::ByteSize() of the open batch is at least `bytes`.
  bool ByteSizeAtLeast(size_t bytes) const;
  // The open batch; a new one with the same schema is started.
  Batch Take();
  const SchemaRef& schema() const { return schema_; }

 private:
  struct Key {
    std::string name;
    int column;  // -1: not a column (ignored, or the event time only)
    bool is_event_time;
  };
  static constexpr int kIgnored = -1;
  // Field targets at or below this are new fields: kNewField - i is new field i.
  static constexpr int kNewField = -2;
  // Keys remembered that are no column, at most (declared schemas only).
  static constexpr size_t kMaxIgnoredKeys = 1024;

  int FindKey(std::string_view name);
  int AddKey(std::string_view name, int column);
  void SetSchema(std::vector<Field> fields);
  void StartBatch();
  Outcome Reject(const std::vector<JsonField>& fields, std::string reason, std::string* out);
  // Checks `value` against column `c`; on a mismatch returns false with *reason set.
  bool Check(int c, const JsonField& field, std::string* reason);
  void Append(int c, const JsonValue& value);
  void ClearSlots(const std::vector<JsonField>& fields);

  const bool declared_;
  const TimeUnitScale unit_;
  const std::string event_time_field_;
  SchemaRef schema_;
  Batch batch_;
  // Batch::ByteSize() of the open batch is at most this.
  size_t byte_size_bound_ = 0;
  size_t row_bytes_bound_ = 0;  // per row, without string contents

  std::vector<Key> keys_;
  absl::flat_hash_map<std::string, int> key_index_;
  size_t ignored_keys_ = 0;
  std::vector<int> previous_keys_;  // key of each field position in the last line

  // Per line, reused: the target of each field, the field each column takes
  // its value from (-1: none), and the fields new to the schema.
  std::vector<int> target_;
  std::vector<int> slot_;
  std::vector<int> new_fields_;
  std::vector<int> widened_;
  int64_t last_event_time_ = 0;
  TimeBounds bounds_;
  int64_t now_ms_ = 0;
};

}  // namespace sluice::internal
