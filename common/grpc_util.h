#pragma once

// gRPC plumbing shared by coordinator, worker and CLI: status conversion at
// the RPC edge and channel creation.

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"

namespace sluice {

// The largest message a sluice process receives (gRPC's limit, which it
// enforces by ending the stream): a batch between workers must fit.
inline constexpr size_t kMaxMessageBytes = 64 << 20;

grpc::Status ToGrpcStatus(const absl::Status& s);
absl::Status FromGrpcStatus(const grpc::Status& s, std::string_view what);

// Resolves an address to a channel. Addresses of the form "inproc:NAME" name
// servers registered in this process (embedded mode); anything else is a
// HOST:PORT reached over TCP with proxies disabled (gRPC would otherwise
// honour $http_proxy even for loopback). Thread-safe.
std::shared_ptr<grpc::Channel> ChannelTo(const std::string& address);

// Registers an in-process server under "inproc:NAME". The server must outlive
// every channel created for it; unregister before shutting it down.
void RegisterInProcessServer(const std::string& address, grpc::Server* server);
void UnregisterInProcessServer(const std::string& address);

// Builds and starts a server for `service` on `listen_address`: HOST:PORT
// (port 0 picks one) or inproc:NAME (registered for ChannelTo). Sets
// `*address` to where clients reach it.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(const std::string& listen_address,
                                                          grpc::Service* service,
                                                          std::string* address);
// Unregisters an in-process server and shuts `server` down (2 s grace).
void StopServer(grpc::Server* server, const std::string& address);

// Deadline helper for unary calls.
void SetDeadlineMs(grpc::ClientContext* ctx, int64_t ms);

}  // namespace sluice
