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

namespace {

// Runs a SourceOperator to its end in one poll (file_source, until it
// becomes a reader of its own).
class RunToEndReader : public SourceReader {
 public:
  explicit RunToEndReader(std::unique_ptr<SourceOperator> source) : source_(std::move(source)) {}
  absl::Status Open(const OperatorContext& ctx) override {
    ctx_ = ctx;
    return absl::OkStatus();
  }
  absl::StatusOr<Poll> PollNext(Output& out) override {
    if (!done_) RETURN_IF_ERROR(source_->Run(ctx_, out));
    done_ = true;
    return Poll::kEnd;
  }
  proto::SourcePosition Position() const override { return proto::SourcePosition(); }
  absl::Status Seek(const proto::SourcePosition&) override {
    return absl::UnimplementedError("this source cannot resume at a position");
  }

 private:
  std::unique_ptr<SourceOperator> source_;
  OperatorContext ctx_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<SourceReader>> CreateSourceReader(const proto::OperatorSpec& spec) {
  switch (spec.config_case()) {
    case proto::OperatorSpec::kGenerator:
      return std::make_unique<GeneratorSource>(spec.generator());
    case proto::OperatorSpec::kFileSource:
      return std::make_unique<RunToEndReader>(std::make_unique<FileSource>(spec.file_source()));
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
