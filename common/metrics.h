#pragma once

// Process-wide Prometheus registry and its HTTP exposer.
// Metric families are created by the module that updates them; names are
// prefixed `sluice_`, labels are bounded (job_id, operator, subtask, state),
// never a record key.

#include <memory>

#include "absl/status/statusor.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"

namespace sluice {

// The registry every family of this process lives in. Thread-safe.
prometheus::Registry& MetricsRegistry();

// Serves MetricsRegistry() on 0.0.0.0:`port` at /metrics until destroyed.
absl::StatusOr<std::unique_ptr<prometheus::Exposer>> StartMetricsServer(int port);

}  // namespace sluice
