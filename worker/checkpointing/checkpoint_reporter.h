#pragma once

// Where a subtask's checkpoint acknowledgements and declines go: the
// coordinator. Reporting never blocks the caller (a task, or the thread
// that uploads snapshots), so a slow coordinator delays nothing but the
// reports themselves.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "proto/sluice.grpc.pb.h"
#include "proto/sluice.pb.h"

namespace sluice {

class CheckpointReporter {
 public:
  virtual ~CheckpointReporter() = default;
  virtual void Ack(proto::CheckpointAck ack) = 0;
  virtual void Decline(proto::CheckpointDecline decline) = 0;
};

// CheckpointReporter over gRPC's callback API. A report whose call fails is
// sent again after a backoff (200 ms, doubling up to 2 s) for up to
// `retry_for_ms`, unless `live` says its attempt has ended (fenced: the
// coordinator replaced it). After that the checkpoint times out at the
// coordinator, and the job goes on.
//
// Threads: Ack/Decline from any thread; one thread of its own resends
// reports whose backoff has passed; gRPC's callback threads finish calls.
class GrpcCheckpointReporter final : public CheckpointReporter {
 public:
  // Whether attempt `attempt` of `job_id` still runs here.
  using LiveFn = std::function<bool(const std::string& job_id, int64_t attempt)>;

  // `stub` must outlive this reporter.
  GrpcCheckpointReporter(proto::CoordinatorService::Stub* stub, LiveFn live,
                         int64_t retry_for_ms = 30'000);
  // Cancels calls in flight and waits for their callbacks.
  ~GrpcCheckpointReporter() override;

  void Ack(proto::CheckpointAck ack) override;
  void Decline(proto::CheckpointDecline decline) override;

 private:
  using Report = std::variant<proto::CheckpointAck, proto::CheckpointDecline>;
  struct Waiting {
    Report report;
    int64_t first_ms = 0;
    int64_t due_ms = 0;
    int tries = 0;
  };
  struct Call;

  void Send(Waiting w);
  void Done(Waiting w, bool ok, const std::string& error);
  void RetryLoop();

  proto::CoordinatorService::Stub& stub_;
  const LiveFn live_;
  const int64_t retry_for_ms_;

  absl::Mutex mu_;
  std::vector<Waiting> retry_ ABSL_GUARDED_BY(mu_);
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::shared_ptr<Call>> calls_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice
