#pragma once

// What travels on a data channel, in order: record batches and the control
// events that must keep their position among them (watermarks, checkpoint
// barriers, end of stream).

#include <cstdint>

#include "common/batch.h"

namespace sluice {

struct StreamElement {
  enum class Kind { kBatch, kWatermark, kBarrier, kEndOfStream };
  Kind kind = Kind::kBatch;
  Batch batch;
  int64_t watermark = 0;      // kWatermark
  int64_t checkpoint_id = 0;  // kBarrier

  static StreamElement Records(Batch b) { return {Kind::kBatch, std::move(b), 0, 0}; }
  static StreamElement Watermark(int64_t wm) { return {Kind::kWatermark, Batch(), wm, 0}; }
  static StreamElement EndOfStream() { return {Kind::kEndOfStream, Batch(), 0, 0}; }
};

}  // namespace sluice
