#pragma once

// The sending end of one output edge of a task: routes records to the
// channels of the downstream subtasks — forward (one channel), rebalance
// (round robin) or hash (by key group of the key fields, following the
// receivers' key-group ranges, so every record of a key reaches the
// subtask that owns its key group).
//
// Each channel has an output buffer that rows are appended to until it
// holds `frame_bytes`; then it is sent. No frame is much bigger: a batch of
// more than twice that is cut by rows (unless it is a single row). A buffer is sent at the latest
// `flush_interval` after its first row (FlushDue), and before any
// watermark or end of stream on its channel, so control events keep their
// place among the records (barriers too). Watermarks go to every channel, each channel
// only ever seeing increasing ones. kIdleWatermark goes to every channel
// that is not idle already; records or a watermark after it end that.
//
// Owned and called by one task thread; QueuedBytes() and Cancel() may be
// called from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/key_encoding.h"
#include "common/key_group.h"
#include "proto/sluice.pb.h"
#include "worker/output_channel.h"

namespace sluice {

class RecordWriter {
 public:
  // `key_group_owner[kg]` is the channel of the subtask that owns key group
  // kg (hash edges only).
  RecordWriter(const proto::OutputEdge& edge, std::vector<std::shared_ptr<OutputChannel>> channels,
               std::vector<uint32_t> key_group_owner, size_t frame_bytes, int64_t flush_interval_ms,
               const Clock* clock);

  void Start();
  absl::Status Write(Batch batch);
  absl::Status WriteWatermark(int64_t watermark);
  // Sends every buffer, then the barrier on every channel.
  absl::Status WriteBarrier(const CheckpointBarrier& barrier);
  // Sends the buffers whose flush interval has passed.
  absl::Status FlushDue(int64_t now_ms);
  // When the oldest open buffer falls due, if any.
  std::optional<int64_t> NextFlushMs() const;
  // Sends every buffer, then end of stream on every channel.
  absl::Status Finish();
  void Cancel();

  // Bytes waiting in this edge's channels (sent buffers not yet delivered).
  int64_t QueuedBytes() const;
  // The first failure of a channel, if any.
  absl::Status ChannelStatus() const;
  // Every channel delivered its end of stream.
  bool Finished() const;

 private:
  struct Buffer {
    std::optional<Batch> batch;
    size_t bytes = 0;
    int64_t since_ms = 0;
    int64_t watermark = INT64_MIN;  // last watermark sent on the channel
    bool idle = false;              // kIdleWatermark is the last thing sent on it
  };

  absl::Status WriteHashed(const Batch& batch);
  absl::Status Append(size_t channel, Batch batch);
  // The channel's buffer, ready for rows of `schema` (a new one has room for
  // `rows`); a buffer of another schema is sent first, and *flushed says how
  // that went.
  Batch& OpenBuffer(size_t channel, const SchemaRef& schema, size_t rows, absl::Status* flushed);
  absl::Status Flush(size_t channel);
  // Sends `batch` (of `bytes`), cut by rows into frames of about
  // frame_bytes_ when it is over twice that.
  absl::Status SendCut(size_t channel, Batch batch, size_t bytes);

  proto::OutputEdge edge_;
  std::vector<std::shared_ptr<OutputChannel>> channels_;
  std::vector<uint32_t> key_group_owner_;
  KeyGroupOf key_group_of_;
  const size_t frame_bytes_;
  const int64_t flush_interval_ms_;
  const Clock* clock_;
  std::vector<Buffer> buffers_;
  size_t next_channel_ = 0;
  // Hash routing, bound to the current schema:
  SchemaRef schema_;
  std::optional<KeyEncoder> encoder_;
  BatchKeys keys_;                                     // reused per batch
  std::vector<std::vector<uint32_t>> rows_by_target_;  // reused per batch
};

}  // namespace sluice
