#include "worker/operators/generator/generator_source.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace sluice {
namespace {

uint64_t Mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

double Unit(uint64_t x) { return static_cast<double>(x >> 11) * 0x1.0p-53; }

}  // namespace

EventModel::EventModel(const proto::GeneratorConfig& c)
    : seed_(c.seed()),
      devices_(std::max<int64_t>(1, c.devices())),
      count_(c.count()),
      start_(c.start_time_ms()),
      interval_(c.interval_ms()),
      jitter_(c.jitter_ms()),
      duplicate_rate_(c.duplicate_rate()),
      unbounded_(c.unbounded()) {
  const bool unset =
      c.temperature_min() == 0 && c.temperature_max() == 0 && c.temperature_noise() == 0;
  temp_min_ = unset ? 15.0 : c.temperature_min();
  temp_span_ = unset ? 10.0 : c.temperature_max() - c.temperature_min();
  temp_noise_ = unset ? 2.0 : c.temperature_noise();
  digits_ = 1;
  for (int64_t v = devices_ - 1; v >= 10; v /= 10) ++digits_;
  digits_ = std::max(digits_, 5);
}

GeneratedEvent EventModel::Make(int64_t i) const {
  uint64_t r1 = Mix(seed_ ^ Mix(static_cast<uint64_t>(i)));
  uint64_t r2 = Mix(r1);
  GeneratedEvent e;
  e.event_id = i;
  e.device = i % devices_;
  e.ts = start_ + (i / devices_) * interval_ -
         (jitter_ > 0 ? static_cast<int64_t>(r1 % (jitter_ + 1)) : 0);
  double base = temp_min_ + Unit(Mix(seed_ + static_cast<uint64_t>(e.device))) * temp_span_;
  e.temperature = base + (Unit(r2) * 2.0 - 1.0) * temp_noise_;
  e.humidity = 30.0 + Unit(Mix(r2)) * 40.0;
  e.duplicate = duplicate_rate_ > 0 && Unit(r1 ^ 0x5bd1e995) < duplicate_rate_;
  return e;
}

void EventModel::FormatDevice(int64_t device, std::string* out) const {
  char buf[32] = "dev-";
  char* p = buf + 4 + digits_;
  char* end = p;
  for (int d = 0; d < digits_; ++d) {
    *--p = static_cast<char>('0' + device % 10);
    device /= 10;
  }
  out->assign(buf, end - buf);
}

const SchemaRef& GeneratorSource::OutputSchema() {
  static const SchemaRef* schema = new SchemaRef(std::make_shared<const Schema>(std::vector<Field>{
      {"event_id", FieldType::kInt64},
      {"device_id", FieldType::kString},
      {"ts", FieldType::kInt64},
      {"temperature", FieldType::kDouble},
      {"humidity", FieldType::kDouble},
  }));
  return *schema;
}

absl::Status GeneratorSource::Open(const OperatorContext& ctx) {
  ctx_ = ctx;
  step_ = std::max(1, ctx.parallelism);
  next_ = ctx.subtask;
  rate_ = config_.rate() / static_cast<double>(step_);
  // About 56 bytes a generated row; stay within the task's frame size.
  batch_rows_ = std::clamp<size_t>(ctx.max_batch_bytes / 56, 1, kTargetBatchRows);
  if (rate_ > 0) {
    // 20 batches a second keeps the pace smooth.
    batch_rows_ = std::clamp<size_t>(static_cast<size_t>(rate_ / 20), 1, batch_rows_);
  }
  return absl::OkStatus();
}

std::string GeneratorSource::Position() const {
  proto::GeneratorPosition p;
  p.set_event_index(next_);
  if (max_ts_ != kMinWatermark) p.set_max_event_time(max_ts_);
  return p.SerializeAsString();
}

absl::Status GeneratorSource::Seek(std::string_view bytes) {
  proto::GeneratorPosition position;
  if (!position.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("generator: the checkpoint's position is not a generator's");
  }
  const int64_t i = position.event_index();
  if (i < 0 || (i - ctx_.subtask) % step_ != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "generator position ", i, " does not belong to subtask ", ctx_.subtask, " of ", step_));
  }
  next_ = i;
  max_ts_ = position.has_max_event_time() ? position.max_event_time() : kMinWatermark;
  paced_from_ms_ = -1;
  return absl::OkStatus();
}

absl::StatusOr<SourceReader::Poll> GeneratorSource::PollNext(Output& out) {
  if (ended_) return Poll::kEnd;
  if (Exhausted()) {
    ended_ = true;
    RETURN_IF_ERROR(out.EmitWatermark(kMaxWatermark));
    return Poll::kEnd;
  }
  if (rate_ > 0) {
    const int64_t now = ctx_.clock->NowMs();
    if (paced_from_ms_ < 0) {
      paced_from_ms_ = now;
      paced_events_ = 0;
    }
    const int64_t due =
        paced_from_ms_ + static_cast<int64_t>(static_cast<double>(paced_events_) * 1000.0 / rate_);
    if (due > now) {
      next_poll_ms_ = due;
      return Poll::kNothingYet;
    }
  }
  Batch batch(OutputSchema());
  batch.Reserve(batch_rows_ + batch_rows_ / 8);
  Column& ids = batch.column(0);
  Column& devices = batch.column(1);
  Column& tss = batch.column(2);
  Column& temps = batch.column(3);
  Column& hums = batch.column(4);
  auto& event_time = batch.event_time();
  // Each row carries the watermark from before it (Batch::row_watermarks).
  auto& row_watermarks = batch.row_watermarks();
  row_watermarks.reserve(batch_rows_ + batch_rows_ / 8);
  const int64_t ooo = config_.watermark().max_out_of_orderness_ms();
  auto watermark = [&] { return max_ts_ == kMinWatermark ? kMinWatermark : max_ts_ - ooo - 1; };
  size_t n = 0;
  for (; n < batch_rows_ && !Exhausted(); ++n, next_ += step_) {
    GeneratedEvent e = model_.Make(next_);
    model_.FormatDevice(e.device, &device_);
    for (int copy = 0; copy < (e.duplicate ? 2 : 1); ++copy) {
      ids.ints.push_back(e.event_id);
      devices.chars.append(device_);
      devices.offsets.push_back(static_cast<uint32_t>(devices.chars.size()));
      tss.ints.push_back(e.ts);
      temps.doubles.push_back(e.temperature);
      hums.doubles.push_back(e.humidity);
      event_time.push_back(e.ts);
      row_watermarks.push_back(watermark());
    }
    max_ts_ = std::max(max_ts_, e.ts);
  }
  paced_events_ += static_cast<int64_t>(n);
  RETURN_IF_ERROR(out.Emit(std::move(batch)));
  if (max_ts_ != kMinWatermark) RETURN_IF_ERROR(out.EmitWatermark(watermark()));
  return Poll::kEmitted;
}

}  // namespace sluice
