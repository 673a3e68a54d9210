#include "coordinator/checkpoint_coordinator.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/checkpoint_layout.h"
#include "common/crash_point.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "coordinator/job_metrics.h"
#include "coordinator/restore.h"

namespace sluice {
namespace {

// How often a completion goes again to subtasks that have not confirmed it.
constexpr int64_t kNotifyRetryMs = 1000;

std::string MetadataKey(const proto::CheckpointMetadata& m) {
  const std::string dir = m.kind() == proto::SAVEPOINT
                              ? SavepointDir(m.name())
                              : CheckpointDir(m.job_id(), m.checkpoint_id());
  return absl::StrCat(dir, kMetadataFile);
}

}  // namespace

CheckpointCoordinator::CheckpointCoordinator(std::string job_id, proto::JobGraph graph,
                                             std::shared_ptr<ObjectStore> store,
                                             WorkerClient* workers, StoreIo* io,
                                             const ControlThreadChecker& thread)
    : job_id_(std::move(job_id)),
      graph_(std::move(graph)),
      config_(graph_.checkpoint()),
      store_(std::move(store)),
      workers_(*workers),
      io_(*io),
      thread_(thread) {}

void CheckpointCoordinator::Recover(std::vector<proto::CheckpointMetadata> completed,
                                    int64_t max_seen_id) {
  thread_.AssertOnControlThread();
  completed_.assign(completed.begin(), completed.end());
  for (const auto& m : completed_) max_seen_id = std::max(max_seen_id, m.checkpoint_id());
  next_id_ = std::max(next_id_, max_seen_id + 1);
}

void CheckpointCoordinator::OnAttempt(const proto::ExecutionPlan& plan) {
  thread_.AssertOnControlThread();
  attempt_ = plan.attempt();
  attempt_started_ = false;
  final_taken_ = false;
  final_tried_ = false;
  cleaned_ = false;
  notification_.reset();  // the new attempt's tasks commit what they restore
  workers_of_attempt_.clear();
  address_of_.clear();
  subtasks_.clear();
  for (const auto& a : plan.assignments()) {
    subtasks_.emplace_back(a.task(), a.subtask());
    workers_of_attempt_[a.worker_id()] = a.worker_address();
    address_of_[{a.task(), a.subtask()}] = a.worker_address();
  }
}

void CheckpointCoordinator::Stop(const std::string& reason) {
  thread_.AssertOnControlThread();
  if (pending_.has_value() && !pending_->writing) Abort(reason, last_end_ms_);
  attempt_ = 0;
  notification_.reset();
  while (!savepoints_waiting_.empty()) {
    savepoints_waiting_.front().done(absl::FailedPreconditionError(
        absl::StrCat("savepoint '", savepoints_waiting_.front().name, "' not taken: ", reason)));
    savepoints_waiting_.pop_front();
  }
}

void CheckpointCoordinator::Tick(int64_t now_ms, bool all_running, bool all_finishing) {
  thread_.AssertOnControlThread();
  if (notification_.has_value() && now_ms >= notification_->next_ms) SendCompletion(now_ms);
  const int64_t timeout = config_.timeout_ms() > 0 ? config_.timeout_ms() : 60'000;
  // A savepoint that could not even start within the timeout fails.
  while (!savepoints_waiting_.empty() && now_ms - savepoints_waiting_.front().queued_ms > timeout) {
    SavepointRequest r = std::move(savepoints_waiting_.front());
    savepoints_waiting_.pop_front();
    r.done(absl::DeadlineExceededError(absl::StrCat(
        "savepoint '", r.name, "' not taken within ", timeout / 1000, " s: ",
        pending_.has_value() ? absl::StrCat("checkpoint ", pending_->id, " is still pending")
                             : "not every task of the job is running")));
  }
  if (pending_.has_value()) {
    if (!pending_->writing && now_ms - pending_->trigger_ms > timeout) {
      std::vector<std::string> missing;
      for (const auto& [t, s] : pending_->waiting) {
        if (missing.size() == 5) {
          missing.push_back("...");
          break;
        }
        missing.push_back(absl::StrCat("task ", t, " subtask ", s));
      }
      Abort(absl::StrCat("expired after ", timeout, " ms without an acknowledgement from ",
                         absl::StrJoin(missing, ", ")),
            now_ms);
    }
    return;
  }
  if (attempt_ == 0 || !all_running) return;
  if (!attempt_started_) {
    attempt_started_ = true;
    last_trigger_ms_ = std::max(last_trigger_ms_, now_ms);
  }
  if (!savepoints_waiting_.empty()) {
    SavepointRequest r = std::move(savepoints_waiting_.front());
    savepoints_waiting_.pop_front();
    Trigger(proto::SAVEPOINT, std::move(r.name), std::move(r.done), now_ms);
    return;
  }
  if (config_.interval_ms() <= 0) return;
  if (all_finishing && !final_taken_) {
    // Every task is done but for committing: no need to wait the interval,
    // but a final checkpoint that failed is not tried again at once.
    if (!final_tried_ || now_ms >= last_end_ms_ + std::max<int64_t>(config_.min_pause_ms(), 1000)) {
      final_tried_ = true;
      Trigger(proto::CHECKPOINT, "", nullptr, now_ms, /*final=*/true);
    }
    return;
  }
  if (now_ms >= last_trigger_ms_ + config_.interval_ms() &&
      now_ms >= last_end_ms_ + config_.min_pause_ms()) {
    Trigger(proto::CHECKPOINT, "", nullptr, now_ms);
  }
}

void CheckpointCoordinator::TriggerSavepoint(const std::string& name, int64_t now_ms,
                                             SavepointDone done) {
  thread_.AssertOnControlThread();
  if (attempt_ == 0) {
    done(absl::FailedPreconditionError(
        absl::StrCat("job ", job_id_, " is not running: a savepoint needs running tasks")));
    return;
  }
  savepoints_waiting_.push_back({name, std::move(done), now_ms});
}

void CheckpointCoordinator::Trigger(proto::CheckpointKind kind, std::string name,
                                    SavepointDone done, int64_t now_ms, bool final) {
  Pending p;
  p.final = final;
  p.id = next_id_++;
  p.kind = kind;
  p.name = std::move(name);
  p.attempt = attempt_;
  p.trigger_ms = now_ms;
  p.waiting.insert(subtasks_.begin(), subtasks_.end());
  p.done = std::move(done);
  proto::CheckpointMetadata& m = p.metadata;
  m.set_job_id(job_id_);
  m.set_checkpoint_id(p.id);
  m.set_kind(kind);
  m.set_name(p.name);
  m.set_attempt(attempt_);
  m.set_trigger_time_ms(NowMs());
  *m.mutable_graph() = graph_;
  const int64_t id = p.id;
  pending_ = std::move(p);
  last_trigger_ms_ = now_ms;
  for (const auto& [worker_id, address] : workers_of_attempt_) {
    proto::TriggerCheckpointRequest req;
    req.set_job_id(job_id_);
    req.set_attempt(attempt_);
    req.set_checkpoint_id(id);
    req.set_timestamp_ms(pending_->metadata.trigger_time_ms());
    req.set_kind(kind);
    req.set_savepoint_name(pending_->name);
    workers_.TriggerCheckpoint(
        address, std::move(req), [this, id, address = address](absl::Status s) {
          if (s.ok() || !pending_.has_value() || pending_->id != id || pending_->writing) return;
          Abort(absl::StrCat("cannot trigger it at worker ", address, ": ", s.message()),
                last_trigger_ms_);
        });
  }
}

void CheckpointCoordinator::OnAck(const proto::CheckpointAck& ack, int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (!pending_.has_value() || pending_->writing || ack.checkpoint_id() != pending_->id ||
      ack.attempt() != pending_->attempt) {
    return;  // late, or for an aborted checkpoint
  }
  const auto key = std::make_pair(ack.snapshot().task(), ack.snapshot().subtask());
  if (pending_->waiting.erase(key) == 0) return;  // not expected, or twice
  *pending_->metadata.add_subtasks() = ack.snapshot();
  if (pending_->waiting.empty()) Complete(now_ms);
}

void CheckpointCoordinator::OnDecline(const proto::CheckpointDecline& d, int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (!pending_.has_value() || pending_->writing || d.checkpoint_id() != pending_->id ||
      d.attempt() != pending_->attempt) {
    return;
  }
  Abort(absl::StrCat("task ", d.task(), " subtask ", d.subtask(), " declined: ", d.reason()),
        now_ms);
}

void CheckpointCoordinator::Complete(int64_t now_ms) {
  Pending& p = *pending_;
  p.writing = true;
  CrashPoint("coordinator.before-metadata", p.id);
  proto::CheckpointMetadata& m = p.metadata;
  int64_t state = 0, uploaded = 0;
  for (const auto& s : m.subtasks()) {
    state += s.state_bytes();
    uploaded += s.uploaded_bytes();
  }
  std::sort(m.mutable_subtasks()->begin(), m.mutable_subtasks()->end(),
            [](const auto& a, const auto& b) {
              return std::make_pair(a.task(), a.subtask()) < std::make_pair(b.task(), b.subtask());
            });
  m.set_state_bytes(state);
  m.set_uploaded_bytes(uploaded);
  m.set_duration_ms(now_ms - p.trigger_ms);
  m.set_complete_time_ms(NowMs());
  const std::string key = MetadataKey(m);
  m.set_location(absl::StrCat(store_->uri(), "/", key));
  const int64_t id = p.id;
  io_.Run([store = store_, key, bytes = m.SerializeAsString()] { return store->Put(key, bytes); },
          [this, id](absl::Status s, int64_t now) { OnMetadataWritten(id, s, now); });
}

void CheckpointCoordinator::OnMetadataWritten(int64_t id, const absl::Status& result,
                                              int64_t now_ms) {
  thread_.AssertOnControlThread();
  if (!pending_.has_value() || pending_->id != id) return;
  if (!result.ok()) {
    pending_->writing = false;
    Abort(absl::StrCat("cannot write its _metadata: ", result.message()), now_ms);
    return;
  }
  CrashPoint("coordinator.after-metadata", id);
  Pending p = *std::move(pending_);
  pending_.reset();
  last_end_ms_ = now_ms;
  if (p.kind == proto::CHECKPOINT) {
    completed_.push_back(p.metadata);
    ++completed_count_;
    RecordCheckpointCompleted(p.metadata);
  } else {
    savepoints_.push_back(p.metadata);
  }
  // A savepoint commits nothing: failover restores checkpoints, and what a
  // savepoint pre-committed is committed by the next checkpoint (or by the
  // job restored from it).
  if (p.attempt == attempt_ && p.kind == proto::CHECKPOINT) {
    if (p.final) final_taken_ = true;
    notification_ = Notification{id, p.final, {subtasks_.begin(), subtasks_.end()}, now_ms};
    SendCompletion(now_ms);
  }
  CrashPoint("coordinator.after-notify", id);
  if (p.kind == proto::CHECKPOINT) {
    ApplyRetention();
    if (!cleaned_ && p.attempt == attempt_) {
      cleaned_ = true;
      RemoveLeftovers();
    }
  }
  if (p.done) p.done(std::move(p.metadata));
}

void CheckpointCoordinator::Abort(const std::string& reason, int64_t now_ms) {
  Pending p = *std::move(pending_);
  pending_.reset();
  last_end_ms_ = std::max(last_end_ms_, now_ms);
  ++aborted_count_;
  RecordCheckpointAborted(job_id_);
  const char* what = p.kind == proto::SAVEPOINT ? "savepoint" : "checkpoint";
  std::fprintf(stderr, "sluice coordinator: %s %lld of job %s aborted: %s\n", what,
               static_cast<long long>(p.id), job_id_.c_str(), reason.c_str());
  if (p.attempt == attempt_) NotifyAborted(p.id);
  if (p.done) {
    p.done(absl::AbortedError(absl::StrCat(what, " ", p.id, " aborted: ", reason)));
  }
}

void CheckpointCoordinator::NotifyAborted(int64_t id) {
  for (const auto& [worker_id, address] : workers_of_attempt_) {
    proto::NotifyCheckpointRequest req;
    req.set_job_id(job_id_);
    req.set_attempt(attempt_);
    req.set_checkpoint_id(id);
    req.set_complete(false);
    workers_.NotifyCheckpoint(address, std::move(req),
                              [](absl::StatusOr<proto::NotifyCheckpointResponse>) {});
  }
}

void CheckpointCoordinator::SendCompletion(int64_t now_ms) {
  Notification& n = *notification_;
  n.next_ms = now_ms + kNotifyRetryMs;
  std::set<std::string> addresses;
  for (const auto& key : n.unconfirmed) addresses.insert(address_of_[key]);
  for (const std::string& address : addresses) {
    proto::NotifyCheckpointRequest req;
    req.set_job_id(job_id_);
    req.set_attempt(attempt_);
    req.set_checkpoint_id(n.id);
    req.set_complete(true);
    req.set_final(n.final);
    workers_.NotifyCheckpoint(
        address, std::move(req),
        [this, id = n.id, attempt = attempt_](absl::StatusOr<proto::NotifyCheckpointResponse> r) {
          if (!r.ok() || !notification_.has_value() || notification_->id != id ||
              attempt != attempt_) {
            return;  // sent again at the next retry, unless superseded
          }
          for (const auto& ref : r->subtasks()) {
            notification_->unconfirmed.erase({ref.task(), ref.subtask()});
          }
          if (notification_->unconfirmed.empty()) notification_.reset();
        });
  }
}

void CheckpointCoordinator::ApplyRetention() {
  const size_t retain = static_cast<size_t>(config_.retain() > 0 ? config_.retain() : 3);
  if (completed_.size() <= retain) return;
  std::vector<int64_t> dropped;
  std::set<std::string> candidates;
  while (completed_.size() > retain) {
    const proto::CheckpointMetadata& m = completed_.front();
    dropped.push_back(m.checkpoint_id());
    for (const auto& s : m.subtasks()) {
      for (const auto& op : s.operators()) {
        for (const auto& f : op.files()) candidates.insert(f.key());
      }
    }
    completed_.pop_front();
  }
  // Shared files of this job that no retained checkpoint refers to. Files
  // elsewhere (a savepoint a restore started from) are never deleted here.
  const std::string shared_prefix = absl::StrCat(job_id_, "/shared/");
  for (const auto& m : completed_) {
    for (const auto& s : m.subtasks()) {
      for (const auto& op : s.operators()) {
        for (const auto& f : op.files()) candidates.erase(f.key());
      }
    }
  }
  std::vector<std::string> shared;
  for (const auto& k : candidates) {
    if (absl::StartsWith(k, shared_prefix)) shared.push_back(k);
  }
  io_.Run(
      [store = store_, job = job_id_, dropped, shared]() -> absl::Status {
        for (int64_t id : dropped) {
          const std::string dir = CheckpointDir(job, id);
          // _metadata first: a checkpoint is gone before any of its files is.
          absl::Status s = store->Delete(absl::StrCat(dir, kMetadataFile));
          if (!s.ok()) return s;
          absl::StatusOr<std::vector<ObjectInfo>> files = store->List(dir);
          if (!files.ok()) return files.status();
          for (const auto& f : *files) {
            s = store->Delete(f.key);
            if (!s.ok()) return s;
          }
        }
        for (const auto& k : shared) {
          absl::Status s = store->Delete(k);
          if (!s.ok()) return s;
        }
        return absl::OkStatus();
      },
      [job = job_id_](absl::Status s, int64_t) {
        if (!s.ok()) {
          std::fprintf(stderr, "sluice coordinator: deleting old checkpoints of job %s: %s\n",
                       job.c_str(), std::string(s.message()).c_str());
        }
      });
}

void CheckpointCoordinator::Suspect(int64_t id, const std::string& reason) {
  thread_.AssertOnControlThread();
  auto it = std::find_if(completed_.begin(), completed_.end(),
                         [id](const auto& m) { return m.checkpoint_id() == id; });
  if (it == completed_.end()) return;
  io_.Run([store = store_, m = *it] { return VerifySnapshotFiles(*store, m); },
          [this, id, reason](absl::Status verified, int64_t) {
            if (absl::IsDataLoss(verified)) {
              Discard(id, absl::StrCat(reason, "; ", verified.message()));
              return;
            }
            std::fprintf(
                stderr,
                "sluice coordinator: job %s: a task could not restore checkpoint %lld "
                "(%s), but its files check out (%s); it is kept\n",
                job_id_.c_str(), static_cast<long long>(id), reason.c_str(),
                verified.ok() ? "all present and intact" : std::string(verified.message()).c_str());
          });
}

void CheckpointCoordinator::Discard(int64_t id, const std::string& reason) {
  thread_.AssertOnControlThread();
  auto it = std::find_if(completed_.begin(), completed_.end(),
                         [id](const auto& m) { return m.checkpoint_id() == id; });
  if (it == completed_.end()) return;
  const std::string key = MetadataKey(*it);
  completed_.erase(it);
  io_.Run([store = store_, key] { return store->Delete(key); }, [](absl::Status, int64_t) {});
  const std::string next =
      completed_.empty() ? "" : absl::StrCat("checkpoint ", completed_.back().checkpoint_id());
  std::fprintf(stderr,
               "sluice coordinator: job %s: checkpoint %lld cannot be restored (%s); it recovers "
               "from %s\n",
               job_id_.c_str(), static_cast<long long>(id), reason.c_str(),
               next.empty() ? "what it started from" : next.c_str());
}

void CheckpointCoordinator::RemoveLeftovers() {
  std::set<std::string> referenced;
  std::set<int64_t> retained;
  for (const auto& m : completed_) {
    retained.insert(m.checkpoint_id());
    for (const auto& s : m.subtasks()) {
      for (const auto& op : s.operators()) {
        for (const auto& f : op.files()) referenced.insert(f.key());
      }
    }
  }
  const int64_t newest = completed_.empty() ? 0 : completed_.back().checkpoint_id();
  io_.Run(
      [store = store_, job = job_id_, attempt = attempt_, newest,
       referenced = std::move(referenced), retained = std::move(retained)]() -> absl::Status {
        ASSIGN_OR_RETURN(std::vector<ObjectInfo> all, store->List(absl::StrCat(job, "/")));
        int removed = 0;
        for (const ObjectInfo& o : all) {
          bool leftover = false;
          if (std::optional<int64_t> id = CheckpointIdOfKey(job, o.key)) {
            leftover = *id < newest && !retained.contains(*id);
          } else if (std::optional<int64_t> a = AttemptOfSharedKey(job, o.key)) {
            leftover = *a < attempt && !referenced.contains(o.key);
          }
          if (!leftover) continue;
          RETURN_IF_ERROR(store->Delete(o.key));
          ++removed;
        }
        if (removed > 0) {
          std::fprintf(stderr,
                       "sluice coordinator: job %s: removed %d file(s) that no retained checkpoint "
                       "uses (left by checkpoints that never completed)\n",
                       job.c_str(), removed);
        }
        return absl::OkStatus();
      },
      [job = job_id_](absl::Status s, int64_t) {
        if (!s.ok()) {
          std::fprintf(stderr, "sluice coordinator: removing leftovers of job %s: %s\n",
                       job.c_str(), std::string(s.message()).c_str());
        }
      });
}

const proto::CheckpointMetadata* CheckpointCoordinator::Latest() const {
  thread_.AssertOnControlThread();
  return completed_.empty() ? nullptr : &completed_.back();
}

std::vector<proto::CheckpointMetadata> CheckpointCoordinator::List() const {
  thread_.AssertOnControlThread();
  std::vector<proto::CheckpointMetadata> out(completed_.begin(), completed_.end());
  out.insert(out.end(), savepoints_.begin(), savepoints_.end());
  for (auto& m : out) {
    m.clear_subtasks();
    m.clear_graph();
  }
  return out;
}

}  // namespace sluice
