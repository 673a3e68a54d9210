#include "common/batch.h"

namespace sluice {

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kNull:
      return "null";
    case FieldType::kBool:
      return "bool";
    case FieldType::kInt64:
      return "int64";
    case FieldType::kDouble:
      return "double";
    case FieldType::kString:
      return "string";
  }
  return "unknown";
}

int Schema::IndexOf(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

void Column::MarkValid() {
  if (!valid.empty()) valid.push_back(1);
}

void Column::AppendNull() {
  size_t rows = 0;
  switch (type) {
    case FieldType::kDouble:
      rows = doubles.size();
      doubles.push_back(0);
      break;
    case FieldType::kString:
      rows = offsets.size() - 1;
      offsets.push_back(static_cast<uint32_t>(chars.size()));
      break;
    default:
      rows = ints.size();
      ints.push_back(0);
      break;
  }
  if (valid.empty()) valid.assign(rows, 1);
  valid.push_back(0);
}

void Column::AppendInt(int64_t v) {
  ints.push_back(v);
  MarkValid();
}

void Column::AppendDouble(double v) {
  doubles.push_back(v);
  MarkValid();
}

void Column::AppendString(std::string_view v) {
  chars.append(v);
  offsets.push_back(static_cast<uint32_t>(chars.size()));
  MarkValid();
}

void Column::AppendFrom(const Column& src, size_t row) {
  if (src.IsNull(row)) {
    AppendNull();
    return;
  }
  switch (type) {
    case FieldType::kDouble:
      AppendDouble(src.doubles[row]);
      break;
    case FieldType::kString:
      AppendString(src.StringAt(row));
      break;
    default:
      AppendInt(src.ints[row]);
      break;
  }
}

void Column::AppendRows(const Column& src, const std::vector<uint32_t>& rows) {
  if (!src.valid.empty() || !valid.empty()) {
    for (uint32_t r : rows) AppendFrom(src, r);
    return;
  }
  switch (type) {
    case FieldType::kDouble:
      for (uint32_t r : rows) doubles.push_back(src.doubles[r]);
      break;
    case FieldType::kString:
      for (uint32_t r : rows) {
        chars.append(src.chars, src.offsets[r], src.offsets[r + 1] - src.offsets[r]);
        offsets.push_back(static_cast<uint32_t>(chars.size()));
      }
      break;
    default:
      for (uint32_t r : rows) ints.push_back(src.ints[r]);
      break;
  }
}

void Column::Reserve(size_t rows) {
  switch (type) {
    case FieldType::kDouble:
      doubles.reserve(rows);
      break;
    case FieldType::kString:
      offsets.reserve(rows + 1);
      chars.reserve(rows * 12);
      break;
    default:
      ints.reserve(rows);
      break;
  }
}

size_t Column::ByteSize() const {
  return ints.size() * sizeof(int64_t) + doubles.size() * sizeof(double) +
         offsets.size() * sizeof(uint32_t) + chars.size() + valid.size();
}

Batch::Batch(SchemaRef schema) : schema_(std::move(schema)) {
  columns_.resize(schema_->size());
  for (size_t i = 0; i < schema_->size(); ++i) columns_[i].type = schema_->field(i).type;
}

bool Batch::KeepRowWatermarks(const Batch& src) {
  if (src.has_row_watermarks() && (empty() || has_row_watermarks())) return true;
  row_watermarks_.clear();
  return false;
}

void Batch::AppendRowFrom(const Batch& src, size_t row) {
  if (KeepRowWatermarks(src)) row_watermarks_.push_back(src.row_watermarks_[row]);
  for (size_t c = 0; c < columns_.size(); ++c) columns_[c].AppendFrom(src.columns_[c], row);
  event_time_.push_back(src.event_time_[row]);
}

namespace {

// Appends src[r] for each of `rows` to `dst`.
void Gather(const std::vector<int64_t>& src, const std::vector<uint32_t>& rows,
            std::vector<int64_t>& dst) {
  const size_t at = dst.size();
  dst.resize(at + rows.size());
  int64_t* out = dst.data() + at;
  for (size_t i = 0; i < rows.size(); ++i) out[i] = src[rows[i]];
}

}  // namespace

void Batch::AppendRows(const Batch& src, const std::vector<uint32_t>& rows) {
  if (KeepRowWatermarks(src)) Gather(src.row_watermarks_, rows, row_watermarks_);
  for (size_t c = 0; c < columns_.size(); ++c) columns_[c].AppendRows(src.columns_[c], rows);
  Gather(src.event_time_, rows, event_time_);
}

void Batch::AppendRange(const Batch& src, size_t begin, size_t end) {
  if (KeepRowWatermarks(src)) {
    row_watermarks_.insert(row_watermarks_.end(), src.row_watermarks_.begin() + begin,
                           src.row_watermarks_.begin() + end);
  }
  for (size_t c = 0; c < columns_.size(); ++c) {
    Column& dst = columns_[c];
    const Column& from = src.columns_[c];
    if (!from.valid.empty() || !dst.valid.empty()) {
      for (size_t r = begin; r < end; ++r) dst.AppendFrom(from, r);
      continue;
    }
    switch (dst.type) {
      case FieldType::kDouble:
        dst.doubles.insert(dst.doubles.end(), from.doubles.begin() + begin,
                           from.doubles.begin() + end);
        break;
      case FieldType::kString: {
        const uint32_t base = static_cast<uint32_t>(dst.chars.size()) - from.offsets[begin];
        dst.chars.append(from.chars, from.offsets[begin], from.offsets[end] - from.offsets[begin]);
        for (size_t r = begin + 1; r <= end; ++r) dst.offsets.push_back(from.offsets[r] + base);
        break;
      }
      default:
        dst.ints.insert(dst.ints.end(), from.ints.begin() + begin, from.ints.begin() + end);
        break;
    }
  }
  event_time_.insert(event_time_.end(), src.event_time_.begin() + begin,
                     src.event_time_.begin() + end);
}

size_t Batch::ByteSize() const {
  size_t n = (event_time_.size() + row_watermarks_.size()) * sizeof(int64_t);
  for (const auto& c : columns_) n += c.ByteSize();
  return n;
}

void Batch::Reserve(size_t rows) {
  for (auto& c : columns_) c.Reserve(rows);
  event_time_.reserve(rows);
}

BatchBuilder::BatchBuilder(SchemaRef schema)
    : batch_(std::move(schema)), set_(batch_.schema()->size(), 0) {}

void BatchBuilder::SetInt(size_t field, int64_t v) {
  batch_.column(field).AppendInt(v);
  set_[field] = 1;
}

void BatchBuilder::SetDouble(size_t field, double v) {
  batch_.column(field).AppendDouble(v);
  set_[field] = 1;
}

void BatchBuilder::SetBool(size_t field, bool v) { SetInt(field, v ? 1 : 0); }

void BatchBuilder::SetString(size_t field, std::string_view v) {
  batch_.column(field).AppendString(v);
  set_[field] = 1;
}

void BatchBuilder::FinishRow(int64_t event_time) {
  for (size_t f = 0; f < set_.size(); ++f) {
    if (!set_[f]) batch_.column(f).AppendNull();
    set_[f] = 0;
  }
  batch_.event_time().push_back(event_time);
}

Batch BatchBuilder::Take() {
  Batch out = std::move(batch_);
  batch_ = Batch(out.schema());
  return out;
}

}  // namespace sluice
