#pragma once

// Binary encoding of a Batch as one contiguous buffer (carried in the
// `bytes` field of proto DataFrame). Layout, all little-endian:
//   "SLB1" | u32 rows | u16 fields | per field: u8 type, u16 len, name
//   | i64 event_time[rows] | per column: u8 has_validity, [u8 valid[rows]],
//   values (i64[rows] | f64[rows] | u32 offsets[rows+1], u32 len, chars)
//   | optional sections: u8 tag, then its data (tag 1: i64 row_watermarks[rows]).
// A field's type byte has its top bit set when the field is JSON text
// (Field::json).

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/batch.h"

namespace sluice {

// Appends the encoding of `batch` to `out`.
void EncodeBatch(const Batch& batch, std::string* out);

// Decodes batches, reusing the previous Schema object when the next batch has
// an equal one (so downstream operators can compare schemas by pointer).
// Not thread-safe; one decoder per channel.
class BatchDecoder {
 public:
  absl::StatusOr<Batch> Decode(std::string_view data);

 private:
  SchemaRef last_schema_;
};

}  // namespace sluice
