#pragma once

// The operator contract: what an operator kind's runtime implements (its
// description is catalog/operator_kind.h). A task runs a chain of operators on one thread:
// the head is a source or reads from the task's input gate, and each
// operator's Output feeds the next operator directly (no queue, no copy).
// Operators are created, called and destroyed on that one thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/batch.h"
#include "common/clock.h"
#include "proto/sluice.pb.h"

namespace sluice {

// What an operator's snapshot holds: the synchronous part of a checkpoint.
struct OperatorSnapshot {
  // Small state kept inline in the checkpoint's metadata (a watermark, a
  // counter). Empty when there is none.
  std::string small_state;
  // True when the operator wrote keyed state files into the directory it
  // was given (a RocksDB checkpoint: hard links, immutable files), which
  // the task uploads incrementally, in the background.
  bool has_keyed_files = false;
  // When the directory is completed in the background: waits until it is
  // (called on the upload thread, before the files are read); its status.
  // Null when the directory is complete already.
  std::function<absl::Status()> complete_files;
};

// What an operator restores from, handed to Open().
struct OperatorRestore {
  std::string small_state;
  // A local directory holding the keyed state files of the snapshot (as
  // downloaded and checksum-verified by the task); empty when there are
  // none. The operator may take the files over (move or hard-link them).
  std::string keyed_dir;
  // The completed checkpoint (or savepoint) the snapshot belongs to.
  int64_t checkpoint_id = 0;
};

// Where an operator sends what it produces.
class Output {
 public:
  virtual ~Output() = default;
  // Records on the main output.
  virtual absl::Status Emit(Batch batch) = 0;
  // Records on a side output (common/ports.h): dead letters, late events.
  virtual absl::Status EmitSide(std::string_view port, Batch batch) = 0;
  // Event time has reached `watermark`: no record with event time
  // <= watermark follows on the main output. (kIdleWatermark: the source
  // is idle.)
  virtual absl::Status EmitWatermark(int64_t watermark) = 0;
};

// Counts an operator reports besides its records (metrics). Set by the
// task; thread-safe.
class OperatorCounters {
 public:
  virtual ~OperatorCounters() = default;
  // Entries of a source's directory that it does not read (hidden files,
  // subdirectories, broken links).
  virtual void AddSkippedFiles(int64_t n) = 0;
  // A window's records that were on time, and that updated a window after
  // it fired (its late ones are counted as its late output).
  virtual void AddWindowRecords(int64_t on_time, int64_t updated) = 0;
  // Records a dedup dropped as duplicates.
  virtual void AddDuplicates(int64_t n) = 0;
};

struct OperatorContext {
  std::string job_id;
  int64_t attempt = 1;
  const proto::OperatorSpec* spec = nullptr;
  int subtask = 0;
  int parallelism = 1;
  int max_parallelism = 128;
  // Key groups [key_group_start, key_group_end) this subtask owns.
  int key_group_start = 0;
  int key_group_end = 128;
  // Whether the chain's input comes from a single source subtask (chained
  // behind it, or through tasks that each have one input channel): then
  // the records' row watermarks are that split's, in its order.
  bool one_source_split = true;
  // Sources cut batches at kTargetBatchRows rows or this many bytes
  // (Batch::ByteSize), whichever comes first.
  size_t max_batch_bytes = 8 << 20;
  const Clock* clock = &Clock::Steady();
  std::stop_token stop;
  // A local directory this operator may keep state in (its RocksDB
  // instance), created empty by the task and removed when the task ends.
  std::string state_dir;
  // Bytes of memory a stateful operator's state may use on this subtask;
  // the rest lives on local disk (`state.memory_budget` in the job file).
  int64_t state_memory_budget = int64_t{256} << 20;
  // The job is exactly-once (job/job_file.h CommitsOnCheckpoint): a sink
  // publishes what a checkpoint covers only once it completed. Otherwise a
  // sink publishes at each barrier and at the end of its input.
  bool exactly_once = false;
  // Where the operator's own counts go; may be null (tests).
  OperatorCounters* counters = nullptr;
  // The snapshot to start from; null for a fresh start. Valid during
  // Open() only.
  const OperatorRestore* restore = nullptr;
};

// A transforming or sinking operator.
class Operator {
 public:
  virtual ~Operator() = default;
  virtual absl::Status Open(const OperatorContext& ctx) {
    ctx_ = ctx;
    return absl::OkStatus();
  }
  virtual absl::Status ProcessBatch(Batch batch, Output& out) = 0;
  // Default: forward the watermark.
  virtual absl::Status ProcessWatermark(int64_t watermark, Output& out) {
    return out.EmitWatermark(watermark);
  }
  // End of input: emit what is still held (open windows), flush files.
  virtual absl::Status Finish(Output& out) {
    (void)out;
    return absl::OkStatus();
  }

  // Work an operator holds back, such as a throttle's rows waiting for
  // their rate. While HasPending(), the task takes no new input for this
  // operator and calls ContinuePending() once PendingDueMs() (ctx.clock)
  // has come. The time counts as busy.
  virtual bool HasPending() const { return false; }
  virtual int64_t PendingDueMs() const { return 0; }
  virtual absl::Status ContinuePending(Output& out) {
    (void)out;
    return absl::OkStatus();
  }

  // Checkpointing. A task snapshots its operators when a checkpoint
  // barrier has arrived on all its inputs (or, at a source, when the
  // checkpoint is triggered), before it forwards the barrier: every record
  // before the barrier is in the snapshot, none after it.
  //
  // The synchronous part: must be fast (milliseconds), since records wait.
  // A keyed-state operator flushes what it caches and writes a checkpoint
  // of its store into `keyed_dir`, which does not exist yet; the task
  // uploads those files afterwards while records flow. Pending work
  // (HasPending) is never held across a snapshot: the task snapshots only
  // when the chain holds none.
  virtual absl::StatusOr<OperatorSnapshot> Snapshot(int64_t checkpoint_id,
                                                    const std::string& keyed_dir) {
    (void)checkpoint_id;
    (void)keyed_dir;
    return OperatorSnapshot();
  }
  // Checkpoint `checkpoint_id` completed: every subtask's snapshot is in
  // the store. A transactional sink commits here what it pre-committed in
  // this checkpoint's snapshot and in earlier ones
  // (catalog/transactional_sink.h). An error fails the task, which then
  // restarts from the checkpoint and commits from its snapshot.
  virtual absl::Status NotifyCheckpointComplete(int64_t checkpoint_id) {
    (void)checkpoint_id;
    return absl::OkStatus();
  }

 protected:
  OperatorContext ctx_;
};

// A source, polled by its task between mailbox actions. A poll never blocks
// for long: it emits at most one batch (with the dead letters and the
// watermark that go with it) and returns.
//
// Position() is a value the task reads between polls, in the source's own
// encoding (a serialized message of the kind's folder, such as
// GeneratorPosition), which checkpoints store as opaque bytes. A reader of
// the same configuration that Seek()s to it before its first poll emits
// exactly the records that followed it. Called on the task thread only.
class SourceReader {
 public:
  enum class Poll {
    kEmitted,     // emitted something; poll again when output has room
    kNothingYet,  // nothing available now; poll again at NextPollMs()
    kEnd,         // input ended; everything, including a final +inf watermark, is emitted
  };

  virtual ~SourceReader() = default;
  virtual absl::Status Open(const OperatorContext& ctx) = 0;
  virtual absl::StatusOr<Poll> PollNext(Output& out) = 0;
  virtual std::string Position() const = 0;
  virtual absl::Status Seek(std::string_view position) = 0;
  // After kNothingYet: when (ctx.clock ms) more may be available.
  virtual int64_t NextPollMs() const { return 0; }
};

inline constexpr int64_t kMaxWatermark = INT64_MAX;
inline constexpr int64_t kMinWatermark = INT64_MIN;
// Not a time: a source split that has read nothing for its idle_timeout
// emits this as its watermark. The input gates downstream leave its
// channel out of their minimum until records or a watermark come on it
// again. Stateless operators pass it on; a window does not.
inline constexpr int64_t kIdleWatermark = INT64_MIN + 1;
inline constexpr size_t kTargetBatchRows = 4096;

}  // namespace sluice
