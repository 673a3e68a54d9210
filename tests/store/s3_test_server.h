#pragma once

// Runs tests/support/s3_server.py (s3rver behind a SigV4-verifying proxy) as
// a child process for C++ tests.
//
// The server is started on first use, not at static initialization (ctest's
// test discovery runs the binary only to list tests), and once per process;
// a gtest environment stops it at the end. Its stdin is a pipe from this
// process, so it also exits if this process dies.

#include <string>

#include "absl/status/statusor.h"

namespace sluice::testing {

struct S3ServerInfo {
  std::string endpoint;  // the verifying proxy, http://127.0.0.1:PORT
  std::string bucket;
  std::string access_key;
  std::string secret_key;
  std::string region;
};

// The shared server, started on first call. Fails (with the server's reason,
// e.g. "run tools/install-deps.sh") when it cannot start.
absl::StatusOr<S3ServerInfo> SharedS3Server();

// Test hooks of the proxy: the next `count` requests with `method` (or any,
// when empty) answer `status` without reaching s3rver.
absl::Status InjectS3Failures(const std::string& method, int status, int count);
// How many verified requests of `method` the proxy has seen, and how many it
// refused (method "rejected").
absl::StatusOr<int> S3RequestCount(const std::string& method);

}  // namespace sluice::testing
