#include "common/key_encoding.h"

#include <cstring>

namespace sluice {

KeyEncoder::KeyEncoder(const Schema& schema, std::vector<int> columns)
    : columns_(std::move(columns)) {
  for (int c : columns_) types_.push_back(c >= 0 ? schema.field(c).type : FieldType::kNull);
  raw_string_ = types_.size() == 1 && types_[0] == FieldType::kString;
}

void KeyEncoder::Encode(const Batch& batch, size_t row, std::string* out) const {
  out->clear();
  if (raw_string_) {
    const Column& col = batch.column(columns_[0]);
    // A null string key and "" collide; keys are rarely null, and both read back as "".
    if (!col.IsNull(row)) out->append(col.StringAt(row));
    return;
  }
  for (size_t k = 0; k < columns_.size(); ++k) {
    if (columns_[k] < 0 || batch.column(columns_[k]).IsNull(row)) {
      out->push_back(0);
      continue;
    }
    const Column& col = batch.column(columns_[k]);
    out->push_back(1);
    switch (types_[k]) {
      case FieldType::kDouble:
        out->append(reinterpret_cast<const char*>(&col.doubles[row]), 8);
        break;
      case FieldType::kString: {
        std::string_view s = col.StringAt(row);
        uint32_t len = static_cast<uint32_t>(s.size());
        out->append(reinterpret_cast<const char*>(&len), 4);
        out->append(s);
        break;
      }
      default:
        out->append(reinterpret_cast<const char*>(&col.ints[row]), 8);
        break;
    }
  }
}

std::string_view KeyEncoder::View(const Batch& batch, size_t row, std::string* scratch) const {
  if (raw_string_) {
    const Column& col = batch.column(columns_[0]);
    return col.IsNull(row) ? std::string_view() : col.StringAt(row);
  }
  Encode(batch, row, scratch);
  return *scratch;
}

void KeyEncoder::Decode(std::string_view key, std::vector<Column*>& dest) const {
  if (raw_string_) {
    dest[0]->AppendString(key);
    return;
  }
  size_t pos = 0;
  for (size_t k = 0; k < columns_.size(); ++k) {
    if (key[pos++] == 0) {
      dest[k]->AppendNull();
      continue;
    }
    switch (types_[k]) {
      case FieldType::kDouble: {
        double d;
        std::memcpy(&d, key.data() + pos, 8);
        pos += 8;
        dest[k]->AppendDouble(d);
        break;
      }
      case FieldType::kString: {
        uint32_t len;
        std::memcpy(&len, key.data() + pos, 4);
        pos += 4;
        dest[k]->AppendString(key.substr(pos, len));
        pos += len;
        break;
      }
      default: {
        int64_t v;
        std::memcpy(&v, key.data() + pos, 8);
        pos += 8;
        dest[k]->AppendInt(v);
        break;
      }
    }
  }
}

}  // namespace sluice
