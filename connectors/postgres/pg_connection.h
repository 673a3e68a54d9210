#pragma once

// A libpq connection with what the sink needs: statements that return an
// absl::Status naming the SQLSTATE, and reconnecting with backoff.
//
// Thread: one thread at a time (the task's).

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

struct pg_conn;
struct pg_result;

namespace sluice {

class PgConnection {
 public:
  // Where messages say the server is: host and port from the DSN, never
  // the password.
  explicit PgConnection(std::string dsn);
  ~PgConnection();
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  // Connects, retrying with backoff (200 ms doubling to 2 s) for up to
  // `retry_ms`; Unavailable naming the server and libpq's reason after.
  absl::Status Connect(int64_t retry_ms);
  bool connected() const;

  // Runs `sql`; the rows of its result as text (nullopt for NULL is not
  // needed here: NULL comes back as ""). Errors carry the SQLSTATE in
  // their message and map: a lost connection to Unavailable, others to
  // FailedPrecondition.
  absl::StatusOr<std::vector<std::vector<std::string>>> Query(const std::string& sql);
  absl::Status Execute(const std::string& sql) { return Query(sql).status(); }
  // Runs `sql` with text parameters $1..$n (nullptr: NULL).
  absl::Status ExecuteParams(const std::string& sql, const std::vector<const char*>& params);

  // The SQLSTATE of the last failed statement ("" if none).
  const std::string& last_sqlstate() const { return sqlstate_; }
  // Quotes a literal or an identifier for SQL.
  std::string Literal(const std::string& s) const;
  std::string Identifier(const std::string& s) const;
  // "host:port" of the server, for messages.
  const std::string& where() const { return where_; }

 private:
  absl::Status ResultError(::pg_result* r, const std::string& what);

  const std::string dsn_;
  std::string where_;
  pg_conn* conn_ = nullptr;
  std::string sqlstate_;
};

}  // namespace sluice
