#pragma once

// Parses one line of JSON into a flat list of its top-level fields, typed as
// JSON has them, without building a document tree. Nested objects and arrays
// are validated and kept as compact JSON text. Built on simdjson's on-demand
// API; its header stays out of this one.
//
// A parser is reused line after line: the fields (and the string views in
// them) are valid until the next Parse(). Not thread-safe.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace sluice::internal {

enum class JsonKind : uint8_t {
  kNull,
  kBool,
  kInt,     // fits int64
  kUInt,    // an integer in [2^63, 2^64)
  kDouble,  // a fraction, an exponent, or an integer outside [-2^63, 2^64)
  kString,
  kObject,  // text holds the compact JSON
  kArray,   // text holds the compact JSON
};

struct JsonValue {
  JsonKind kind = JsonKind::kNull;
  bool b = false;
  int64_t i = 0;
  uint64_t u = 0;
  double d = 0;
  std::string_view text;
};

struct JsonField {
  std::string_view key;  // unescaped
  JsonValue value;
};

enum class JsonLineError : uint8_t {
  kNone,
  kInvalid,    // not JSON, or JSON followed by something else
  kNotObject,  // valid JSON, but not an object
  kTooDeep,    // nested deeper than kMaxDepth
  kNotUtf8,    // not valid UTF-8
};

class JsonLineParser {
 public:
  static constexpr size_t kMaxDepth = 1024;
  // Bytes that must be readable past the end of a line (simdjson's padding).
  static constexpr size_t kPadding = 64;

  JsonLineParser();
  ~JsonLineParser();
  JsonLineParser(const JsonLineParser&) = delete;
  JsonLineParser& operator=(const JsonLineParser&) = delete;

  // Parses `line`, of which `capacity` bytes from line.data() are readable
  // (at least line.size() + kPadding). On kNone, fields() holds the object's
  // fields in document order, duplicates included.
  JsonLineError Parse(std::string_view line, size_t capacity);
  const std::vector<JsonField>& fields() const { return fields_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<JsonField> fields_;
};

}  // namespace sluice::internal
