#include "store/object_store.h"

#include "absl/strings/str_cat.h"
#include "store/internal/keys.h"
#include "store/local_object_store.h"
#include "store/memory_object_store.h"
#include "store/s3_object_store.h"

namespace sluice {

using store_internal::Sv;

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenObjectStore(std::string_view uri,
                                                             const S3Options& s3) {
  const size_t scheme_end = uri.find("://");
  if (scheme_end == std::string_view::npos) {
    if (uri.empty()) return absl::InvalidArgumentError("empty object store URI");
    return std::make_unique<LocalObjectStore>(std::string(uri));
  }
  const std::string_view scheme = uri.substr(0, scheme_end);
  std::string_view rest = uri.substr(scheme_end + 3);
  if (scheme == "file") {
    if (rest.substr(0, 10) == "localhost/") rest.remove_prefix(9);
    if (rest.empty() || rest.front() != '/') {
      return absl::InvalidArgumentError(absl::StrCat(
          "object store URI '", Sv(uri), "': a file URI needs an absolute path, file:///dir"));
    }
    return std::make_unique<LocalObjectStore>(std::string(rest));
  }
  if (scheme == "s3") {
    const size_t slash = rest.find('/');
    const std::string_view bucket = rest.substr(0, slash);
    const std::string_view prefix =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (bucket.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("object store URI '", Sv(uri), "' names no bucket: s3://bucket/prefix"));
    }
    absl::StatusOr<std::unique_ptr<S3ObjectStore>> store = S3ObjectStore::Open(bucket, prefix, s3);
    if (!store.ok()) return store.status();
    return std::unique_ptr<ObjectStore>(std::move(*store));
  }
  if (scheme == "mem") {
    if (rest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("object store URI '", Sv(uri), "' names no store: mem://name"));
    }
    return std::unique_ptr<ObjectStore>(MemoryObjectStore::Open(rest));
  }
  return absl::InvalidArgumentError(absl::StrCat("object store URI '", Sv(uri),
                                                 "': unknown scheme '", Sv(scheme),
                                                 "' (use file://, s3:// or mem://)"));
}

}  // namespace sluice
