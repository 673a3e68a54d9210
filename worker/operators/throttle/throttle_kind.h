#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `throttle`: {rate: records per second per subtask}; a stage of its own.
std::unique_ptr<OperatorKind> NewThrottleKind();

}  // namespace sluice
