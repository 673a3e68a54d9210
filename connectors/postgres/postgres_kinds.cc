#include "connectors/postgres/postgres_kinds.h"

#include "absl/strings/str_cat.h"
#include "catalog/typed_kind.h"
#include "common/job_yaml.h"
#include "common/status_macros.h"
#include "connectors/postgres/postgres.pb.h"
#include "connectors/postgres/postgres_sink.h"

namespace sluice {
namespace {

using job_yaml::GetString;

class PostgresSinkKind final : public TypedKind<proto::PostgresSinkConfig> {
 public:
  std::string_view name() const override { return "postgres_sink"; }
  const OperatorTraits& traits() const override {
    static const OperatorTraits traits{.sink = true, .transactional = true};
    return traits;
  }
  std::vector<const char*> yaml_fields() const override {
    return {"dsn", "table", "mode", "key", "key_by"};
  }

 protected:
  absl::Status Parse(const OperatorYaml& y, proto::PostgresSinkConfig* c) const override {
    RETURN_IF_ERROR(y.Require("dsn"));
    RETURN_IF_ERROR(y.Require("table"));
    ASSIGN_OR_RETURN(std::string dsn, GetString(y.ctx, y.node["dsn"], "dsn"));
    c->set_dsn(dsn);
    ASSIGN_OR_RETURN(std::string table, GetString(y.ctx, y.node["table"], "table"));
    c->set_table(table);
    if (const YAML::Node m = y.node["mode"]) {
      ASSIGN_OR_RETURN(std::string mode, GetString(y.ctx, m, "mode"));
      if (mode == "insert") {
        c->set_mode(proto::PostgresSinkConfig::INSERT);
      } else if (mode == "upsert") {
        c->set_mode(proto::PostgresSinkConfig::UPSERT);
      } else {
        return y.ctx.Error(m, "mode", "expected insert or upsert");
      }
    }
    if (const YAML::Node k = y.node["key"]) {
      if (k.IsScalar()) {
        c->add_key(k.as<std::string>());
      } else if (k.IsSequence() && k.size() > 0) {
        for (const auto& col : k) {
          if (!col.IsScalar()) return y.ctx.Error(col, "key", "expected a column name");
          c->add_key(col.as<std::string>());
        }
      } else {
        return y.ctx.Error(k, "key", "expected a column name or a list of them");
      }
    }
    return absl::OkStatus();
  }

  absl::Status Check(const OperatorCheck& c, const proto::PostgresSinkConfig& p) const override {
    if (p.dsn().empty()) return c.Error("dsn", "must not be empty");
    if (p.table().empty()) return c.Error("table", "must not be empty");
    if (p.mode() == proto::PostgresSinkConfig::UPSERT && p.key_size() == 0) {
      return c.Error("key", "mode upsert needs the key columns, for example key: [event_id]");
    }
    if (p.mode() == proto::PostgresSinkConfig::INSERT && p.key_size() > 0) {
      return c.Error("key", "is for mode: upsert");
    }
    // Transaction ids are sluice:<job>:<operator>:<subtask>:<attempt>:<checkpoint>,
    // at most 200 bytes.
    if (c.op.id().size() > 100) return c.Error("id", "a postgres_sink's id is at most 100 bytes");
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Operator>> NewOperator(
      const proto::OperatorSpec&, const proto::PostgresSinkConfig& p) const override {
    return std::make_unique<PostgresSink>(p);
  }
};

}  // namespace

std::unique_ptr<OperatorKind> NewPostgresSinkKind() { return std::make_unique<PostgresSinkKind>(); }

}  // namespace sluice
