#pragma once

// The asynchronous part of a subtask's checkpoint: uploading the files its
// operators' snapshots wrote, while the task keeps processing records.
//
// Incremental: an operator's keyed state is a RocksDB checkpoint, whose SST
// files are immutable. A SubtaskFiles remembers, per operator, the SST
// files already in the store (from this attempt's earlier checkpoints, or
// from the snapshot it restored) and refers to those instead of uploading
// them again: a RocksDB table file (`<number>.sst`) by its name and size,
// any other SST file by its contents (a snapshot's delta file, which
// RocksDB takes in under a number of its own and so shows up again in the
// next checkpoint). Other files (MANIFEST, OPTIONS, ...) are small and go to
// the checkpoint's own directory. A savepoint shares nothing: every file goes
// under the savepoint's directory. Every file is listed with its size and
// SHA-256, which a restore verifies (DownloadOperatorState).
//
// Threads: an uploader runs one upload at a time on its own thread, in
// submission order, so a task's uploads never overlap. SubtaskFiles is
// shared by the task (seeding it from a restore) and the upload thread.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/sluice.pb.h"
#include "store/object_store.h"
#include "worker/stream_element.h"

namespace sluice {

// What the synchronous part of a subtask's snapshot produced.
struct LocalSnapshot {
  std::string job_id;
  int64_t attempt = 0;
  int task = 0;
  int subtask = 0;
  int key_group_start = 0;
  int key_group_end = 0;
  CheckpointBarrier barrier;
  std::optional<std::string> position;  // a source task's (SourceReader::Position)
  struct Operator {
    std::string operator_id;
    std::string small_state;
    std::string keyed_dir;  // local files to upload; empty: none
    // Waits until keyed_dir is complete (OperatorSnapshot::complete_files).
    std::function<absl::Status()> complete_files;
  };
  std::vector<Operator> operators;
  std::string local_dir;  // holds every keyed_dir; removed after the upload
  int64_t sync_ms = 0;
  int64_t alignment_ms = 0;
  bool finished = false;  // SubtaskSnapshot.finished
};

// The SST files of a subtask's operators that the store holds.
class SubtaskFiles {
 public:
  // Files of a restored snapshot (their keys may come from an earlier attempt).
  void Seed(const proto::SubtaskSnapshot& restored);
  // The stored copy of `operator_id`'s local file `name`, if known.
  std::optional<proto::StateFile> Find(const std::string& operator_id,
                                       const std::string& name) const;
  // A stored file of `operator_id` with these contents, if any.
  std::optional<proto::StateFile> FindContents(const std::string& operator_id, int64_t size,
                                               const std::string& sha256) const;
  // After a checkpoint: its files become what the store holds.
  void Replace(const std::string& operator_id, const std::vector<proto::StateFile>& files);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::map<std::string, proto::StateFile>> files_ ABSL_GUARDED_BY(mu_);
};

// Waits until every operator's directory of `snapshot` is complete, or its
// background write failed (LocalSnapshot::Operator::complete_files).
void WaitForSnapshotFiles(const LocalSnapshot& snapshot);

// Uploads `snapshot`'s files to `store` and describes them. Uploads only the
// SST files `known` does not hold (none for a savepoint); the rest of the
// snapshot comes along inline.
absl::StatusOr<proto::SubtaskSnapshot> UploadSnapshot(ObjectStore& store,
                                                      const LocalSnapshot& snapshot,
                                                      SubtaskFiles& known);

// Downloads an operator's state files into `dir` (created), verifying each
// file's size and SHA-256.
absl::Status DownloadOperatorState(ObjectStore& store, const proto::OperatorState& state,
                                   const std::string& dir);

// A thread that runs uploads one after another.
class SnapshotUploader {
 public:
  SnapshotUploader();
  // Drops queued work and waits for the running one.
  ~SnapshotUploader();

  void Submit(absl::AnyInvocable<void()> work);

 private:
  void Run();

  absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace sluice
