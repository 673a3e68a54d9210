#pragma once

// A small blocking HTTP client over libcurl for the S3 store: SigV4 signing
// (curl's CURLOPT_AWS_SIGV4), streaming request and response bodies, and
// retries of connection errors, 5xx and 429 with exponential backoff.
//
// Thread-safe: each call takes an easy handle from a small pool (handles keep
// their connections alive between calls) and returns it afterwards; no handle
// is used by two threads at once.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

typedef void CURL;

namespace sluice::store_internal {

struct HttpClientOptions {
  std::string username, password;  // SigV4 access key and secret
  std::string aws_sigv4;           // e.g. "aws:amz:us-east-1:s3"
  bool no_proxy = false;           // bypass any proxy from the environment
  int max_attempts = 5;
  int64_t initial_backoff_ms = 100;
  int64_t max_backoff_ms = 10'000;
  int64_t timeout_ms = 30'000;  // connect timeout, and the longest a transfer may stall
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT or DELETE
  std::string url;     // already encoded
  // "Name: value". curl signs every header given here, so never pass "Name:"
  // (curl's way to drop a default header such as Expect): curl 7.88 signs it
  // as an empty header and then does not send it, and S3 refuses the
  // signature. Hence every PUT waits for "100 Continue", which also lets S3
  // refuse a large upload before its body is sent.
  std::vector<std::string> headers;
  // The PUT body: `body`, or when body_fd >= 0, body_size bytes of that file
  // from offset 0 (read with pread, so retries can start over).
  std::string_view body;
  int body_fd = -1;
  int64_t body_size = 0;
  // Where a 2xx response body goes: HttpResponse::body, or when sink_fd >= 0
  // that file (truncated before each attempt). Other answers' bodies always
  // go to HttpResponse::body (at most 64 KiB), for the error details.
  int sink_fd = -1;
};

struct HttpResponse {
  long status = 0;
  std::string body;
  int64_t content_length = -1;  // from the headers; -1 when absent
  int attempts = 0;
};

class HttpClient {
 public:
  explicit HttpClient(HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Performs `request`, retrying connection errors, 5xx and 429. Returns the
  // last response whatever its status (with the number of attempts), or when
  // the last attempt got no response: Unavailable for transient failures
  // (connecting, timeouts, a dropped connection), Internal for others (a bad
  // URL, TLS verification), with curl's message and the number of attempts;
  // or the local error when reading the body or writing the sink failed.
  absl::StatusOr<HttpResponse> Perform(const HttpRequest& request);

  const HttpClientOptions& options() const { return options_; }

 private:
  struct Attempt;
  // One attempt on `handle`; a transport failure is an error status whose
  // `retryable` flag says whether to try again.
  absl::StatusOr<HttpResponse> PerformOnce(CURL* handle, const HttpRequest& request,
                                           bool* retryable);
  CURL* Acquire();
  void Release(CURL* handle);

  const HttpClientOptions options_;
  absl::Mutex mu_;
  std::vector<CURL*> idle_ ABSL_GUARDED_BY(mu_);
};

}  // namespace sluice::store_internal
