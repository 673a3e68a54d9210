#pragma once

// Simulated sensors. Event i (0 <= i < count) is a pure function of
// (seed, i), so the same seed gives the same events at any parallelism:
//   event_id = i, device = i % devices, ts = start + (i / devices) * interval
//   minus a pseudo-random lag in [0, jitter] (bounded out-of-orderness),
//   temperature = a per-device base in [temperature_min, temperature_max)
//   plus noise in [-temperature_noise, +temperature_noise], humidity in [30, 70).
// A fraction `duplicate_rate` of events is emitted twice (same event_id).
// Subtask s of p emits the events with i % p == s.

#include <cstdint>
#include <string>

#include "worker/operators/operator.h"

namespace sluice {

// The generated record for event i, exposed for tests and the benchmark's
// hand-written baseline.
struct GeneratedEvent {
  int64_t event_id;
  int64_t device;
  int64_t ts;
  double temperature;
  double humidity;
  bool duplicate;
};

class EventModel {
 public:
  explicit EventModel(const proto::GeneratorConfig& config);
  GeneratedEvent Make(int64_t i) const;
  // "dev-00042": zero-padded to the width of devices-1, at least 5 digits.
  void FormatDevice(int64_t device, std::string* out) const;
  int64_t count() const { return count_; }
  bool unbounded() const { return unbounded_; }

 private:
  uint64_t seed_;
  int64_t devices_, count_, start_, interval_, jitter_;
  double duplicate_rate_;
  double temp_min_, temp_span_, temp_noise_;
  bool unbounded_;
  int digits_;
};

class GeneratorSource : public SourceOperator {
 public:
  explicit GeneratorSource(const proto::GeneratorConfig& config)
      : config_(config), model_(config) {}
  absl::Status Run(const OperatorContext& ctx, Output& out) override;

  // Schema of generated records.
  static const SchemaRef& OutputSchema();

 private:
  proto::GeneratorConfig config_;
  EventModel model_;
};

}  // namespace sluice
