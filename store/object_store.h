#pragma once

// Object storage for checkpoints: a flat namespace of immutable-per-write
// objects addressed by '/'-separated keys, with three implementations
// (local directory, process-wide memory, S3) behind one interface.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice {

struct ObjectInfo {
  std::string key;
  int64_t size = 0;

  friend bool operator==(const ObjectInfo&, const ObjectInfo&) = default;
};

// Object storage addressed by '/'-separated keys relative to the store's root.
//
// Keys: 1 to 1024 bytes, made of non-empty segments of at most 255 bytes
// separated by single '/' (no leading or trailing '/'), no segment "." or
// "..", no control characters
// (bytes below 0x20 and 0x7F), and no segment starting with ".sluice-tmp"
// (reserved for in-progress writes). Every method rejects other keys with
// InvalidArgument, in every implementation, so a key that works in tests
// works everywhere. Portable callers also never use a key as a prefix of
// another ("a" and "a/b"): a directory cannot be both, so the local store
// refuses the second Put; S3 and memory allow it.
//
// All methods are thread-safe (snapshots upload from background threads).
// Concurrent writers of the same key race; one of the whole objects wins.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Writes `data` at `key`, replacing what is there, atomically: a reader sees
  // the whole new object or the old one/none, never a part.
  virtual absl::Status Put(std::string_view key, std::string_view data) = 0;
  // The same, streaming a local file (SST files can be hundreds of MB: it is
  // never loaded into memory).
  virtual absl::Status PutFile(std::string_view key, const std::string& local_path) = 0;
  // NotFound when absent.
  virtual absl::StatusOr<std::string> Get(std::string_view key) = 0;
  // Downloads to local_path (written to a temp name in the same directory then
  // renamed, so a failed download leaves nothing and never a partial file).
  // The copy is not fsynced: it is a working copy, and the store keeps the
  // durable one. NotFound when absent.
  virtual absl::Status GetFile(std::string_view key, const std::string& local_path) = 0;
  // The object's size in bytes; nullopt when absent.
  virtual absl::StatusOr<std::optional<int64_t>> Size(std::string_view key) = 0;
  // Every object whose key starts with `prefix` (a plain string prefix, so
  // "ckpt-1" matches "ckpt-10/x"; "" lists everything), recursively, sorted by
  // key (byte order). Objects written or deleted concurrently may or may not
  // appear.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;
  // Removes the object; absent is OK.
  virtual absl::Status Delete(std::string_view key) = 0;
  // The store's URI for messages; never contains credentials.
  virtual std::string uri() const = 0;
};

struct S3Options {
  // e.g. http://127.0.0.1:9000 ; empty: https://s3.<region>.amazonaws.com
  std::string endpoint;
  std::string region = "us-east-1";
  // Path-style URLs (endpoint/bucket/key) rather than virtual hosts
  // (bucket.endpoint/key).
  bool path_style = true;
  // Empty: from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
  std::string access_key, secret_key;
  // Attempts per call; connection errors, HTTP 5xx and 429 are retried with
  // exponential backoff (initial_backoff_ms, doubling, with jitter, at most
  // 10 s). Other 4xx answers (403 wrong signature, 404) are final.
  int max_attempts = 5;
  int64_t initial_backoff_ms = 100;
  // Bounds connecting, and any stall: a transfer that moves no bytes for this
  // long is aborted (and retried). A slow transfer that keeps moving is never
  // cut off, so large files upload at whatever speed the link has.
  int64_t timeout_ms = 30'000;
  // ListObjectsV2 page size (S3's maximum is 1000).
  int list_page_size = 1000;
};

// Opens a store from a URI:
//   "file:///abs/dir", or a plain absolute or relative path: LocalObjectStore;
//   "s3://bucket" or "s3://bucket/prefix": S3ObjectStore (with `s3`);
//   "mem://name": a MemoryObjectStore on a process-wide, named in-memory
//   namespace (every store opened with the same name sees the same objects),
//   handy for tests.
// InvalidArgument for malformed URIs and unknown schemes; S3 without
// credentials is FailedPrecondition.
absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri,
                                                             const S3Options& s3 = {});

}  // namespace sluice
