#include "common/key_encoding.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

enum Tag : uint8_t {
  kTagNull = 0x00,
  kTagBool = 0x01,
  kTagInt64 = 0x02,
  kTagDouble = 0x03,
  kTagString = 0x04,
};

constexpr uint64_t kCanonicalNan = 0x7ff8000000000000ULL;

// The longest part of a field before its string bytes: a tag and a
// 10-byte varint.
constexpr size_t kMaxFieldHead = 11;

void PutFixed64(uint64_t v, char* p) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

uint64_t GetFixed64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return v;
}

size_t PutVarint(uint64_t v, char* p) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  p[n++] = static_cast<char>(v);
  return n;
}

// The int64 `d` equals when it is an exact integer in [-2^63, 2^63).
std::optional<int64_t> ExactInt(double d) {
  if (!(d >= -0x1p63 && d < 0x1p63)) return std::nullopt;  // also NaN
  const int64_t i = static_cast<int64_t>(d);
  if (static_cast<double>(i) != d) return std::nullopt;
  return i;
}

size_t PutInt(int64_t v, char* p) {
  p[0] = static_cast<char>(kTagInt64);
  PutFixed64(static_cast<uint64_t>(v), p + 1);
  return 9;
}

size_t PutDouble(double d, char* p) {
  if (std::optional<int64_t> i = ExactInt(d)) return PutInt(*i, p);
  p[0] = static_cast<char>(kTagDouble);
  PutFixed64(std::isnan(d) ? kCanonicalNan : std::bit_cast<uint64_t>(d), p + 1);
  return 9;
}

// Writes the bytes of `v` that precede its string bytes (all of them for
// the other types) to `p`, which has room for kMaxFieldHead; returns their
// count.
size_t PutFieldHead(const KeyValue& v, char* p) {
  switch (v.type) {
    case FieldType::kBool:
      p[0] = static_cast<char>(kTagBool);
      p[1] = v.int_value != 0 ? 1 : 0;
      return 2;
    case FieldType::kInt64:
      return PutInt(v.int_value, p);
    case FieldType::kDouble:
      return PutDouble(v.double_value, p);
    case FieldType::kString:
      p[0] = static_cast<char>(kTagString);
      return 1 + PutVarint(v.string_value.size(), p + 1);
    case FieldType::kNull:
      break;
  }
  p[0] = static_cast<char>(kTagNull);
  return 1;
}

char* PutField(const KeyValue& v, char* p) {
  p += PutFieldHead(v, p);
  if (v.type == FieldType::kString && !v.string_value.empty()) {
    std::memcpy(p, v.string_value.data(), v.string_value.size());
    p += v.string_value.size();
  }
  return p;
}

// Room to reserve for a field: exact for strings' bytes, a bound for the rest.
size_t FieldBound(const KeyValue& v) {
  return kMaxFieldHead + (v.type == FieldType::kString ? v.string_value.size() : 0);
}

absl::Status Malformed(std::string_view key, size_t field, size_t offset, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("malformed key (", key.size(), " bytes): field ",
                                                 field, " at byte ", offset, ": ", what));
}

}  // namespace

void EncodeKey(std::span<const KeyValue> values, std::string* out) {
  size_t bound = 1;
  for (const KeyValue& v : values) bound += FieldBound(v);
  out->resize(bound);
  char* p = out->data();
  *p++ = static_cast<char>(kKeyEncodingVersion);
  for (const KeyValue& v : values) p = PutField(v, p);
  out->resize(static_cast<size_t>(p - out->data()));
}

absl::Status DecodeKey(std::string_view key, size_t num_fields, std::vector<KeyValue>* values) {
  values->clear();
  if (key.empty()) return absl::InvalidArgumentError("malformed key: empty, expected a version");
  const uint8_t version = static_cast<uint8_t>(key[0]);
  if (version != kKeyEncodingVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("key encoding version 0x", absl::Hex(version, absl::kZeroPad2),
                     " is unknown; this build reads version ", kKeyEncodingVersion));
  }
  size_t pos = 1;
  while (pos < key.size()) {
    const size_t field = values->size();
    if (field == num_fields) {
      return Malformed(key, field, pos, absl::StrCat("expected only ", num_fields, " fields"));
    }
    const size_t start = pos;
    const uint8_t tag = static_cast<uint8_t>(key[pos++]);
    const size_t left = key.size() - pos;
    switch (tag) {
      case kTagNull:
        values->push_back(KeyValue::Null());
        break;
      case kTagBool: {
        if (left < 1) return Malformed(key, field, start, "truncated bool");
        const uint8_t b = static_cast<uint8_t>(key[pos++]);
        if (b > 1) return Malformed(key, field, start, absl::StrCat("bool byte is ", b));
        values->push_back(KeyValue::Bool(b == 1));
        break;
      }
      case kTagInt64:
        if (left < 8) return Malformed(key, field, start, "truncated int64");
        values->push_back(KeyValue::Int(static_cast<int64_t>(GetFixed64(key.data() + pos))));
        pos += 8;
        break;
      case kTagDouble: {
        if (left < 8) return Malformed(key, field, start, "truncated double");
        const uint64_t bits = GetFixed64(key.data() + pos);
        pos += 8;
        const double d = std::bit_cast<double>(bits);
        if (std::isnan(d) && bits != kCanonicalNan) {
          return Malformed(key, field, start, "NaN is not the canonical NaN");
        }
        if (ExactInt(d).has_value()) {
          return Malformed(key, field, start, "integral double not encoded as int64");
        }
        values->push_back(KeyValue::Double(d));
        break;
      }
      case kTagString: {
        uint64_t len = 0;
        for (int shift = 0;; shift += 7) {
          if (pos == key.size()) return Malformed(key, field, start, "truncated string length");
          if (shift > 63) return Malformed(key, field, start, "string length overflows 64 bits");
          const uint8_t b = static_cast<uint8_t>(key[pos++]);
          if (shift == 63 && b > 1) {
            return Malformed(key, field, start, "string length overflows 64 bits");
          }
          len |= uint64_t{b & 0x7fu} << shift;
          if ((b & 0x80) == 0) {
            if (b == 0 && shift > 0) {
              return Malformed(key, field, start, "string length is not minimally encoded");
            }
            break;
          }
        }
        if (len > key.size() - pos) return Malformed(key, field, start, "truncated string");
        values->push_back(KeyValue::String(key.substr(pos, len)));
        pos += len;
        break;
      }
      default:
        return Malformed(key, field, start,
                         absl::StrCat("unknown type tag 0x", absl::Hex(tag, absl::kZeroPad2)));
    }
  }
  if (values->size() != num_fields) {
    return Malformed(key, values->size(), pos,
                     absl::StrCat("truncated: expected ", num_fields, " fields"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<KeyValue>> DecodeKey(std::string_view key, size_t num_fields) {
  std::vector<KeyValue> values;
  if (absl::Status s = DecodeKey(key, num_fields, &values); !s.ok()) return s;
  return values;
}

KeyEncoder::KeyEncoder(const Schema& schema, std::vector<int> columns) {
  columns_.reserve(columns.size());
  for (int c : columns) {
    const bool present = c >= 0 && static_cast<size_t>(c) < schema.size() &&
                         schema.field(c).type != FieldType::kNull;
    columns_.push_back(present ? KeyColumn{c, schema.field(c).type}
                               : KeyColumn{-1, FieldType::kNull});
  }
}

KeyValue KeyEncoder::ValueAt(const KeyColumn& k, const Batch& batch, size_t row) {
  if (k.column < 0) return KeyValue::Null();
  const Column& col = batch.column(k.column);
  if (col.IsNull(row)) return KeyValue::Null();
  switch (k.type) {
    case FieldType::kBool:
      return KeyValue::Bool(col.ints[row] != 0);
    case FieldType::kInt64:
      return KeyValue::Int(col.ints[row]);
    case FieldType::kDouble:
      return KeyValue::Double(col.doubles[row]);
    case FieldType::kString:
      return KeyValue::String(col.StringAt(row));
    case FieldType::kNull:
      break;
  }
  return KeyValue::Null();
}

char* KeyEncoder::WriteKey(const Batch& batch, size_t row, char* p) const {
  *p++ = static_cast<char>(kKeyEncodingVersion);
  for (const KeyColumn& k : columns_) p = PutField(ValueAt(k, batch, row), p);
  return p;
}

void KeyEncoder::Encode(const Batch& batch, size_t row, std::string* out) const {
  size_t bound = 1;
  for (const KeyColumn& k : columns_) bound += FieldBound(ValueAt(k, batch, row));
  out->resize(bound);
  char* end = WriteKey(batch, row, out->data());
  out->resize(static_cast<size_t>(end - out->data()));
}

char* BatchKeys::Reserve(size_t bytes) {
  if (bytes > capacity_) {
    capacity_ = std::max(bytes, 2 * capacity_);
    bytes_.reset(new char[capacity_]);
  }
  return bytes_.get();
}

void KeyEncoder::EncodeRows(const Batch& batch, BatchKeys* keys) const {
  const size_t rows = batch.num_rows();
  // One bound for the whole batch: every row's fields at their longest, plus
  // all string bytes of the key columns.
  size_t bound = rows * (1 + columns_.size() * kMaxFieldHead);
  for (const KeyColumn& k : columns_) {
    if (k.type == FieldType::kString) bound += batch.column(k.column).chars.size();
  }
  keys->starts_.resize(rows + 1);
  size_t* const starts = keys->starts_.data();
  char* const base = keys->Reserve(bound);
  char* p = base;
  const Column* only =
      columns_.size() == 1 && columns_[0].column >= 0 ? &batch.column(columns_[0].column) : nullptr;
  if (only != nullptr && only->valid.empty() && columns_[0].type == FieldType::kString) {
    // The common case, written out: one string key that is never null.
    const uint32_t* offsets = only->offsets.data();
    const char* chars = only->chars.data();
    for (size_t r = 0; r < rows; ++r) {
      const size_t len = offsets[r + 1] - offsets[r];
      *p++ = static_cast<char>(kKeyEncodingVersion);
      *p++ = static_cast<char>(kTagString);
      if (len < 0x80) {
        *p++ = static_cast<char>(len);
      } else {
        p += PutVarint(len, p);
      }
      std::memcpy(p, chars + offsets[r], len);
      p += len;
      starts[r + 1] = static_cast<size_t>(p - base);
    }
    return;
  }
  if (only != nullptr && only->valid.empty() && columns_[0].type == FieldType::kInt64) {
    for (size_t r = 0; r < rows; ++r) {
      *p++ = static_cast<char>(kKeyEncodingVersion);
      p += PutInt(only->ints[r], p);
      starts[r + 1] = static_cast<size_t>(p - base);
    }
    return;
  }
  for (size_t r = 0; r < rows; ++r) {
    p = WriteKey(batch, r, p);
    starts[r + 1] = static_cast<size_t>(p - base);
  }
}

}  // namespace sluice
