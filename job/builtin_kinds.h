#pragma once

#include "catalog/catalog.h"

namespace sluice {

// The operator kinds sluice ships with (builtin_kinds.cc, one line each).
const Catalog& BuiltinCatalog();

}  // namespace sluice
