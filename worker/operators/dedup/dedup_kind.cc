#include "worker/operators/dedup/dedup_kind.h"

#include "absl/strings/str_cat.h"
#include "catalog/typed_kind.h"
#include "common/job_limits.h"
#include "worker/operators/dedup/dedup.pb.h"
#include "worker/operators/dedup/dedup_operator.h"

namespace sluice {
namespace {

using job_yaml::GetDuration;

class DedupKind final : public TypedKind<proto::DedupConfig> {
 public:
  std::string_view name() const override { return "dedup"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.keyed = true, .stateful = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override { return {"key", "ttl"}; }
  std::vector<std::string> PartitionKeys(const proto::OperatorSpec& op) const override {
    absl::StatusOr<proto::DedupConfig> d = UnpackSettings<proto::DedupConfig>(op);
    if (!d.ok()) return {};
    return {d->key().begin(), d->key().end()};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::DedupConfig* d) const override {
    RETURN_IF_ERROR(y.Require("key"));
    RETURN_IF_ERROR(y.Require("ttl"));
    const YAML::Node k = y.node["key"];
    if (k.IsScalar()) {
      d->add_key(k.as<std::string>());
    } else if (k.IsSequence() && k.size() > 0) {
      for (const auto& f : k) {
        if (!f.IsScalar()) return y.ctx.Error(f, "key", "expected a field name");
        d->add_key(f.as<std::string>());
      }
    } else {
      return y.ctx.Error(k, "key", "expected a field name or a list of them, such as [event_id]");
    }
    ASSIGN_OR_RETURN(int64_t ttl, GetDuration(y.ctx, y.node["ttl"], "ttl"));
    if (ttl <= 0) return y.ctx.Error(y.node["ttl"], "ttl", "must be positive, such as 24h");
    d->set_ttl_ms(ttl);
    return absl::OkStatus();
  }

  absl::Status Check(const OperatorCheck& c, const proto::DedupConfig& d) const override {
    if (d.key_size() == 0) return c.Error("key", "needs at least one field, such as [event_id]");
    if (d.ttl_ms() <= 0 || d.ttl_ms() > kMaxSettingDurationMs) {
      return c.Error("ttl", "must be between 1 ms and 366 days");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<StaticSchema> Output(const OperatorCheck& c, const proto::DedupConfig& d,
                                      const StaticSchema& in) const override {
    for (const auto& k : d.key()) {
      if (!in.Lookup(k).has_value()) return c.Error("key", absl::StrCat("unknown field '", k, "'"));
    }
    return in;
  }

  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::DedupConfig& d) const override {
    return std::make_unique<DedupOperator>(d);
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewDedupKind() { return std::make_unique<DedupKind>(); }

}  // namespace sluice
