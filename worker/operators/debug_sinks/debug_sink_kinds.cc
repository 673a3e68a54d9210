#include "worker/operators/debug_sinks/debug_sink_kinds.h"

#include "catalog/typed_kind.h"
#include "google/protobuf/empty.pb.h"
#include "worker/operators/debug_sinks/debug_sinks.h"

namespace sluice {
namespace {

template <typename Sink>
class DebugSinkKind final : public TypedKind<google::protobuf::Empty> {
 public:
  explicit DebugSinkKind(std::string_view name) : name_(name) {}
  std::string_view name() const override { return name_; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.sink = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override { return {"key_by"}; }

 protected:
  absl::Status Parse(const OperatorYaml&, google::protobuf::Empty*) const override {
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const google::protobuf::Empty&) const override {
    return std::make_unique<Sink>();
  }

 private:
  std::string_view name_;
};

}  // namespace

std::unique_ptr<OperatorKind> NewStdoutSinkKind() {
  return std::make_unique<DebugSinkKind<StdoutSink>>("stdout_sink");
}
std::unique_ptr<OperatorKind> NewBlackholeSinkKind() {
  return std::make_unique<DebugSinkKind<BlackholeSink>>("blackhole_sink");
}

}  // namespace sluice
