#pragma once

// ObjectStore over the S3 REST API (AWS, or any S3-compatible server), using
// libcurl with SigV4 signing.
//
// Objects live under s3://bucket/prefix/ (the prefix may be empty). Every
// request carries a signed x-amz-content-sha256 of its payload, so a body
// corrupted in transit is refused by S3 rather than stored; PutFile hashes the
// file first (one extra read, from the page cache) and then streams it. An S3
// PUT replaces an object atomically, which gives Put its contract.
//
// Error messages name the operation, the object's s3:// URI, the HTTP status
// and S3's error Code and Message, and never the access key or the secret.
// HTTP 403 is PermissionDenied, 404 NotFound (Get) or absent (Size, Delete),
// other 4xx InvalidArgument or FailedPrecondition, and 5xx, 429 and
// connection failures (after the retries in S3Options) Unavailable.
//
// Thread-safe: calls share a pool of curl handles (see internal/curl_http.h).

#include <memory>
#include <string>

#include "store/object_store.h"

namespace sluice {

namespace store_internal {
class HttpClient;
struct HttpResponse;
}  // namespace store_internal

class S3ObjectStore final : public ObjectStore {
 public:
  // `prefix` may be empty; surrounding '/' are ignored. Credentials default
  // to AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (FailedPrecondition when
  // neither the options nor the environment have them).
  static absl::StatusOr<std::unique_ptr<S3ObjectStore>> Open(std::string_view bucket,
                                                             std::string_view prefix,
                                                             const S3Options& options);
  ~S3ObjectStore() override;

  absl::Status Put(std::string_view key, std::string_view data) override;
  absl::Status PutFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::string> Get(std::string_view key) override;
  absl::Status GetFile(std::string_view key, const std::string& local_path) override;
  absl::StatusOr<std::optional<int64_t>> Size(std::string_view key) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  // s3://bucket or s3://bucket/prefix
  std::string uri() const override;

 private:
  S3ObjectStore(std::string bucket, std::string prefix, std::string base_url, std::string list_url,
                std::unique_ptr<store_internal::HttpClient> http, int list_page_size);

  // The bucket key of a store key (the store's prefix prepended).
  std::string FullKey(std::string_view key) const;
  std::string ObjectUrl(std::string_view key) const;
  // The common key rules, and S3's 1024-byte limit on the full key.
  absl::Status ValidateKey(std::string_view key) const;
  // The status for a completed exchange that failed: `op` ("PUT", "GET",
  // ...) and `what` (the object's or prefix's URI) start the message.
  absl::Status HttpError(std::string_view op, std::string_view what,
                         const store_internal::HttpResponse& response) const;
  // Prefixes a transport or local error with the operation and object.
  absl::Status Annotate(std::string_view op, std::string_view what,
                        const absl::Status& status) const;
  // Removes the credentials from a message, should a server echo them.
  std::string Redact(std::string_view message) const;
  absl::Status Upload(std::string_view key, std::string_view data, int fd, int64_t size,
                      const std::string& sha256);
  absl::Status Download(std::string_view key, int sink_fd, std::string* out);

  const std::string bucket_;
  const std::string prefix_;    // "" or "a/b/" (with the trailing slash)
  const std::string base_url_;  // objects are base_url_/key (key URI-encoded)
  const std::string list_url_;  // ListObjectsV2 is list_url_?query
  const std::unique_ptr<store_internal::HttpClient> http_;
  const int list_page_size_;
};

}  // namespace sluice
