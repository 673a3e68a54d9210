#include "common/json.h"

#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace sluice {

std::string FormatDouble(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  std::string s(buf, end);
  // Keep doubles recognisable as such: 21 -> 21.0.
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";
  return s;
}

void AppendJsonString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out->append(buf);
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonLine(const Batch& batch, size_t row, std::string* out) {
  const Schema& schema = *batch.schema();
  out->push_back('{');
  for (size_t c = 0; c < schema.size(); ++c) {
    if (c > 0) out->push_back(',');
    AppendJsonString(schema.field(c).name, out);
    out->push_back(':');
    const Column& col = batch.column(c);
    if (col.IsNull(row)) {
      out->append("null");
      continue;
    }
    switch (col.type) {
      case FieldType::kInt64:
        absl::StrAppend(out, col.ints[row]);
        break;
      case FieldType::kBool:
        out->append(col.ints[row] ? "true" : "false");
        break;
      case FieldType::kDouble:
        out->append(FormatDouble(col.doubles[row]));
        break;
      case FieldType::kString:
        AppendJsonString(col.StringAt(row), out);
        break;
      case FieldType::kNull:
        out->append("null");
        break;
    }
  }
  out->append("}\n");
}

}  // namespace sluice
