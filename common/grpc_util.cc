#include "common/grpc_util.h"

#include <chrono>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace sluice {
namespace {

struct InProcessServers {
  absl::Mutex mu;
  absl::flat_hash_map<std::string, grpc::Server*> servers ABSL_GUARDED_BY(mu);
};

InProcessServers& Servers() {
  static auto* s = new InProcessServers;
  return *s;
}

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

absl::Status FromGrpcStatus(const grpc::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(std::string(what), ": ", s.error_message()));
}

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  args.SetMaxReceiveMessageSize(64 << 20);
  if (address.starts_with("inproc:")) {
    InProcessServers& s = Servers();
    absl::MutexLock lock(&s.mu);
    auto it = s.servers.find(address);
    if (it != s.servers.end()) return it->second->InProcessChannel(args);
  }
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

void RegisterInProcessServer(const std::string& address, grpc::Server* server) {
  InProcessServers& s = Servers();
  absl::MutexLock lock(&s.mu);
  s.servers[address] = server;
}

void UnregisterInProcessServer(const std::string& address) {
  InProcessServers& s = Servers();
  absl::MutexLock lock(&s.mu);
  s.servers.erase(address);
}

void SetDeadlineMs(grpc::ClientContext* ctx, int64_t ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

}  // namespace sluice
