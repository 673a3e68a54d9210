#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `dedup` (dedup_operator.h): drops records whose key was seen within a TTL.
std::unique_ptr<OperatorKind> NewDedupKind();

}  // namespace sluice
