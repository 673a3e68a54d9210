#include "worker/operators/debug_sinks/debug_sinks.h"

#include <cstdio>
#include <mutex>

#include "common/json.h"

namespace sluice {

absl::Status StdoutSink::ProcessBatch(Batch batch, Output&) {
  static std::mutex* mu = new std::mutex;
  std::string text;
  for (size_t r = 0; r < batch.num_rows(); ++r) AppendJsonLine(batch, r, &text);
  std::lock_guard<std::mutex> lock(*mu);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
  return absl::OkStatus();
}

absl::Status BlackholeSink::ProcessBatch(Batch batch, Output&) {
  checksum_ += static_cast<int64_t>(batch.num_rows());
  return absl::OkStatus();
}

}  // namespace sluice
