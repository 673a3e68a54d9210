#include "worker/task.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "catalog/catalog.h"
#include "common/crash_point.h"
#include "common/key_group.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "job/builtin_kinds.h"
#include "job/job_file.h"
#include "store/checkpoint_store.h"
#include "worker/plan_view.h"

namespace sluice {
namespace {

namespace fs = std::filesystem;

// Reports acks and declines to the task's listener (tests, and tasks run
// without a worker).
class ListenerReporter final : public CheckpointReporter {
 public:
  explicit ListenerReporter(TaskListener* listener) : listener_(listener) {}
  void Ack(proto::CheckpointAck ack) override {
    if (listener_ != nullptr) listener_->OnCheckpointAck(ack);
  }
  void Decline(proto::CheckpointDecline decline) override {
    if (listener_ != nullptr) listener_->OnCheckpointDecline(decline);
  }

 private:
  TaskListener* listener_;
};

std::string StateDir(const TaskOptions& options, const proto::ExecutionPlan& plan, int task,
                     int subtask) {
  std::string root = options.state_root;
  if (root.empty()) {
    std::error_code ec;
    root = absl::StrCat(fs::temp_directory_path(ec).string(), "/sluice-state-", getpid());
  }
  return absl::StrCat(root, "/", plan.job_id(), "-a", plan.attempt(), "-t", task, "-s", subtask);
}

std::optional<int64_t> Earlier(std::optional<int64_t> a, std::optional<int64_t> b) {
  if (!a.has_value()) return b;
  if (!b.has_value()) return a;
  return std::min(*a, *b);
}

}  // namespace

Task::Task(std::shared_ptr<const proto::ExecutionPlan> plan, int task, int subtask,
           std::string worker_id, TaskListener* listener, TaskOptions options)
    : plan_(std::move(plan)),
      task_(task),
      subtask_(subtask),
      worker_id_(std::move(worker_id)),
      listener_(listener),
      options_(options),
      gate_key_{plan_->job_id(), plan_->attempt(), task, subtask},
      mailbox_(std::make_shared<Mailbox>()),
      state_dir_(StateDir(options_, *plan_, task, subtask)) {
  SnapshotUploader* uploader = options_.uploader;
  if (uploader == nullptr) {
    own_uploader_ = std::make_unique<SnapshotUploader>();
    uploader = own_uploader_.get();
  }
  CheckpointReporter* reporter = options_.reporter;
  if (reporter == nullptr) {
    own_reporter_ = std::make_unique<ListenerReporter>(listener_);
    reporter = own_reporter_.get();
  }
  checkpointer_ = std::make_unique<SubtaskCheckpointer>(
      plan_,
      SubtaskCheckpointer::Identity{plan_->job_id(), plan_->attempt(), task, subtask, worker_id_},
      state_dir_, uploader, reporter);
  const proto::NetworkConfig& net = plan_->graph().network();
  if (net.buffer_bytes_per_task() > 0) budget_.buffer_bytes_per_task = net.buffer_bytes_per_task();
  if (net.flush_interval_ms() > 0) budget_.flush_interval_ms = net.flush_interval_ms();
  PlanView view(*plan_);
  for (const auto& id : plan_->tasks(task_).operator_ids()) {
    absl::StatusOr<const proto::OperatorSpec*> spec = view.Operator(id);
    const OperatorKind* kind = spec.ok() ? BuiltinCatalog().Find((*spec)->type()) : nullptr;
    // An operator with a late output counts its records by disposition.
    const bool dispositions = kind != nullptr && kind->HasSidePort(kLatePort);
    stats_.push_back(std::make_unique<OperatorStats>(plan_->job_id(), plan_->attempt(), id,
                                                     subtask_, dispositions));
  }
}

Task::~Task() {
  const bool started = thread_.joinable();
  Cancel();
  Join();
  if (!started && gate_ != nullptr) {
    // Prepared but never started (a deployment refused after Prepare): Run
    // never withdrew the gate, and senders may have attached to it.
    gate_->Close(absl::CancelledError("task canceled before it started"));
    ExchangeRegistry::Get().UnregisterGate(gate_key_);
  }
}

absl::Status Task::Prepare() {
  PlanView view(*plan_);
  const int channels = view.NumInputChannels(task_);
  if (channels > 0) {
    gate_ =
        std::make_shared<InputGate>(channels, budget_.CreditsPerInputChannel(channels), mailbox_);
    barriers_ = plan_->graph().delivery() == proto::DELIVERY_AT_LEAST_ONCE
                    ? MakeTrackingBarrierHandler(channels, clock_)
                    : MakeAlignedBarrierHandler(channels, gate_.get(), clock_);
    ExchangeRegistry::Get().RegisterGate(gate_key_, gate_);
  }
  return absl::OkStatus();
}

void Task::Start() {
  {
    absl::MutexLock lock(&mu_);
    state_ = proto::TASK_RUNNING;
  }
  thread_ = std::thread([this] { Run(); });
}

void Task::Cancel() {
  cancel_requested_.store(true);
  stop_.request_stop();
  mailbox_->Wake();
}

void Task::Join() {
  if (thread_.joinable()) thread_.join();
}

void Task::TriggerCheckpoint(CheckpointBarrier barrier) {
  mailbox_->Put([this, barrier = std::move(barrier)]() mutable {
    if (chain_ == nullptr || barrier.id <= checkpointer_->last_checkpoint_id()) return;
    if (trigger_.has_value() && trigger_->id >= barrier.id) return;
    if (trigger_.has_value() && is_source()) {
      checkpointer_->Decline(trigger_->id, absl::AbortedError("superseded by a newer checkpoint"));
    }
    trigger_ = std::move(barrier);
  });
}

void Task::NotifyCheckpoint(int64_t id, bool complete, bool final) {
  mailbox_->Put([this, id, complete, final] {
    if (chain_ == nullptr) return;
    if (!complete) {
      // Aborted: a task with inputs no longer waits to take it, nor holds
      // channels back for it.
      if (!is_source() && trigger_.has_value() && trigger_->id == id) trigger_.reset();
      if (barriers_ != nullptr) barriers_->Abort(id);
      return;
    }
    absl::Status committed = chain_->NotifyCheckpointComplete(id);
    if (!committed.ok()) {
      mail_error_.Update(absl::Status(
          committed.code(), absl::StrCat("committing checkpoint ", id, ": ", committed.message())));
      return;
    }
    if (final) final_ = id;
  });
}

std::optional<CheckpointBarrier> Task::DueCheckpoint() {
  if (!trigger_.has_value() || chain_->HasPending()) return std::nullopt;
  if (trigger_->id <= checkpointer_->last_checkpoint_id()) {
    trigger_.reset();  // its barrier came through the input
    return std::nullopt;
  }
  // A task with inputs takes it here only when its barrier cannot come.
  if (!is_source() && !input_ended_) return std::nullopt;
  std::optional<CheckpointBarrier> due = std::move(trigger_);
  trigger_.reset();
  return due;
}

absl::Status Task::Checkpoint(const CheckpointBarrier& barrier, int64_t alignment_ms) {
  std::vector<prometheus::Gauge*> state_gauges;
  for (const auto& id : plan_->tasks(task_).operator_ids()) {
    state_gauges.push_back(StateBytesGauge(plan_->job_id(), plan_->attempt(), id, subtask_));
  }
  return checkpointer_->Checkpoint(
      barrier, alignment_ms, output_ended_,
      [&](LocalSnapshot& snapshot) {
        snapshot.key_group_start = chain_->head_context().key_group_start;
        snapshot.key_group_end = chain_->head_context().key_group_end;
        if (chain_->source() != nullptr) snapshot.position = chain_->source()->Position();
        return chain_->Snapshot(barrier.id, snapshot.local_dir, &snapshot.operators);
      },
      [&](const CheckpointBarrier& b) {
        for (auto& w : writers_) RETURN_IF_ERROR(w->WriteBarrier(b));
        return absl::OkStatus();
      },
      [state_gauges = std::move(state_gauges)](const proto::SubtaskSnapshot& uploaded) {
        for (int i = 0; i < uploaded.operators_size() && i < std::ssize(state_gauges); ++i) {
          const proto::OperatorState& op = uploaded.operators(i);
          int64_t bytes = static_cast<int64_t>(op.small_state().size());
          for (const auto& f : op.files()) bytes += f.size();
          state_gauges[i]->Set(static_cast<double>(bytes));
        }
      });
}

proto::SubtaskStatus Task::Status() const {
  proto::SubtaskStatus s;
  s.set_job_id(plan_->job_id());
  s.set_attempt(plan_->attempt());
  s.set_task(task_);
  s.set_subtask(subtask_);
  s.set_worker_id(worker_id_);
  s.set_finishing(finishing_.load());
  s.set_unrestorable_checkpoint(unrestorable_.load());
  {
    absl::MutexLock lock(&mu_);
    s.set_state(state_);
    s.set_failure(failure_);
    *s.mutable_load() = last_load_;
  }
  for (const auto& st : stats_) st->Snapshot(s.add_operators());
  if (gate_ == nullptr && s.operators_size() > 0) {
    // A source reads what it emits plus what it dead-letters.
    auto* head = s.mutable_operators(0);
    head->set_records_in(head->records_out() + head->dead_letter());
  }
  return s;
}

void Task::SampleLoad() {
  proto::TaskLoad load;
  load_.Sample(&load);
  absl::MutexLock lock(&mu_);
  int64_t out = 0;
  for (size_t i = 0; i < channels_.size(); ++i) {
    const int64_t q = channels_[i]->queued_bytes();
    out += q;
    if (gauges_ != nullptr) gauges_->SetChannel(i, q, channels_[i]->available_credits());
  }
  load.set_output_queued_bytes(out);
  load.set_output_capacity_bytes(budget_.OutputBytes());
  if (gate_ != nullptr) {
    load.set_input_queued_bytes(gate_->QueuedCredits() * static_cast<int64_t>(kBufferBytes));
    load.set_input_capacity_bytes(static_cast<int64_t>(gate_->num_channels()) *
                                  gate_->credits_per_channel() *
                                  static_cast<int64_t>(kBufferBytes));
  }
  if (done_.load()) load = proto::TaskLoad();
  last_load_ = load;
  if (gauges_ != nullptr) {
    if (done_.load()) {
      gauges_->Clear();
    } else {
      gauges_->SetLoad(load);
    }
  }
}

absl::Status Task::BuildWriters() {
  PlanView view(*plan_);
  const proto::TaskSpec& spec = plan_->tasks(task_);
  ASSIGN_OR_RETURN(const proto::SubtaskAssignment* self, view.Assignment(task_, subtask_));
  const int max_parallelism = std::max(1, plan_->graph().max_parallelism());
  std::vector<ChannelLabel> labels;
  std::vector<std::shared_ptr<OutputChannel>> all;
  for (const auto& edge : spec.outputs()) {
    const proto::TaskSpec& target = plan_->tasks(edge.target_task());
    const int receiver_channels = view.NumInputChannels(edge.target_task());
    std::vector<int> targets;
    if (edge.partitioning() == proto::PARTITIONING_FORWARD) {
      targets.push_back(subtask_);
    } else {
      for (int s = 0; s < target.parallelism(); ++s) targets.push_back(s);
    }
    std::vector<std::shared_ptr<OutputChannel>> channels;
    std::vector<uint32_t> owner;
    if (edge.partitioning() == proto::PARTITIONING_HASH) owner.assign(max_parallelism, 0);
    for (size_t i = 0; i < targets.size(); ++i) {
      const int s = targets[i];
      ASSIGN_OR_RETURN(const proto::SubtaskAssignment* a, view.Assignment(edge.target_task(), s));
      ChannelAddress to;
      to.to = GateKey{plan_->job_id(), plan_->attempt(), edge.target_task(), s};
      to.channel = view.ChannelIndex(edge.target_task(), task_, subtask_);
      to.capacity = budget_.CreditsPerInputChannel(receiver_channels);
      to.worker_id = a->worker_id();
      to.worker_address = a->worker_address();
      to.from_worker_id = worker_id_;
      to.from_address = self->worker_address();
      to.from_task = task_;
      to.from_subtask = subtask_;
      channels.push_back(MakeOutputChannel(to, mailbox_, options_.local_channels));
      labels.push_back({edge.target_task(), s});
      if (!owner.empty()) {
        ASSIGN_OR_RETURN(const KeyGroups range, view.OwnedKeyGroups(edge.target_task(), s));
        for (int kg = range.start; kg < range.end; ++kg) owner[kg] = static_cast<uint32_t>(i);
      }
    }
    all.insert(all.end(), channels.begin(), channels.end());
    writers_.push_back(std::make_unique<RecordWriter>(edge, std::move(channels), std::move(owner),
                                                      budget_.FrameBytes(receiver_channels),
                                                      budget_.flush_interval_ms, clock_));
    chain_->AddWriter(edge.from_operator(), edge.port(), writers_.back().get());
  }
  absl::MutexLock lock(&mu_);
  channels_ = std::move(all);
  gauges_ =
      std::make_unique<TaskGauges>(plan_->job_id(), plan_->attempt(),
                                   absl::StrJoin(spec.operator_ids(), "->"), subtask_, labels);
  return absl::OkStatus();
}

std::optional<int64_t> Task::FlushDeadline() const {
  std::optional<int64_t> next;
  for (const auto& w : writers_) next = Earlier(next, w->NextFlushMs());
  return next;
}

int64_t Task::OutputQueuedBytes() const {
  int64_t n = 0;
  for (const auto& w : writers_) n += w->QueuedBytes();
  return n;
}

void Task::Wait(LoadMeter::State state, std::optional<int64_t> deadline_ms) {
  load_.Enter(state);
  mailbox_->WaitUntil(deadline_ms);
  load_.Enter(LoadMeter::kBusy);
}

absl::StatusOr<bool> Task::EndOfInput() {
  if (!skip_finish_) {
    ASSIGN_OR_RETURN(bool finished, chain_->FinishStep());
    if (!finished) return false;
  }
  for (auto& w : writers_) RETURN_IF_ERROR(w->Finish());
  return true;
}

absl::Status Task::Loop() {
  const proto::TaskSpec& spec = plan_->tasks(task_);
  PlanView view(*plan_);
  OperatorContext base;
  base.job_id = plan_->job_id();
  base.attempt = plan_->attempt();
  base.subtask = subtask_;
  base.parallelism = spec.parallelism();
  base.max_parallelism = plan_->graph().max_parallelism();
  ASSIGN_OR_RETURN(const KeyGroups owned, view.OwnedKeyGroups(task_, subtask_));
  base.key_group_start = owned.start;
  base.key_group_end = owned.end;
  base.one_source_split = view.FedByOneSourceSplit(task_);
  base.clock = clock_;
  base.stop = stop_.get_token();
  // Sources cut batches no bigger than the frames their edges send.
  size_t batch_bytes = 8 << 20;
  for (const auto& edge : spec.outputs()) {
    batch_bytes =
        std::min(batch_bytes, budget_.FrameBytes(view.NumInputChannels(edge.target_task())));
  }
  base.max_batch_bytes = batch_bytes;
  base.state_dir = absl::StrCat(state_dir_, "/db");
  if (plan_->graph().state().memory_budget_bytes() > 0) {
    base.state_memory_budget = plan_->graph().state().memory_budget_bytes();
  }
  std::map<std::string, OperatorRestore> restores;
  absl::StatusOr<const proto::SubtaskSnapshot*> restored =
      checkpointer_->Restore(&restores, [&](const std::string& op, int64_t ms) {
        RestoreMsGauge(plan_->job_id(), plan_->attempt(), op, subtask_)
            ->Set(static_cast<double>(ms));
      });
  if (!restored.ok()) {
    // A file gone or damaged: the coordinator recovers from an older
    // checkpoint instead of this one.
    if (absl::IsDataLoss(restored.status()) || absl::IsNotFound(restored.status())) {
      unrestorable_.store(plan_->restore().checkpoint_id());
    }
    return restored.status();
  }
  base.exactly_once = CommitsOnCheckpoint(plan_->graph());
  ASSIGN_OR_RETURN(chain_, OperatorChain::Create(*plan_, task_, base, stats_, restores));
  RETURN_IF_ERROR(BuildWriters());
  for (auto& w : writers_) w->Start();
  SourceReader* source = chain_->source();
  if (source != nullptr) {
    RETURN_IF_ERROR(source->Open(chain_->head_context()));
    if (*restored != nullptr && (*restored)->has_source_position()) {
      RETURN_IF_ERROR(source->Seek((*restored)->source_position()));
    }
  }
  if (*restored != nullptr && (*restored)->finished()) {
    // It had finished: its operators emitted all they would. It sends end
    // of stream and waits for the final checkpoint again.
    skip_finish_ = true;
    if (source != nullptr) input_ended_ = true;
  }
  const int64_t output_budget = budget_.OutputBytes();

  bool& input_ended = input_ended_;
  bool& draining = output_ended_;  // end of stream went out on every channel
  load_.Enter(LoadMeter::kBusy);
  while (true) {
    mailbox_->RunDue();
    if (cancel_requested_.load()) return absl::CancelledError("task canceled");
    RETURN_IF_ERROR(mail_error_);
    for (auto& w : writers_) RETURN_IF_ERROR(w->ChannelStatus());
    const int64_t now = clock_->NowMs();
    for (auto& w : writers_) RETURN_IF_ERROR(w->FlushDue(now));
    if (std::optional<CheckpointBarrier> due = DueCheckpoint()) {
      RETURN_IF_ERROR(Checkpoint(*due, 0));
      continue;
    }
    if (draining) {
      bool finished = true;
      for (auto& w : writers_) finished = finished && w->Finished();
      if (finished) {
        // Without checkpoints nothing waits to commit: the task ends.
        if (plan_->graph().checkpoint().interval_ms() <= 0) return absl::OkStatus();
        return Finishing();
      }
      Wait(LoadMeter::kBackpressured, FlushDeadline());
      continue;
    }
    if (OutputQueuedBytes() >= output_budget) {
      Wait(LoadMeter::kBackpressured, FlushDeadline());
      continue;
    }
    if (chain_->HasPending()) {
      const int64_t due = chain_->PendingDueMs();
      if (due > now) {
        Wait(LoadMeter::kBusy, Earlier(due, FlushDeadline()));
        continue;
      }
      RETURN_IF_ERROR(chain_->ContinuePending());
      continue;
    }
    if (input_ended) {
      ASSIGN_OR_RETURN(draining, EndOfInput());
      continue;
    }
    if (source != nullptr) {
      if (next_poll_ms_.has_value() && *next_poll_ms_ > now) {
        Wait(LoadMeter::kIdle, Earlier(next_poll_ms_, FlushDeadline()));
        continue;
      }
      next_poll_ms_.reset();
      ASSIGN_OR_RETURN(SourceReader::Poll poll, source->PollNext(chain_->head_output()));
      if (poll == SourceReader::Poll::kNothingYet) {
        const int64_t next = source->NextPollMs();
        next_poll_ms_ = next > now ? next : now + 10;
      } else if (poll == SourceReader::Poll::kEnd) {
        input_ended = true;
      }
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<InputGate::Event> ev, gate_->Poll());
    if (!ev.has_value()) {
      Wait(LoadMeter::kIdle, FlushDeadline());
      continue;
    }
    switch (ev->kind) {
      case InputGate::Event::Kind::kBatch:
        stats_[0]->AddIn(static_cast<int64_t>(ev->batch.num_rows()));
        RETURN_IF_ERROR(chain_->ProcessBatch(std::move(ev->batch)));
        break;
      case InputGate::Event::Kind::kWatermark:
        RETURN_IF_ERROR(chain_->ProcessWatermark(ev->watermark));
        break;
      case InputGate::Event::Kind::kBarrier:
        if (std::optional<AlignedBarrier> b = barriers_->OnBarrier(ev->channel, ev->barrier)) {
          RETURN_IF_ERROR(Checkpoint(b->barrier, b->alignment_ms));
        }
        break;
      case InputGate::Event::Kind::kChannelEnded:
        if (std::optional<AlignedBarrier> b = barriers_->OnChannelEnded(ev->channel)) {
          RETURN_IF_ERROR(Checkpoint(b->barrier, b->alignment_ms));
        }
        break;
      case InputGate::Event::Kind::kEnd:
        input_ended = true;
        break;
    }
  }
}

absl::Status Task::Finishing() {
  finishing_.store(true);
  load_.Enter(LoadMeter::kIdle);
  while (true) {
    mailbox_->RunDue();
    if (cancel_requested_.load()) return absl::CancelledError("task canceled");
    RETURN_IF_ERROR(mail_error_);
    if (final_.has_value()) return absl::OkStatus();
    if (std::optional<CheckpointBarrier> due = DueCheckpoint()) {
      RETURN_IF_ERROR(Checkpoint(*due, 0));
      continue;
    }
    mailbox_->WaitUntil(std::nullopt);
  }
}

// The task thread's boundary: an exception from an operator or a library
// (an allocation that failed, a container's length error) fails this task
// with its message instead of terminating the worker and every task on it.
absl::Status Task::LoopCatchingExceptions() {
  try {
    return Loop();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("the task threw an exception: ", e.what()));
  } catch (...) {
    return absl::InternalError("the task threw an exception of unknown type");
  }
}

void Task::Run() {
  absl::Status status = LoopCatchingExceptions();
  if (cancel_requested_.load() && !status.ok()) status = absl::CancelledError("task canceled");
  load_.Enter(LoadMeter::kIdle);
  {
    absl::MutexLock lock(&mu_);
    if (status.ok()) {
      state_ = proto::TASK_FINISHED;
    } else if (absl::IsCancelled(status)) {
      state_ = proto::TASK_CANCELED;
    } else {
      state_ = proto::TASK_FAILED;
      failure_ = std::string(status.message());
    }
    last_load_ = proto::TaskLoad();
    if (gauges_ != nullptr) gauges_->Clear();
  }
  const proto::SubtaskStatus final_status = Status();
  // A failure is reported before the channels are torn down, so the
  // coordinator hears its cause before the tasks that lose their input do.
  const bool failed = !status.ok() && !absl::IsCancelled(status);
  if (failed && listener_ != nullptr) listener_->OnTaskEnded(*this, final_status);
  if (!status.ok()) {
    for (auto& w : writers_) w->Cancel();
  }
  if (gate_ != nullptr) {
    gate_->Close(status.ok() ? absl::CancelledError("task ended") : status);
    ExchangeRegistry::Get().UnregisterGate(gate_key_);
  }
  chain_.reset();  // operators are destroyed on their own thread
  writers_.clear();
  {
    // Snapshots still uploading keep their own directories until they are done.
    std::error_code ec;
    for (const char* sub : {"/db", "/restore"}) fs::remove_all(state_dir_ + sub, ec);
    fs::remove(state_dir_, ec);  // unless an upload is still under way
  }
  if (!failed && listener_ != nullptr) listener_->OnTaskEnded(*this, final_status);
  // Last: the worker joins a done task's thread, which must not wait then.
  done_.store(true);
}

}  // namespace sluice
