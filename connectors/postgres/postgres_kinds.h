#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `postgres_sink` (postgres_sink.h): records into a PostgreSQL table.
std::unique_ptr<OperatorKind> NewPostgresSinkKind();

}  // namespace sluice
