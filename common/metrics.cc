#include "common/metrics.h"

#include "absl/strings/str_cat.h"

namespace sluice {

prometheus::Registry& MetricsRegistry() {
  static auto* registry = new std::shared_ptr<prometheus::Registry>(std::make_shared<prometheus::Registry>());
  return **registry;
}

namespace {
std::shared_ptr<prometheus::Registry> SharedRegistry() {
  // Exposer wants a shared_ptr; alias the leaked process-wide registry.
  return std::shared_ptr<prometheus::Registry>(std::shared_ptr<void>(), &MetricsRegistry());
}
}  // namespace

absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsServer(int port) {
  try {
    auto exposer = std::make_unique<prometheus::Exposer>(absl::StrCat("0.0.0.0:", port));
    exposer->RegisterCollectable(SharedRegistry());
    return exposer;
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat("cannot serve metrics on port ", port, ": ", e.what()));
  }
}

}  // namespace sluice
