#include "store/internal/curl_http.h"

#include <curl/curl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>

#include "absl/base/call_once.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "store/internal/file_util.h"

namespace sluice::store_internal {
namespace {

constexpr size_t kMaxErrorBody = 64 << 10;
constexpr size_t kMaxIdleHandles = 16;

void GlobalInit() {
  static absl::once_flag once;
  absl::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

bool RetryableStatus(long status) { return status >= 500 || status == 429; }

// Transport errors worth another attempt: the server or the network, not us.
bool RetryableCurlError(CURLcode code) {
  switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

absl::Duration Backoff(const HttpClientOptions& options, int attempt) {
  int64_t ms = options.initial_backoff_ms;
  for (int i = 1; i < attempt && ms < options.max_backoff_ms; ++i) ms *= 2;
  ms = std::min(ms, options.max_backoff_ms);
  // Jitter in [ms/2, ms], so clients that failed together do not retry together.
  thread_local std::minstd_rand rng(std::random_device{}());
  std::uniform_int_distribution<int64_t> jitter(ms / 2, std::max<int64_t>(ms / 2, ms));
  return absl::Milliseconds(jitter(rng));
}

}  // namespace

// Per-attempt state shared with curl's callbacks.
struct HttpClient::Attempt {
  CURL* handle;
  const HttpRequest* request;
  HttpResponse* response;
  int64_t read_offset = 0;
  absl::Status local_error;  // set by a callback that aborted the transfer

  static size_t Read(char* buffer, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Attempt*>(self_ptr);
    const HttpRequest& r = *self->request;
    const int64_t total = r.body_fd >= 0 ? r.body_size : static_cast<int64_t>(r.body.size());
    const size_t n = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(size * count), total - self->read_offset));
    if (n == 0) return 0;
    if (r.body_fd < 0) {
      std::copy_n(r.body.data() + self->read_offset, n, buffer);
      self->read_offset += static_cast<int64_t>(n);
      return n;
    }
    while (true) {
      const ssize_t got = ::pread(r.body_fd, buffer, n, self->read_offset);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        // The file shrank or cannot be read: abort rather than send a short body.
        self->local_error =
            got < 0 ? ErrnoStatus(errno, "read the upload body")
                    : absl::FailedPreconditionError("the file to upload shrank while uploading");
        return CURL_READFUNC_ABORT;
      }
      self->read_offset += got;
      return static_cast<size_t>(got);
    }
  }

  static int Seek(void* self_ptr, curl_off_t offset, int origin) {
    auto* self = static_cast<Attempt*>(self_ptr);
    if (origin != SEEK_SET) return CURL_SEEKFUNC_CANTSEEK;
    self->read_offset = offset;
    return CURL_SEEKFUNC_OK;
  }

  static size_t Write(char* data, size_t size, size_t count, void* self_ptr) {
    auto* self = static_cast<Attempt*>(self_ptr);
    const size_t n = size * count;
    long status = 0;
    curl_easy_getinfo(self->handle, CURLINFO_RESPONSE_CODE, &status);
    const bool success = status >= 200 && status < 300;
    if (success && self->request->sink_fd >= 0) {
      self->local_error = WriteAll(self->request->sink_fd, data, n, "the download file");
      return self->local_error.ok() ? n : 0;
    }
    std::string& body = self->response->body;
    if (success) {
      body.append(data, n);
    } else if (body.size() < kMaxErrorBody) {
      body.append(data, std::min(n, kMaxErrorBody - body.size()));
    }
    return n;
  }
};

HttpClient::HttpClient(HttpClientOptions options) : options_(std::move(options)) { GlobalInit(); }

HttpClient::~HttpClient() {
  absl::MutexLock lock(&mu_);
  for (CURL* handle : idle_) curl_easy_cleanup(handle);
}

CURL* HttpClient::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      CURL* handle = idle_.back();
      idle_.pop_back();
      return handle;
    }
  }
  return curl_easy_init();
}

void HttpClient::Release(CURL* handle) {
  // Keeps live connections, drops every option set for the last call.
  curl_easy_reset(handle);
  {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < kMaxIdleHandles) {
      idle_.push_back(handle);
      return;
    }
  }
  curl_easy_cleanup(handle);
}

absl::StatusOr<HttpResponse> HttpClient::PerformOnce(CURL* handle, const HttpRequest& request,
                                                     bool* retryable) {
  *retryable = false;
  curl_easy_reset(handle);
  HttpResponse response;
  Attempt attempt{handle, &request, &response, 0, absl::OkStatus()};
  if (request.sink_fd >= 0 &&
      (::ftruncate(request.sink_fd, 0) != 0 || ::lseek(request.sink_fd, 0, SEEK_SET) != 0)) {
    return ErrnoStatus(errno, "truncate the download file");
  }
  curl_slist* headers = nullptr;
  for (const std::string& header : request.headers) {
    headers = curl_slist_append(headers, header.c_str());
  }
  char error_buffer[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(handle, CURLOPT_AWS_SIGV4, options_.aws_sigv4.c_str());
  curl_easy_setopt(handle, CURLOPT_USERNAME, options_.username.c_str());
  curl_easy_setopt(handle, CURLOPT_PASSWORD, options_.password.c_str());
  if (options_.no_proxy) curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.timeout_ms));
  // A stall (under 1 byte/s for the timeout) aborts; a slow but moving
  // transfer does not.
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>(options_.timeout_ms / 1000)));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, &Attempt::Write);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &attempt);
  if (request.method == "PUT") {
    const int64_t size =
        request.body_fd >= 0 ? request.body_size : static_cast<int64_t>(request.body.size());
    curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(handle, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, &Attempt::Read);
    curl_easy_setopt(handle, CURLOPT_READDATA, &attempt);
    curl_easy_setopt(handle, CURLOPT_SEEKFUNCTION, &Attempt::Seek);
    curl_easy_setopt(handle, CURLOPT_SEEKDATA, &attempt);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  const CURLcode code = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  curl_off_t length = -1;
  curl_easy_getinfo(handle, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length);
  response.content_length = length;
  curl_slist_free_all(headers);

  if (!attempt.local_error.ok()) return attempt.local_error;
  if (code != CURLE_OK) {
    *retryable = RetryableCurlError(code);
    const char* message = error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code);
    return *retryable ? absl::UnavailableError(message) : absl::InternalError(message);
  }
  *retryable = RetryableStatus(response.status);
  return response;
}

absl::StatusOr<HttpResponse> HttpClient::Perform(const HttpRequest& request) {
  CURL* handle = Acquire();
  if (handle == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  absl::StatusOr<HttpResponse> result;
  int attempt = 1;
  for (;; ++attempt) {
    bool retryable = false;
    result = PerformOnce(handle, request, &retryable);
    if (!retryable || attempt >= options_.max_attempts) break;
    absl::SleepFor(Backoff(options_, attempt));
  }
  Release(handle);
  if (result.ok()) {
    result->attempts = attempt;
  } else if (attempt > 1) {
    result = absl::Status(result.status().code(), absl::StrCat(result.status().message(),
                                                               " (after ", attempt, " attempts)"));
  }
  return result;
}

}  // namespace sluice::store_internal
