#pragma once

// Reads one file line by line through a large buffer, handing out each line
// in place, followed by at least kPadding readable bytes (what SIMD JSON
// parsers need past the end of their input). A line ends at '\n'; a '\r'
// before it is not part of the line. The last line of a file may lack '\n'.
//
// Lines longer than `max_line_bytes` are not buffered whole: the reader keeps
// their first `kept_prefix_bytes` bytes, skips the rest and reports them as
// too long. Not thread-safe; one reader per file at a time.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace sluice::internal {

struct Line {
  // The line without its line ending. Points into the reader's buffer (or,
  // for a too-long line, at its kept prefix) and is valid until the next
  // call on the reader.
  std::string_view text;
  // Bytes readable from text.data(): at least text.size() + kPadding, except
  // for a too-long line (0: its prefix is not meant for parsing).
  size_t capacity = 0;
  // Bytes of the file the line takes, its line ending included.
  int64_t bytes = 0;
  bool too_long = false;
};

class LineReader {
 public:
  static constexpr size_t kPadding = 64;

  LineReader(size_t chunk_bytes, size_t max_line_bytes, size_t kept_prefix_bytes);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Opens `path` and positions the reader at byte `offset`, which must not be
  // past the end of the file.
  absl::Status Open(const std::string& path, int64_t offset);
  void Close();
  bool is_open() const { return fd_ >= 0; }

  // The next line: true and *line filled, or false at the end of the file.
  absl::StatusOr<bool> Next(Line* line);
  // Makes the line the last Next() returned the next line again. Only valid
  // right after a Next() that returned a line that was not too long.
  void Unread();
  // File offset of the next unread line.
  int64_t offset() const { return base_offset_ + static_cast<int64_t>(begin_); }

 private:
  // Reads more of the file after the data held; sets eof_ at its end.
  absl::Status Fill();
  absl::StatusOr<bool> SkipLongLine(Line* line);

  const size_t chunk_bytes_, max_line_bytes_, kept_prefix_bytes_;
  std::string path_;
  int fd_ = -1;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;  // data bytes buf_ can hold; kPadding more are allocated
  size_t begin_ = 0;     // start of the next unread line
  size_t end_ = 0;       // end of the data read
  size_t scanned_ = 0;   // [begin_, scanned_) holds no '\n'
  size_t last_begin_ = 0;
  int64_t base_offset_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  std::string long_prefix_;
};

}  // namespace sluice::internal
