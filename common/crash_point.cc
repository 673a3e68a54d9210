#include "common/crash_point.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace sluice {

void CrashPoint(std::string_view point, int64_t checkpoint_id) {
  static const char* const spec = std::getenv("SLUICE_CRASH_AT");
  if (spec == nullptr || *spec == '\0') return;
  std::pair<std::string, std::string> parts = absl::StrSplit(spec, absl::MaxSplits('@', 1));
  if (parts.first != point) return;
  int64_t only = 0;
  if (!parts.second.empty() && (!absl::SimpleAtoi(parts.second, &only) || only != checkpoint_id)) {
    return;
  }
  std::fprintf(stderr, "sluice: crash point %s reached at checkpoint %lld; exiting\n", spec,
               static_cast<long long>(checkpoint_id));
  std::fflush(stderr);
  _exit(137);
}

}  // namespace sluice
