#pragma once

// postgres_sink: records into a PostgreSQL table (catalog/transactional_sink.h).
//
// Each subtask has its own connection. Output fields map to the table's
// columns by name (a field without a column is an error; columns without a
// field get their defaults). Records go into an open transaction, in
// multi-row INSERTs; with mode UPSERT, `INSERT ... ON CONFLICT (key) DO
// UPDATE`, so a record written again overwrites itself.
//
// Exactly-once jobs use two-phase commit: at a barrier the transaction is
// prepared (`PREPARE TRANSACTION`) under the id
// `sluice:<job>:<operator>:<subtask>:<attempt>:<checkpoint>`, and committed
// (`COMMIT PREPARED`) when the checkpoint completes; an id that no longer
// exists counts as committed. A restored subtask commits what its
// checkpoint prepared, then rolls back the prepared transactions of its
// earlier attempts (`pg_prepared_xacts`). The server needs
// `max_prepared_transactions > 0`; without it the sink fails at start with
// a message saying so. Other jobs commit at each barrier.
//
// Commits and rollbacks of prepared transactions go through a second
// connection, since the first is inside the next transaction by then.
// A connection that cannot be made, or is lost while committing, is tried
// again with backoff for 30 s; one lost during a transaction fails the task,
// and the job recovers from its last checkpoint (PostgreSQL rolls back what
// was not prepared). Statements wait at most 30 s for a lock
// (lock_timeout), so a row locked by someone else fails the task instead of
// hanging it.

#include <map>
#include <memory>
#include <set>
#include <string>

#include "catalog/transactional_sink.h"
#include "connectors/postgres/pg_connection.h"
#include "connectors/postgres/postgres.pb.h"

namespace sluice {

class PostgresSink : public TransactionalSink {
 public:
  static constexpr int64_t kRetryMs = 30'000;

  explicit PostgresSink(proto::PostgresSinkConfig config) : config_(std::move(config)) {}

 protected:
  absl::Status OpenSink() override;
  absl::Status Write(const Batch& batch) override;
  absl::StatusOr<std::string> PreCommit(int64_t checkpoint_id) override;
  absl::Status Commit(int64_t checkpoint_id, const std::string& handle) override;
  absl::Status AbortLeftovers() override;

 private:
  // Reconnects (with backoff) unless connected; never inside a transaction.
  absl::Status EnsureConnected();
  // The connection for commits, (re)connected with backoff.
  absl::StatusOr<PgConnection*> CommitConnection();
  // The table's columns; checks the key columns.
  absl::Status LoadColumns();
  // Checks `schema`'s fields against the columns and builds the statement
  // prefix and suffix for it.
  absl::Status Prepare(const SchemaRef& schema);
  std::string GidPrefix() const;

  proto::PostgresSinkConfig config_;
  std::unique_ptr<PgConnection> conn_;  // writes: the open transaction
  // COMMIT PREPARED, ROLLBACK PREPARED and pg_prepared_xacts: any session
  // may run them, and conn_ is usually inside the next transaction then.
  std::unique_ptr<PgConnection> commits_;
  std::string table_;  // quoted [schema.]table
  std::set<std::string> columns_;
  bool in_transaction_ = false;
  // For the schema last seen: "INSERT INTO t (a, b) VALUES " and the
  // ON CONFLICT clause; the positions of the key fields.
  SchemaRef prepared_for_;
  std::string insert_head_, insert_tail_;
  std::vector<size_t> key_fields_;
};

}  // namespace sluice
