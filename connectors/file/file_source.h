#pragma once

// Reads JSON lines. `path` is a file or a directory (the files directly in
// it, sorted, except hidden ones and those whose names start with '_';
// subdirectories are not read; what is left out is logged with the reason,
// ListSourceFiles; subtask s of p reads files s, s+p, ...). Each line is one event; a line ends at
// '\n' or "\r\n", and the last one may lack it. Blank lines are skipped.
//
// Schema: the declared one (fields it does not name are ignored), or else
// inferred and extended as lines arrive: a new field is added, an int64
// field that meets a fractional number is widened to double, and a schema
// change starts a new batch. An integer beyond int64 is a double: it widens
// an inferred field, and is rejected by a declared int64 one. Nested objects
// and arrays are kept as compact JSON text in a string field.
//
// A line is dead-lettered (common/ports.h), with its file, line number,
// reason and text (at most 64 KiB of it), when it is not JSON (or has
// anything after the object), is not an object, is nested deeper than 1024
// levels, is longer than max_line_bytes, lacks the event-time field (or it
// is null), has a non-numeric or out-of-range event time, or has a value of
// the wrong type.
//
// Each poll emits at most one batch: it reads lines until the batch has
// kTargetBatchRows rows or a Batch::ByteSize() of ctx.max_batch_bytes, the
// dead letters reach either limit, or the poll has read ctx.max_batch_bytes
// of input. It emits the dead letters, then the batch, then the watermark
// (the largest event time seen, minus max_out_of_orderness, minus 1 ms).
// Nothing read stays buffered between polls, so Position() (the next unread
// line) is exact at every poll boundary. After the last file, the poll
// emits a +inf watermark and returns kEnd.
//
// With `follow`, the source never ends: after the last file it lists the
// directory again every kFollowIntervalMs and reads the new files. New
// files must sort after those listed before (timestamped names do), so
// that every subtask numbers them alike. This is a precondition: one that
// does not is skipped, logged and counted, but a subtask that listed before
// it appeared numbers the files after it differently, so those may be read
// twice or not at all. Write a file under a hidden name and rename it when
// complete, so that it is never read half-written. With
// watermark.idle_timeout, a subtask that has read no event for that long
// emits kIdleWatermark once: downstream watermarks stop waiting for it
// until it reads again, and its events may then be late.

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "catalog/operator.h"
#include "connectors/file/file.pb.h"
#include "worker/operators/dead_letters.h"

namespace sluice {

namespace internal {
class LineReader;
class JsonLineParser;
class RowDecoder;
}  // namespace internal

class FileSourceReader : public SourceReader {
 public:
  struct Options {
    size_t chunk_bytes = 1 << 20;  // read size, and the buffer's initial size
    size_t max_line_bytes = 16 << 20;
  };

  explicit FileSourceReader(const proto::FileSourceConfig& config);
  FileSourceReader(const proto::FileSourceConfig& config, Options options);
  ~FileSourceReader() override;

  absl::Status Open(const OperatorContext& ctx) override;
  absl::StatusOr<Poll> PollNext(Output& out) override;
  // {file_index (in the sorted listing), file, offset of the next unread
  // line, lines before it}. Past the last file: a file_index past the
  // listing. Watermark and inferred-schema state are not part of it: a
  // reader resumed from it re-infers the schema from the lines it reads.
  std::string Position() const override;  // a serialized proto::FilePosition
  int64_t NextPollMs() const override { return next_poll_ms_; }
  // Before the first poll, after Open. The position must come from a reader
  // of the same path, subtask and parallelism.
  absl::Status Seek(std::string_view position) override;

 private:
  void DeadLetter(std::string_view reason, std::string_view raw);
  absl::Status Flush(Output& out);
  // max event time - max_out_of_orderness - 1 ms (kMinWatermark before any).
  int64_t Watermark() const;
  // Following, with every listed file read: goes idle after idle_timeout
  // without an event, and sets the next poll.
  absl::StatusOr<Poll> Wait(bool emitted, Output& out);
  // Appends the files that sort after the last one listed.
  absl::Status ListNewFiles();

  static constexpr int64_t kFollowIntervalMs = 250;

  const proto::FileSourceConfig config_;
  const Options options_;
  OperatorContext ctx_;
  bool opened_ = false, polled_ = false, ended_ = false;
  std::vector<std::string> files_;
  size_t file_index_ = 0;     // the file being read, or next to be
  int64_t start_offset_ = 0;  // where to open it
  int64_t line_ = 0;          // lines of it read
  int64_t max_event_time_ = kMinWatermark;
  // Following (ctx.clock ms): when to list the directory again, when the
  // last event was read, when to poll next; and whether the split is idle.
  int64_t next_list_ms_ = 0, last_event_ms_ = 0, next_poll_ms_ = 0;
  bool idle_ = false;
  std::set<std::string> refused_;  // new files that sorted too early
  std::unique_ptr<internal::LineReader> lines_;
  std::unique_ptr<internal::JsonLineParser> parser_;
  std::unique_ptr<internal::RowDecoder> decoder_;
  DeadLetters dead_;
  std::string reason_;
};

// The files `path` names, sorted (see above for which files of a directory),
// and the entries of the directory left out, each with the reason: hidden
// (a name starting with '.' or '_', as `_SUCCESS` markers), a
// subdirectory (not read), not a regular file, or one that cannot be
// examined (a symbolic link loop, a broken link). An error when `path`
// itself cannot be read.
struct SourceFiles {
  std::vector<std::string> files;
  struct Skipped {
    std::string path;
    std::string reason;
  };
  std::vector<Skipped> skipped;
};
absl::StatusOr<SourceFiles> ListSourceFiles(const std::string& path);

}  // namespace sluice
