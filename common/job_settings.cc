#include "common/job_limits.h"
#include "common/job_yaml.h"
#include "common/status_macros.h"

namespace sluice::job_yaml {

absl::Status ParseWatermark(const Ctx& ctx, const YAML::Node& n, proto::WatermarkConfig* wm) {
  if (!n.IsMap())
    return ctx.Error(n, "watermark", "expected a map such as {max_out_of_orderness: 30s}");
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"max_out_of_orderness", "idle_timeout"}));
  if (n["max_out_of_orderness"]) {
    ASSIGN_OR_RETURN(int64_t ms,
                     GetDuration(ctx, n["max_out_of_orderness"], "watermark.max_out_of_orderness"));
    wm->set_max_out_of_orderness_ms(ms);
  }
  if (n["idle_timeout"]) {
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, n["idle_timeout"], "watermark.idle_timeout"));
    if (ms <= 0) return ctx.Error(n["idle_timeout"], "watermark.idle_timeout", "must be positive");
    wm->set_idle_timeout_ms(ms);
  }
  return absl::OkStatus();
}

// The job's `network:` map; absent settings keep their defaults.
absl::Status ParseNetwork(const Ctx& ctx, const YAML::Node& n, proto::NetworkConfig* net) {
  if (!n.IsMap()) {
    return ctx.Error(n, "network",
                     "expected a map such as {buffer_bytes_per_task: 8MiB, flush_interval: 10ms}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"buffer_bytes_per_task", "flush_interval"}));
  if (const YAML::Node b = n["buffer_bytes_per_task"]) {
    const std::string field = "network.buffer_bytes_per_task";
    ASSIGN_OR_RETURN(int64_t bytes, GetByteSize(ctx, b, field));
    if (bytes < kMinBufferBytesPerTask) {
      return ctx.Error(b, field,
                       "must be at least 64KiB: a task splits it between its input and output "
                       "channels, and each channel needs a few buffers");
    }
    if (bytes > kMaxBufferBytesPerTask) return ctx.Error(b, field, "must be at most 1GiB");
    net->set_buffer_bytes_per_task(bytes);
  }
  if (const YAML::Node f = n["flush_interval"]) {
    const std::string field = "network.flush_interval";
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, f, field));
    if (ms < 1 || ms > kMaxFlushIntervalMs)
      return ctx.Error(f, field, "must be between 1ms and 60s");
    net->set_flush_interval_ms(ms);
  }
  return absl::OkStatus();
}

// The job's `checkpoint:` map.
absl::Status ParseCheckpoint(const Ctx& ctx, const YAML::Node& n, proto::CheckpointConfig* c) {
  if (!n.IsMap()) {
    return ctx.Error(n, "checkpoint",
                     "expected a map such as {interval: 10s, store: file:///var/lib/sluice}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"interval", "timeout", "min_pause", "retain", "store", "s3"}));
  struct Duration {
    const char* key;
    int64_t min_ms;
    void (proto::CheckpointConfig::*set)(int64_t);
  };
  for (const Duration& d : {Duration{"interval", 0, &proto::CheckpointConfig::set_interval_ms},
                            Duration{"timeout", 1, &proto::CheckpointConfig::set_timeout_ms},
                            Duration{"min_pause", 0, &proto::CheckpointConfig::set_min_pause_ms}}) {
    const YAML::Node v = n[d.key];
    if (!v) continue;
    const std::string field = absl::StrCat("checkpoint.", d.key);
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, v, field));
    if (ms < d.min_ms || ms > kMaxSettingDurationMs) {
      return ctx.Error(v, field,
                       d.min_ms > 0 ? "must be positive and at most 366d" : "must be at most 366d");
    }
    (c->*d.set)(ms);
  }
  if (const YAML::Node v = n["retain"]) {
    ASSIGN_OR_RETURN(int64_t k, GetInt(ctx, v, "checkpoint.retain"));
    if (k < 1 || k > 1000) return ctx.Error(v, "checkpoint.retain", "must be between 1 and 1000");
    c->set_retain(static_cast<int>(k));
  }
  if (const YAML::Node v = n["store"]) {
    ASSIGN_OR_RETURN(std::string uri, GetString(ctx, v, "checkpoint.store"));
    if (uri.rfind("file://", 0) != 0 && uri.rfind("s3://", 0) != 0) {
      return ctx.Error(v, "checkpoint.store",
                       "expected a file:///directory or s3://bucket/prefix URI");
    }
    c->set_store(uri);
  }
  if (const YAML::Node s3 = n["s3"]) {
    if (!s3.IsMap()) {
      return ctx.Error(s3, "checkpoint.s3",
                       "expected a map such as {endpoint: \"http://127.0.0.1:9000\", region: "
                       "us-east-1, path_style: true}");
    }
    RETURN_IF_ERROR(CheckKeys(ctx, s3, {"endpoint", "region", "path_style"}));
    if (s3["endpoint"]) {
      ASSIGN_OR_RETURN(std::string e, GetString(ctx, s3["endpoint"], "checkpoint.s3.endpoint"));
      if (e.rfind("http://", 0) != 0 && e.rfind("https://", 0) != 0) {
        return ctx.Error(s3["endpoint"], "checkpoint.s3.endpoint", "expected an http(s):// URL");
      }
      c->mutable_s3()->set_endpoint(e);
    }
    if (s3["region"]) {
      ASSIGN_OR_RETURN(std::string r, GetString(ctx, s3["region"], "checkpoint.s3.region"));
      c->mutable_s3()->set_region(r);
    }
    if (s3["path_style"]) {
      ASSIGN_OR_RETURN(bool b, GetBool(ctx, s3["path_style"], "checkpoint.s3.path_style"));
      c->mutable_s3()->set_path_style(b);
    }
  }
  return absl::OkStatus();
}

// The job's `restart:` map.
absl::Status ParseRestart(const Ctx& ctx, const YAML::Node& n, proto::RestartConfig* r) {
  if (!n.IsMap()) {
    return ctx.Error(n, "restart",
                     "expected a map such as {strategy: exponential, initial_delay: 1s, "
                     "max_delay: 30s, max_attempts: 10}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"strategy", "initial_delay", "max_delay", "max_attempts"}));
  if (const YAML::Node v = n["strategy"]) {
    ASSIGN_OR_RETURN(std::string s, GetString(ctx, v, "restart.strategy"));
    if (s == "fixed") {
      r->set_strategy(proto::RESTART_FIXED);
    } else if (s == "exponential") {
      r->set_strategy(proto::RESTART_EXPONENTIAL);
    } else if (s == "none") {
      r->set_strategy(proto::RESTART_NONE);
    } else {
      return ctx.Error(v, "restart.strategy",
                       absl::StrCat("unknown strategy '", s, "' (use fixed, exponential or none)"));
    }
  }
  for (const char* key : {"initial_delay", "max_delay"}) {
    const YAML::Node v = n[key];
    if (!v) continue;
    const std::string field = absl::StrCat("restart.", key);
    ASSIGN_OR_RETURN(int64_t ms, GetDuration(ctx, v, field));
    if (ms < 0 || ms > kMaxSettingDurationMs) return ctx.Error(v, field, "must be at most 366d");
    if (std::string(key) == "initial_delay") {
      r->set_initial_delay_ms(ms);
    } else {
      r->set_max_delay_ms(ms);
    }
  }
  if (const YAML::Node v = n["max_attempts"]) {
    ASSIGN_OR_RETURN(int64_t k, GetInt(ctx, v, "restart.max_attempts"));
    if (k < 1 || k > 1'000'000) {
      return ctx.Error(v, "restart.max_attempts", "must be between 1 and 1000000");
    }
    r->set_max_attempts(static_cast<int>(k));
  }
  return absl::OkStatus();
}

// The job's `state:` map.
absl::Status ParseState(const Ctx& ctx, const YAML::Node& n, proto::StateConfig* st) {
  if (!n.IsMap()) return ctx.Error(n, "state", "expected a map such as {memory_budget: 256MiB}");
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"memory_budget"}));
  if (const YAML::Node v = n["memory_budget"]) {
    ASSIGN_OR_RETURN(int64_t bytes, GetByteSize(ctx, v, "state.memory_budget"));
    if (bytes < (int64_t{1} << 20) || bytes > (int64_t{1} << 40)) {
      return ctx.Error(v, "state.memory_budget", "must be between 1MiB and 1TiB");
    }
    st->set_memory_budget_bytes(bytes);
  }
  return absl::OkStatus();
}

// The job's `side_outputs:` map.
absl::Status ParseSideOutputs(const Ctx& ctx, const YAML::Node& n, const std::string& base_dir,
                              proto::SideOutputsConfig* so) {
  if (!n.IsMap()) {
    return ctx.Error(n, "side_outputs",
                     "expected a map such as {path: out/side} or {discard: true}");
  }
  RETURN_IF_ERROR(CheckKeys(ctx, n, {"path", "discard"}));
  if (n["path"]) {
    ASSIGN_OR_RETURN(std::string path, GetString(ctx, n["path"], "side_outputs.path"));
    if (path.empty()) return ctx.Error(n["path"], "side_outputs.path", "must not be empty");
    so->set_path(ResolvePath(base_dir, path));
  }
  if (n["discard"]) {
    ASSIGN_OR_RETURN(bool discard, GetBool(ctx, n["discard"], "side_outputs.discard"));
    so->set_discard(discard);
  }
  if (so->discard() && n["path"]) {
    return ctx.Error(n["discard"], "side_outputs.discard", "give either path or discard, not both");
  }
  return absl::OkStatus();
}

}  // namespace sluice::job_yaml
