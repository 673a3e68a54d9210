#include "worker/record_writer.h"

#include "common/key_group.h"
#include "common/status_macros.h"

namespace sluice {

RecordWriter::RecordWriter(const proto::OutputEdge& edge,
                           std::vector<std::shared_ptr<OutputChannel>> channels,
                           std::vector<uint32_t> key_group_owner, size_t frame_bytes,
                           int64_t flush_interval_ms, const Clock* clock)
    : edge_(edge),
      channels_(std::move(channels)),
      key_group_owner_(std::move(key_group_owner)),
      key_group_of_(std::max<int>(1, static_cast<int>(key_group_owner_.size()))),
      frame_bytes_(frame_bytes),
      flush_interval_ms_(flush_interval_ms),
      clock_(clock),
      buffers_(channels_.size()) {}

void RecordWriter::Start() {
  for (auto& c : channels_) c->Start();
}

absl::Status RecordWriter::Write(Batch batch) {
  if (batch.empty()) return absl::OkStatus();
  if (channels_.size() == 1) return Append(0, std::move(batch));
  if (edge_.partitioning() == proto::PARTITIONING_HASH) return WriteHashed(batch);
  return Append(next_channel_++ % channels_.size(), std::move(batch));
}

Batch& RecordWriter::OpenBuffer(size_t c, const SchemaRef& schema, size_t rows,
                                absl::Status* flushed) {
  Buffer& b = buffers_[c];
  if (b.batch.has_value() && !(b.batch->schema() == schema || *b.batch->schema() == *schema)) {
    *flushed = Flush(c);  // one schema per frame
  }
  if (!b.batch.has_value()) {
    b.batch.emplace(schema);
    b.batch->Reserve(rows);
    b.since_ms = clock_->NowMs();
  }
  return *b.batch;
}

absl::Status RecordWriter::Append(size_t c, Batch batch) {
  const size_t bytes = batch.ByteSize();
  if (bytes >= frame_bytes_ / 2) {
    // Big enough on its own: what is buffered goes first, then the batch,
    // without a copy unless it must be cut to frame size.
    RETURN_IF_ERROR(Flush(c));
    return SendCut(c, std::move(batch), bytes);
  }
  absl::Status flushed;
  Batch& buffer = OpenBuffer(c, batch.schema(), batch.num_rows(), &flushed);
  RETURN_IF_ERROR(flushed);
  buffer.AppendRange(batch, 0, batch.num_rows());
  Buffer& b = buffers_[c];
  b.bytes += bytes;
  if (b.bytes >= frame_bytes_) return Flush(c);
  return absl::OkStatus();
}

absl::Status RecordWriter::SendCut(size_t c, Batch batch, size_t bytes) {
  buffers_[c].idle = false;  // the receiver takes the channel back into its minimum
  if (bytes <= 2 * frame_bytes_ || batch.num_rows() <= 1) {
    return channels_[c]->Send(StreamElement::Records(std::move(batch)));
  }
  const size_t rows = batch.num_rows();
  const size_t step = std::max<size_t>(1, rows * frame_bytes_ / bytes);
  for (size_t begin = 0; begin < rows; begin += step) {
    Batch part(batch.schema());
    part.AppendRange(batch, begin, std::min(rows, begin + step));
    RETURN_IF_ERROR(channels_[c]->Send(StreamElement::Records(std::move(part))));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::WriteHashed(const Batch& batch) {
  if (schema_ != batch.schema()) {
    std::vector<int> cols;
    for (const auto& k : edge_.key_fields()) cols.push_back(batch.schema()->IndexOf(k));
    encoder_.emplace(*batch.schema(), std::move(cols));
    schema_ = batch.schema();
  }
  const size_t targets = channels_.size();
  const size_t rows = batch.num_rows();
  rows_by_target_.resize(targets);
  for (auto& r : rows_by_target_) r.clear();
  encoder_->EncodeRows(batch, &keys_);
  for (size_t r = 0; r < rows; ++r) {
    const int kg = key_group_of_(StableHash(keys_[r]));
    rows_by_target_[key_group_owner_[kg]].push_back(static_cast<uint32_t>(r));
  }
  for (size_t t = 0; t < targets; ++t) {
    if (rows_by_target_[t].empty()) continue;
    absl::Status flushed;
    Batch& buffer = OpenBuffer(t, batch.schema(), rows_by_target_[t].size(), &flushed);
    RETURN_IF_ERROR(flushed);
    buffer.AppendRows(batch, rows_by_target_[t]);
    Buffer& b = buffers_[t];
    b.bytes = buffer.ByteSize();
    if (b.bytes >= frame_bytes_) RETURN_IF_ERROR(Flush(t));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::Flush(size_t c) {
  Buffer& b = buffers_[c];
  if (!b.batch.has_value()) return absl::OkStatus();
  Batch batch = std::move(*b.batch);
  b.batch.reset();
  const size_t bytes = b.bytes;
  b.bytes = 0;
  if (batch.empty()) return absl::OkStatus();
  return SendCut(c, std::move(batch), bytes);
}

absl::Status RecordWriter::WriteWatermark(int64_t watermark) {
  for (size_t c = 0; c < channels_.size(); ++c) {
    if (watermark == kIdleWatermark) {
      if (buffers_[c].idle) continue;
      RETURN_IF_ERROR(Flush(c));
      buffers_[c].idle = true;
      RETURN_IF_ERROR(channels_[c]->Send(StreamElement::Watermark(watermark)));
      continue;
    }
    if (watermark <= buffers_[c].watermark) continue;
    RETURN_IF_ERROR(Flush(c));
    buffers_[c].watermark = watermark;
    buffers_[c].idle = false;
    RETURN_IF_ERROR(channels_[c]->Send(StreamElement::Watermark(watermark)));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::WriteBarrier(const CheckpointBarrier& barrier) {
  for (size_t c = 0; c < channels_.size(); ++c) {
    RETURN_IF_ERROR(Flush(c));
    RETURN_IF_ERROR(channels_[c]->Send(StreamElement::Barrier(barrier)));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::FlushDue(int64_t now_ms) {
  for (size_t c = 0; c < channels_.size(); ++c) {
    if (buffers_[c].batch.has_value() && buffers_[c].since_ms + flush_interval_ms_ <= now_ms) {
      RETURN_IF_ERROR(Flush(c));
    }
  }
  return absl::OkStatus();
}

std::optional<int64_t> RecordWriter::NextFlushMs() const {
  std::optional<int64_t> next;
  for (const auto& b : buffers_) {
    if (!b.batch.has_value()) continue;
    const int64_t due = b.since_ms + flush_interval_ms_;
    if (!next.has_value() || due < *next) next = due;
  }
  return next;
}

absl::Status RecordWriter::Finish() {
  for (size_t c = 0; c < channels_.size(); ++c) {
    RETURN_IF_ERROR(Flush(c));
    RETURN_IF_ERROR(channels_[c]->Send(StreamElement::EndOfStream()));
  }
  return absl::OkStatus();
}

void RecordWriter::Cancel() {
  for (auto& c : channels_) c->Cancel();
}

int64_t RecordWriter::QueuedBytes() const {
  int64_t n = 0;
  for (const auto& c : channels_) n += c->queued_bytes();
  return n;
}

absl::Status RecordWriter::ChannelStatus() const {
  for (const auto& c : channels_) {
    absl::Status s = c->status();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

bool RecordWriter::Finished() const {
  for (const auto& c : channels_) {
    if (!c->finished()) return false;
  }
  return true;
}

}  // namespace sluice
