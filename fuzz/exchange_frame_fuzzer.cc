// libFuzzer entry point of the exchange_frame target (fuzz/targets.h, README.md).

#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::FuzzExchangeFrame(data, size);
}
