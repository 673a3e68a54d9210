#include "worker/operators/throttle/throttle_kind.h"

#include <cmath>

#include "catalog/typed_kind.h"
#include "worker/operators/throttle/throttle.pb.h"
#include "worker/operators/throttle/throttle_operator.h"

namespace sluice {
namespace {

class ThrottleKind final : public TypedKind<proto::ThrottleConfig> {
 public:
  std::string_view name() const override { return "throttle"; }
  const OperatorTraits& traits() const override {
    // A throttle exists to be slower than its upstream: a stage of its own.
    static const OperatorTraits traits{.own_task = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override { return {"rate", "key_by"}; }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::ThrottleConfig* c) const override {
    RETURN_IF_ERROR(y.Require("rate"));
    ASSIGN_OR_RETURN(double rate, job_yaml::GetDouble(y.ctx, y.node["rate"], "rate"));
    if (!std::isfinite(rate) || rate <= 0) {
      return y.ctx.Error(y.node["rate"], "rate",
                         "must be a number of records per second per subtask, above 0");
    }
    c->set_rate(rate);
    return absl::OkStatus();
  }
  absl::Status Check(const OperatorCheck& c, const proto::ThrottleConfig& s) const override {
    if (!std::isfinite(s.rate()) || s.rate() <= 0) {
      return c.Error("rate", "must be a finite number of records per second per subtask, above 0");
    }
    return absl::OkStatus();
  }
  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::ThrottleConfig& s) const override {
    return std::make_unique<ThrottleOperator>(s);
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewThrottleKind() { return std::make_unique<ThrottleKind>(); }

}  // namespace sluice
