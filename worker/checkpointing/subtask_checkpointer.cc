#include "worker/checkpointing/subtask_checkpointer.h"

#include <filesystem>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/crash_point.h"
#include "common/status_macros.h"
#include "store/checkpoint_store.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

proto::CheckpointDecline MakeDecline(const SubtaskCheckpointer::Identity& id, int64_t checkpoint_id,
                                     const absl::Status& reason) {
  proto::CheckpointDecline d;
  d.set_job_id(id.job_id);
  d.set_attempt(id.attempt);
  d.set_checkpoint_id(checkpoint_id);
  d.set_task(id.task);
  d.set_subtask(id.subtask);
  d.set_reason(std::string(reason.message()));
  return d;
}

}  // namespace

SubtaskCheckpointer::SubtaskCheckpointer(std::shared_ptr<const proto::ExecutionPlan> plan,
                                         Identity id, std::string state_dir,
                                         SnapshotUploader* uploader, CheckpointReporter* reporter)
    : plan_(std::move(plan)),
      id_(std::move(id)),
      state_dir_(std::move(state_dir)),
      uploader_(*uploader),
      reporter_(*reporter) {}

absl::StatusOr<std::shared_ptr<ObjectStore>> SubtaskCheckpointer::Store() {
  if (store_ == nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<ObjectStore> store,
                     OpenCheckpointStore(plan_->checkpoint_store(), plan_->graph().checkpoint()));
    store_ = std::move(store);
  }
  return store_;
}

void SubtaskCheckpointer::Decline(int64_t id, const absl::Status& reason) {
  last_id_ = std::max(last_id_, id);
  reporter_.Decline(MakeDecline(id_, id, reason));
}

void SubtaskCheckpointer::Discard(const std::shared_ptr<LocalSnapshot>& snapshot) {
  uploader_.Submit([snapshot] {
    WaitForSnapshotFiles(*snapshot);
    std::error_code ec;
    fs::remove_all(snapshot->local_dir, ec);
  });
}

absl::Status SubtaskCheckpointer::Checkpoint(const CheckpointBarrier& barrier, int64_t alignment_ms,
                                             bool finished, TakeFn take, ForwardFn forward,
                                             UploadedFn uploaded) {
  const Clock& clock = Clock::Steady();
  const int64_t start = clock.NowMs();
  last_id_ = std::max(last_id_, barrier.id);
  auto snapshot = std::make_shared<LocalSnapshot>();
  snapshot->job_id = id_.job_id;
  snapshot->attempt = id_.attempt;
  snapshot->task = id_.task;
  snapshot->subtask = id_.subtask;
  snapshot->barrier = barrier;
  snapshot->alignment_ms = alignment_ms;
  snapshot->finished = finished;
  snapshot->local_dir = absl::StrCat(state_dir_, "/chk-", barrier.id);
  absl::Status taken = take(*snapshot);
  if (!finished) RETURN_IF_ERROR(forward(barrier));
  if (!taken.ok()) {
    Discard(snapshot);
    reporter_.Decline(MakeDecline(id_, barrier.id, taken));
    return absl::IsDataLoss(taken) ? taken : absl::OkStatus();
  }
  snapshot->sync_ms = clock.NowMs() - start;
  CrashPoint("worker.after-snapshot", barrier.id);
  absl::StatusOr<std::shared_ptr<ObjectStore>> store = Store();
  if (!store.ok()) {
    Discard(snapshot);
    reporter_.Decline(MakeDecline(id_, barrier.id, store.status()));
    return absl::OkStatus();
  }
  uploader_.Submit([snapshot, store = *std::move(store), files = files_, reporter = &reporter_,
                    id = id_, uploaded = std::move(uploaded)]() mutable {
    absl::StatusOr<proto::SubtaskSnapshot> result = UploadSnapshot(*store, *snapshot, *files);
    WaitForSnapshotFiles(*snapshot);  // a failed upload may not have waited
    std::error_code ec;
    fs::remove_all(snapshot->local_dir, ec);
    if (!result.ok()) {
      reporter->Decline(MakeDecline(id, snapshot->barrier.id, result.status()));
      return;
    }
    if (uploaded) uploaded(*result);
    CrashPoint("worker.after-upload", snapshot->barrier.id);
    proto::CheckpointAck ack;
    ack.set_job_id(id.job_id);
    ack.set_attempt(id.attempt);
    ack.set_checkpoint_id(snapshot->barrier.id);
    ack.set_worker_id(id.worker_id);
    *ack.mutable_snapshot() = *std::move(result);
    reporter->Ack(std::move(ack));
  });
  return absl::OkStatus();
}

absl::StatusOr<const proto::SubtaskSnapshot*> SubtaskCheckpointer::Restore(
    std::map<std::string, OperatorRestore>* restores, DownloadedFn downloaded) {
  if (!plan_->has_restore()) return nullptr;
  const proto::CheckpointMetadata& from = plan_->restore();
  const proto::SubtaskSnapshot* mine = nullptr;
  for (const auto& s : from.subtasks()) {
    if (s.task() == id_.task && s.subtask() == id_.subtask) mine = &s;
  }
  if (mine == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("checkpoint ", from.checkpoint_id(),
                                                      " holds no state for task ", id_.task,
                                                      " subtask ", id_.subtask));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<ObjectStore> store, Store());
  for (const auto& op : mine->operators()) {
    OperatorRestore& r = (*restores)[op.operator_id()];
    r.small_state = op.small_state();
    r.checkpoint_id = from.checkpoint_id();
    if (op.files_size() == 0) continue;
    const int64_t start = Clock::Steady().NowMs();
    r.keyed_dir = absl::StrCat(state_dir_, "/restore/", op.operator_id());
    RETURN_IF_ERROR(DownloadOperatorState(*store, op, r.keyed_dir));
    downloaded(op.operator_id(), Clock::Steady().NowMs() - start);
  }
  files_->Seed(*mine);
  CrashPoint("worker.after-restore", from.checkpoint_id());
  return mine;
}

}  // namespace sluice
