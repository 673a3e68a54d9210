#pragma once

// Record batches: the unit that crosses every boundary in sluice.
//
// A Batch is columnar: a shared, immutable Schema, one Column per field and an
// event-time column (int64 epoch milliseconds, UTC). Operators read columns by
// index; a Batch is owned by one thread at a time and moved, never shared.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace sluice {

enum class FieldType : uint8_t { kNull = 0, kBool, kInt64, kDouble, kString };

std::string_view FieldTypeName(FieldType type);

struct Field {
  std::string name;
  FieldType type;
  // A kString field whose values are JSON text (a record a window's late
  // output wraps): written into JSON lines as it is, not as a string.
  bool json = false;
  bool operator==(const Field&) const = default;
};

class Schema {
 public:
  explicit Schema(std::vector<Field> fields) : fields_(std::move(fields)) {}

  const std::vector<Field>& fields() const { return fields_; }
  size_t size() const { return fields_.size(); }
  const Field& field(size_t i) const { return fields_[i]; }
  // Index of the field named `name`, or -1.
  int IndexOf(std::string_view name) const;

  bool operator==(const Schema& other) const { return fields_ == other.fields_; }

 private:
  std::vector<Field> fields_;
};

using SchemaRef = std::shared_ptr<const Schema>;

// One column of values. Which vector is used depends on `type`:
// kBool/kInt64 -> ints, kDouble -> doubles, kString -> offsets + chars
// (offsets has size()+1 entries). `valid` is empty when every value is
// present, else one byte per row (0 = null).
struct Column {
  FieldType type = FieldType::kNull;
  std::vector<int64_t> ints;
  std::vector<double> doubles;
  std::vector<uint32_t> offsets{0};
  std::string chars;
  std::vector<uint8_t> valid;

  bool IsNull(size_t row) const { return !valid.empty() && valid[row] == 0; }
  std::string_view StringAt(size_t row) const {
    return std::string_view(chars).substr(offsets[row], offsets[row + 1] - offsets[row]);
  }
  // Numeric value widened to double (kInt64, kBool or kDouble).
  double NumberAt(size_t row) const {
    return type == FieldType::kDouble ? doubles[row] : static_cast<double>(ints[row]);
  }

  void AppendNull();
  void AppendInt(int64_t v);
  void AppendDouble(double v);
  void AppendString(std::string_view v);
  // Appends row `row` of `src` (same type).
  void AppendFrom(const Column& src, size_t row);
  // Appends the rows `rows` of `src` (same type), column at a time.
  void AppendRows(const Column& src, const std::vector<uint32_t>& rows);
  void Reserve(size_t rows);
  // Bytes of value data held (not counting spare capacity).
  size_t ByteSize() const;

 private:
  void MarkValid();
};

class Batch {
 public:
  Batch() = default;
  explicit Batch(SchemaRef schema);

  const SchemaRef& schema() const { return schema_; }
  size_t num_rows() const { return event_time_.size(); }
  bool empty() const { return event_time_.empty(); }

  Column& column(size_t i) { return columns_[i]; }
  const Column& column(size_t i) const { return columns_[i]; }
  std::vector<Column>& columns() { return columns_; }
  std::vector<int64_t>& event_time() { return event_time_; }
  const std::vector<int64_t>& event_time() const { return event_time_; }

  // Per row, the watermark of the row's source just before it read the row,
  // so that lateness is judged at the row's position in its input, not by
  // where batches end. Empty, or one per row: a batch whose rows do not all
  // carry one carries none (operators then use their input's watermark).
  std::vector<int64_t>& row_watermarks() { return row_watermarks_; }
  const std::vector<int64_t>& row_watermarks() const { return row_watermarks_; }
  bool has_row_watermarks() const { return !row_watermarks_.empty(); }

  // Appends row `row` of `src`, which must have an equal schema.
  void AppendRowFrom(const Batch& src, size_t row);
  // Appends the rows `rows` of `src` (equal schema); faster than row by row.
  void AppendRows(const Batch& src, const std::vector<uint32_t>& rows);
  // Appends rows [begin, end) of `src` (equal schema).
  void AppendRange(const Batch& src, size_t begin, size_t end);
  void Reserve(size_t rows);
  // Bytes of value data held: what buffer accounting charges for the batch.
  size_t ByteSize() const;

 private:
  SchemaRef schema_;
  // Before appending `src`'s rows: whether they bring their row
  // watermarks; drops this batch's when they do not.
  bool KeepRowWatermarks(const Batch& src);

  std::vector<Column> columns_;
  std::vector<int64_t> event_time_;
  std::vector<int64_t> row_watermarks_;
};

// Builds a batch row by row: call Set* for some fields, then FinishRow(ts);
// fields not set in a row are null.
class BatchBuilder {
 public:
  explicit BatchBuilder(SchemaRef schema);

  void SetInt(size_t field, int64_t v);
  void SetDouble(size_t field, double v);
  void SetBool(size_t field, bool v);
  void SetString(size_t field, std::string_view v);
  void FinishRow(int64_t event_time);

  size_t num_rows() const { return batch_.num_rows(); }
  // Returns the batch built so far and starts a new one.
  Batch Take();

 private:
  Batch batch_;
  std::vector<uint8_t> set_;
};

}  // namespace sluice
