#pragma once

// Sinks for trying jobs out: stdout_sink writes each record as a JSON line
// to standard output; blackhole_sink counts records and drops them.

#include <cstdint>

#include "catalog/operator.h"

namespace sluice {

class StdoutSink : public Operator {
 public:
  absl::Status ProcessBatch(Batch batch, Output& out) override;
};

class BlackholeSink : public Operator {
 public:
  absl::Status ProcessBatch(Batch batch, Output& out) override;
  int64_t checksum() const { return checksum_; }

 private:
  int64_t checksum_ = 0;
};

}  // namespace sluice
