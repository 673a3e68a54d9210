#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `stdout_sink` and `blackhole_sink` (debug_sinks.h); no settings.
std::unique_ptr<OperatorKind> NewStdoutSinkKind();
std::unique_ptr<OperatorKind> NewBlackholeSinkKind();

}  // namespace sluice
