#include "worker/record_writer.h"

#include "common/key_group.h"
#include "common/status_macros.h"

namespace sluice {

RecordWriter::RecordWriter(const proto::OutputEdge& edge,
                           std::vector<std::unique_ptr<ChannelWriter>> channels,
                           int max_parallelism)
    : edge_(edge), channels_(std::move(channels)), max_parallelism_(max_parallelism) {
  const int parallelism = static_cast<int>(channels_.size());
  for (int kg = 0; kg < max_parallelism_; ++kg) {
    target_of_key_group_.push_back(
        static_cast<uint32_t>(SubtaskForKeyGroup(kg, max_parallelism_, parallelism)));
  }
}

absl::Status RecordWriter::Write(Batch batch) {
  if (batch.empty()) return absl::OkStatus();
  if (channels_.size() == 1) return channels_[0]->Send(StreamElement::Records(std::move(batch)));
  if (edge_.partitioning() == proto::PARTITIONING_HASH) return WriteHashed(batch);
  size_t c = next_channel_++ % channels_.size();
  return channels_[c]->Send(StreamElement::Records(std::move(batch)));
}

absl::Status RecordWriter::WriteHashed(const Batch& batch) {
  if (schema_ != batch.schema()) {
    std::vector<int> cols;
    for (const auto& k : edge_.key_fields()) cols.push_back(batch.schema()->IndexOf(k));
    encoder_.emplace(*batch.schema(), std::move(cols));
    schema_ = batch.schema();
  }
  const int parallelism = static_cast<int>(channels_.size());
  const size_t rows = batch.num_rows();
  rows_by_target_.resize(parallelism);
  for (auto& r : rows_by_target_) r.clear();
  for (size_t r = 0; r < rows; ++r) {
    const int kg = KeyGroupForHash(StableHash(encoder_->View(batch, r, &key_)), max_parallelism_);
    rows_by_target_[target_of_key_group_[kg]].push_back(static_cast<uint32_t>(r));
  }
  for (int t = 0; t < parallelism; ++t) {
    if (rows_by_target_[t].empty()) continue;
    Batch part(batch.schema());
    part.Reserve(rows_by_target_[t].size());
    part.AppendRows(batch, rows_by_target_[t]);
    RETURN_IF_ERROR(channels_[t]->Send(StreamElement::Records(std::move(part))));
  }
  return absl::OkStatus();
}

absl::Status RecordWriter::WriteWatermark(int64_t watermark) {
  for (auto& c : channels_) RETURN_IF_ERROR(c->Send(StreamElement::Watermark(watermark)));
  return absl::OkStatus();
}

absl::Status RecordWriter::Finish() {
  for (auto& c : channels_) RETURN_IF_ERROR(c->Send(StreamElement::EndOfStream()));
  for (auto& c : channels_) RETURN_IF_ERROR(c->Close());
  return absl::OkStatus();
}

void RecordWriter::Cancel() {
  for (auto& c : channels_) c->Cancel();
}

}  // namespace sluice
