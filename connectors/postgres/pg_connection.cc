#include "connectors/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/clock.h"

namespace sluice {
namespace {

// host:port named by a connection string, for messages.
std::string Where(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    PQfreemem(err);
    return "(unreadable dsn)";
  }
  std::string host = "localhost", port = "5432";
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val == nullptr) continue;
    if (std::string(o->keyword) == "host") host = o->val;
    if (std::string(o->keyword) == "port") port = o->val;
  }
  PQconninfoFree(opts);
  return absl::StrCat(host, ":", port);
}

std::string Trimmed(const char* message) {
  std::string m = message == nullptr ? "" : message;
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

}  // namespace

PgConnection::PgConnection(std::string dsn) : dsn_(std::move(dsn)), where_(Where(dsn_)) {}

PgConnection::~PgConnection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

bool PgConnection::connected() const {
  return conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK;
}

absl::Status PgConnection::Connect(int64_t retry_ms) {
  const int64_t deadline = Clock::Steady().NowMs() + retry_ms;
  int64_t backoff = 200;
  while (true) {
    if (conn_ != nullptr) PQfinish(conn_);
    conn_ = PQconnectdb(dsn_.c_str());
    if (PQstatus(conn_) == CONNECTION_OK) return absl::OkStatus();
    const std::string reason = Trimmed(PQerrorMessage(conn_));
    if (Clock::Steady().NowMs() + backoff > deadline) {
      return absl::UnavailableError(absl::StrCat("cannot connect to PostgreSQL at ", where_,
                                                 " (retried for ", retry_ms / 1000,
                                                 " s): ", reason));
    }
    absl::SleepFor(absl::Milliseconds(backoff));
    backoff = std::min<int64_t>(backoff * 2, 2000);
  }
}

absl::Status PgConnection::ResultError(PGresult* r, const std::string& what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  sqlstate_ = state != nullptr ? state : "";
  const std::string message =
      Trimmed(r != nullptr ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
  const std::string text =
      absl::StrCat("PostgreSQL at ", where_, ": ", what, ": ", message,
                   sqlstate_.empty() ? "" : absl::StrCat(" (", sqlstate_, ")"));
  // Class 08 is a connection exception; a dead connection has no SQLSTATE.
  if (PQstatus(conn_) != CONNECTION_OK || sqlstate_.starts_with("08") ||
      sqlstate_.starts_with("57P")) {
    return absl::UnavailableError(text);
  }
  return absl::FailedPreconditionError(text);
}

absl::StatusOr<std::vector<std::vector<std::string>>> PgConnection::Query(const std::string& sql) {
  if (conn_ == nullptr) return absl::UnavailableError("not connected to PostgreSQL");
  sqlstate_.clear();
  PGresult* r = PQexec(conn_, sql.c_str());
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    absl::Status s = ResultError(r, sql.substr(0, 60));
    PQclear(r);
    return s;
  }
  std::vector<std::vector<std::string>> rows(PQntuples(r));
  for (int i = 0; i < PQntuples(r); ++i) {
    for (int j = 0; j < PQnfields(r); ++j) rows[i].push_back(PQgetvalue(r, i, j));
  }
  PQclear(r);
  return rows;
}

absl::Status PgConnection::ExecuteParams(const std::string& sql,
                                         const std::vector<const char*>& params) {
  if (conn_ == nullptr) return absl::UnavailableError("not connected to PostgreSQL");
  sqlstate_.clear();
  PGresult* r = PQexecParams(conn_, sql.c_str(), static_cast<int>(params.size()), nullptr,
                             params.data(), nullptr, nullptr, 0);
  const ExecStatusType st = r != nullptr ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  absl::Status s = st == PGRES_COMMAND_OK ? absl::OkStatus() : ResultError(r, "writing rows");
  PQclear(r);
  return s;
}

std::string PgConnection::Literal(const std::string& s) const {
  char* q = PQescapeLiteral(conn_, s.data(), s.size());
  std::string out = q != nullptr ? q : "''";
  PQfreemem(q);
  return out;
}

std::string PgConnection::Identifier(const std::string& s) const {
  char* q = PQescapeIdentifier(conn_, s.data(), s.size());
  std::string out = q != nullptr ? q : "\"\"";
  PQfreemem(q);
  return out;
}

}  // namespace sluice
