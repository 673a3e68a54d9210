#pragma once

// Where checkpoints live in a store (the same on a local directory and on
// S3), relative to the store's root:
//
//   <job>/chk-<n>/_metadata               proto::CheckpointMetadata, written
//                                          last, atomically: a checkpoint
//                                          exists once this does
//   <job>/chk-<n>/<op>-<subtask>/<file>   files only checkpoint n uses
//                                          (RocksDB MANIFEST, OPTIONS, ...)
//   <job>/shared/<op>-<subtask>/a<attempt>-<file>
//                                          SST files; immutable, referred to
//                                          by every checkpoint that holds them
//   savepoints/<name>/_metadata           a savepoint: self-contained, every
//   savepoints/<name>/<op>-<subtask>/<file>  file under its own directory
//
// SST names restart with each attempt's RocksDB, so the attempt is part of
// a shared file's key.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "proto/sluice.pb.h"

namespace sluice {

inline constexpr char kMetadataFile[] = "_metadata";
inline constexpr char kSavepointsDir[] = "savepoints";

// "<job>/chk-<n>/" or "savepoints/<name>/".
std::string CheckpointDir(const std::string& job_id, int64_t checkpoint_id);
std::string SavepointDir(const std::string& name);
// Where the files of a checkpoint or savepoint that only it uses go.
std::string PrivateFilePrefix(const std::string& job_id, int64_t checkpoint_id,
                              proto::CheckpointKind kind, const std::string& savepoint_name,
                              const std::string& operator_id, int subtask);
std::string SharedFileKey(const std::string& job_id, const std::string& operator_id, int subtask,
                          int64_t attempt, const std::string& file);
// The checkpoint id of "<job>/chk-<n>/..." keys; nullopt for other keys.
std::optional<int64_t> CheckpointIdOfKey(const std::string& job_id, const std::string& key);

// The attempt of a "<job>/shared/<op>-<subtask>/a<attempt>-<file>" key;
// nullopt for other keys.
std::optional<int64_t> AttemptOfSharedKey(const std::string& job_id, const std::string& key);

// Savepoint names: 1 to 128 of [A-Za-z0-9._-], not starting with '.'.
absl::Status ValidateSavepointName(const std::string& name);

}  // namespace sluice
