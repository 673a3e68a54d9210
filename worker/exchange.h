#pragma once

// Data exchange between subtasks.
//
// A ChannelWriter carries one logical channel (sender subtask -> receiver
// subtask). When the receiver runs in this process (the same worker, or any
// worker in embedded mode) the writer pushes straight into the receiver's
// InputGate; otherwise it streams DataFrames over the receiver worker's
// WorkerService.Exchange RPC, one frame per batch (never per record), and
// blocks under gRPC flow control when the receiver's queue is full.
//
// ExchangeRegistry is the process-wide directory of input gates and of the
// worker addresses served by this process. Thread-safe.

#include <memory>
#include <stop_token>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/sluice.grpc.pb.h"
#include "worker/input_gate.h"

namespace sluice {

struct ChannelAddress {
  std::string job_id;
  int task = 0;
  int subtask = 0;
  int channel = 0;        // index at the receiver's gate
  std::string worker_id;  // receiver's worker, for messages
  std::string worker_address;
  // The sender, named in errors on either side.
  std::string from_worker_id;
  std::string from_address;
  int from_task = 0;
  int from_subtask = 0;
};

class ExchangeRegistry {
 public:
  static ExchangeRegistry& Get();

  void RegisterGate(const std::string& job_id, int task, int subtask,
                    std::shared_ptr<InputGate> gate);
  void UnregisterGate(const std::string& job_id, int task, int subtask);
  // Waits up to `timeout_ms` for the gate to be registered (receivers on
  // other workers may deploy a little later than their senders).
  absl::StatusOr<std::shared_ptr<InputGate>> WaitForGate(const std::string& job_id, int task,
                                                         int subtask, int64_t timeout_ms,
                                                         std::stop_token stop);

  void AddLocalWorker(const std::string& address);
  void RemoveLocalWorker(const std::string& address);
  bool IsLocalWorker(const std::string& address);

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<InputGate>> gates_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> local_workers_ ABSL_GUARDED_BY(mu_);
};

class ChannelWriter {
 public:
  virtual ~ChannelWriter() = default;
  virtual absl::Status Send(StreamElement element) = 0;
  // Ends the channel after end-of-stream was sent; reports delivery errors.
  virtual absl::Status Close() = 0;
  // Unblocks a Send stuck on a slow or dead receiver. Any thread.
  virtual void Cancel() = 0;
};

// Creates the writer for `to`, local or remote as described above.
std::unique_ptr<ChannelWriter> MakeChannelWriter(const ChannelAddress& to, std::stop_token stop);

// Server side of WorkerService.Exchange: feeds frames into the gate.
grpc::Status ServeExchange(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<proto::ExchangeCredit, proto::DataFrame>* reader);

// Gate wait for late-deploying receivers.
inline constexpr int64_t kGateWaitMs = 30'000;

}  // namespace sluice
