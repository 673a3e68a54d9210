#include "store/s3_object_store.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "store/internal/curl_http.h"
#include "store/internal/file_util.h"
#include "store/internal/keys.h"
#include "store/internal/s3_protocol.h"

namespace sluice {

using store_internal::HttpRequest;
using store_internal::HttpResponse;
using store_internal::Sv;

namespace {

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? std::string() : std::string(value);
}

bool IsLoopbackHost(std::string_view authority) {
  std::string_view host = authority;
  if (absl::StartsWith(Sv(host), "[")) {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  return host == "localhost" || absl::StartsWith(Sv(host), "127.") || host == "[::1]";
}

absl::StatusCode CodeForHttpStatus(long status) {
  if (status == 401 || status == 403) return absl::StatusCode::kPermissionDenied;
  if (status == 404) return absl::StatusCode::kNotFound;
  if (status == 409 || status == 412) return absl::StatusCode::kFailedPrecondition;
  if (status == 429 || status >= 500) return absl::StatusCode::kUnavailable;
  if (status >= 400) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kUnknown;  // an unexpected 1xx, 2xx or 3xx
}

}  // namespace

absl::StatusOr<std::unique_ptr<S3ObjectStore>> S3ObjectStore::Open(std::string_view bucket,
                                                                   std::string_view prefix,
                                                                   const S3Options& options) {
  if (bucket.empty() || bucket.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat("invalid S3 bucket name '", Sv(bucket), "'"));
  }
  while (!prefix.empty() && prefix.front() == '/') prefix.remove_prefix(1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (!prefix.empty()) RETURN_IF_ERROR(store_internal::ValidateKey(prefix));
  if (options.region.empty()) return absl::InvalidArgumentError("S3 region is empty");
  if (options.max_attempts < 1 || options.initial_backoff_ms < 0 || options.timeout_ms < 1 ||
      options.list_page_size < 1 || options.list_page_size > 1000) {
    return absl::InvalidArgumentError(
        "S3 options: max_attempts and timeout_ms must be positive, initial_backoff_ms "
        "non-negative, list_page_size within 1..1000");
  }

  store_internal::HttpClientOptions http;
  http.username = options.access_key.empty() ? Env("AWS_ACCESS_KEY_ID") : options.access_key;
  http.password = options.secret_key.empty() ? Env("AWS_SECRET_ACCESS_KEY") : options.secret_key;
  if (http.username.empty() || http.password.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no S3 credentials for s3://", Sv(bucket),
        ": set the access and secret key, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"));
  }
  http.aws_sigv4 = absl::StrCat("aws:amz:", options.region, ":s3");
  http.max_attempts = options.max_attempts;
  http.initial_backoff_ms = options.initial_backoff_ms;
  http.timeout_ms = options.timeout_ms;

  std::string endpoint = options.endpoint.empty()
                             ? absl::StrCat("https://s3.", options.region, ".amazonaws.com")
                             : options.endpoint;
  while (endpoint.size() > 1 && endpoint.back() == '/') endpoint.pop_back();
  const size_t scheme_end = endpoint.find("://");
  const std::string scheme = endpoint.substr(0, scheme_end);
  if (scheme_end == std::string::npos || (scheme != "http" && scheme != "https")) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint '", endpoint, "' must start with http:// or https://"));
  }
  const std::string rest = endpoint.substr(scheme_end + 3);
  const std::string authority = rest.substr(0, rest.find('/'));
  const std::string path = rest.substr(authority.size());
  if (authority.empty() || authority.find('@') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 endpoint '", endpoint, "' needs a host (and no user info: pass credentials apart)"));
  }
  http.no_proxy = IsLoopbackHost(authority);
  // Path style: objects at endpoint/bucket/key, listings at endpoint/bucket?...
  // Virtual hosts: objects at bucket.host/key, listings at bucket.host/?...
  std::string base_url = options.path_style
                             ? absl::StrCat(endpoint, "/", store_internal::UriEncode(bucket, false))
                             : absl::StrCat(scheme, "://", Sv(bucket), ".", authority, path);
  std::string list_url = options.path_style ? base_url : absl::StrCat(base_url, "/");
  return std::unique_ptr<S3ObjectStore>(new S3ObjectStore(
      std::string(bucket), prefix.empty() ? "" : absl::StrCat(Sv(prefix), "/"), std::move(base_url),
      std::move(list_url), std::make_unique<store_internal::HttpClient>(std::move(http)),
      options.list_page_size));
}

S3ObjectStore::S3ObjectStore(std::string bucket, std::string prefix, std::string base_url,
                             std::string list_url, std::unique_ptr<store_internal::HttpClient> http,
                             int list_page_size)
    : bucket_(std::move(bucket)),
      prefix_(std::move(prefix)),
      base_url_(std::move(base_url)),
      list_url_(std::move(list_url)),
      http_(std::move(http)),
      list_page_size_(list_page_size) {}

S3ObjectStore::~S3ObjectStore() = default;

std::string S3ObjectStore::uri() const {
  if (prefix_.empty()) return absl::StrCat("s3://", bucket_);
  return absl::StrCat("s3://", bucket_, "/", prefix_.substr(0, prefix_.size() - 1));
}

std::string S3ObjectStore::FullKey(std::string_view key) const {
  return absl::StrCat(prefix_, Sv(key));
}

absl::Status S3ObjectStore::ValidateKey(std::string_view key) const {
  RETURN_IF_ERROR(store_internal::ValidateKey(key));
  if (prefix_.size() + key.size() > store_internal::kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid object key '", Sv(key.substr(0, 64)), "...': with the store's prefix '", prefix_,
        "' it is longer than S3's limit of ", store_internal::kMaxKeyBytes, " bytes"));
  }
  return absl::OkStatus();
}

std::string S3ObjectStore::ObjectUrl(std::string_view key) const {
  return absl::StrCat(base_url_, "/", store_internal::UriEncode(FullKey(key), true));
}

std::string S3ObjectStore::Redact(std::string_view message) const {
  std::string out(message);
  const auto& o = http_->options();
  if (!o.password.empty()) out = absl::StrReplaceAll(out, {{o.password, "<secret key>"}});
  if (!o.username.empty()) out = absl::StrReplaceAll(out, {{o.username, "<access key>"}});
  return out;
}

absl::Status S3ObjectStore::HttpError(std::string_view op, std::string_view what,
                                      const HttpResponse& response) const {
  const store_internal::S3ErrorBody error = store_internal::ParseS3Error(response.body);
  std::string detail = absl::StrCat("HTTP ", response.status);
  if (!error.code.empty()) absl::StrAppend(&detail, " ", error.code);
  if (!error.message.empty()) {
    absl::StrAppend(&detail, ": ", error.message);
  } else if (error.code.empty() && !response.body.empty()) {
    absl::StrAppend(&detail, ": ", response.body.substr(0, 200));
  }
  if (response.attempts > 1) absl::StrAppend(&detail, " (after ", response.attempts, " attempts)");
  return absl::Status(CodeForHttpStatus(response.status),
                      Redact(absl::StrCat("S3 ", Sv(op), " ", Sv(what), ": ", detail)));
}

absl::Status S3ObjectStore::Annotate(std::string_view op, std::string_view what,
                                     const absl::Status& status) const {
  return absl::Status(status.code(), Redact(absl::StrCat("S3 ", Sv(op), " ", Sv(what), " via ",
                                                         base_url_, ": ", status.message())));
}

absl::Status S3ObjectStore::Upload(std::string_view key, std::string_view data, int fd,
                                   int64_t size, const std::string& sha256) {
  HttpRequest request;
  request.method = "PUT";
  request.url = ObjectUrl(key);
  request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", sha256));
  request.body = data;
  request.body_fd = fd;
  request.body_size = size;
  const std::string what = absl::StrCat(uri(), "/", Sv(key));
  absl::StatusOr<HttpResponse> response = http_->Perform(request);
  if (!response.ok()) return Annotate("PUT", what, response.status());
  if (response->status != 200) return HttpError("PUT", what, *response);
  return absl::OkStatus();
}

absl::Status S3ObjectStore::Put(std::string_view key, std::string_view data) {
  RETURN_IF_ERROR(ValidateKey(key));
  return Upload(key, data, -1, static_cast<int64_t>(data.size()), store_internal::Sha256Hex(data));
}

absl::Status S3ObjectStore::PutFile(std::string_view key, const std::string& local_path) {
  RETURN_IF_ERROR(ValidateKey(key));
  store_internal::UniqueFd fd(::open(local_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return store_internal::ErrnoStatus(errno, absl::StrCat("open ", local_path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) {
    return store_internal::ErrnoStatus(errno, absl::StrCat("stat ", local_path));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(local_path, " is not a regular file"));
  }
  ASSIGN_OR_RETURN(const std::string sha256, store_internal::Sha256HexOfFile(fd.get(), local_path));
  return Upload(key, {}, fd.get(), static_cast<int64_t>(st.st_size), sha256);
}

absl::Status S3ObjectStore::Download(std::string_view key, int sink_fd, std::string* out) {
  HttpRequest request;
  request.method = "GET";
  request.url = ObjectUrl(key);
  request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", store_internal::kEmptySha256));
  request.sink_fd = sink_fd;
  const std::string what = absl::StrCat(uri(), "/", Sv(key));
  absl::StatusOr<HttpResponse> response = http_->Perform(request);
  if (!response.ok()) return Annotate("GET", what, response.status());
  if (response->status == 404) {
    return absl::NotFoundError(absl::StrCat("object '", Sv(key), "' not found in ", uri()));
  }
  if (response->status != 200) return HttpError("GET", what, *response);
  if (out != nullptr) *out = std::move(response->body);
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3ObjectStore::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  std::string data;
  RETURN_IF_ERROR(Download(key, -1, &data));
  return data;
}

absl::Status S3ObjectStore::GetFile(std::string_view key, const std::string& local_path) {
  RETURN_IF_ERROR(ValidateKey(key));
  return store_internal::WriteFileAtomically(
      local_path, [&](int fd) { return Download(key, fd, nullptr); },
      store_internal::Durability::kNotSynced);
}

absl::StatusOr<std::optional<int64_t>> S3ObjectStore::Size(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest request;
  request.method = "HEAD";
  request.url = ObjectUrl(key);
  request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", store_internal::kEmptySha256));
  const std::string what = absl::StrCat(uri(), "/", Sv(key));
  absl::StatusOr<HttpResponse> response = http_->Perform(request);
  if (!response.ok()) return Annotate("HEAD", what, response.status());
  if (response->status == 404) return std::nullopt;
  if (response->status != 200) return HttpError("HEAD", what, *response);
  if (response->content_length < 0) {
    return absl::InternalError(absl::StrCat("S3 HEAD ", what, ": no Content-Length in the answer"));
  }
  return response->content_length;
}

absl::StatusOr<std::vector<ObjectInfo>> S3ObjectStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(store_internal::ValidatePrefix(prefix));
  const std::string full_prefix = FullKey(prefix);
  const std::string what = absl::StrCat(uri(), "/", Sv(prefix), "*");
  std::vector<ObjectInfo> out;
  std::string token;
  do {
    std::vector<std::pair<std::string, std::string>> params = {
        {"list-type", "2"}, {"max-keys", absl::StrCat(list_page_size_)}};
    if (!full_prefix.empty()) params.emplace_back("prefix", full_prefix);
    if (!token.empty()) params.emplace_back("continuation-token", token);
    HttpRequest request;
    request.method = "GET";
    request.url = absl::StrCat(list_url_, "?", store_internal::CanonicalQuery(std::move(params)));
    request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", store_internal::kEmptySha256));
    absl::StatusOr<HttpResponse> response = http_->Perform(request);
    if (!response.ok()) return Annotate("LIST", what, response.status());
    if (response->status != 200) return HttpError("LIST", what, *response);
    absl::StatusOr<store_internal::ListPage> page =
        store_internal::ParseListObjectsV2(response->body);
    if (!page.ok()) return Annotate("LIST", what, page.status());
    for (ObjectInfo& object : page->objects) {
      if (!absl::StartsWith(object.key, full_prefix)) continue;  // a server bug; never ours
      object.key.erase(0, prefix_.size());
      out.push_back(std::move(object));
    }
    token = page->truncated ? std::move(page->next_continuation_token) : std::string();
  } while (!token.empty());
  // S3 lists in key order, but some compatible servers (s3rver) walk their
  // directories instead; the contract is sorted.
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

absl::Status S3ObjectStore::Delete(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  HttpRequest request;
  request.method = "DELETE";
  request.url = ObjectUrl(key);
  request.headers.push_back(absl::StrCat("x-amz-content-sha256: ", store_internal::kEmptySha256));
  const std::string what = absl::StrCat(uri(), "/", Sv(key));
  absl::StatusOr<HttpResponse> response = http_->Perform(request);
  if (!response.ok()) return Annotate("DELETE", what, response.status());
  if (response->status == 404) return absl::OkStatus();
  if (response->status != 200 && response->status != 204) {
    return HttpError("DELETE", what, *response);
  }
  return absl::OkStatus();
}

}  // namespace sluice
