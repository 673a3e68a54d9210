#pragma once

// The sending end of one output edge of a task: routes each batch to the
// channels of the downstream subtasks — forward (one channel), rebalance
// (round robin by batch) or hash (by key group of the key fields, so every
// record of a key reaches the same subtask). Watermarks and end-of-stream
// go to every channel. Owned and called by one task thread; Cancel() may be
// called from any thread.

#include <memory>
#include <optional>
#include <vector>

#include "common/key_encoding.h"
#include "proto/sluice.pb.h"
#include "worker/exchange.h"

namespace sluice {

class RecordWriter {
 public:
  RecordWriter(const proto::OutputEdge& edge, std::vector<std::unique_ptr<ChannelWriter>> channels,
               int max_parallelism);

  absl::Status Write(Batch batch);
  absl::Status WriteWatermark(int64_t watermark);
  // Sends end-of-stream on every channel and closes them.
  absl::Status Finish();
  void Cancel();

 private:
  absl::Status WriteHashed(const Batch& batch);

  proto::OutputEdge edge_;
  std::vector<std::unique_ptr<ChannelWriter>> channels_;
  int max_parallelism_;
  size_t next_channel_ = 0;
  // Hash routing, bound to the current schema:
  SchemaRef schema_;
  std::optional<KeyEncoder> encoder_;
  std::string key_;
  std::vector<std::vector<uint32_t>> rows_by_target_;  // reused per batch
  std::vector<uint32_t> target_of_key_group_;          // key group -> channel
};

}  // namespace sluice
