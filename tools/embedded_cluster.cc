#include "tools/embedded_cluster.h"

#include <atomic>

#include "absl/strings/str_cat.h"
#include "common/grpc_util.h"
#include "common/status_macros.h"

namespace sluice {

absl::StatusOr<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(
    int workers, int slots_per_worker, EmbeddedClusterOptions options) {
  // Unique names let several clusters share a process (tests).
  static std::atomic<int> instance{0};
  const int n = instance++;
  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster);
  CoordinatorOptions copts;
  copts.listen_address = absl::StrCat("inproc:coordinator-", n);
  copts.warn_without_ha_store = false;
  c->coordinator_ = std::make_unique<Coordinator>(copts);
  RETURN_IF_ERROR(c->coordinator_->Start());
  for (int i = 0; i < workers; ++i) {
    WorkerOptions wopts;
    wopts.coordinator_address = copts.listen_address;
    wopts.listen_address =
        options.remote_exchange ? "127.0.0.1:0" : absl::StrCat("inproc:cluster-", n, "-worker-", i);
    wopts.local_exchange = !options.remote_exchange;
    wopts.slots = slots_per_worker;
    c->workers_.push_back(std::make_unique<Worker>(wopts));
    RETURN_IF_ERROR(c->workers_.back()->Start());
  }
  c->stub_ = proto::CoordinatorService::NewStub(ChannelTo(copts.listen_address));
  return c;
}

EmbeddedCluster::~EmbeddedCluster() {
  for (auto& w : workers_) w->Stop();
  if (coordinator_ != nullptr) coordinator_->Stop();
}

}  // namespace sluice
