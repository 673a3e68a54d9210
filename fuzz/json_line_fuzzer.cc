// libFuzzer entry point of the json_line target (fuzz/targets.h, README.md).

#include <cstddef>
#include <cstdint>

#include "fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return sluice::fuzz::FuzzJsonLine(data, size);
}
