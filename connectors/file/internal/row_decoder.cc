#include "connectors/file/internal/row_decoder.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "catalog/operator.h"

namespace sluice::internal {
namespace {

// Event times beyond this many ms from the epoch (about 285,000 years) are
// out of range: arithmetic on them (window ends, watermarks) could overflow.
constexpr int64_t kMaxEventTimeMs = 9'000'000'000'000'000;

// Debian's Abseil has its own string_view, which StrCat wants.
absl::string_view Abseil(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string_view KindName(JsonKind kind) {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kBool:
      return "boolean";
    case JsonKind::kInt:
      return "int64";
    case JsonKind::kUInt:
    case JsonKind::kDouble:
      return "number";
    case JsonKind::kString:
      return "string";
    case JsonKind::kObject:
      return "object";
    case JsonKind::kArray:
      return "array";
  }
  return "unknown";
}

// The column type an inferred schema gives a new field.
FieldType InferredType(JsonKind kind) {
  switch (kind) {
    case JsonKind::kBool:
      return FieldType::kBool;
    case JsonKind::kInt:
      return FieldType::kInt64;
    case JsonKind::kUInt:
    case JsonKind::kDouble:
      return FieldType::kDouble;
    default:
      return FieldType::kString;  // strings, and nested values as JSON text
  }
}

}  // namespace

RowDecoder::RowDecoder(std::vector<Field> declared, std::string event_time_field,
                       TimeUnitScale unit)
    : declared_(!declared.empty()), unit_(unit), event_time_field_(std::move(event_time_field)) {
  SetSchema(std::move(declared));
  for (size_t c = 0; c < schema_->size(); ++c) {
    if (FindKey(schema_->field(c).name) < 0) AddKey(schema_->field(c).name, static_cast<int>(c));
  }
  int k = FindKey(event_time_field_);
  if (k < 0) k = AddKey(event_time_field_, kIgnored);
  keys_[k].is_event_time = true;
}

int RowDecoder::FindKey(std::string_view name) {
  auto it = key_index_.find(absl::string_view(name.data(), name.size()));
  return it == key_index_.end() ? -1 : it->second;
}

int RowDecoder::AddKey(std::string_view name, int column) {
  const int k = static_cast<int>(keys_.size());
  keys_.push_back({std::string(name), column, false});
  key_index_.emplace(std::string(name), k);
  return k;
}

void RowDecoder::SetSchema(std::vector<Field> fields) {
  schema_ = std::make_shared<const Schema>(std::move(fields));
  slot_.resize(schema_->size(), -1);
  row_bytes_bound_ = 2 * sizeof(int64_t);  // event time, row watermark
  for (const Field& f : schema_->fields()) {
    // A value (or a string's offset), and a validity byte once there are nulls.
    row_bytes_bound_ += (f.type == FieldType::kString ? sizeof(uint32_t) : sizeof(int64_t)) + 1;
  }
  StartBatch();
}

void RowDecoder::StartBatch() {
  batch_ = Batch(schema_);
  batch_.Reserve(kTargetBatchRows);
  byte_size_bound_ = batch_.ByteSize();
}

Batch RowDecoder::Take() {
  Batch out = std::move(batch_);
  StartBatch();
  return out;
}

bool RowDecoder::ByteSizeAtLeast(size_t bytes) const {
  return byte_size_bound_ >= bytes && batch_.ByteSize() >= bytes;
}

void RowDecoder::ClearSlots(const std::vector<JsonField>& fields) {
  for (size_t f = 0; f < fields.size(); ++f) {
    if (target_[f] >= 0) slot_[target_[f]] = -1;
  }
}

RowDecoder::Outcome RowDecoder::Reject(const std::vector<JsonField>& fields, std::string reason,
                                       std::string* out) {
  ClearSlots(fields);
  *out = std::move(reason);
  return Outcome::kRejected;
}

bool RowDecoder::Check(int c, const JsonField& field, std::string* reason) {
  const FieldType want = schema_->field(c).type;
  const JsonKind kind = field.value.kind;
  if (kind == JsonKind::kNull) return true;
  switch (want) {
    case FieldType::kInt64:
      if (kind == JsonKind::kInt) return true;
      if (kind == JsonKind::kDouble || kind == JsonKind::kUInt) {
        if (!declared_) {
          widened_.push_back(c);
          return true;
        }
        if (kind == JsonKind::kUInt) {
          *reason = absl::StrCat("field '", Abseil(field.key), "': ", field.value.u,
                                 " is outside the int64 range");
          return false;
        }
      }
      break;
    case FieldType::kDouble:
      if (kind == JsonKind::kInt || kind == JsonKind::kUInt || kind == JsonKind::kDouble) {
        return true;
      }
      break;
    case FieldType::kBool:
      if (kind == JsonKind::kBool) return true;
      break;
    case FieldType::kString:
      if (kind == JsonKind::kString || kind == JsonKind::kObject || kind == JsonKind::kArray) {
        return true;
      }
      break;
    case FieldType::kNull:
      break;
  }
  *reason = absl::StrCat("field '", Abseil(field.key), "': expected ", Abseil(FieldTypeName(want)),
                         ", got ", Abseil(KindName(kind)));
  return false;
}

void RowDecoder::Append(int c, const JsonValue& v) {
  Column& col = batch_.column(c);
  if (v.kind == JsonKind::kNull) {
    col.AppendNull();
    return;
  }
  switch (col.type) {
    case FieldType::kInt64:
      col.AppendInt(v.i);
      break;
    case FieldType::kBool:
      col.AppendInt(v.b ? 1 : 0);
      break;
    case FieldType::kDouble:
      col.AppendDouble(v.kind == JsonKind::kDouble ? v.d
                       : v.kind == JsonKind::kInt  ? static_cast<double>(v.i)
                                                   : static_cast<double>(v.u));
      break;
    case FieldType::kString:
      col.AppendString(v.text);
      byte_size_bound_ += v.text.size();
      break;
    case FieldType::kNull:
      col.AppendNull();
      break;
  }
}

RowDecoder::Outcome RowDecoder::Add(const std::vector<JsonField>& fields, int64_t watermark,
                                    std::string* reason) {
  const size_t n = fields.size();
  target_.resize(n);
  new_fields_.clear();
  widened_.clear();
  int time_field = -1;

  // An inferred schema gains a field for a key it does not know, unless its
  // value is null. Of duplicate keys, the last one counts.
  auto new_field = [&](size_t f) {
    if (declared_ || fields[f].value.kind == JsonKind::kNull) {
      target_[f] = kIgnored;
      return;
    }
    for (size_t i = 0; i < new_fields_.size(); ++i) {
      if (fields[new_fields_[i]].key == fields[f].key) {
        target_[new_fields_[i]] = kIgnored;
        new_fields_[i] = static_cast<int>(f);
        target_[f] = kNewField - static_cast<int>(i);
        return;
      }
    }
    target_[f] = kNewField - static_cast<int>(new_fields_.size());
    new_fields_.push_back(static_cast<int>(f));
  };

  for (size_t f = 0; f < n; ++f) {
    const std::string_view key = fields[f].key;
    int k = -1;
    if (f < previous_keys_.size() && previous_keys_[f] >= 0 &&
        keys_[previous_keys_[f]].name == key) {
      k = previous_keys_[f];
    } else {
      k = FindKey(key);
      if (k < 0 && declared_ && ignored_keys_ < kMaxIgnoredKeys) {
        k = AddKey(key, kIgnored);
        ++ignored_keys_;
      }
      if (f < previous_keys_.size()) {
        previous_keys_[f] = k;
      } else {
        previous_keys_.push_back(k);
      }
    }
    if (k < 0) {
      new_field(f);
      continue;
    }
    const Key& entry = keys_[k];
    if (entry.is_event_time) time_field = static_cast<int>(f);
    const int c = entry.column;
    if (c < 0) {
      new_field(f);
      continue;
    }
    if (slot_[c] >= 0) target_[slot_[c]] = kIgnored;
    slot_[c] = static_cast<int>(f);
    target_[f] = c;
  }

  // The event time.
  if (time_field < 0 || fields[time_field].value.kind == JsonKind::kNull) {
    return Reject(fields, absl::StrCat("missing event-time field '", event_time_field_, "'"),
                  reason);
  }
  const JsonValue& t = fields[time_field].value;
  int64_t ts = 0;
  bool in_range = true;
  switch (t.kind) {
    case JsonKind::kInt: {
      const TimeUnitScale unit =
          unit_.automatic ? UnitForMagnitude(std::fabs(static_cast<double>(t.i))) : unit_;
      int64_t scaled = 0;
      in_range = !__builtin_mul_overflow(t.i, unit.num, &scaled);
      ts = in_range ? scaled / unit.den : 0;
      break;
    }
    case JsonKind::kDouble: {
      const TimeUnitScale unit = unit_.automatic ? UnitForMagnitude(std::fabs(t.d)) : unit_;
      const double ms =
          std::floor(t.d * static_cast<double>(unit.num) / static_cast<double>(unit.den));
      in_range = std::isfinite(ms) && std::fabs(ms) <= static_cast<double>(kMaxEventTimeMs);
      ts = in_range ? static_cast<int64_t>(ms) : 0;
      break;
    }
    case JsonKind::kUInt:
      in_range = false;
      break;
    case JsonKind::kString: {
      absl::StatusOr<int64_t> parsed = ParseTimestampMs(t.text);
      if (!parsed.ok()) {
        return Reject(fields,
                      absl::StrCat("event-time field '", event_time_field_,
                                   "' is neither a number nor an RFC 3339 time such as "
                                   "2026-01-01T00:00:00Z"),
                      reason);
      }
      ts = *parsed;
      break;
    }
    default:
      return Reject(fields,
                    absl::StrCat("event-time field '", event_time_field_,
                                 "' is neither a number nor an RFC 3339 time"),
                    reason);
  }
  if (!in_range || ts < -kMaxEventTimeMs || ts > kMaxEventTimeMs) {
    return Reject(
        fields, absl::StrCat("event-time field '", event_time_field_, "' is out of range"), reason);
  }
  if (bounds_.min_ms.has_value() && ts < *bounds_.min_ms) {
    return Reject(fields,
                  absl::StrCat("event time ", FormatTimestampMs(ts), " is before min_time ",
                               FormatTimestampMs(*bounds_.min_ms)),
                  reason);
  }
  // ts and now_ms_ are within 9e15 and the bounds within 1e15 (validated):
  // no overflow.
  const auto off_clock = [&](int64_t bound, const char* side, const char* setting) {
    return absl::StrCat("event time ", FormatTimestampMs(ts), " is more than ",
                        FormatDurationMs(bound), " ", side, " the processing clock (", setting,
                        "; it read ", FormatTimestampMs(now_ms_), ")");
  };
  if (bounds_.max_future_ms.has_value() && ts - now_ms_ > *bounds_.max_future_ms) {
    return Reject(fields, off_clock(*bounds_.max_future_ms, "ahead of", "max_future"), reason);
  }
  if (bounds_.max_past_ms.has_value() && now_ms_ - ts > *bounds_.max_past_ms) {
    return Reject(fields, off_clock(*bounds_.max_past_ms, "behind", "max_past"), reason);
  }

  // Types, in document order. A numeric event-time column holds the
  // normalized epoch ms, whatever the line's spelling.
  const auto normalized = [&](int f, int c) {
    const FieldType type = schema_->field(c).type;
    return f == time_field && (type == FieldType::kInt64 || type == FieldType::kDouble);
  };
  for (size_t f = 0; f < n; ++f) {
    const int c = target_[f];
    if (c >= 0 && !normalized(static_cast<int>(f), c) && !Check(c, fields[f], reason)) {
      return Reject(fields, std::move(*reason), reason);
    }
  }

  // A schema change starts a new batch.
  if (!new_fields_.empty() || !widened_.empty()) {
    if (batch_.num_rows() > 0) {
      ClearSlots(fields);
      return Outcome::kNeedsFlush;
    }
    std::vector<Field> grown = schema_->fields();
    for (int c : widened_) grown[c].type = FieldType::kDouble;
    for (int f : new_fields_) {
      const int c = static_cast<int>(grown.size());
      const std::string_view key = fields[f].key;
      grown.push_back({std::string(key),
                       f == time_field ? FieldType::kInt64 : InferredType(fields[f].value.kind)});
      const int k = FindKey(key);
      if (k >= 0) {
        keys_[k].column = c;  // the event-time field, seen for the first time
      } else {
        AddKey(key, c);
      }
      target_[f] = c;
    }
    SetSchema(std::move(grown));
    for (int f : new_fields_) slot_[target_[f]] = f;
  }

  const size_t columns = schema_->size();
  for (size_t c = 0; c < columns; ++c) {
    const int f = slot_[c];
    if (f < 0) {
      batch_.column(c).AppendNull();
      continue;
    }
    slot_[c] = -1;
    if (normalized(f, static_cast<int>(c))) {
      JsonValue ms;
      ms.kind = JsonKind::kInt;
      ms.i = ts;
      Append(static_cast<int>(c), ms);
    } else {
      Append(static_cast<int>(c), fields[f].value);
    }
  }
  batch_.event_time().push_back(ts);
  batch_.row_watermarks().push_back(watermark);
  byte_size_bound_ += row_bytes_bound_;
  last_event_time_ = ts;
  return Outcome::kAppended;
}

}  // namespace sluice::internal
