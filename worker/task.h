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
#include "worker/credit.h"
#include "worker/exchange_registry.h"
#include "worker/input_gate.h"
#include "worker/mailbox.h"
#include "worker/operator_chain.h"
#include "worker/record_writer.h"
#include "worker/snapshot_uploader.h"
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
  // part. Called on the snapshot uploader's thread.
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

  // Starts checkpoint `barrier` at a source task: it snapshots its position
  // and state and emits the barrier, as soon as its chain holds no pending
  // work. Any thread.
  void TriggerCheckpoint(CheckpointBarrier barrier);
  // Checkpoint `id` completed (or was aborted). Any thread.
  void NotifyCheckpoint(int64_t id, bool complete);
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
  // Downloads the state of this subtask's snapshot in the plan's restore,
  // if any; fills `restores` per operator id.
  absl::StatusOr<const proto::SubtaskSnapshot*> Restore(
      std::map<std::string, OperatorRestore>* restores);
  // Snapshots position and operators, forwards the barrier, and hands the
  // files to the uploader, which acks. A snapshot that fails declines the
  // checkpoint; one that fails with DataLoss (keyed state that lost
  // entries) fails the task too.
  absl::Status Checkpoint(const CheckpointBarrier& barrier, int64_t alignment_ms);
  void Decline(int64_t checkpoint_id, const absl::Status& reason);
  // Removes a snapshot's directory once its operators' background writes
  // into it are done (on the uploader's thread).
  void Discard(const std::shared_ptr<LocalSnapshot>& snapshot);
  absl::StatusOr<std::shared_ptr<ObjectStore>> Store();
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
  std::optional<CheckpointBarrier> trigger_;  // a source's checkpoint, waiting to be taken
  std::shared_ptr<ObjectStore> store_;        // opened at the first checkpoint or restore

  // Checkpoints:
  const std::string state_dir_;  // this subtask's, removed when it ends
  std::unique_ptr<SnapshotUploader> own_uploader_;
  SnapshotUploader* uploader_;
  const std::shared_ptr<SubtaskFiles> files_ = std::make_shared<SubtaskFiles>();

  mutable absl::Mutex mu_;
  proto::TaskState state_ ABSL_GUARDED_BY(mu_) = proto::TASK_DEPLOYING;
  std::string failure_ ABSL_GUARDED_BY(mu_);
  proto::TaskLoad last_load_ ABSL_GUARDED_BY(mu_);
  // Channels of the writers, for sampling from other threads.
  std::vector<std::shared_ptr<OutputChannel>> channels_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<TaskGauges> gauges_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace sluice
