#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `generator`: simulated sensors (generator_source.h), a source.
std::unique_ptr<OperatorKind> NewGeneratorKind();

}  // namespace sluice
