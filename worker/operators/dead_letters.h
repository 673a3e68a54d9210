#pragma once

// Collects an operator's dead letters (common/ports.h: DeadLetterSchema)
// and sends them to its dead-letter output. A source's dead letter is a
// line of its input, with file and line number; any other operator's is a
// record of its input, written as the JSON object it would be in a sink.
// Either way `raw` holds text that is valid UTF-8: bytes that are not are
// shown as U+FFFD there, and the exact bytes are in `raw_base64`.
// Not thread-safe: one per operator.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "catalog/operator.h"
#include "common/batch.h"

namespace sluice {

class DeadLetters {
 public:
  // `source`: the id of the operator whose dead letters these are.
  explicit DeadLetters(std::string source = "");
  void set_source(std::string source) { source_ = std::move(source); }

  // A line of the source's input; `raw` is cut to its first kMaxRawBytes
  // (at a character boundary).
  void AddLine(std::string_view file, int64_t line, std::string_view reason, std::string_view raw,
               int64_t event_time);
  // Row `row` of `batch`, an operator's input; `raw` is its first
  // kMaxRawBytes as JSON.
  void AddRow(const Batch& batch, size_t row, std::string_view reason);

  bool empty() const { return batch_.empty(); }
  size_t num_rows() const { return batch_.num_rows(); }
  size_t ByteSize() const { return batch_.ByteSize(); }
  // Sends what was added to `out`'s dead-letter output, if anything.
  absl::Status Flush(Output& out);

  static constexpr size_t kMaxRawBytes = 64 * 1024;

 private:
  void AddRaw(std::string_view raw);

  std::string source_;
  Batch batch_;
  std::string json_;  // reused
};

}  // namespace sluice
