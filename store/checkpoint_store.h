#pragma once

// The store a job's checkpoints live in: `checkpoint.store` of its job file
// (file:// or s3://) with its `checkpoint.s3` settings; S3 credentials come
// from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY).

#include <memory>
#include <string_view>

#include "absl/status/statusor.h"
#include "proto/sluice.pb.h"
#include "store/object_store.h"

namespace sluice {

absl::StatusOr<std::unique_ptr<ObjectStore>> OpenCheckpointStore(
    std::string_view uri, const proto::CheckpointConfig& config);

// Lower-case hex SHA-256 of a local file: the checksum checkpoint manifests
// list for each state file, and restores verify.
absl::StatusOr<std::string> Sha256OfFile(const std::string& path);

}  // namespace sluice
