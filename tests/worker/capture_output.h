#pragma once

// An Output that records everything an operator emits, for unit tests.

#include <map>
#include <string>
#include <vector>

#include "catalog/operator.h"

namespace sluice {

class CaptureOutput : public Output {
 public:
  absl::Status Emit(Batch batch) override {
    main.push_back(std::move(batch));
    return absl::OkStatus();
  }
  absl::Status EmitSide(std::string_view port, Batch batch) override {
    side[std::string(port)].push_back(std::move(batch));
    return absl::OkStatus();
  }
  absl::Status EmitWatermark(int64_t wm) override {
    watermarks.push_back(wm);
    return absl::OkStatus();
  }

  size_t MainRows() const {
    size_t n = 0;
    for (const auto& b : main) n += b.num_rows();
    return n;
  }
  size_t SideRows(const std::string& port) const {
    size_t n = 0;
    auto it = side.find(port);
    if (it == side.end()) return 0;
    for (const auto& b : it->second) n += b.num_rows();
    return n;
  }

  std::vector<Batch> main;
  std::map<std::string, std::vector<Batch>> side;
  std::vector<int64_t> watermarks;
};

}  // namespace sluice
