#pragma once

// Parsing of the time spellings used in job files. Event time inside sluice
// is always int64 milliseconds since the Unix epoch, UTC.

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace sluice {

// "250ms", "30s", "1m", "2h", "1d" (or a bare number of milliseconds) -> ms.
absl::StatusOr<int64_t> ParseDurationMs(std::string_view text);

// a / b rounded towards minus infinity (b != 0): the bucket of a time.
inline int64_t FloorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// RFC 3339 timestamp ("2026-01-01T00:00:00Z") -> epoch ms.
absl::StatusOr<int64_t> ParseTimestampMs(std::string_view text);
// Epoch ms -> RFC 3339 in UTC ("2026-01-01T00:00:00.5Z").
std::string FormatTimestampMs(int64_t ms);
// Milliseconds in the largest unit that holds them whole: "1d", "90m", "1500ms".
std::string FormatDurationMs(int64_t ms);

// Milliseconds per unit of "s", "ms", "us", "ns" as a divisor/multiplier pair:
// ms = value * num / den. "auto": the unit of each value follows from its
// magnitude (UnitForMagnitude).
struct TimeUnitScale {
  int64_t num;
  int64_t den;
  bool automatic = false;
};
absl::StatusOr<TimeUnitScale> ParseTimeUnit(std::string_view unit);

// The unit of an epoch time of magnitude `abs_value`, for times from 1973
// to 5138: below 1e11 seconds, below 1e14 milliseconds, below 1e17
// microseconds, else nanoseconds.
TimeUnitScale UnitForMagnitude(double abs_value);

int64_t NowMs();

}  // namespace sluice
