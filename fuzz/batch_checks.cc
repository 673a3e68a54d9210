#include "fuzz/batch_checks.h"

#include <cstring>

#include "fuzz/fuzz_check.h"

namespace sluice::fuzz {
namespace {

// Where Touch leaves its result, so the reads are not optimized away.
volatile unsigned char touch_sink;

// Batch has no const columns(); the count is all that is read.
size_t NumColumns(const Batch& batch) { return const_cast<Batch&>(batch).columns().size(); }

}  // namespace

void CheckWellFormed(const Batch& batch) {
  FUZZ_CHECK(batch.schema() != nullptr, "a batch has a schema");
  const Schema& schema = *batch.schema();
  const size_t rows = batch.num_rows();
  FUZZ_CHECK(NumColumns(batch) == schema.size(), "one column per field");
  for (size_t c = 0; c < schema.size(); ++c) {
    const Column& col = batch.column(c);
    FUZZ_CHECK(col.type == schema.field(c).type, "a column has its field's type");
    FUZZ_CHECK(col.valid.empty() || col.valid.size() == rows, "one validity byte per row");
    switch (col.type) {
      case FieldType::kDouble:
        FUZZ_CHECK(col.doubles.size() == rows, "one double per row");
        FUZZ_CHECK(col.ints.empty() && col.chars.empty(), "a double column holds doubles only");
        break;
      case FieldType::kString:
        FUZZ_CHECK(col.offsets.size() == rows + 1, "one offset per row, and one more");
        FUZZ_CHECK(col.offsets.front() == 0, "offsets start at 0");
        FUZZ_CHECK(col.offsets.back() == col.chars.size(), "offsets end at the chars' size");
        for (size_t r = 0; r < rows; ++r) {
          FUZZ_CHECK(col.offsets[r] <= col.offsets[r + 1], "offsets do not decrease");
        }
        FUZZ_CHECK(col.ints.empty() && col.doubles.empty(), "a string column holds strings only");
        break;
      default:
        FUZZ_CHECK(col.ints.size() == rows, "one int per row");
        FUZZ_CHECK(col.doubles.empty() && col.chars.empty(), "an int column holds ints only");
        break;
    }
  }
}

void CheckSameRow(const Batch& a, size_t a_row, const Batch& b, size_t b_row) {
  FUZZ_CHECK(*a.schema() == *b.schema(), "rows compared under one schema");
  FUZZ_CHECK(a.event_time()[a_row] == b.event_time()[b_row], "same event time");
  for (size_t c = 0; c < NumColumns(a); ++c) {
    const Column& x = a.column(c);
    const Column& y = b.column(c);
    FUZZ_CHECK(x.IsNull(a_row) == y.IsNull(b_row), "same nulls");
    if (x.IsNull(a_row)) continue;
    switch (x.type) {
      case FieldType::kDouble:
        FUZZ_CHECK(std::memcmp(&x.doubles[a_row], &y.doubles[b_row], sizeof(double)) == 0,
                   "same double");
        break;
      case FieldType::kString:
        FUZZ_CHECK(x.StringAt(a_row) == y.StringAt(b_row), "same string");
        break;
      default:
        FUZZ_CHECK(x.ints[a_row] == y.ints[b_row], "same int");
        break;
    }
  }
}

void Touch(const void* data, size_t size) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  unsigned char x = 0;
  for (size_t i = 0; i < size; ++i) x ^= p[i];
  touch_sink = x;
}

}  // namespace sluice::fuzz
