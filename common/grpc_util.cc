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
  const auto code = static_cast<absl::StatusCode>(s.error_code());
  // Some failures (a message that does not parse) come without a message.
  const std::string message = s.error_message().empty()
                                  ? absl::StrCat(absl::StatusCodeToString(code), " (no message)")
                                  : s.error_message();
  return absl::Status(code, absl::StrCat(std::string(what), ": ", message));
}

std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_ENABLE_HTTP_PROXY, 0);
  // A server that went away is tried again within a second. gRPC's default
  // backoff grows to two minutes, so a worker took over a minute to find
  // a restarted coordinator.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 250);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
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

absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& listen_address,
                                                          grpc::Service* service,
                                                          std::string* address) {
  grpc::ServerBuilder builder;
  builder.SetMaxReceiveMessageSize(static_cast<int>(kMaxMessageBytes));
  // A port belongs to one server: without this, gRPC sets SO_REUSEPORT, and a
  // second process on a port in use starts too and takes some of its calls.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(service);
  const bool in_process = listen_address.starts_with("inproc:");
  int port = 0;
  if (!in_process)
    builder.AddListeningPort(listen_address, grpc::InsecureServerCredentials(), &port);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || (!in_process && port == 0)) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen_address, " (address in use or not local?)"));
  }
  if (in_process) {
    *address = listen_address;
    RegisterInProcessServer(*address, server.get());
  } else {
    *address = absl::StrCat(listen_address.substr(0, listen_address.rfind(':')), ":", port);
  }
  return server;
}

void StopServer(grpc::Server* server, const std::string& address) {
  if (server == nullptr) return;
  if (address.starts_with("inproc:")) UnregisterInProcessServer(address);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

void SetDeadlineMs(grpc::ClientContext* ctx, int64_t ms) {
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(ms));
}

}  // namespace sluice
