#include "worker/task.h"

#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/job_file.h"
#include "common/ports.h"
#include "common/status_macros.h"
#include "worker/plan_view.h"

namespace sluice {

// The Output of chained operator k: feeds operator k+1 directly, or the
// task's record writers when k is the last in the chain; side outputs go to
// the writers of the edges that read them.
class Task::Link : public Output {
 public:
  Link(OperatorStats* stats, Operator* next, Link* next_link, OperatorStats* next_stats)
      : stats_(stats), next_(next), next_link_(next_link), next_stats_(next_stats) {}

  void AddWriter(const std::string& port, RecordWriter* w) { writers_[port].push_back(w); }
  void set_operator_id(const std::string& id) { operator_id_ = id; }

  absl::Status Emit(Batch batch) override {
    const int64_t rows = static_cast<int64_t>(batch.num_rows());
    if (rows == 0) return absl::OkStatus();
    stats_->AddOut(rows);
    RETURN_IF_ERROR(ToWriters("", batch, next_ == nullptr));
    if (next_ != nullptr) {
      next_stats_->AddIn(rows);
      return next_->ProcessBatch(std::move(batch), *next_link_);
    }
    return absl::OkStatus();
  }

  absl::Status EmitSide(std::string_view port, Batch batch) override {
    const int64_t rows = static_cast<int64_t>(batch.num_rows());
    if (rows == 0) return absl::OkStatus();
    if (port == kDeadLetterPort) stats_->AddDeadLetter(rows);
    if (port == kLatePort) stats_->AddLate(rows);
    auto it = writers_.find(std::string(port));
    if (it == writers_.end()) {
      ReportUnconsumed(port, batch);
      return absl::OkStatus();
    }
    return ToWriters(std::string(port), batch, true);
  }

  absl::Status EmitWatermark(int64_t watermark) override {
    if (next_ != nullptr) RETURN_IF_ERROR(next_->ProcessWatermark(watermark, *next_link_));
    for (auto& [port, ws] : writers_) {
      for (RecordWriter* w : ws) RETURN_IF_ERROR(w->WriteWatermark(watermark));
    }
    return absl::OkStatus();
  }

 private:
  // Sends `batch` to the writers of `port`; the last one may take it.
  absl::Status ToWriters(const std::string& port, Batch& batch, bool may_move) {
    auto it = writers_.find(port);
    if (it == writers_.end()) return absl::OkStatus();
    auto& ws = it->second;
    for (size_t i = 0; i < ws.size(); ++i) {
      bool last = i + 1 == ws.size();
      RETURN_IF_ERROR(ws[i]->Write(last && may_move ? std::move(batch) : Batch(batch)));
    }
    return absl::OkStatus();
  }

  // No operator reads this side output: the records are counted (metrics,
  // status) and the first few are logged so they are visible, not lost.
  void ReportUnconsumed(std::string_view port, const Batch& batch) {
    for (size_t r = 0; r < batch.num_rows() && logged_ < 10; ++r, ++logged_) {
      if (port == kDeadLetterPort) {
        std::fprintf(stderr, "sluice: %s: dead letter %s:%lld: %s\n", operator_id_.c_str(),
                     std::string(batch.column(1).StringAt(r)).c_str(),
                     static_cast<long long>(batch.column(2).ints[r]),
                     std::string(batch.column(3).StringAt(r)).c_str());
      } else {
        std::fprintf(stderr, "sluice: %s: late record with event time %lld\n", operator_id_.c_str(),
                     static_cast<long long>(batch.event_time()[r]));
      }
    }
  }

  OperatorStats* stats_;
  Operator* next_;
  Link* next_link_;
  OperatorStats* next_stats_;
  std::map<std::string, std::vector<RecordWriter*>> writers_;
  std::string operator_id_;
  int logged_ = 0;
};

Task::Task(std::shared_ptr<const proto::ExecutionPlan> plan, int task, int subtask,
           std::string worker_id, TaskListener* listener)
    : plan_(std::move(plan)),
      task_(task),
      subtask_(subtask),
      worker_id_(std::move(worker_id)),
      listener_(listener) {
  for (const auto& id : plan_->tasks(task_).operator_ids()) {
    stats_.push_back(std::make_unique<OperatorStats>(plan_->job_id(), id, subtask_));
  }
}

Task::~Task() {
  Cancel();
  Join();
}

absl::Status Task::Prepare() {
  PlanView view(*plan_);
  int channels = view.NumInputChannels(task_);
  if (channels > 0) {
    // Capacity per channel in batches: bounded memory, enough to keep both
    // sides busy.
    gate_ = std::make_shared<InputGate>(channels, 8);
    ExchangeRegistry::Get().RegisterGate(plan_->job_id(), task_, subtask_, gate_);
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
  stop_.request_stop();
  if (gate_ != nullptr) gate_->Close(absl::CancelledError("task canceled"));
  absl::MutexLock lock(&mu_);
  for (RecordWriter* w : cancelable_writers_) w->Cancel();
}

void Task::Join() {
  if (thread_.joinable()) thread_.join();
}

proto::SubtaskStatus Task::Status() const {
  proto::SubtaskStatus s;
  s.set_job_id(plan_->job_id());
  s.set_task(task_);
  s.set_subtask(subtask_);
  s.set_worker_id(worker_id_);
  {
    absl::MutexLock lock(&mu_);
    s.set_state(state_);
    s.set_failure(failure_);
  }
  for (const auto& st : stats_) st->Snapshot(s.add_operators());
  if (gate_ == nullptr && s.operators_size() > 0) {
    // A source reads what it emits plus what it dead-letters.
    auto* head = s.mutable_operators(0);
    head->set_records_in(head->records_out() + head->dead_letter());
  }
  return s;
}

absl::Status Task::BuildWriters() {
  PlanView view(*plan_);
  const proto::TaskSpec& spec = plan_->tasks(task_);
  ASSIGN_OR_RETURN(const proto::SubtaskAssignment* self, view.Assignment(task_, subtask_));
  const std::string self_address = self->worker_address();
  for (const auto& edge : spec.outputs()) {
    const proto::TaskSpec& target = plan_->tasks(edge.target_task());
    std::vector<int> targets;
    if (edge.partitioning() == proto::PARTITIONING_FORWARD) {
      targets.push_back(subtask_);
    } else {
      for (int s = 0; s < target.parallelism(); ++s) targets.push_back(s);
    }
    std::vector<std::unique_ptr<ChannelWriter>> channels;
    for (int s : targets) {
      ASSIGN_OR_RETURN(const proto::SubtaskAssignment* a, view.Assignment(edge.target_task(), s));
      ChannelAddress to{plan_->job_id(),
                        edge.target_task(),
                        s,
                        view.ChannelIndex(edge.target_task(), task_, subtask_),
                        a->worker_id(),
                        a->worker_address(),
                        worker_id_,
                        self_address,
                        task_,
                        subtask_};
      channels.push_back(MakeChannelWriter(to, stop_.get_token()));
    }
    writers_.push_back(std::make_unique<RecordWriter>(edge, std::move(channels),
                                                      plan_->graph().max_parallelism()));
    writer_edges_.push_back(&edge);
  }
  absl::MutexLock lock(&mu_);
  for (auto& w : writers_) cancelable_writers_.push_back(w.get());
  return absl::OkStatus();
}

absl::Status Task::RunChain() {
  PlanView view(*plan_);
  const proto::TaskSpec& spec = plan_->tasks(task_);
  const int n = spec.operator_ids_size();
  std::vector<const proto::OperatorSpec*> specs;
  for (const auto& id : spec.operator_ids()) {
    ASSIGN_OR_RETURN(const proto::OperatorSpec* op, view.Operator(id));
    specs.push_back(op);
  }
  OperatorContext base;
  base.job_id = plan_->job_id();
  base.subtask = subtask_;
  base.parallelism = spec.parallelism();
  base.max_parallelism = plan_->graph().max_parallelism();
  base.stop = stop_.get_token();

  std::unique_ptr<SourceOperator> source;
  std::vector<std::unique_ptr<Operator>> ops(n);  // ops[0] empty for a source head
  for (int k = 0; k < n; ++k) {
    OperatorContext ctx = base;
    ctx.spec = specs[k];
    if (k == 0 && IsSourceType(specs[0]->type())) {
      ASSIGN_OR_RETURN(source, CreateSource(*specs[0]));
      continue;
    }
    ASSIGN_OR_RETURN(ops[k], CreateOperator(*specs[k]));
    RETURN_IF_ERROR(ops[k]->Open(ctx));
  }
  RETURN_IF_ERROR(BuildWriters());

  // Links are built back to front so each knows the next.
  std::vector<std::unique_ptr<Link>> links(n);
  for (int k = n - 1; k >= 0; --k) {
    bool last = k == n - 1;
    links[k] = std::make_unique<Link>(stats_[k].get(), last ? nullptr : ops[k + 1].get(),
                                      last ? nullptr : links[k + 1].get(),
                                      last ? nullptr : stats_[k + 1].get());
    links[k]->set_operator_id(specs[k]->id());
  }
  for (size_t w = 0; w < writers_.size(); ++w) {
    const proto::OutputEdge& e = *writer_edges_[w];
    for (int k = 0; k < n; ++k) {
      if (specs[k]->id() == e.from_operator()) links[k]->AddWriter(e.port(), writers_[w].get());
    }
  }

  OperatorContext head_ctx = base;
  head_ctx.spec = specs[0];
  if (source != nullptr) {
    RETURN_IF_ERROR(source->Run(head_ctx, *links[0]));
  } else {
    while (true) {
      ASSIGN_OR_RETURN(InputGate::Event ev, gate_->Poll());
      if (ev.kind == InputGate::Event::Kind::kEnd) break;
      if (ev.kind == InputGate::Event::Kind::kWatermark) {
        RETURN_IF_ERROR(ops[0]->ProcessWatermark(ev.watermark, *links[0]));
        continue;
      }
      stats_[0]->AddIn(static_cast<int64_t>(ev.batch.num_rows()));
      RETURN_IF_ERROR(ops[0]->ProcessBatch(std::move(ev.batch), *links[0]));
    }
  }
  if (stop_.stop_requested()) return absl::CancelledError("task canceled");
  for (int k = 0; k < n; ++k) {
    if (ops[k] != nullptr) RETURN_IF_ERROR(ops[k]->Finish(*links[k]));
  }
  for (auto& w : writers_) RETURN_IF_ERROR(w->Finish());
  return absl::OkStatus();
}

void Task::Run() {
  absl::Status status = RunChain();
  if (stop_.stop_requested() && !status.ok()) status = absl::CancelledError("task canceled");
  if (!status.ok()) {
    for (auto& w : writers_) w->Cancel();
  }
  if (gate_ != nullptr) {
    gate_->Close(absl::CancelledError("task ended"));
    ExchangeRegistry::Get().UnregisterGate(plan_->job_id(), task_, subtask_);
  }
  {
    absl::MutexLock lock(&mu_);
    cancelable_writers_.clear();
    if (status.ok()) {
      state_ = proto::TASK_FINISHED;
    } else if (absl::IsCancelled(status)) {
      state_ = proto::TASK_CANCELED;
    } else {
      state_ = proto::TASK_FAILED;
      failure_ = std::string(status.message());
    }
  }
  proto::SubtaskStatus final_status = Status();
  writers_.clear();
  done_.store(true);
  if (listener_ != nullptr) listener_->OnTaskEnded(*this, final_status);
}

}  // namespace sluice
