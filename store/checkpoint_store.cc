#include "store/checkpoint_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "store/internal/s3_protocol.h"

namespace sluice {

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenCheckpointStore(
    std::string_view uri, const proto::CheckpointConfig& config) {
  if (uri.empty()) return absl::FailedPreconditionError("the job has no checkpoint store");
  S3Options s3;
  s3.endpoint = config.s3().endpoint();
  if (!config.s3().region().empty()) s3.region = config.s3().region();
  s3.path_style = config.s3().path_style() || !config.s3().endpoint().empty();
  absl::StatusOr<std::unique_ptr<ObjectStore>> store = OpenObjectStore(uri, s3);
  if (!store.ok()) {
    return absl::Status(store.status().code(),
                        absl::StrCat("checkpoint store: ", store.status().message()));
  }
  return store;
}

absl::StatusOr<std::string> Sha256OfFile(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(absl::StrCat("cannot read ", path, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> hex = store_internal::Sha256HexOfFile(fd, path);
  ::close(fd);
  return hex;
}

}  // namespace sluice
