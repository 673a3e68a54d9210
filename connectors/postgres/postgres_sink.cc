#include "connectors/postgres/postgres_sink.h"

#include <charconv>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/crash_point.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

// SQLSTATE undefined_object: COMMIT/ROLLBACK PREPARED of an id that does not exist.
constexpr char kUndefinedObject[] = "42704";
// Bind parameters per statement: at most PostgreSQL's 65535, and rows per
// statement at most this many.
constexpr size_t kMaxParams = 65535;
constexpr size_t kMaxRowsPerStatement = 1000;

// The text PostgreSQL reads for a value.
void AppendValue(const Column& c, size_t row, std::string* out) {
  switch (c.type) {
    case FieldType::kBool:
      out->append(c.ints[row] != 0 ? "true" : "false");
      return;
    case FieldType::kInt64:
      absl::StrAppend(out, c.ints[row]);
      return;
    case FieldType::kDouble: {
      const double v = c.doubles[row];
      if (std::isnan(v)) {
        out->append("NaN");
      } else if (std::isinf(v)) {
        out->append(v > 0 ? "Infinity" : "-Infinity");
      } else {
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof(buf), v);  // shortest exact form
        out->append(buf, r.ptr);
      }
      return;
    }
    case FieldType::kString:
      for (char ch : c.StringAt(row)) {
        if (ch == '\0') {
          out->append("\xEF\xBF\xBD");  // a text parameter cannot hold NUL: U+FFFD
        } else {
          out->push_back(ch);
        }
      }
      return;
    case FieldType::kNull:
      return;
  }
}

}  // namespace

std::string PostgresSink::GidPrefix() const {
  return absl::StrCat("sluice:", ctx_.job_id, ":", ctx_.spec->id(), ":", ctx_.subtask, ":");
}

absl::Status PostgresSink::EnsureConnected() {
  if (conn_->connected()) return absl::OkStatus();
  in_transaction_ = false;
  RETURN_IF_ERROR(conn_->Connect(kRetryMs));
  return conn_->Execute("SET lock_timeout = '30s'");
}

absl::StatusOr<PgConnection*> PostgresSink::CommitConnection() {
  if (commits_ == nullptr) commits_ = std::make_unique<PgConnection>(config_.dsn());
  if (!commits_->connected()) {
    RETURN_IF_ERROR(commits_->Connect(kRetryMs));
    RETURN_IF_ERROR(commits_->Execute("SET lock_timeout = '30s'"));
  }
  return commits_.get();
}

absl::Status PostgresSink::OpenSink() {
  conn_ = std::make_unique<PgConnection>(config_.dsn());
  RETURN_IF_ERROR(conn_->Connect(kRetryMs));
  RETURN_IF_ERROR(conn_->Execute("SET lock_timeout = '30s'"));
  if (ctx_.exactly_once) {
    ASSIGN_OR_RETURN(auto rows, conn_->Query("SHOW max_prepared_transactions"));
    int64_t n = 0;
    if (rows.empty() || !absl::SimpleAtoi(rows[0][0], &n) || n <= 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "PostgreSQL at ", conn_->where(),
          " has max_prepared_transactions = 0, and an exactly-once postgres_sink commits with "
          "two-phase commit: set max_prepared_transactions (at least the sink's parallelism "
          "times 2) in postgresql.conf and restart the server, or run the job with "
          "delivery: at_least_once and mode: upsert"));
    }
  }
  return LoadColumns();
}

absl::Status PostgresSink::LoadColumns() {
  std::vector<std::string> parts = absl::StrSplit(config_.table(), absl::MaxSplits('.', 1));
  const bool qualified = parts.size() == 2;
  std::vector<std::string> quoted;
  for (const auto& p : parts) quoted.push_back(conn_->Identifier(p));
  table_ = absl::StrJoin(quoted, ".");
  const std::string schema = qualified ? conn_->Literal(parts[0]) : std::string("current_schema()");
  ASSIGN_OR_RETURN(auto rows, conn_->Query(absl::StrCat(
                                  "SELECT column_name FROM information_schema.columns "
                                  "WHERE table_schema = ",
                                  schema, " AND table_name = ", conn_->Literal(parts.back()))));
  if (rows.empty()) {
    return absl::FailedPreconditionError(absl::StrCat("PostgreSQL at ", conn_->where(),
                                                      " has no table '", config_.table(),
                                                      "' (postgres_sink writes into an existing "
                                                      "table)"));
  }
  columns_.clear();
  for (const auto& r : rows) columns_.insert(r[0]);
  for (const auto& k : config_.key()) {
    if (!columns_.contains(k)) {
      return absl::FailedPreconditionError(
          absl::StrCat("table '", config_.table(), "' has no column '", k, "' (in key)"));
    }
  }
  return absl::OkStatus();
}

absl::Status PostgresSink::Prepare(const SchemaRef& schema_ref) {
  const Schema& schema = *schema_ref;
  std::vector<std::string> cols;
  key_fields_.clear();
  for (size_t i = 0; i < schema.size(); ++i) {
    const std::string& name = schema.field(i).name;
    if (!columns_.contains(name)) {
      return absl::FailedPreconditionError(
          absl::StrCat("postgres_sink '", ctx_.spec->id(), "': the field '", name,
                       "' of its input has no column in table '", config_.table(), "'"));
    }
    cols.push_back(conn_->Identifier(name));
  }
  insert_head_ = absl::StrCat("INSERT INTO ", table_, " (", absl::StrJoin(cols, ", "), ") VALUES ");
  insert_tail_.clear();
  if (config_.mode() == proto::PostgresSinkConfig::UPSERT) {
    std::vector<std::string> keys, updates;
    for (const auto& k : config_.key()) {
      keys.push_back(conn_->Identifier(k));
      bool found = false;
      for (size_t i = 0; i < schema.size(); ++i) {
        if (schema.field(i).name == k) {
          key_fields_.push_back(i);
          found = true;
        }
      }
      if (!found) {
        return absl::FailedPreconditionError(absl::StrCat(
            "postgres_sink '", ctx_.spec->id(), "': key field '", k, "' is not in its input"));
      }
    }
    for (size_t i = 0; i < schema.size(); ++i) {
      const std::string& name = schema.field(i).name;
      bool is_key = false;
      for (const auto& k : config_.key()) is_key = is_key || k == name;
      if (!is_key) updates.push_back(absl::StrCat(cols[i], " = EXCLUDED.", cols[i]));
    }
    insert_tail_ = absl::StrCat(" ON CONFLICT (", absl::StrJoin(keys, ", "), ") ",
                                updates.empty()
                                    ? "DO NOTHING"
                                    : absl::StrCat("DO UPDATE SET ", absl::StrJoin(updates, ", ")));
  }
  prepared_for_ = schema_ref;
  return absl::OkStatus();
}

absl::Status PostgresSink::Write(const Batch& batch) {
  if (batch.num_rows() == 0) return absl::OkStatus();
  if (!in_transaction_) {
    RETURN_IF_ERROR(EnsureConnected());
    RETURN_IF_ERROR(conn_->Execute("BEGIN"));
    in_transaction_ = true;
  }
  if (prepared_for_ == nullptr || !(*prepared_for_ == *batch.schema())) {
    RETURN_IF_ERROR(Prepare(batch.schema()));
  }
  const size_t fields = batch.schema()->size();
  // One statement must not touch a key twice (ON CONFLICT DO UPDATE refuses
  // it): within a statement, the last row of a key wins, as it would
  // across statements.
  std::vector<size_t> rows;
  rows.reserve(batch.num_rows());
  if (key_fields_.empty()) {
    for (size_t r = 0; r < batch.num_rows(); ++r) rows.push_back(r);
  } else {
    std::map<std::string, size_t> last;
    for (size_t r = 0; r < batch.num_rows(); ++r) {
      std::string key;
      for (size_t f : key_fields_) {
        key.push_back(batch.column(f).IsNull(r) ? 'n' : 'v');
        AppendValue(batch.column(f), r, &key);
        key.push_back('\0');
      }
      last[key] = r;
    }
    for (const auto& [key, r] : last) rows.push_back(r);
    std::sort(rows.begin(), rows.end());
  }
  const size_t per_statement =
      std::max<size_t>(1, std::min(kMaxRowsPerStatement, kMaxParams / std::max<size_t>(fields, 1)));
  std::vector<std::string> values;
  std::vector<const char*> params;
  for (size_t start = 0; start < rows.size(); start += per_statement) {
    const size_t end = std::min(rows.size(), start + per_statement);
    std::string sql = insert_head_;
    values.assign((end - start) * fields, std::string());
    params.assign((end - start) * fields, nullptr);
    int n = 0;
    for (size_t i = start; i < end; ++i) {
      absl::StrAppend(&sql, i == start ? "(" : ", (");
      for (size_t f = 0; f < fields; ++f) {
        const Column& c = batch.column(f);
        const size_t slot = (i - start) * fields + f;
        if (!c.IsNull(rows[i]) && c.type != FieldType::kNull) {
          AppendValue(c, rows[i], &values[slot]);
          params[slot] = values[slot].c_str();
        }
        absl::StrAppend(&sql, f == 0 ? "" : ", ", "$", ++n);
      }
      sql.push_back(')');
    }
    sql += insert_tail_;
    RETURN_IF_ERROR(conn_->ExecuteParams(sql, params));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PostgresSink::PreCommit(int64_t checkpoint_id) {
  if (!in_transaction_) return std::string();
  in_transaction_ = false;
  if (!ctx_.exactly_once) {
    RETURN_IF_ERROR(conn_->Execute("COMMIT"));
    return std::string();
  }
  std::string gid = absl::StrCat(GidPrefix(), ctx_.attempt, ":", checkpoint_id);
  RETURN_IF_ERROR(conn_->Execute(absl::StrCat("PREPARE TRANSACTION ", conn_->Literal(gid))));
  return gid;
}

absl::Status PostgresSink::Commit(int64_t checkpoint_id, const std::string& gid) {
  absl::Status s;
  // Each try reconnects with backoff for up to 30 s; the prepared
  // transaction waits on the server meanwhile.
  for (int tries = 0; tries < 3; ++tries) {
    absl::StatusOr<PgConnection*> c = CommitConnection();
    if (!c.ok()) {
      s = c.status();
      continue;
    }
    s = (*c)->Execute(absl::StrCat("COMMIT PREPARED ", (*c)->Literal(gid)));
    if (s.ok() || (*c)->last_sqlstate() == kUndefinedObject) {
      CrashPoint("sink.during-commit", checkpoint_id);
      return absl::OkStatus();  // done now, or before (idempotent)
    }
    if (!absl::IsUnavailable(s)) return s;
  }
  return s;
}

absl::Status PostgresSink::AbortLeftovers() {
  const std::string prefix = GidPrefix();
  ASSIGN_OR_RETURN(PgConnection * c, CommitConnection());
  ASSIGN_OR_RETURN(auto rows,
                   c->Query(absl::StrCat("SELECT gid FROM pg_prepared_xacts WHERE database = "
                                         "current_database() AND left(gid, ",
                                         prefix.size(), ") = ", c->Literal(prefix))));
  for (const auto& r : rows) {
    const std::string& gid = r[0];
    std::vector<std::string> rest = absl::StrSplit(gid.substr(prefix.size()), ':');
    int64_t attempt = 0;
    if (rest.size() != 2 || !absl::SimpleAtoi(rest[0], &attempt) || attempt >= ctx_.attempt) {
      continue;
    }
    absl::Status s = c->Execute(absl::StrCat("ROLLBACK PREPARED ", c->Literal(gid)));
    if (!s.ok() && c->last_sqlstate() != kUndefinedObject) return s;
  }
  return absl::OkStatus();
}

}  // namespace sluice
