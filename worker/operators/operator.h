#pragma once

// The operator contract. A task runs a chain of operators on one thread:
// the head is a source or reads from the task's input gate, and each
// operator's Output feeds the next operator directly (no queue, no copy).
// Operators are created, called and destroyed on that one thread.

#include <cstdint>
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

// Where an operator sends what it produces.
class Output {
 public:
  virtual ~Output() = default;
  // Records on the main output.
  virtual absl::Status Emit(Batch batch) = 0;
  // Records on a side output (common/ports.h): dead letters, late events.
  virtual absl::Status EmitSide(std::string_view port, Batch batch) = 0;
  // Event time has reached `watermark`: no record with event time
  // <= watermark follows on the main output.
  virtual absl::Status EmitWatermark(int64_t watermark) = 0;
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
  // Sources cut batches at kTargetBatchRows rows or this many bytes
  // (Batch::ByteSize), whichever comes first.
  size_t max_batch_bytes = 8 << 20;
  const Clock* clock = &Clock::Steady();
  std::stop_token stop;
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

 protected:
  OperatorContext ctx_;
};

// A source, polled by its task between mailbox actions. A poll never blocks
// for long: it emits at most one batch (with the dead letters and the
// watermark that go with it) and returns.
//
// Position() is a value the task reads between polls. A reader of the same
// configuration that Seek()s to it before its first poll emits exactly the
// records that followed it. Called on the task thread only.
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
  virtual proto::SourcePosition Position() const = 0;
  virtual absl::Status Seek(const proto::SourcePosition& position) = 0;
  // After kNothingYet: when (ctx.clock ms) more may be available.
  virtual int64_t NextPollMs() const { return 0; }
};

inline constexpr int64_t kMaxWatermark = INT64_MAX;
inline constexpr int64_t kMinWatermark = INT64_MIN;
inline constexpr size_t kTargetBatchRows = 4096;

// Factories (operator_factory.cc).
absl::StatusOr<std::unique_ptr<SourceReader>> CreateSourceReader(const proto::OperatorSpec& spec);
absl::StatusOr<std::unique_ptr<Operator>> CreateOperator(const proto::OperatorSpec& spec);

}  // namespace sluice
