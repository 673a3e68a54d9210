#include "connectors/file/internal/json_line_parser.h"

#include <string>
#include <utility>

#include "simdjson.h"

namespace sluice::internal {

namespace ondemand = simdjson::ondemand;

static_assert(JsonLineParser::kPadding >= simdjson::SIMDJSON_PADDING);
static_assert(JsonLineParser::kMaxDepth == simdjson::DEFAULT_MAX_DEPTH);

namespace {

JsonLineError FromSimdjson(simdjson::error_code err) {
  switch (err) {
    case simdjson::DEPTH_ERROR:
      return JsonLineError::kTooDeep;
    case simdjson::UTF8_ERROR:
      return JsonLineError::kNotUtf8;
    default:
      return JsonLineError::kInvalid;
  }
}

}  // namespace

struct JsonLineParser::Impl {
  ondemand::parser parser{simdjson::SIMDJSON_MAXSIZE_BYTES};
  // Validates what on-demand parsing only skips over: nested values and
  // documents that are not objects.
  simdjson::dom::parser validator{simdjson::SIMDJSON_MAXSIZE_BYTES};
  // Compact text of the current line's nested values; fields refer to it by
  // offset until the line is done, since it may grow.
  std::string nested;
  std::vector<std::pair<size_t, size_t>> nested_spans;  // per field: offset, size

  JsonLineError Validate(const char* data, size_t size) {
    simdjson::error_code err = validator.parse(data, size, /*realloc_if_needed=*/false).error();
    return err == simdjson::SUCCESS ? JsonLineError::kNone : FromSimdjson(err);
  }

  // Validates the nested value `raw` (inside a padded line) and keeps its
  // compact text for field number `field`.
  JsonLineError KeepNested(std::string_view raw, size_t field) {
    if (JsonLineError e = Validate(raw.data(), raw.size()); e != JsonLineError::kNone) return e;
    const size_t at = nested.size();
    nested.resize(at + raw.size());
    size_t size = 0;
    if (simdjson::minify(raw.data(), raw.size(), nested.data() + at, size) != simdjson::SUCCESS) {
      return JsonLineError::kInvalid;
    }
    nested.resize(at + size);
    nested_spans.resize(field + 1, {0, 0});
    nested_spans[field] = {at, size};
    return JsonLineError::kNone;
  }
};

JsonLineParser::JsonLineParser() : impl_(std::make_unique<Impl>()) {}
JsonLineParser::~JsonLineParser() = default;

namespace {

// The key of `field` without copying it when it holds no escapes.
simdjson::error_code KeyOf(ondemand::field& field, std::string_view* key) {
  const char* start = field.key().raw();
  const char* p = start;
  while (*p != '"' && *p != '\\') ++p;
  if (*p == '"') {
    *key = std::string_view(start, static_cast<size_t>(p - start));
    return simdjson::SUCCESS;
  }
  return field.unescaped_key().get(*key);
}

}  // namespace

JsonLineError JsonLineParser::Parse(std::string_view line, size_t capacity) {
  fields_.clear();
  impl_->nested.clear();
  impl_->nested_spans.clear();

  ondemand::document doc;
  simdjson::error_code err = impl_->parser.iterate(line.data(), line.size(), capacity).get(doc);
  if (err) return FromSimdjson(err);
  ondemand::object object;
  err = doc.get_object().get(object);
  if (err == simdjson::INCORRECT_TYPE) {
    // Rare: tell "valid, but not an object" from "not JSON at all".
    JsonLineError e = impl_->Validate(line.data(), line.size());
    return e == JsonLineError::kNone ? JsonLineError::kNotObject : e;
  }
  if (err) return FromSimdjson(err);

  bool has_nested = false;
  for (auto field_or : object) {
    ondemand::field field;
    if ((err = std::move(field_or).get(field))) return FromSimdjson(err);
    JsonField& out = fields_.emplace_back();
    if ((err = KeyOf(field, &out.key))) return FromSimdjson(err);
    ondemand::value value = field.value();
    ondemand::json_type type;
    if ((err = value.type().get(type))) return FromSimdjson(err);
    JsonValue& v = out.value;
    switch (type) {
      case ondemand::json_type::number: {
        ondemand::number number;
        if ((err = value.get_number().get(number))) {
          // simdjson reads integers only in [-2^63, 2^64); beyond, as JSON
          // has no integer limit, the number is a double.
          if ((err = value.get_double().get(v.d))) return FromSimdjson(err);
          v.kind = JsonKind::kDouble;
          break;
        }
        switch (number.get_number_type()) {
          case ondemand::number_type::signed_integer:
            v.kind = JsonKind::kInt;
            v.i = number.get_int64();
            break;
          case ondemand::number_type::unsigned_integer:
            v.kind = JsonKind::kUInt;
            v.u = number.get_uint64();
            break;
          default:
            v.kind = JsonKind::kDouble;
            v.d = number.get_double();
            break;
        }
        break;
      }
      case ondemand::json_type::string:
        v.kind = JsonKind::kString;
        if ((err = value.get_string().get(v.text))) return FromSimdjson(err);
        break;
      case ondemand::json_type::boolean:
        v.kind = JsonKind::kBool;
        if ((err = value.get_bool().get(v.b))) return FromSimdjson(err);
        break;
      case ondemand::json_type::null: {
        bool is_null = false;
        if ((err = value.is_null().get(is_null)) || !is_null) return JsonLineError::kInvalid;
        v.kind = JsonKind::kNull;
        break;
      }
      case ondemand::json_type::object:
      case ondemand::json_type::array: {
        const bool is_object = type == ondemand::json_type::object;
        std::string_view raw;
        if (is_object) {
          ondemand::object nested;
          if ((err = value.get_object().get(nested)) || (err = nested.raw_json().get(raw))) {
            return FromSimdjson(err);
          }
        } else {
          ondemand::array nested;
          if ((err = value.get_array().get(nested)) || (err = nested.raw_json().get(raw))) {
            return FromSimdjson(err);
          }
        }
        v.kind = is_object ? JsonKind::kObject : JsonKind::kArray;
        JsonLineError e = impl_->KeepNested(raw, fields_.size() - 1);
        if (e != JsonLineError::kNone) return e;
        has_nested = true;
        break;
      }
    }
  }
  // Anything after the object (another value, a stray bracket) is an error.
  if (doc.current_location().error() != simdjson::OUT_OF_BOUNDS) return JsonLineError::kInvalid;

  if (has_nested) {
    for (size_t f = 0; f < impl_->nested_spans.size(); ++f) {
      JsonValue& v = fields_[f].value;
      if (v.kind != JsonKind::kObject && v.kind != JsonKind::kArray) continue;
      const auto [at, size] = impl_->nested_spans[f];
      v.text = std::string_view(impl_->nested).substr(at, size);
    }
  }
  return JsonLineError::kNone;
}

}  // namespace sluice::internal
