#pragma once

// Encoding of a row's key fields into bytes: the identity of a key in keyed
// state and the input of keyed routing (StableHash of these bytes).
// A single string key is encoded as its raw bytes; otherwise each field is a
// type tag followed by its value (length-prefixed for strings).

#include <string>
#include <vector>

#include "common/batch.h"

namespace sluice {

class KeyEncoder {
 public:
  // `columns` are indexes into the schema the batches will have.
  KeyEncoder(const Schema& schema, std::vector<int> columns);

  // Overwrites `out` with the key of `row`.
  void Encode(const Batch& batch, size_t row, std::string* out) const;
  // The key of `row`: a view into the batch for a single string key (no
  // copy), else encoded into `scratch`. Valid while both are unchanged.
  std::string_view View(const Batch& batch, size_t row, std::string* scratch) const;

  // Appends the key fields decoded from `key` to `dest` (columns of the key
  // field types, in key order).
  void Decode(std::string_view key, std::vector<Column*>& dest) const;

 private:
  std::vector<int> columns_;
  std::vector<FieldType> types_;
  bool raw_string_ = false;
};

}  // namespace sluice
