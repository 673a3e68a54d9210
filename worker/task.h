#pragma once

// One subtask of one task: a chain of operators running on its own thread.
//
// Lifecycle: construct -> Prepare() (creates and registers the input gate,
// so senders can find it before any task starts) -> Start() -> the thread
// runs the chain to the end of input, cancellation or the first error ->
// the listener hears the final status. Cancel() may be called from any
// thread; the destructor cancels and joins.

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/sluice.pb.h"
#include "worker/input_gate.h"
#include "worker/operators/operator.h"
#include "worker/record_writer.h"
#include "worker/task_metrics.h"

namespace sluice {

class Task;

class TaskListener {
 public:
  virtual ~TaskListener() = default;
  // Called once, on the task's thread, after it ended.
  virtual void OnTaskEnded(Task& task, const proto::SubtaskStatus& final_status) = 0;
};

class Task {
 public:
  Task(std::shared_ptr<const proto::ExecutionPlan> plan, int task, int subtask,
       std::string worker_id, TaskListener* listener);
  ~Task();

  absl::Status Prepare();
  void Start();
  void Cancel();
  void Join();

  const std::string& job_id() const { return plan_->job_id(); }
  int task_index() const { return task_; }
  int subtask() const { return subtask_; }
  bool done() const { return done_.load(); }
  // Current state and counters. Thread-safe.
  proto::SubtaskStatus Status() const;

 private:
  class Link;

  void Run();
  absl::Status RunChain();
  absl::Status BuildWriters();

  std::shared_ptr<const proto::ExecutionPlan> plan_;
  const int task_, subtask_;
  const std::string worker_id_;
  TaskListener* listener_;

  std::stop_source stop_;
  std::shared_ptr<InputGate> gate_;                    // null for source tasks
  std::vector<std::unique_ptr<OperatorStats>> stats_;  // per chained operator
  std::vector<std::unique_ptr<RecordWriter>> writers_;
  std::vector<const proto::OutputEdge*> writer_edges_;

  mutable absl::Mutex mu_;
  proto::TaskState state_ ABSL_GUARDED_BY(mu_) = proto::TASK_DEPLOYING;
  std::string failure_ ABSL_GUARDED_BY(mu_);
  std::vector<RecordWriter*> cancelable_writers_ ABSL_GUARDED_BY(mu_);

  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace sluice
