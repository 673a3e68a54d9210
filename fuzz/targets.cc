#include "fuzz/targets.h"

namespace sluice::fuzz {

std::span<const FuzzTarget> AllFuzzTargets() {
  static constexpr FuzzTarget kTargets[] = {
      {"job_file", &FuzzJobFile},
      {"expression", &FuzzExpression},
      {"json_line", &FuzzJsonLine},
      {"batch_codec", &FuzzBatchCodec},
      {"exchange_frame", &FuzzExchangeFrame},
  };
  return kTargets;
}

}  // namespace sluice::fuzz
