#pragma once

// Simulated sensors. Event i (0 <= i < count) is a pure function of
// (seed, i), so the same seed gives the same events at any parallelism:
//   event_id = i, device = i % devices, ts = start + (i / devices) * interval
//   minus a pseudo-random lag in [0, jitter] (bounded out-of-orderness),
//   temperature = a per-device base in [temperature_min, temperature_max)
//   plus noise in [-temperature_noise, +temperature_noise], humidity in [30, 70).
// A fraction `duplicate_rate` of events is emitted twice (same event_id).
// Subtask s of p emits the events with i % p == s.
//
// The reader's position is the index of the subtask's next event; with a
// rate, a poll before the next batch is due says "nothing yet" (the task
// waits on its mailbox, not in the reader).

#include <cstdint>
#include <string>

#include "catalog/operator.h"
#include "worker/operators/generator/generator.pb.h"

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

class GeneratorSource : public SourceReader {
 public:
  explicit GeneratorSource(const proto::GeneratorConfig& config)
      : config_(config), model_(config) {}

  absl::Status Open(const OperatorContext& ctx) override;
  absl::StatusOr<Poll> PollNext(Output& out) override;
  // A serialized proto::GeneratorPosition.
  std::string Position() const override;
  absl::Status Seek(std::string_view position) override;
  int64_t NextPollMs() const override { return next_poll_ms_; }

  // Schema of generated records.
  static const SchemaRef& OutputSchema();

 private:
  bool Exhausted() const { return !model_.unbounded() && next_ >= model_.count(); }

  proto::GeneratorConfig config_;
  EventModel model_;
  OperatorContext ctx_;
  int64_t next_ = 0;  // index of the next event of this subtask
  int64_t step_ = 1;  // parallelism
  double rate_ = 0;   // events per second for this subtask; 0: flat out
  size_t batch_rows_ = kTargetBatchRows;
  int64_t paced_from_ms_ = -1;  // clock time when pacing (re)started
  int64_t paced_events_ = 0;    // events emitted since then
  int64_t next_poll_ms_ = 0;
  int64_t max_ts_ = kMinWatermark;
  bool ended_ = false;
  std::string device_;
};

}  // namespace sluice
