#pragma once

// Writing batches as JSON lines (the output format of sinks and dead letters).

#include <string>
#include <string_view>

#include "common/batch.h"

namespace sluice {

// Shortest text that reads back as the same double; "null" for NaN/inf.
std::string FormatDouble(double v);

// Appends `s` as a quoted, escaped JSON string.
void AppendJsonString(std::string_view s, std::string* out);

// Appends row `row` of `batch` as one JSON object (fields in schema order,
// nulls as null) followed by '\n'.
void AppendJsonLine(const Batch& batch, size_t row, std::string* out);

}  // namespace sluice
