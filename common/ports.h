#pragma once

// Names of operator outputs ("ports") and the fixed schemas of the side
// ports. `input: op` reads op's main output; `input: op.dead_letter` its
// dead-letter output, `input: op.late` its late-event output, when its kind
// has them (OperatorTraits::side_ports: file sources, filters, maps and
// windows have a dead-letter output, windows a late one).

#include <string>
#include <string_view>
#include <utility>

#include "common/batch.h"

namespace sluice {

inline constexpr std::string_view kMainPort = "";
inline constexpr std::string_view kDeadLetterPort = "dead_letter";
inline constexpr std::string_view kLatePort = "late";

// Dead-letter records: {source, file, line, reason, raw, raw_base64}. `source`
// is the operator that rejected the record; `file` and `line` are set for a
// source's input lines and null otherwise; `raw` is the line, or the record
// as JSON, as valid UTF-8; `raw_base64` holds the exact bytes when `raw`
// could not (null otherwise).
const SchemaRef& DeadLetterSchema();

// A window's late records: {window_start, window_end, record}. `record` is
// the input record as it reached the window, as JSON text (Field::json), so
// a file sink writes it as a nested object with its fields unchanged.
const SchemaRef& LateSchema();

// The schema of side port `port` (dead_letter or late).
const SchemaRef& SidePortSchema(std::string_view port);

// Splits "op.port" into {"op", "port"}; "op" gives {"op", ""}.
std::pair<std::string, std::string> SplitInput(std::string_view input);

}  // namespace sluice
