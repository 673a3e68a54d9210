#include "worker/operators/dead_letters.h"

#include "absl/strings/escaping.h"
#include "common/json.h"
#include "common/ports.h"

namespace sluice {

DeadLetters::DeadLetters(std::string source)
    : source_(std::move(source)), batch_(DeadLetterSchema()) {}

void DeadLetters::AddRaw(std::string_view raw) {
  if (IsValidUtf8(raw)) {
    batch_.column(4).AppendString(raw);
    batch_.column(5).AppendNull();
    return;
  }
  batch_.column(4).AppendString(ToValidUtf8(raw));
  batch_.column(5).AppendString(absl::Base64Escape(absl::string_view(raw.data(), raw.size())));
}

void DeadLetters::AddLine(std::string_view file, int64_t line, std::string_view reason,
                          std::string_view raw, int64_t event_time) {
  batch_.column(0).AppendString(source_);
  batch_.column(1).AppendString(file);
  batch_.column(2).AppendInt(line);
  batch_.column(3).AppendString(ToValidUtf8(reason));
  AddRaw(Utf8Prefix(raw, kMaxRawBytes));
  batch_.event_time().push_back(event_time);
}

void DeadLetters::AddRow(const Batch& batch, size_t row, std::string_view reason) {
  batch_.column(0).AppendString(source_);
  batch_.column(1).AppendNull();
  batch_.column(2).AppendNull();
  batch_.column(3).AppendString(ToValidUtf8(reason));
  json_.clear();
  AppendJsonLine(batch, row, &json_);
  json_.pop_back();  // '\n'
  AddRaw(Utf8Prefix(json_, kMaxRawBytes));
  batch_.event_time().push_back(batch.event_time()[row]);
}

absl::Status DeadLetters::Flush(Output& out) {
  if (batch_.empty()) return absl::OkStatus();
  Batch full = std::move(batch_);
  batch_ = Batch(DeadLetterSchema());
  return out.EmitSide(kDeadLetterPort, std::move(full));
}

}  // namespace sluice
