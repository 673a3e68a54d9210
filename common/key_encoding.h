#pragma once

// Canonical encoding of a row's key fields into bytes: the identity of a key
// in keyed state and the input of keyed routing (StableHash of these bytes,
// common/key_group.h). Keyed state will persist these bytes (prefixed by key
// group), so the format below is a contract: change it only by adding a new
// version.
//
// The bytes depend only on the key's values, never on the schema of the batch
// they came from: a field missing from the schema and a null value encode
// alike, and field order in the schema does not matter (the key's field order
// does).
//
// Format, version 1:
//
//   key     := version field*          one field per key field, in key order
//                                      (the count is not stored: readers know
//                                      their key fields)
//   version := 0x01
//   field   := 0x00                    null (a null value or a missing field)
//            | 0x01 b                  bool: b is 0x00 (false) or 0x01 (true)
//            | 0x02 i[8]               int64: two's complement, little-endian
//            | 0x03 d[8]               double: IEEE-754 bits, little-endian
//            | 0x04 len s[len]         string: len is a varint, s the bytes
//                                      as they are (no UTF-8 check)
//   varint  := unsigned LEB128: 7 bits per byte, least significant group
//              first, high bit set on every byte but the last
//
// Canonical forms, so that equal values always have equal bytes:
//   - A double that is an exact integer within int64 range ([-2^63, 2^63))
//     is encoded as that int64: 5.0 and 5 are one key, and so are -0.0 and 0.
//     Tag 0x03 holds only the other doubles (fractions, infinities, NaN,
//     magnitudes of 2^63 and beyond).
//   - Every NaN is encoded as the bits 0x7ff8000000000000.
//   - A varint has minimal length: its last byte is 0x00 only when it is its
//     only byte.
// A bool is not a number: true and 1 are different keys, as are "1" and 1.
//
// Examples:
//   "ab"            01 04 02 61 62
//   -1              01 02 ff ff ff ff ff ff ff ff
//   2.5             01 03 00 00 00 00 00 00 04 40
//   (true, null)    01 01 01 00
//
// Decoding checks every length against the input and accepts only canonical
// encodings of version 1 with the expected number of fields: anything else
// is an InvalidArgument error, never an out-of-bounds read. So a key that
// decodes re-encodes to the same bytes.
//
// Thread safety: KeyEncoder is immutable after construction; concurrent calls
// with distinct output strings or BatchKeys are safe.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch.h"

namespace sluice {

inline constexpr uint8_t kKeyEncodingVersion = 0x01;

// One decoded key field. `type` is kNull, kBool, kInt64, kDouble or kString;
// a string value points into the bytes it was decoded from.
struct KeyValue {
  FieldType type = FieldType::kNull;
  int64_t int_value = 0;  // kInt64; kBool as 0 or 1
  double double_value = 0;
  std::string_view string_value;

  static KeyValue Null() { return {}; }
  static KeyValue Bool(bool v) { return {FieldType::kBool, v ? 1 : 0, 0, {}}; }
  static KeyValue Int(int64_t v) { return {FieldType::kInt64, v, 0, {}}; }
  static KeyValue Double(double v) { return {FieldType::kDouble, 0, v, {}}; }
  static KeyValue String(std::string_view v) { return {FieldType::kString, 0, 0, v}; }

  bool operator==(const KeyValue&) const = default;
};

// Overwrites `out` with the canonical encoding of `values` (a double that is
// an exact integer becomes an int64, as above).
void EncodeKey(std::span<const KeyValue> values, std::string* out);

// Decodes `key`, which must hold exactly `num_fields` fields (the key's field
// count is not encoded: its reader knows its key fields), into `values`
// (cleared first). String values point into `key`. On error `values` is
// unspecified.
absl::Status DecodeKey(std::string_view key, size_t num_fields, std::vector<KeyValue>* values);
absl::StatusOr<std::vector<KeyValue>> DecodeKey(std::string_view key, size_t num_fields);

// The keys of every row of one batch, encoded back to back. Reuse one
// instance across batches: its buffers then stop growing.
class BatchKeys {
 public:
  size_t size() const { return starts_.size() - 1; }
  // The key of `row`, valid until the next KeyEncoder::EncodeRows into this.
  std::string_view operator[](size_t row) const {
    return std::string_view(bytes_.get() + starts_[row], starts_[row + 1] - starts_[row]);
  }

 private:
  friend class KeyEncoder;
  // Room for at least `bytes`; what it held is not kept (and not zeroed).
  char* Reserve(size_t bytes);

  std::unique_ptr<char[]> bytes_;
  size_t capacity_ = 0;
  std::vector<size_t> starts_{0};  // size() + 1 entries
};

// Encodes the key fields of rows of batches of one schema (the one given at
// construction). Per-schema work (which columns, which types) is done once
// here; encoding does not allocate once the output buffers have grown to size.
class KeyEncoder {
 public:
  // `columns` are indexes into `schema`, in key order; -1 marks a key field
  // the schema lacks (always null).
  KeyEncoder(const Schema& schema, std::vector<int> columns);

  // Overwrites `out` with the key of `row`.
  void Encode(const Batch& batch, size_t row, std::string* out) const;
  // The key of `row`, encoded into `scratch`; valid while `scratch` is
  // unchanged.
  std::string_view View(const Batch& batch, size_t row, std::string* scratch) const {
    Encode(batch, row, scratch);
    return *scratch;
  }
  // Overwrites `keys` with the keys of every row of `batch`. Prefer this to
  // View in a loop that looks every key up in a large hash table: measured
  // with the window's hash table, lookups of keys re-encoded into the same
  // scratch string on every row took about twice as long as lookups of keys
  // that stay put.
  void EncodeRows(const Batch& batch, BatchKeys* keys) const;

 private:
  struct KeyColumn {
    int column;  // -1 when the field is always null
    FieldType type;
  };

  static KeyValue ValueAt(const KeyColumn& k, const Batch& batch, size_t row);
  // Writes the key of `row` at `p`, which has room for it; returns its end.
  char* WriteKey(const Batch& batch, size_t row, char* p) const;

  std::vector<KeyColumn> columns_;
};

}  // namespace sluice
