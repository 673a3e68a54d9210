#pragma once

// What travels on a data channel, in order: record batches and the control
// events that must keep their position among them (watermarks, checkpoint
// barriers, end of stream).

#include <cstdint>
#include <string>

#include "common/batch.h"
#include "proto/sluice.pb.h"

namespace sluice {

// Checkpoint barrier n: every element before it on a channel belongs to
// checkpoint n's snapshot, none after it.
struct CheckpointBarrier {
  int64_t id = 0;
  int64_t timestamp_ms = 0;  // wall clock of the trigger
  proto::CheckpointKind kind = proto::CHECKPOINT;
  std::string savepoint_name;  // kind == SAVEPOINT
};

struct StreamElement {
  enum class Kind { kBatch, kWatermark, kBarrier, kEndOfStream };
  Kind kind = Kind::kBatch;
  Batch batch;
  int64_t watermark = 0;      // kWatermark
  CheckpointBarrier barrier;  // kBarrier

  static StreamElement Records(Batch b) { return {Kind::kBatch, std::move(b), 0, {}}; }
  static StreamElement Watermark(int64_t wm) { return {Kind::kWatermark, Batch(), wm, {}}; }
  static StreamElement Barrier(CheckpointBarrier b) {
    return {Kind::kBarrier, Batch(), 0, std::move(b)};
  }
  static StreamElement EndOfStream() { return {Kind::kEndOfStream, Batch(), 0, {}}; }
};

}  // namespace sluice
