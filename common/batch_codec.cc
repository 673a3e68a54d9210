#include "common/batch_codec.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace sluice {
namespace {

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(T));
}

template <typename T>
void PutArray(std::string* out, const std::vector<T>& v) {
  out->append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  template <typename T>
  bool Get(T* v) {
    if (data_.size() < sizeof(T)) return false;
    std::memcpy(v, data_.data(), sizeof(T));
    data_.remove_prefix(sizeof(T));
    return true;
  }
  template <typename T>
  bool GetArray(size_t n, std::vector<T>* v) {
    if (data_.size() / sizeof(T) < n) return false;
    v->resize(n);
    if (n == 0) return true;  // data() may be null, which memcpy must not get
    std::memcpy(v->data(), data_.data(), n * sizeof(T));
    data_.remove_prefix(n * sizeof(T));
    return true;
  }
  bool GetBytes(size_t n, std::string* s) {
    if (data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
};

constexpr uint32_t kMagic = 0x31424c53;  // "SLB1"
constexpr uint8_t kRowWatermarks = 1;    // tag of the row-watermark section
constexpr uint8_t kJsonFlag = 0x80;      // in a field's type byte: Field::json

}  // namespace

void EncodeBatch(const Batch& batch, std::string* out) {
  const Schema& schema = *batch.schema();
  const uint32_t rows = static_cast<uint32_t>(batch.num_rows());
  Put<uint32_t>(out, kMagic);
  Put<uint32_t>(out, rows);
  Put<uint16_t>(out, static_cast<uint16_t>(schema.size()));
  for (const Field& f : schema.fields()) {
    Put<uint8_t>(out,
                 static_cast<uint8_t>(static_cast<uint8_t>(f.type) | (f.json ? kJsonFlag : 0)));
    Put<uint16_t>(out, static_cast<uint16_t>(f.name.size()));
    out->append(f.name);
  }
  PutArray(out, batch.event_time());
  for (size_t c = 0; c < schema.size(); ++c) {
    const Column& col = batch.column(c);
    Put<uint8_t>(out, col.valid.empty() ? 0 : 1);
    if (!col.valid.empty()) PutArray(out, col.valid);
    switch (col.type) {
      case FieldType::kDouble:
        PutArray(out, col.doubles);
        break;
      case FieldType::kString:
        PutArray(out, col.offsets);
        Put<uint32_t>(out, static_cast<uint32_t>(col.chars.size()));
        out->append(col.chars);
        break;
      default:
        PutArray(out, col.ints);
        break;
    }
  }
  // Optional sections after the columns (older batches end here).
  if (batch.has_row_watermarks()) {
    Put<uint8_t>(out, kRowWatermarks);
    PutArray(out, batch.row_watermarks());
  }
}

absl::StatusOr<Batch> BatchDecoder::Decode(std::string_view data) {
  Reader r(data);
  auto corrupt = [](std::string_view what) {
    return absl::DataLossError(absl::StrCat("corrupt record batch: ", std::string(what)));
  };
  uint32_t magic = 0, rows = 0;
  uint16_t nfields = 0;
  if (!r.Get(&magic) || magic != kMagic) return corrupt("bad magic");
  if (!r.Get(&rows) || !r.Get(&nfields)) return corrupt("truncated header");
  std::vector<Field> fields(nfields);
  for (Field& f : fields) {
    uint8_t type = 0;
    uint16_t len = 0;
    if (!r.Get(&type) || !r.Get(&len) || !r.GetBytes(len, &f.name)) {
      return corrupt("bad field header");
    }
    f.json = (type & kJsonFlag) != 0;
    type &= static_cast<uint8_t>(~kJsonFlag);
    if (type > static_cast<uint8_t>(FieldType::kString) ||
        (f.json && type != static_cast<uint8_t>(FieldType::kString))) {
      return corrupt("bad field header");
    }
    f.type = static_cast<FieldType>(type);
  }
  if (last_schema_ == nullptr || last_schema_->fields() != fields) {
    last_schema_ = std::make_shared<const Schema>(std::move(fields));
  }
  Batch batch(last_schema_);
  if (!r.GetArray(rows, &batch.event_time())) return corrupt("truncated event times");
  for (size_t c = 0; c < batch.columns().size(); ++c) {
    Column& col = batch.column(c);
    uint8_t has_valid = 0;
    if (!r.Get(&has_valid)) return corrupt("truncated column");
    if (has_valid && !r.GetArray(rows, &col.valid)) return corrupt("truncated validity");
    bool ok = true;
    switch (col.type) {
      case FieldType::kDouble:
        ok = r.GetArray(rows, &col.doubles);
        break;
      case FieldType::kString: {
        uint32_t len = 0;
        ok = r.GetArray(rows + 1, &col.offsets) && r.Get(&len) && r.GetBytes(len, &col.chars);
        if (ok) {
          for (size_t i = 0; i < rows; ++i) {
            if (col.offsets[i] > col.offsets[i + 1]) ok = false;
          }
          ok = ok && col.offsets[0] == 0 && col.offsets[rows] == len;
        }
        break;
      }
      default:
        ok = r.GetArray(rows, &col.ints);
        break;
    }
    if (!ok) return corrupt(absl::StrCat("bad column ", c));
  }
  uint8_t tag = 0;
  if (!r.done() && r.Get(&tag)) {
    if (tag != kRowWatermarks || rows == 0 || !r.GetArray(rows, &batch.row_watermarks())) {
      return corrupt("bad row watermarks");
    }
  }
  if (!r.done()) return corrupt("trailing bytes");
  return batch;
}

}  // namespace sluice
