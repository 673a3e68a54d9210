#pragma once

// Writing batches as JSON lines (the output format of sinks and dead letters).

#include <string>
#include <string_view>

#include "common/batch.h"

namespace sluice {

// Shortest text that reads back as the same double; "null" for NaN/inf.
std::string FormatDouble(double v);

// Whether `s` is well-formed UTF-8 (no overlong forms, surrogates or code
// points past U+10FFFF).
bool IsValidUtf8(std::string_view s);
// The offset of the first byte of `s` that is not part of well-formed UTF-8;
// std::string_view::npos when there is none.
size_t FirstInvalidUtf8(std::string_view s);

// The longest prefix of `s` of at most `max_bytes` that does not end inside
// a UTF-8 sequence (for cutting text short).
std::string_view Utf8Prefix(std::string_view s, size_t max_bytes);

// `s` with each byte that is not part of well-formed UTF-8 replaced by
// U+FFFD, so the result is valid UTF-8.
std::string ToValidUtf8(std::string_view s);

// Appends `s` as a quoted, escaped JSON string. Bytes that are not
// well-formed UTF-8 are written as U+FFFD: the output is always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);

// Appends row `row` of `batch` as one JSON object (fields in schema order,
// nulls as null, a Field::json field's text as it is) followed by '\n'.
void AppendJsonLine(const Batch& batch, size_t row, std::string* out);

}  // namespace sluice
