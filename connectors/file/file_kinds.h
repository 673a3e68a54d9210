#pragma once

#include <memory>

#include "catalog/operator_kind.h"

namespace sluice {

// `file_source` (file_source.h): JSON lines from a file or a directory.
std::unique_ptr<OperatorKind> NewFileSourceKind();
// `file_sink` (file_sink.h): JSON-lines part files in a directory.
std::unique_ptr<OperatorKind> NewFileSinkKind();

}  // namespace sluice
