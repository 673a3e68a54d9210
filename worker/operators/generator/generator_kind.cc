#include "worker/operators/generator/generator_kind.h"

#include <cmath>

#include "catalog/typed_kind.h"
#include "common/time_util.h"
#include "worker/operators/generator/generator.pb.h"
#include "worker/operators/generator/generator_source.h"

namespace sluice {
namespace {

using job_yaml::GetDouble;
using job_yaml::GetDuration;
using job_yaml::GetInt;
using job_yaml::GetString;

class GeneratorKind final : public TypedKind<proto::GeneratorConfig> {
 public:
  std::string_view name() const override { return "generator"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.source = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override {
    return {"devices", "count",          "rate", "start_time", "interval",
            "jitter",  "duplicate_rate", "seed", "watermark",  "temperature"};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::GeneratorConfig* g) const override {
    const job_yaml::Ctx& ctx = y.ctx;
    const YAML::Node& n = y.node;
    g->set_devices(1000);
    g->set_interval_ms(1000);
    g->set_unbounded(true);
    if (n["devices"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["devices"], "devices"));
      if (v < 1) return ctx.Error(n["devices"], "devices", "must be at least 1");
      g->set_devices(v);
    }
    if (n["count"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["count"], "count"));
      if (v < 0) return ctx.Error(n["count"], "count", "must not be negative");
      g->set_count(v);
      g->set_unbounded(false);
    }
    if (n["rate"]) {
      ASSIGN_OR_RETURN(double v, GetDouble(ctx, n["rate"], "rate"));
      if (v < 0) return ctx.Error(n["rate"], "rate", "must not be negative");
      g->set_rate(v);
    }
    if (n["start_time"]) {
      ASSIGN_OR_RETURN(std::string s, GetString(ctx, n["start_time"], "start_time"));
      auto t = ParseTimestampMs(s);
      if (!t.ok()) {
        return ctx.Error(n["start_time"], "start_time", std::string(t.status().message()));
      }
      g->set_start_time_ms(*t);
    } else {
      g->set_start_time_ms(NowMs());
    }
    if (n["interval"]) {
      ASSIGN_OR_RETURN(int64_t v, GetDuration(ctx, n["interval"], "interval"));
      g->set_interval_ms(v);
    }
    if (n["jitter"]) {
      ASSIGN_OR_RETURN(int64_t v, GetDuration(ctx, n["jitter"], "jitter"));
      g->set_jitter_ms(v);
    }
    if (n["duplicate_rate"]) {
      ASSIGN_OR_RETURN(double v, GetDouble(ctx, n["duplicate_rate"], "duplicate_rate"));
      if (v < 0 || v > 1) {
        return ctx.Error(n["duplicate_rate"], "duplicate_rate", "must be between 0 and 1");
      }
      g->set_duplicate_rate(v);
    }
    if (n["seed"]) {
      ASSIGN_OR_RETURN(int64_t v, GetInt(ctx, n["seed"], "seed"));
      g->set_seed(static_cast<uint64_t>(v));
    }
    g->set_temperature_min(15);
    g->set_temperature_max(25);
    g->set_temperature_noise(2);
    if (n["temperature"]) RETURN_IF_ERROR(ParseTemperature(ctx, n["temperature"], g));
    g->mutable_watermark()->set_max_out_of_orderness_ms(g->jitter_ms());
    if (n["watermark"]) {
      RETURN_IF_ERROR(job_yaml::ParseWatermark(ctx, n["watermark"], g->mutable_watermark()));
    }
    return absl::OkStatus();
  }

  absl::Status Check(const OperatorCheck& c, const proto::GeneratorConfig& g) const override {
    if (g.devices() < 1) return c.Error("devices", "must be at least 1");
    if (g.count() < 0) return c.Error("count", "must not be negative");
    if (!std::isfinite(g.rate()) || g.rate() < 0) {
      return c.Error("rate", "must be a finite number >= 0 (0: as fast as possible)");
    }
    if (!IsSettingDuration(g.interval_ms()))
      return c.Error("interval", std::string(kSettingDurationRange));
    if (!IsSettingDuration(g.jitter_ms()))
      return c.Error("jitter", std::string(kSettingDurationRange));
    if (!(g.duplicate_rate() >= 0 && g.duplicate_rate() <= 1)) {
      return c.Error("duplicate_rate", "must be between 0 and 1");
    }
    if (!std::isfinite(g.temperature_min()) || !std::isfinite(g.temperature_max()) ||
        !std::isfinite(g.temperature_noise()) || g.temperature_max() < g.temperature_min() ||
        g.temperature_noise() < 0) {
      return c.Error("temperature", "needs finite min <= max and noise >= 0");
    }
    return CheckWatermarkSettings(c, g.watermark());
  }

  absl::StatusOr<StaticSchema> Output(const OperatorCheck&, const proto::GeneratorConfig&,
                                      const StaticSchema&) const override {
    StaticSchema out;
    for (const Field& f : GeneratorSource::OutputSchema()->fields()) out.fields[f.name] = f.type;
    return out;
  }

  absl::StatusOr<std::unique_ptr<SourceReader>> NewSource(
      const proto::OperatorSpec&, const proto::GeneratorConfig& g) const override {
    return std::make_unique<GeneratorSource>(g);
  }

 private:
  static absl::Status ParseTemperature(const job_yaml::Ctx& ctx, const YAML::Node& t,
                                       proto::GeneratorConfig* g) {
    if (!t.IsMap()) {
      return ctx.Error(t, "temperature", "expected a map such as {min: 15, max: 25, noise: 2}");
    }
    RETURN_IF_ERROR(job_yaml::CheckKeys(ctx, t, {"min", "max", "noise"}));
    struct Setting {
      const char* key;
      void (proto::GeneratorConfig::*set)(double);
    };
    for (const Setting& s : {Setting{"min", &proto::GeneratorConfig::set_temperature_min},
                             Setting{"max", &proto::GeneratorConfig::set_temperature_max},
                             Setting{"noise", &proto::GeneratorConfig::set_temperature_noise}}) {
      if (!t[s.key]) continue;
      ASSIGN_OR_RETURN(double v, GetDouble(ctx, t[s.key], absl::StrCat("temperature.", s.key)));
      (g->*s.set)(v);
    }
    if (g->temperature_max() < g->temperature_min() || g->temperature_noise() < 0) {
      return ctx.Error(t, "temperature", "needs min <= max and noise >= 0");
    }
    return absl::OkStatus();
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewGeneratorKind() { return std::make_unique<GeneratorKind>(); }

}  // namespace sluice
