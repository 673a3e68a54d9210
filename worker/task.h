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
#include "worker/task_load.h"
#include "worker/task_metrics.h"

namespace sluice {

class Task;

class TaskListener {
 public:
  virtual ~TaskListener() = default;
  // Called once, on the task's thread, after it ended.
  virtual void OnTaskEnded(Task& task, const proto::SubtaskStatus& final_status) = 0;
};

struct TaskOptions {
  // Channels to subtasks on workers of this process skip the network.
  // Tests turn it off to run the remote path in one process.
  bool local_channels = true;
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
  // Current state, counters and the last load sample. Thread-safe.
  proto::SubtaskStatus Status() const;
  // Measures load and buffer usage since the previous call (Status() and
  // metrics show it). Called periodically by one thread.
  void SampleLoad();

 private:
  void Run();
  absl::Status Loop();
  absl::Status BuildWriters();
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
