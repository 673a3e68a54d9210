#include "connectors/file/file_source.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "catalog/operator_kind.h"  // FieldTypeFromProto
#include "common/ports.h"
#include "common/status_macros.h"
#include "common/time_util.h"
#include "connectors/file/internal/json_line_parser.h"
#include "connectors/file/internal/line_reader.h"
#include "connectors/file/internal/row_decoder.h"

namespace sluice {
namespace {

static_assert(internal::LineReader::kPadding >= internal::JsonLineParser::kPadding);

bool IsBlank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

std::string ParseErrorReason(internal::JsonLineError error) {
  switch (error) {
    case internal::JsonLineError::kNotObject:
      return "not a JSON object";
    case internal::JsonLineError::kTooDeep:
      return absl::StrCat("invalid JSON: nested deeper than ", internal::JsonLineParser::kMaxDepth,
                          " levels");
    case internal::JsonLineError::kNotUtf8:
      return "invalid JSON: not valid UTF-8";
    default:
      return "invalid JSON";
  }
}

}  // namespace

FileSourceReader::FileSourceReader(const proto::FileSourceConfig& config)
    : FileSourceReader(config, Options()) {}

FileSourceReader::FileSourceReader(const proto::FileSourceConfig& config, Options options)
    : config_(config), options_(options), dead_() {}

FileSourceReader::~FileSourceReader() = default;

absl::Status FileSourceReader::Open(const OperatorContext& ctx) {
  ctx_ = ctx;
  if (ctx_.parallelism < 1 || ctx_.subtask < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("file_source: bad subtask ", ctx_.subtask, " of ", ctx_.parallelism));
  }
  if (ctx_.max_batch_bytes == 0) ctx_.max_batch_bytes = 1;
  if (config_.follow() && !std::filesystem::is_directory(config_.path())) {
    return absl::InvalidArgumentError(absl::StrCat("file_source: follow needs a directory, and '",
                                                   config_.path(), "' is not one"));
  }
  ASSIGN_OR_RETURN(SourceFiles listed, ListSourceFiles(config_.path()));
  files_ = std::move(listed.files);
  if (ctx_.subtask == 0) {  // every subtask lists the same directory: say it once
    for (const auto& s : listed.skipped) {
      std::cerr << "sluice: file_source '" << (ctx_.spec != nullptr ? ctx_.spec->id() : "")
                << "' skips " << s.path << ": " << s.reason << "\n";
    }
    if (ctx_.counters != nullptr && !listed.skipped.empty()) {
      ctx_.counters->AddSkippedFiles(static_cast<int64_t>(listed.skipped.size()));
    }
  }
  ASSIGN_OR_RETURN(TimeUnitScale unit, ParseTimeUnit(config_.event_time().unit()));
  std::vector<Field> declared;
  for (const auto& f : config_.schema()) {
    declared.push_back({f.name(), FieldTypeFromProto(f.type())});
  }
  decoder_ = std::make_unique<internal::RowDecoder>(std::move(declared),
                                                    config_.event_time().field(), unit);
  internal::RowDecoder::TimeBounds bounds;
  const proto::EventTimeConfig& et = config_.event_time();
  if (et.has_min_time_ms()) bounds.min_ms = et.min_time_ms();
  if (et.has_max_future_ms()) bounds.max_future_ms = et.max_future_ms();
  if (et.has_max_past_ms()) bounds.max_past_ms = et.max_past_ms();
  decoder_->set_time_bounds(bounds);
  parser_ = std::make_unique<internal::JsonLineParser>();
  lines_ = std::make_unique<internal::LineReader>(options_.chunk_bytes, options_.max_line_bytes,
                                                  DeadLetters::kMaxRawBytes);
  dead_.set_source(ctx_.spec != nullptr ? ctx_.spec->id() : "");
  file_index_ = static_cast<size_t>(ctx_.subtask);
  start_offset_ = 0;
  line_ = 0;
  last_event_ms_ = ctx_.clock->NowMs();
  next_list_ms_ = last_event_ms_ + kFollowIntervalMs;
  opened_ = true;
  return absl::OkStatus();
}

std::string FileSourceReader::Position() const {
  proto::FilePosition position;
  position.set_file_index(static_cast<int32_t>(file_index_));
  if (file_index_ < files_.size()) position.set_file(files_[file_index_]);
  position.set_offset(lines_ != nullptr && lines_->is_open() ? lines_->offset() : start_offset_);
  position.set_line(line_);
  if (max_event_time_ != kMinWatermark) position.set_max_event_time(max_event_time_);
  return position.SerializeAsString();
}

absl::Status FileSourceReader::Seek(std::string_view bytes) {
  if (!opened_) return absl::FailedPreconditionError("file_source: Seek before Open");
  proto::FilePosition position;
  if (!position.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::InvalidArgumentError("file_source: the checkpoint's position is not a file's");
  }
  if (polled_) return absl::FailedPreconditionError("file_source: Seek after the first poll");
  const int64_t index = position.file_index();
  if (index < ctx_.subtask || (index - ctx_.subtask) % ctx_.parallelism != 0) {
    return absl::InvalidArgumentError(absl::StrCat("file_source: position file index ", index,
                                                   " is not read by subtask ", ctx_.subtask, " of ",
                                                   ctx_.parallelism));
  }
  if (position.offset() < 0 || position.line() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("file_source: bad position offset ",
                                                   position.offset(), ", line ", position.line()));
  }
  // (A following source waiting for its next file has none in its position.)
  if (static_cast<size_t>(index) < files_.size() && !position.file().empty() &&
      files_[index] != position.file()) {
    return absl::FailedPreconditionError(
        absl::StrCat("file_source: the position is in '", position.file(), "' (file ", index,
                     "), but that file is now '", files_[index], "': the files of '",
                     config_.path(), "' changed"));
  }
  file_index_ = static_cast<size_t>(index);
  start_offset_ = position.offset();
  line_ = position.line();
  // The watermark goes on from where it was: rows read again after a
  // restore are judged against the watermark the first run had there.
  max_event_time_ = position.has_max_event_time() ? position.max_event_time() : kMinWatermark;
  return absl::OkStatus();
}

void FileSourceReader::DeadLetter(std::string_view reason, std::string_view raw) {
  dead_.AddLine(files_[file_index_], line_, reason, raw,
                max_event_time_ == kMinWatermark ? 0 : max_event_time_);
}

absl::Status FileSourceReader::Flush(Output& out) {
  RETURN_IF_ERROR(dead_.Flush(out));
  if (decoder_->num_rows() == 0) return absl::OkStatus();
  RETURN_IF_ERROR(out.Emit(decoder_->Take()));
  return out.EmitWatermark(Watermark());
}

int64_t FileSourceReader::Watermark() const {
  int64_t watermark = max_event_time_;
  const int64_t lag = config_.watermark().max_out_of_orderness_ms();
  if (__builtin_sub_overflow(watermark, lag, &watermark) ||
      __builtin_sub_overflow(watermark, 1, &watermark)) {
    watermark = kMinWatermark;
  }
  return watermark;
}

absl::StatusOr<SourceReader::Poll> FileSourceReader::PollNext(Output& out) {
  if (!opened_) return absl::FailedPreconditionError("file_source: PollNext before Open");
  if (ctx_.stop.stop_requested()) return absl::CancelledError("source canceled");
  if (ended_) return Poll::kEnd;
  polled_ = true;

  const size_t max_bytes = ctx_.max_batch_bytes;
  const size_t batch_rows =
      config_.batch_rows() > 0 ? static_cast<size_t>(config_.batch_rows()) : kTargetBatchRows;
  size_t read_bytes = 0;
  decoder_->set_now_ms(NowMs());  // for max_future and max_past
  bool input_ended = false, waiting = false;
  while (true) {
    if (!lines_->is_open()) {
      if (file_index_ >= files_.size() && config_.follow()) {
        const int64_t now = ctx_.clock->NowMs();
        if (now >= next_list_ms_) {
          next_list_ms_ = now + kFollowIntervalMs;
          RETURN_IF_ERROR(ListNewFiles());
        }
      }
      if (file_index_ >= files_.size()) {
        waiting = config_.follow();
        input_ended = !waiting;
        break;
      }
      RETURN_IF_ERROR(lines_->Open(files_[file_index_], start_offset_));
      start_offset_ = 0;
    }
    internal::Line line;
    ASSIGN_OR_RETURN(bool more, lines_->Next(&line));
    if (!more) {
      lines_->Close();
      file_index_ += static_cast<size_t>(ctx_.parallelism);
      line_ = 0;
      continue;
    }
    ++line_;
    read_bytes += static_cast<size_t>(line.bytes);
    if (line.too_long) {
      DeadLetter(absl::StrCat("line longer than ", options_.max_line_bytes, " bytes"), line.text);
    } else if (!IsBlank(line.text)) {
      const internal::JsonLineError error = parser_->Parse(line.text, line.capacity);
      if (error != internal::JsonLineError::kNone) {
        DeadLetter(ParseErrorReason(error), line.text);
      } else {
        switch (decoder_->Add(parser_->fields(), Watermark(), &reason_)) {
          case internal::RowDecoder::Outcome::kAppended:
            max_event_time_ = std::max(max_event_time_, decoder_->last_event_time());
            break;
          case internal::RowDecoder::Outcome::kRejected:
            DeadLetter(reason_, line.text);
            break;
          case internal::RowDecoder::Outcome::kNeedsFlush:
            // The line starts the next batch, in the next poll.
            lines_->Unread();
            --line_;
            read_bytes = max_bytes;
            break;
        }
      }
    }
    if (read_bytes >= max_bytes || decoder_->num_rows() >= batch_rows ||
        decoder_->ByteSizeAtLeast(max_bytes)) {
      break;
    }
    if (!dead_.empty() && (dead_.num_rows() >= kTargetBatchRows || dead_.ByteSize() >= max_bytes)) {
      break;
    }
  }
  const bool read_events = decoder_->num_rows() > 0;
  const bool emitting = read_events || !dead_.empty();
  RETURN_IF_ERROR(Flush(out));
  if (read_events && config_.follow()) {
    last_event_ms_ = ctx_.clock->NowMs();
    idle_ = false;
  }
  if (waiting) return Wait(emitting, out);
  if (!input_ended) return Poll::kEmitted;
  RETURN_IF_ERROR(out.EmitWatermark(kMaxWatermark));
  ended_ = true;
  return Poll::kEnd;
}

absl::StatusOr<SourceReader::Poll> FileSourceReader::Wait(bool emitted, Output& out) {
  const int64_t now = ctx_.clock->NowMs();
  next_poll_ms_ = next_list_ms_;
  const int64_t idle_timeout = config_.watermark().idle_timeout_ms();
  if (idle_timeout > 0 && !idle_) {
    if (now - last_event_ms_ >= idle_timeout) {
      idle_ = true;
      RETURN_IF_ERROR(out.EmitWatermark(kIdleWatermark));
      return Poll::kEmitted;
    }
    next_poll_ms_ = std::min(next_poll_ms_, last_event_ms_ + idle_timeout);
  }
  return emitted ? Poll::kEmitted : Poll::kNothingYet;
}

absl::Status FileSourceReader::ListNewFiles() {
  ASSIGN_OR_RETURN(SourceFiles listed, ListSourceFiles(config_.path()));
  for (std::string& f : listed.files) {
    if (files_.empty() || f > files_.back()) {
      files_.push_back(std::move(f));
    } else if (!std::binary_search(files_.begin(), files_.end(), f) && refused_.insert(f).second &&
               ctx_.subtask == 0) {
      // Appending it would change which subtask reads which file.
      std::cerr << "sluice: file_source '" << (ctx_.spec != nullptr ? ctx_.spec->id() : "")
                << "' skips " << f << ": it appeared after files that sort later were listed\n";
      if (ctx_.counters != nullptr) ctx_.counters->AddSkippedFiles(1);
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<SourceFiles> ListSourceFiles(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  SourceFiles out;
  if (fs::is_regular_file(path, ec)) {
    out.files.push_back(path);
    return out;
  }
  if (!fs::is_directory(path, ec)) {
    return absl::NotFoundError(
        absl::StrCat("file_source path '", path, "' is neither a file nor a directory"));
  }
  fs::directory_iterator it(path, ec);
  for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const fs::path& p = it->path();
    const std::string name = p.filename().string();
    std::error_code entry_ec;
    const fs::file_status status = it->status(entry_ec);  // follows links
    std::string reason;
    if (name.starts_with(".") || name.starts_with("_")) {
      reason = "hidden (its name starts with '.' or '_')";
    } else if (entry_ec == std::errc::no_such_file_or_directory) {
      reason = "a broken link";
    } else if (entry_ec) {
      reason = absl::StrCat("cannot be examined: ", entry_ec.message());
    } else if (fs::is_directory(status)) {
      reason = "a subdirectory (only the files directly in the directory are read)";
    } else if (!fs::is_regular_file(status)) {
      reason = "not a regular file";
    }
    if (reason.empty()) {
      out.files.push_back(p.string());
    } else {
      out.skipped.push_back({p.string(), std::move(reason)});
    }
  }
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("file_source: cannot list directory '", path, "': ", ec.message()));
  }
  std::sort(out.files.begin(), out.files.end());
  std::sort(out.skipped.begin(), out.skipped.end(),
            [](const auto& a, const auto& b) { return a.path < b.path; });
  return out;
}

}  // namespace sluice
