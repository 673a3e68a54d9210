#include "common/time_util.h"

#include <charconv>
#include <chrono>
#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace sluice {

absl::StatusOr<int64_t> ParseDurationMs(std::string_view text) {
  const char* begin = text.data();
  const char* end = text.data() + text.size();
  double value = 0;
  auto [p, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || !(value >= 0) || !std::isfinite(value)) {  // also NaN, inf
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration '", std::string(text),
                     "': expected a non-negative number with a unit such as 500ms, 30s, 1m, 1h, "
                     "1d"));
  }
  std::string_view unit(p, end - p);
  double scale = 0;
  if (unit.empty() || unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m" || unit == "min")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  else if (unit == "d")
    scale = 86'400'000;
  else
    return absl::InvalidArgumentError(absl::StrCat("bad duration '", std::string(text),
                                                   "': unknown unit '", std::string(unit),
                                                   "' (use ms, s, m, h or d)"));
  // Far past any setting's range, and safely inside int64.
  constexpr double kMaxMs = 1e15;  // about 31,700 years
  if (value * scale > kMaxMs) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad duration '", std::string(text), "': longer than 30,000 years"));
  }
  return static_cast<int64_t>(value * scale);
}

absl::StatusOr<int64_t> ParseTimestampMs(std::string_view text) {
  absl::Time t;
  std::string err;
  if (!absl::ParseTime(absl::RFC3339_full, std::string(text), &t, &err)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad timestamp '", std::string(text), "': expected RFC 3339 such as 2026-01-01T00:00:00Z"));
  }
  return absl::ToUnixMillis(t);
}

TimeUnitScale UnitForMagnitude(double abs_value) {
  if (abs_value < 1e11) return TimeUnitScale{1000, 1};
  if (abs_value < 1e14) return TimeUnitScale{1, 1};
  if (abs_value < 1e17) return TimeUnitScale{1, 1000};
  return TimeUnitScale{1, 1'000'000};
}

std::string FormatTimestampMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string FormatDurationMs(int64_t ms) {
  static constexpr std::pair<int64_t, const char*> kUnits[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}};
  for (const auto& [unit, name] : kUnits) {
    if (ms != 0 && ms % unit == 0) return absl::StrCat(ms / unit, name);
  }
  return absl::StrCat(ms, "ms");
}

absl::StatusOr<TimeUnitScale> ParseTimeUnit(std::string_view unit) {
  if (unit == "auto") return TimeUnitScale{1, 1, true};
  if (unit == "ms" || unit.empty()) return TimeUnitScale{1, 1};
  if (unit == "s") return TimeUnitScale{1000, 1};
  if (unit == "us") return TimeUnitScale{1, 1000};
  if (unit == "ns") return TimeUnitScale{1, 1'000'000};
  return absl::InvalidArgumentError(
      absl::StrCat("bad time unit '", std::string(unit), "' (use auto, s, ms, us or ns)"));
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace sluice
