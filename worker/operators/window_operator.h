#pragma once

// Tumbling event-time windows with incremental aggregates per key.
//
// A record with event time t belongs to [start, start + size) where
// start = floor(t / size) * size. A window fires when the watermark reaches
// its last millisecond (end - 1); its results are emitted with event time
// end - 1 and its state dropped. A record whose window already fired is late:
// it goes to the `late` side output and is counted, never dropped silently.
// At end of input every open window fires.
//
// Output records: key fields, window_start, window_end (epoch ms), then the
// aggregates in declaration order (count int64; sum/min/max/avg double, null
// when the window saw no non-null input).

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/key_encoding.h"
#include "state/window_table.h"
#include "worker/operators/operator.h"

namespace sluice {

class WindowOperator : public Operator {
 public:
  explicit WindowOperator(const proto::WindowConfig& config);

  absl::Status ProcessBatch(Batch batch, Output& out) override;
  absl::Status ProcessWatermark(int64_t watermark, Output& out) override;
  absl::Status Finish(Output& out) override;

 private:
  absl::Status Bind(const SchemaRef& input);
  absl::Status FireBefore(int64_t end_exclusive_start, Output& out);

  proto::WindowConfig config_;
  int64_t size_;
  int64_t watermark_ = kMinWatermark;
  WindowTable table_;
  BatchKeys batch_keys_;              // keys of the batch being processed
  std::vector<KeyValue> key_values_;  // decoded key of the row being fired

  // Bound to the current input schema:
  SchemaRef input_schema_, output_schema_;
  std::optional<KeyEncoder> key_encoder_;
  std::vector<int> agg_columns_;  // input column per aggregate, -1 for count()
};

}  // namespace sluice
