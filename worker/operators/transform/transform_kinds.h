#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `filter`: {where: condition}; `map`: {set: {field: expression, ...}}
// (transform_operators.h). Both have a dead-letter output.
std::unique_ptr<OperatorKind> NewFilterKind();
std::unique_ptr<OperatorKind> NewMapKind();

}  // namespace sluice
