#include "catalog/transactional_sink.h"

#include "absl/strings/str_cat.h"
#include "common/crash_point.h"
#include "common/status_macros.h"

namespace sluice {

absl::Status TransactionalSink::Open(const OperatorContext& ctx) {
  RETURN_IF_ERROR(Operator::Open(ctx));
  RETURN_IF_ERROR(OpenSink());
  if (ctx.restore != nullptr && !ctx.restore->small_state.empty()) {
    proto::PendingCommits restored;
    if (!restored.ParseFromString(ctx.restore->small_state)) {
      return absl::DataLossError(absl::StrCat("the snapshot of sink '", ctx.spec->id(),
                                              "' holds no readable list of pending commits"));
    }
    // The restored checkpoint is complete: what it pre-committed is committed.
    for (const auto& p : restored.pending()) {
      RETURN_IF_ERROR(Commit(p.checkpoint_id(), p.handle()));
    }
  }
  return AbortLeftovers();
}

absl::Status TransactionalSink::ProcessBatch(Batch batch, Output&) { return Write(batch); }

absl::Status TransactionalSink::Finish(Output&) {
  // Exactly-once: the final checkpoint pre-commits what is left, and its
  // completion commits it.
  if (ctx_.exactly_once) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string handle, PreCommit(0));
  return handle.empty() ? absl::OkStatus() : Commit(0, handle);
}

absl::StatusOr<OperatorSnapshot> TransactionalSink::Snapshot(int64_t checkpoint_id,
                                                             const std::string&) {
  absl::StatusOr<std::string> pre_committed = PreCommit(checkpoint_id);
  if (!pre_committed.ok()) {
    // What the open transaction held may be gone: the task must not go on
    // past it (DataLoss fails the task, which restarts from a checkpoint).
    return absl::DataLossError(absl::StrCat("sink '", ctx_.spec->id(),
                                            "' could not pre-commit checkpoint ", checkpoint_id,
                                            ": ", pre_committed.status().message()));
  }
  std::string handle = *std::move(pre_committed);
  OperatorSnapshot s;
  if (!ctx_.exactly_once) {
    if (!handle.empty()) RETURN_IF_ERROR(Commit(checkpoint_id, handle));
    return s;
  }
  if (!handle.empty()) pending_.push_back({checkpoint_id, std::move(handle)});
  if (!pending_.empty()) {
    proto::PendingCommits commits;
    for (const Pending& p : pending_) {
      proto::PendingCommits::Pending* c = commits.add_pending();
      c->set_checkpoint_id(p.checkpoint_id);
      c->set_handle(p.handle);
    }
    s.small_state = commits.SerializeAsString();
  }
  return s;
}

absl::Status TransactionalSink::NotifyCheckpointComplete(int64_t checkpoint_id) {
  RETURN_IF_ERROR(CommitUpTo(checkpoint_id));
  // A task of an attempt that was replaced while its worker was paused may
  // have written on after this attempt's restore cleaned up: clean again.
  return AbortLeftovers();
}

absl::Status TransactionalSink::CommitUpTo(int64_t checkpoint_id) {
  while (!pending_.empty() && pending_.front().checkpoint_id <= checkpoint_id) {
    CrashPoint("sink.before-commit", checkpoint_id);
    RETURN_IF_ERROR(Commit(pending_.front().checkpoint_id, pending_.front().handle));
    pending_.pop_front();
  }
  return absl::OkStatus();
}

}  // namespace sluice
