#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "worker/operators/file_source.h"
#include "worker/operators/generator_source.h"
#include "worker/operators/operator.h"
#include "worker/operators/sink_operators.h"
#include "worker/operators/throttle_operator.h"
#include "worker/operators/transform_operators.h"
#include "worker/operators/window_operator.h"

namespace sluice {

absl::StatusOr<std::unique_ptr<SourceReader>> CreateSourceReader(const proto::OperatorSpec& spec) {
  switch (spec.config_case()) {
    case proto::OperatorSpec::kGenerator:
      return std::make_unique<GeneratorSource>(spec.generator());
    case proto::OperatorSpec::kFileSource:
      return std::make_unique<FileSourceReader>(spec.file_source());
    default:
      return absl::InvalidArgumentError(absl::StrCat("operator '", spec.id(), "' is not a source"));
  }
}

absl::StatusOr<std::unique_ptr<Operator>> CreateOperator(const proto::OperatorSpec& spec) {
  switch (spec.config_case()) {
    case proto::OperatorSpec::kFilter: {
      ASSIGN_OR_RETURN(auto op, FilterOperator::Create(spec.filter()));
      return std::unique_ptr<Operator>(std::move(op));
    }
    case proto::OperatorSpec::kMap: {
      ASSIGN_OR_RETURN(auto op, MapOperator::Create(spec.map()));
      return std::unique_ptr<Operator>(std::move(op));
    }
    case proto::OperatorSpec::kWindow:
      return std::make_unique<WindowOperator>(spec.window());
    case proto::OperatorSpec::kThrottle:
      return std::make_unique<ThrottleOperator>(spec.throttle());
    case proto::OperatorSpec::kFileSink:
      return std::make_unique<FileSink>(spec.file_sink());
    case proto::OperatorSpec::kStdoutSink:
      return std::make_unique<StdoutSink>();
    case proto::OperatorSpec::kBlackholeSink:
      return std::make_unique<BlackholeSink>();
    default:
      return absl::InvalidArgumentError(absl::StrCat("operator '", spec.id(), "' of type '",
                                                     spec.type(), "' cannot run inside a task"));
  }
}

}  // namespace sluice
