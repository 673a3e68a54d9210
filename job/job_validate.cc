// Static checks of a job graph (declared in job_file.h).

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "common/key_group.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"

namespace sluice {
namespace {

absl::Status OpError(const proto::JobGraph& g, const proto::OperatorSpec& op,
                     const std::string& field, const std::string& msg) {
  return OperatorCheck{g, op}.Error(field, msg);
}

// An error in a job-level field, which has no line of its own.
absl::Status GraphError(const proto::JobGraph& g, const std::string& field,
                        const std::string& msg) {
  std::string where =
      g.source_file().empty() ? absl::StrCat("job '", g.name(), "'") : g.source_file();
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", field, "': ", msg));
}

// The kind of `op`, whose settings must be its own: an error naming the
// field `type` when there is no such kind or the settings are another
// kind's.
absl::StatusOr<const OperatorKind*> CheckedKind(const proto::JobGraph& g,
                                                const proto::OperatorSpec& op) {
  const Catalog& catalog = BuiltinCatalog();
  const OperatorKind* kind = catalog.Find(op.type());
  if (kind == nullptr) {
    return OpError(
        g, op, "type",
        absl::StrCat("unknown operator type '", op.type(), "' (use ", catalog.NameList(), ")"));
  }
  const std::string& own = kind->settings_prototype().GetDescriptor()->full_name();
  if (!op.has_config()) {
    return OpError(g, op, "type",
                   absl::StrCat("a ", op.type(), " operator needs its settings (config: a ", own,
                                "); it has none"));
  }
  const std::string& url = op.config().type_url();
  const std::string message = url.substr(url.rfind('/') + 1);
  if (message == own) return kind;
  std::string owners;
  for (std::string_view owner : catalog.KindsWithSettings(message)) {
    absl::StrAppend(&owners, owners.empty() ? "" : " or ", std::string(owner));
  }
  if (!owners.empty()) {
    return OpError(g, op, "type",
                   absl::StrCat("'", op.type(),
                                "' does not match the operator's settings, which are those of a ",
                                owners, " operator"));
  }
  return OpError(
      g, op, "type",
      absl::StrCat("the operator's settings are a '", message,
                   "', which no operator kind takes; a ", op.type(), " operator's are a ", own));
}

// "'up' is not a window; only windows have a late output", or, when
// several kinds have the port, "'up' has no late output".
std::string NoSuchPort(const std::string& up, const std::string& port) {
  const std::vector<std::string_view> kinds = BuiltinCatalog().KindsWithPort(port);
  if (kinds.size() == 1) {
    const std::string kind(kinds[0]);
    return absl::StrCat("'", up, "' is not a ", kind, "; only ", kind, "s have a ", port,
                        " output");
  }
  return absl::StrCat("'", up, "' has no ", port, " output");
}

// Zeros mean the defaults. The job-file parser checks the same ranges with
// line numbers.
absl::Status CheckNetworkConfig(const proto::NetworkConfig& n) {
  const int64_t bytes = n.buffer_bytes_per_task();
  if (bytes != 0 && (bytes < kMinBufferBytesPerTask || bytes > kMaxBufferBytesPerTask)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "field 'network.buffer_bytes_per_task': ", bytes,
        " bytes is outside 64KiB to 1GiB; a task needs room for at least a few buffers per "
        "channel (default 8MiB)"));
  }
  const int64_t flush = n.flush_interval_ms();
  if (flush < 0 || flush > kMaxFlushIntervalMs) {
    return absl::InvalidArgumentError(absl::StrCat("field 'network.flush_interval': ", flush,
                                                   " ms is outside 1ms to 60s (default 10ms)"));
  }
  return absl::OkStatus();
}

}  // namespace

bool CommitsOnCheckpoint(const proto::JobGraph& g) {
  return g.checkpoint().interval_ms() > 0 && g.delivery() != proto::DELIVERY_AT_LEAST_ONCE;
}

void FillJobDefaults(proto::JobGraph* g) {
  if (g->max_parallelism() == 0) g->set_max_parallelism(kDefaultMaxParallelism);
  proto::NetworkConfig* n = g->mutable_network();
  if (n->buffer_bytes_per_task() == 0) n->set_buffer_bytes_per_task(kDefaultBufferBytesPerTask);
  if (n->flush_interval_ms() == 0) n->set_flush_interval_ms(kDefaultFlushIntervalMs);
}

// Two sinks on one path would write into each other's files, and a sink on
// a source's path would read its own output.
absl::Status CheckSinkPaths(const proto::JobGraph& g) {
  auto normal = [](const std::string& path) {
    std::string p = std::filesystem::path(path).lexically_normal().string();
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    return p;
  };
  struct User {
    const proto::OperatorSpec* op;
    bool writes;
  };
  absl::flat_hash_map<std::string, User> users;
  for (const bool writes : {false, true}) {
    for (const auto& op : g.operators()) {
      const OperatorKind* kind = BuiltinCatalog().Find(op.type());
      if (kind == nullptr) continue;
      for (const PathUse& use : kind->Paths(op)) {
        if (use.writes != writes) continue;
        auto [it, added] = users.emplace(normal(use.path), User{&op, writes});
        if (added || !writes) continue;
        const proto::OperatorSpec& other = *it->second.op;
        return OpError(
            g, op, "path",
            absl::StrCat("'", use.path, "' is also the path of ", other.type(), " '", other.id(),
                         "'", other.line() > 0 ? absl::StrCat(" (line ", other.line(), ")") : "",
                         it->second.writes ? "; two sinks would write over each other's files"
                                           : "; the job would read its own output"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateJobGraph(const proto::JobGraph& g) {
  if (g.max_parallelism() < 0 || g.max_parallelism() > kMaxMaxParallelism) {
    return GraphError(g, "max_parallelism",
                      absl::StrCat("must be between 1 and ", kMaxMaxParallelism, " (0: ",
                                   kDefaultMaxParallelism, "), got ", g.max_parallelism()));
  }
  const int max_parallelism =
      g.max_parallelism() == 0 ? kDefaultMaxParallelism : g.max_parallelism();
  if (g.parallelism() < 0 || g.parallelism() > max_parallelism) {
    return GraphError(g, "parallelism",
                      absl::StrCat("must be between 1 and max_parallelism ", max_parallelism,
                                   ", got ", g.parallelism()));
  }
  if (absl::Status s = CheckNetworkConfig(g.network()); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        g.source_file().empty() ? absl::StrCat("job '", g.name(), "'") : g.source_file(), ": ",
        s.message()));
  }
  if (g.operators_size() == 0) return GraphError(g, "operators", "the job has no operators");
  if (g.operators_size() > kMaxOperators) {
    return GraphError(g, "operators",
                      absl::StrCat("the job has ", g.operators_size(), " operators; at most ",
                                   kMaxOperators, " are allowed"));
  }
  absl::flat_hash_map<std::string, int> index;
  std::vector<const OperatorKind*> kinds(g.operators_size());
  for (int i = 0; i < g.operators_size(); ++i) {
    const auto& op = g.operators(i);
    if (op.id().empty() || op.id().find('.') != std::string::npos) {
      return OpError(g, op, "id", "must be non-empty and contain no '.'");
    }
    if (!index.emplace(op.id(), i).second) return OpError(g, op, "id", "used by two operators");
    ASSIGN_OR_RETURN(kinds[i], CheckedKind(g, op));
    if (op.parallelism() < 1 || op.parallelism() > max_parallelism) {
      return OpError(g, op, "parallelism",
                     absl::StrCat("must be between 1 and max_parallelism ", max_parallelism,
                                  ", got ", op.parallelism()));
    }
    RETURN_IF_ERROR(kinds[i]->CheckSettings(OperatorCheck{g, op}));
  }
  RETURN_IF_ERROR(CheckSinkPaths(g));
  // Resolve inputs and compute schemas in dependency order (inputs may be
  // declared after their consumers; cycles are rejected).
  std::vector<std::optional<StaticSchema>> schemas(g.operators_size());
  std::vector<int> state(g.operators_size(), 0);  // 0 new, 1 visiting, 2 done
  std::function<absl::Status(int)> visit = [&](int i) -> absl::Status {
    if (state[i] == 2) return absl::OkStatus();
    const auto& op = g.operators(i);
    if (state[i] == 1)
      return OpError(g, op, "input", "the graph has a cycle through this operator");
    state[i] = 1;
    const OperatorKind& kind = *kinds[i];
    StaticSchema in;
    if (!kind.traits().source) {
      auto [up, port] = SplitInput(op.input());
      auto it = index.find(up);
      if (it == index.end())
        return OpError(g, op, "input", absl::StrCat("no operator named '", up, "'"));
      const OperatorKind& upstream = *kinds[it->second];
      if (upstream.traits().sink) {
        return OpError(g, op, "input", absl::StrCat("'", up, "' is a sink and has no output"));
      }
      // Any operator may be read for dead letters (jobs have always been
      // allowed to); the kinds that send them declare the port, so that an
      // unread one is kept (AddSideOutputSinks). Other ports must exist.
      if (!port.empty() && port != kDeadLetterPort && !upstream.HasSidePort(port)) {
        return OpError(g, op, "input", NoSuchPort(up, port));
      }
      RETURN_IF_ERROR(visit(it->second));
      if (port.empty()) {
        in = *schemas[it->second];
      } else {
        for (const auto& f : SidePortSchema(port)->fields()) in.fields[f.name] = f.type;
      }
    }
    if (op.key_by_size() > 0 && kind.traits().source) {
      return OpError(g, op, "key_by", "a source takes no key_by");
    }
    for (const auto& k : op.key_by()) {
      if (!in.Lookup(k).has_value())
        return OpError(g, op, "key_by", absl::StrCat("unknown field '", k, "'"));
    }
    ASSIGN_OR_RETURN(StaticSchema out, kind.OutputSchema(OperatorCheck{g, op}, in));
    schemas[i] = std::move(out);
    state[i] = 2;
    return absl::OkStatus();
  };
  for (int i = 0; i < g.operators_size(); ++i) RETURN_IF_ERROR(visit(i));
  return absl::OkStatus();
}

}  // namespace sluice
