#include "coordinator/job_master.h"

#include <cstdio>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/key_group.h"
#include "common/time_util.h"
#include "coordinator/job_load.h"
#include "coordinator/job_metrics.h"
#include "coordinator/plan_builder.h"

namespace sluice {
namespace {

bool IsTerminal(proto::JobState s) {
  return s == proto::FINISHED || s == proto::FAILED || s == proto::CANCELED;
}

bool IsTerminal(proto::TaskState s) {
  return s == proto::TASK_FINISHED || s == proto::TASK_FAILED || s == proto::TASK_CANCELED;
}

}  // namespace

JobMaster::JobMaster(proto::ExecutionPlan plan, int64_t now_ms, Options options,
                     SlotScheduler* slots, WorkerClient* workers,
                     const ControlThreadChecker& thread, Checkpointing checkpointing)
    : options_(options),
      scheduler_(*slots),
      workers_(*workers),
      thread_(thread),
      waiting_since_ms_(now_ms),
      plan_(std::move(plan)),
      store_(std::move(checkpointing.store)),
      initial_restore_(std::move(checkpointing.restore)) {
  attempt_ = checkpointing.previous_attempt;
  status_.set_restarts(checkpointing.restarts);
  if (store_ != nullptr && checkpointing.io != nullptr) {
    checkpoints_ = std::make_unique<CheckpointCoordinator>(plan_.job_id(), plan_.graph(), store_,
                                                           workers, checkpointing.io, thread);
    // Ids go on from a restored savepoint's, so they never go backwards
    // for the job's state.
    int64_t max_seen = checkpointing.max_seen_id;
    if (initial_restore_.has_value()) {
      max_seen = std::max(max_seen, initial_restore_->checkpoint_id());
    }
    checkpoints_->Recover(std::move(checkpointing.recovered), max_seen);
  }
  status_.set_job_id(plan_.job_id());
  status_.set_name(plan_.graph().name());
  status_.set_state(proto::CREATED);
  status_.set_submit_time_ms(NowMs());  // wall clock, for display only
  for (const auto& op : plan_.graph().operators()) status_.add_operator_ids(op.id());
}

proto::JobState JobMaster::state() const {
  thread_.AssertOnControlThread();
  return status_.state();
}

int64_t JobMaster::attempt() const {
  thread_.AssertOnControlThread();
  return attempt_;
}

const proto::ExecutionPlan& JobMaster::plan() const {
  thread_.AssertOnControlThread();
  return plan_;
}

void JobMaster::Tick(int64_t now_ms) {
  thread_.AssertOnControlThread();
  switch (status_.state()) {
    case proto::CREATED:
      TrySchedule(now_ms);
      break;
    case proto::RESTARTING:
      if (!restart_due_ms_.has_value()) {
        restart_due_ms_ = now_ms + RestartDelayMs();
        waiting_since_ms_ = *restart_due_ms_;  // the wait for slots starts then
      }
      if (now_ms < *restart_due_ms_) {
        status_.set_pending_reason(
            absl::StrCat("restarting in ", (*restart_due_ms_ - now_ms + 999) / 1000, " s"));
        break;
      }
      if (checkpoints_ != nullptr && checkpoints_->WritingMetadata()) {
        // It may complete: the new attempt must start from it then (its
        // sinks' leftovers must not be aborted from an older one).
        status_.set_pending_reason("waiting for a checkpoint's _metadata to be written");
        break;
      }
      TrySchedule(now_ms);
      break;
    case proto::RUNNING:
      if (checkpoints_ != nullptr) {
        bool all_running = true, all_finishing = true;
        for (const auto& st : status_.subtasks()) {
          all_running = all_running && st.state() == proto::TASK_RUNNING;
          all_finishing = all_finishing && st.finishing();
        }
        checkpoints_->Tick(now_ms, all_running, all_running && all_finishing);
      }
      break;
    default:
      break;
  }
}

void JobMaster::TrySchedule(int64_t now_ms) {
  const int needed = SlotsNeeded(plan_);
  std::optional<std::vector<SlotGrant>> slots = scheduler_.Allocate(needed);
  if (slots.has_value()) {
    Deploy(*std::move(slots));
    return;
  }
  const int free_slots = scheduler_.FreeSlots();
  const int workers = scheduler_.Workers();
  status_.set_pending_reason(absl::StrCat("waiting for task slots: the job needs ", needed, ", ",
                                          free_slots, " free on ", workers, " worker(s)"));
  if (now_ms - waiting_since_ms_ > options_.slot_wait_ms) {
    End(proto::FAILED,
        absl::StrCat("not enough free task slots: the job needs ", needed, ", the cluster has ",
                     free_slots, " free on ", workers, " worker(s) after waiting ",
                     options_.slot_wait_ms / 1000, " s"));
  }
}

void JobMaster::Deploy(std::vector<SlotGrant> slots) {
  slots_ = std::move(slots);
  lost_workers_.clear();
  ++attempt_;
  plan_.set_attempt(attempt_);
  plan_.clear_assignments();
  status_.clear_subtasks();
  first_subtask_.clear();
  const int max_parallelism = plan_.graph().max_parallelism() > 0 ? plan_.graph().max_parallelism()
                                                                  : kDefaultMaxParallelism;
  for (const auto& t : plan_.tasks()) {
    first_subtask_.push_back(status_.subtasks_size());
    for (int s = 0; s < t.parallelism(); ++s) {
      const SlotGrant& slot = slots_[s];
      const KeyGroups key_groups = KeyGroupRange(s, t.parallelism(), max_parallelism);
      auto* a = plan_.add_assignments();
      a->set_task(t.index());
      a->set_subtask(s);
      a->set_worker_id(slot.worker_id);
      a->set_worker_address(slot.worker_address);
      a->set_key_group_start(key_groups.start);
      a->set_key_group_end(key_groups.end);
      auto* st = status_.add_subtasks();
      st->set_job_id(job_id());
      st->set_attempt(attempt_);
      st->set_task(t.index());
      st->set_subtask(s);
      st->set_worker_id(slot.worker_id);
      st->set_state(proto::TASK_DEPLOYING);
    }
  }
  const proto::CheckpointMetadata* latest =
      checkpoints_ != nullptr ? checkpoints_->Latest() : nullptr;
  if (latest != nullptr) {
    *plan_.mutable_restore() = *latest;
  } else if (initial_restore_.has_value()) {
    *plan_.mutable_restore() = *initial_restore_;
  } else {
    plan_.clear_restore();
  }
  status_.set_restored_from(plan_.has_restore() ? plan_.restore().location() : "");
  status_.set_state(proto::RUNNING);
  status_.set_attempt(attempt_);
  status_.clear_pending_reason();
  restart_due_ms_.reset();
  if (checkpoints_ != nullptr) checkpoints_->OnAttempt(plan_);
  std::map<std::string, std::string> addresses;  // one deploy per worker
  for (const SlotGrant& s : slots_) addresses[s.worker_id] = s.worker_address;
  for (const auto& [worker_id, address] : addresses) {
    proto::DeployTasksRequest req;
    *req.mutable_plan() = plan_;
    req.set_worker_id(worker_id);
    workers_.DeployTasks(address, std::move(req),
                         [this, attempt = attempt_, id = worker_id,
                          addr = address](absl::Status s) { OnDeployDone(attempt, id, addr, s); });
  }
}

void JobMaster::OnDeployDone(int64_t attempt, const std::string& worker_id,
                             const std::string& address, const absl::Status& result) {
  thread_.AssertOnControlThread();
  if (attempt != attempt_ || status_.state() != proto::RUNNING) {
    // The attempt ended while the deploy was in flight; the worker may have
    // handled our cancel before the deploy.
    if (result.ok()) CancelOn(address, attempt);
    return;
  }
  if (!result.ok()) {
    if (absl::IsUnavailable(result)) unreachable_.push_back(worker_id);
    Fail(absl::StrCat("cannot deploy tasks to worker ", worker_id, " (", address,
                      "): ", result.message()));
  }
}

void JobMaster::OnCheckpointAck(const proto::CheckpointAck& ack, int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (checkpoints_ != nullptr && status_.state() == proto::RUNNING)
    checkpoints_->OnAck(ack, now_ms);
}

void JobMaster::OnCheckpointDecline(const proto::CheckpointDecline& d, int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (checkpoints_ != nullptr && status_.state() == proto::RUNNING) {
    checkpoints_->OnDecline(d, now_ms);
  }
}

void JobMaster::TriggerSavepoint(const std::string& name, bool cancel, int64_t now_ms,
                                 CheckpointCoordinator::SavepointDone done) {
  thread_.AssertOnControlThread();
  if (checkpoints_ == nullptr || status_.state() != proto::RUNNING) {
    done(absl::FailedPreconditionError(absl::StrCat("job ", job_id(), " is ",
                                                    proto::JobState_Name(status_.state()),
                                                    ": a savepoint needs a running job")));
    return;
  }
  checkpoints_->TriggerSavepoint(name, now_ms,
                                 [this, cancel, done = std::move(done)](
                                     absl::StatusOr<proto::CheckpointMetadata> result) mutable {
                                   if (result.ok() && cancel) Cancel();
                                   done(std::move(result));
                                 });
}

std::vector<proto::CheckpointMetadata> JobMaster::ListCheckpoints() const {
  thread_.AssertOnControlThread();
  if (checkpoints_ == nullptr) return {};
  return checkpoints_->List();
}

std::vector<std::string> JobMaster::TakeUnreachableWorkers() {
  thread_.AssertOnControlThread();
  return std::exchange(unreachable_, {});
}

int64_t JobMaster::RestartDelayMs() const {
  const proto::RestartConfig& r = plan_.graph().restart();
  const int64_t initial = r.initial_delay_ms() > 0 ? r.initial_delay_ms() : 1000;
  if (r.strategy() != proto::RESTART_EXPONENTIAL) return initial;
  const int64_t max = r.max_delay_ms() > 0 ? r.max_delay_ms() : 30'000;
  int64_t delay = initial;
  for (int i = 1; i < status_.restarts() && delay < max; ++i) delay *= 2;
  return std::min(delay, max);
}

void JobMaster::Fail(const std::string& reason) {
  if (status_.state() != proto::RUNNING) return;
  const proto::RestartConfig& r = plan_.graph().restart();
  proto::RestartStrategy strategy = r.strategy();
  if (strategy == proto::RESTART_STRATEGY_UNSPECIFIED) {
    strategy =
        plan_.graph().checkpoint().interval_ms() > 0 ? proto::RESTART_FIXED : proto::RESTART_NONE;
  }
  const int max_attempts = r.max_attempts() > 0 ? r.max_attempts() : 10;
  if (strategy == proto::RESTART_NONE) {
    End(proto::FAILED, reason);
    return;
  }
  if (status_.restarts() >= max_attempts) {
    End(proto::FAILED, absl::StrCat(reason, " (gave up after ", status_.restarts(), " restarts)"));
    return;
  }
  std::fprintf(stderr, "sluice coordinator: job %s (%s) attempt %lld failed, restarting: %s\n",
               job_id().c_str(), status_.name().c_str(), static_cast<long long>(attempt_),
               reason.c_str());
  if (checkpoints_ != nullptr) checkpoints_->Stop(absl::StrCat("the job restarts: ", reason));
  ReleaseAttempt();
  status_.set_state(proto::RESTARTING);
  status_.set_restarts(status_.restarts() + 1);
  status_.set_last_restart_reason(reason);
  restart_due_ms_.reset();
  RecordRestart(job_id());
}

void JobMaster::ReleaseAttempt() {
  scheduler_.Release(slots_);
  std::map<std::string, std::string> addresses;
  for (const SlotGrant& s : slots_) {
    if (!lost_workers_.contains(s.worker_id)) addresses[s.worker_id] = s.worker_address;
  }
  for (const auto& [worker_id, address] : addresses) CancelOn(address, attempt_);
  slots_.clear();
}

void JobMaster::Cancel() {
  thread_.AssertOnControlThread();
  if (!IsTerminal(status_.state())) End(proto::CANCELED, "");
}

void JobMaster::OnWorkerLost(const std::string& worker_id, const std::string& reason) {
  thread_.AssertOnControlThread();
  if (status_.state() != proto::RUNNING || !RunsOn(worker_id)) return;
  lost_workers_.insert(worker_id);
  // No report comes from a lost worker: its subtasks end here, in status.
  for (proto::SubtaskStatus& st : *status_.mutable_subtasks()) {
    if (st.worker_id() != worker_id || IsTerminal(st.state())) continue;
    st.set_state(proto::TASK_FAILED);
    st.set_failure(reason);
  }
  Fail(reason);
}

void JobMaster::OnTaskReport(const std::string& worker_id, const proto::SubtaskStatus& status) {
  thread_.AssertOnControlThread();
  if (attempt_ == 0 || !IsCurrent(status.attempt())) return;
  proto::SubtaskStatus* s = FindSubtask(status.task(), status.subtask());
  if (s == nullptr || s->worker_id() != worker_id) return;
  *s = status;
  s->set_job_id(job_id());
  s->set_attempt(attempt_);
  s->set_worker_id(worker_id);
  if (status_.state() != proto::RUNNING) return;
  if (status.state() == proto::TASK_FAILED) {
    const std::string ops = absl::StrJoin(plan_.tasks(status.task()).operator_ids(), "->");
    if (status.unrestorable_checkpoint() != 0 && plan_.has_restore() &&
        status.unrestorable_checkpoint() == plan_.restore().checkpoint_id()) {
      const bool retained =
          checkpoints_ != nullptr && checkpoints_->Latest() != nullptr &&
          checkpoints_->Latest()->checkpoint_id() == plan_.restore().checkpoint_id();
      if (!retained) {
        // What the job was submitted to restore is damaged: no restart helps.
        End(proto::FAILED,
            absl::StrCat("task ", ops, " subtask ", status.subtask(), " cannot restore ",
                         plan_.restore().location(), ": ", status.failure()));
        return;
      }
      checkpoints_->Suspect(
          status.unrestorable_checkpoint(),
          absl::StrCat("task ", ops, " subtask ", status.subtask(), ": ", status.failure()));
    }
    Fail(absl::StrCat("task ", ops, " subtask ", status.subtask(), " on ", worker_id,
                      " failed: ", status.failure()));
    return;
  }
  // The coordinator cancels only attempts that are no longer RUNNING; a
  // task canceled now was canceled by its worker (stopping, or orphaned
  // while it could not reach the coordinator), and the attempt cannot end.
  if (status.state() == proto::TASK_CANCELED) {
    const std::string ops = absl::StrJoin(plan_.tasks(status.task()).operator_ids(), "->");
    Fail(absl::StrCat("task ", ops, " subtask ", status.subtask(), " was canceled by ", worker_id,
                      status.failure().empty() ? "" : absl::StrCat(": ", status.failure())));
    return;
  }
  for (const auto& st : status_.subtasks()) {
    if (st.state() != proto::TASK_FINISHED) return;
  }
  End(proto::FINISHED, "");
}

void JobMaster::OnHeartbeat(const std::string& worker_id, const proto::SubtaskStatus& status) {
  thread_.AssertOnControlThread();
  if (status_.state() != proto::RUNNING || !IsCurrent(status.attempt())) return;
  proto::SubtaskStatus* s = FindSubtask(status.task(), status.subtask());
  if (s == nullptr || s->worker_id() != worker_id || IsTerminal(s->state())) return;
  *s->mutable_operators() = status.operators();
  *s->mutable_load() = status.load();
  s->set_finishing(status.finishing());
  if (status.state() == proto::TASK_RUNNING) s->set_state(proto::TASK_RUNNING);
}

bool JobMaster::IsLiveOn(const std::string& worker_id, int64_t attempt) const {
  thread_.AssertOnControlThread();
  return status_.state() == proto::RUNNING && IsCurrent(attempt) && RunsOn(worker_id);
}

proto::JobRecord JobMaster::Record() const {
  thread_.AssertOnControlThread();
  proto::JobRecord r;
  *r.mutable_plan() = plan_;
  r.mutable_plan()->clear_assignments();
  r.mutable_plan()->clear_restore();
  r.set_state(status_.state());
  r.set_attempt(attempt_);
  if (initial_restore_.has_value()) *r.mutable_restore() = *initial_restore_;
  r.set_submit_time_ms(status_.submit_time_ms());
  r.set_restarts(status_.restarts());
  return r;
}

proto::JobStatus JobMaster::Status(bool with_subtasks) const {
  thread_.AssertOnControlThread();
  proto::JobStatus s = status_;
  if (s.state() == proto::RUNNING) AnnotateLoad(plan_, &s);
  if (checkpoints_ != nullptr && checkpoints_->Latest() != nullptr) {
    s.set_last_checkpoint_id(checkpoints_->Latest()->checkpoint_id());
  }
  if (!with_subtasks) s.clear_subtasks();
  return s;
}

void JobMaster::End(proto::JobState state, const std::string& failure) {
  const bool was_running = status_.state() == proto::RUNNING;
  status_.set_state(state);
  status_.set_failure(failure);
  status_.set_end_time_ms(NowMs());
  status_.clear_pending_reason();
  if (checkpoints_ != nullptr) {
    checkpoints_->Stop(absl::StrCat("the job is ", proto::JobState_Name(state)));
  }
  if (was_running) {
    if (state == proto::FINISHED) {
      scheduler_.Release(slots_);
    } else {
      ReleaseAttempt();
    }
  }
  slots_.clear();
  // Subtasks still running when the job failed or was canceled are
  // canceled (their workers' reports, if any come, say the same).
  for (proto::SubtaskStatus& st : *status_.mutable_subtasks()) {
    if (state != proto::FINISHED && !IsTerminal(st.state())) st.set_state(proto::TASK_CANCELED);
  }
  if (state == proto::FAILED) {
    std::fprintf(stderr, "sluice coordinator: job %s (%s) failed: %s\n", job_id().c_str(),
                 status_.name().c_str(), failure.c_str());
  }
}

void JobMaster::CancelOn(const std::string& address, int64_t attempt) {
  proto::CancelTasksRequest req;
  req.set_job_id(job_id());
  req.set_attempt(attempt);
  // Best effort: the worker may be gone, and heartbeats reconcile the rest.
  workers_.CancelTasks(address, std::move(req), [](absl::Status) {});
}

bool JobMaster::RunsOn(const std::string& worker_id) const {
  for (const SlotGrant& s : slots_) {
    if (s.worker_id == worker_id) return true;
  }
  return false;
}

proto::SubtaskStatus* JobMaster::FindSubtask(int task, int subtask) {
  if (task < 0 || task >= static_cast<int>(first_subtask_.size())) return nullptr;
  if (subtask < 0 || subtask >= plan_.tasks(task).parallelism()) return nullptr;
  return status_.mutable_subtasks(first_subtask_[task] + subtask);
}

}  // namespace sluice
