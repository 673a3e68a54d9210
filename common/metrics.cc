#include "common/metrics.h"

#include "absl/strings/str_cat.h"

namespace sluice {

namespace {
// Leaked on purpose: counters may be touched by threads still running at exit.
const std::shared_ptr<prometheus::Registry>& SharedRegistry() {
  static auto* registry =
      new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return *registry;
}
}  // namespace

prometheus::Registry& MetricsRegistry() { return *SharedRegistry(); }

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsServer(int port) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(absl::StrCat("0.0.0.0:", port));
    exposer->RegisterCollectable(SharedRegistry());
    return exposer;
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on port ", port, ": ", e.what()));
  }
}

}  // namespace sluice
