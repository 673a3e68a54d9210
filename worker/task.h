#pragma once

// One subtask of one task: a chain of operators run by one thread, driven
// by a mailbox.
//
// The thread loops: run due mail (control actions, timers); send output
// buffers whose flush interval passed; then, if the task's output channels
// have room (worker/credit.h), take one unit of work — resume an operator
// holding back work (a throttle), poll the source reader, or take one
// element from the input gate — and otherwise wait on the mailbox, which
// input arrivals, credit and mail all wake. Operator state is only ever
// touched on this thread. At the end of input the chain finishes, end of
// stream goes out on every channel, and the task ends once every channel
// delivered it.
//
// Checkpoints: the subtask's SubtaskCheckpointer takes, uploads, acks and
// restores them; the barrier handler (aligned for exactly-once, tracking
// for at-least-once) decides when barriers from the inputs make one. A
// source takes checkpoint n when it is triggered; a task with inputs when
// its barrier handler says barrier n came on every channel, or, when n was
// triggered and its input ended before barrier n came, at the end of input.
//
// Finishing: in a job that takes checkpoints, a task whose input ended and
// whose operators finished does not end yet. It reports `finishing` and
// takes each later checkpoint straight away (its output has ended: no
// barrier to forward). It ends once the coordinator says that a final
// checkpoint (one taken with every subtask finishing) completed, after its
// sinks committed it. So checkpoints go on while some tasks have finished,
// and a bounded job's last results are committed before it is FINISHED.
//
// Lifecycle: construct -> Prepare() (creates and registers the input gate,
// so senders can find it) -> Start() -> the thread runs to the end of
// input, cancellation or the first error -> the listener hears the final
// status. Cancel() may be called from any thread; the destructor cancels
// and joins.

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/sluice.pb.h"
#include "worker/checkpointing/barrier_handler.h"
#include "worker/checkpointing/checkpoint_reporter.h"
#include "worker/checkpointing/snapshot_uploader.h"
#include "worker/checkpointing/subtask_checkpointer.h"
#include "worker/credit.h"
#include "worker/exchange_registry.h"
#include "worker/input_gate.h"
#include "worker/mailbox.h"
#include "worker/operator_chain.h"
#include "worker/record_writer.h"
#include "worker/task_load.h"
#include "worker/task_metrics.h"

namespace sluice {

class Task;

class TaskListener {
 public:
  virtual ~TaskListener() = default;
  // Called once, on the task's thread, after it ended.
  virtual void OnTaskEnded(Task& task, const proto::SubtaskStatus& final_status) = 0;
  // The task's part of a checkpoint is in the store, or it could not take
  // part, when TaskOptions::reporter is null. Called on the snapshot
  // uploader's thread.
  virtual void OnCheckpointAck(const proto::CheckpointAck& ack) { (void)ack; }
  virtual void OnCheckpointDecline(const proto::CheckpointDecline& decline) { (void)decline; }
};

struct TaskOptions {
  // Channels to subtasks on workers of this process skip the network.
  // Tests turn it off to run the remote path in one process.
  bool local_channels = true;
  // Runs the uploads of snapshots; null: the task has its own. Must outlive
  // the task.
  SnapshotUploader* uploader = nullptr;
  // Takes the task's checkpoint acks and declines; null: the listener
  // hears them. Must outlive the task's uploads.
  CheckpointReporter* reporter = nullptr;
  // Local directory for the tasks' state (RocksDB instances, snapshots
  // being uploaded, restored files); empty: one under the system's
  // temporary directory.
  std::string state_root;
};

class Task {
 public:
  Task(std::shared_ptr<const proto::ExecutionPlan> plan, int task, int subtask,
       std::string worker_id, TaskListener* listener, TaskOptions options = {});
  ~Task();

  absl::Status Prepare();
  void Start();
  void Cancel();
  void Join();

  const std::string& job_id() const { return plan_->job_id(); }
  int64_t attempt() const { return plan_->attempt(); }
  int task_index() const { return task_; }
  int subtask() const { return subtask_; }
  bool done() const { return done_.load(); }
  bool is_source() const { return gate_ == nullptr; }

  // Checkpoint `barrier` starts. A source snapshots its position and state
  // and emits the barrier as soon as its chain holds no pending work; a
  // finishing task snapshots at once; any other task remembers it, for
  // when its input ends before the barrier comes. Any thread.
  void TriggerCheckpoint(CheckpointBarrier barrier);
  // Checkpoint `id` completed (sinks commit) or was aborted; `final`: it
  // was the job's final checkpoint. Any thread.
  void NotifyCheckpoint(int64_t id, bool complete, bool final);
  // Current state, counters and the last load sample. Thread-safe.
  proto::SubtaskStatus Status() const;
  // Measures load and buffer usage since the previous call (Status() and
  // metrics show it). Called periodically by one thread.
  void SampleLoad();

 private:
  void Run();
  absl::Status Loop();
  absl::Status LoopCatchingExceptions();
  absl::Status BuildWriters();
  // Takes checkpoint `barrier` (SubtaskCheckpointer::Checkpoint).
  absl::Status Checkpoint(const CheckpointBarrier& barrier, int64_t alignment_ms);
  // A checkpoint that is due now: a source's trigger, or a trigger whose
  // barrier cannot come any more (input ended, or the task is finishing).
  std::optional<CheckpointBarrier> DueCheckpoint();
  // Waits, finishing, for the final checkpoint; OK once it committed.
  absl::Status Finishing();
  // End of input: finishes the chain (as far as no operator holds pending
  // work), then sends end of stream. True once end of stream went out.
  absl::StatusOr<bool> EndOfInput();
  // Waits on the mailbox, counting the time as `state`.
  void Wait(LoadMeter::State state, std::optional<int64_t> deadline_ms);
  std::optional<int64_t> FlushDeadline() const;
  int64_t OutputQueuedBytes() const;

  std::shared_ptr<const proto::ExecutionPlan> plan_;
  const int task_, subtask_;
  const std::string worker_id_;
  TaskListener* listener_;
  const TaskOptions options_;
  const Clock* clock_ = &Clock::Steady();
  NetworkBudget budget_;
  GateKey gate_key_;

  std::shared_ptr<Mailbox> mailbox_;
  std::stop_source stop_;
  std::atomic<bool> cancel_requested_{false};
  std::shared_ptr<InputGate> gate_;                    // null for source tasks
  std::vector<std::unique_ptr<OperatorStats>> stats_;  // per chained operator
  LoadMeter load_;

  // Task thread only (set up in Loop):
  std::unique_ptr<OperatorChain> chain_;
  std::vector<std::unique_ptr<RecordWriter>> writers_;
  std::optional<int64_t> next_poll_ms_;
  bool input_ended_ = false;                  // the chain is finishing (EndOfInput)
  bool output_ended_ = false;                 // end of stream went out on every channel
  bool skip_finish_ = false;                  // restored finished: the chain finished before
  std::optional<CheckpointBarrier> trigger_;  // the newest triggered checkpoint not taken
  std::optional<int64_t> final_;              // a final checkpoint completed
  absl::Status mail_error_;                   // mail that failed the task
  std::unique_ptr<BarrierHandler> barriers_;  // null for source tasks

  // Checkpoints:
  const std::string state_dir_;  // this subtask's, removed when it ends
  // The reporter first: the uploader's destructor waits for an upload,
  // which reports.
  std::unique_ptr<CheckpointReporter> own_reporter_;
  std::unique_ptr<SnapshotUploader> own_uploader_;
  std::unique_ptr<SubtaskCheckpointer> checkpointer_;

  mutable absl::Mutex mu_;
  proto::TaskState state_ ABSL_GUARDED_BY(mu_) = proto::TASK_DEPLOYING;
  std::string failure_ ABSL_GUARDED_BY(mu_);
  proto::TaskLoad last_load_ ABSL_GUARDED_BY(mu_);
  // Channels of the writers, for sampling from other threads.
  std::vector<std::shared_ptr<OutputChannel>> channels_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TaskGauges> gauges_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> done_{false};
  std::atomic<bool> finishing_{false};
  std::atomic<int64_t> unrestorable_{0};  // SubtaskStatus.unrestorable_checkpoint
  std::thread thread_;
};

}  // namespace sluice
