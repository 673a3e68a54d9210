#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `window`: keyed tumbling event-time windows with aggregates
// (window_operator.h); dead-letter and late outputs.
std::unique_ptr<OperatorKind> NewWindowKind();

}  // namespace sluice
