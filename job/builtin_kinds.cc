// The registration table: every built-in operator kind, one line each. The
// order is the one messages list them in ("use generator, file_source, ...").

#include "job/builtin_kinds.h"

#include "connectors/file/file_kinds.h"
#include "connectors/postgres/postgres_kinds.h"
#include "worker/operators/debug_sinks/debug_sink_kinds.h"
#include "worker/operators/dedup/dedup_kind.h"
#include "worker/operators/generator/generator_kind.h"
#include "worker/operators/throttle/throttle_kind.h"
#include "worker/operators/transform/transform_kinds.h"
#include "worker/operators/window/window_kind.h"

namespace sluice {

namespace {

std::vector<std::unique_ptr<OperatorKind>> BuiltinKinds() {
  std::vector<std::unique_ptr<OperatorKind>> kinds;
  kinds.push_back(NewGeneratorKind());
  kinds.push_back(NewFileSourceKind());
  kinds.push_back(NewFilterKind());
  kinds.push_back(NewMapKind());
  kinds.push_back(NewWindowKind());
  kinds.push_back(NewThrottleKind());
  kinds.push_back(NewDedupKind());
  kinds.push_back(NewFileSinkKind());
  kinds.push_back(NewPostgresSinkKind());
  kinds.push_back(NewStdoutSinkKind());
  kinds.push_back(NewBlackholeSinkKind());
  return kinds;
}

}  // namespace

const Catalog& BuiltinCatalog() {
  static const Catalog* catalog = new Catalog(BuiltinKinds());
  return *catalog;
}

}  // namespace sluice
