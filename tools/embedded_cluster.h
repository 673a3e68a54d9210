#pragma once

// A coordinator and N workers in one process, talking over in-process gRPC
// channels for control and in-memory bounded channels for data: the real
// code paths of a cluster without a network. Used by `sluice run` and the
// benchmark.

#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "coordinator/coordinator.h"
#include "proto/sluice.grpc.pb.h"
#include "worker/worker.h"

namespace sluice {

struct EmbeddedClusterOptions {
  // Every data channel goes through gRPC over loopback TCP, as between
  // worker processes, instead of in-memory channels. For tests and
  // benchmarks of the remote path in one process.
  bool remote_exchange = false;
};

class EmbeddedCluster {
 public:
  static absl::StatusOr<std::unique_ptr<EmbeddedCluster>> Start(
      int workers, int slots_per_worker, EmbeddedClusterOptions options = {});
  ~EmbeddedCluster();

  proto::CoordinatorService::Stub& coordinator() { return *stub_; }

 private:
  EmbeddedCluster() = default;

  std::unique_ptr<Coordinator> coordinator_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<proto::CoordinatorService::Stub> stub_;
};

}  // namespace sluice
