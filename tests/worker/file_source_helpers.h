#pragma once

// Shared pieces of the file_source tests: a per-test temporary directory,
// a poll loop that records positions, and records rendered as text so that
// runs can be compared whatever their batch boundaries.

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "connectors/file/file.pb.h"
#include "connectors/file/file_source.h"
#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"

namespace sluice {

// A file_source reader's Position(), parsed.
inline proto::FilePosition FilePositionOf(const SourceReader& reader) {
  proto::FilePosition pos;
  EXPECT_TRUE(pos.ParseFromString(reader.Position()));
  return pos;
}

class FileSourceTestBase : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-fs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    spec_.set_id("src");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << text;
    return path;
  }

  // The settings of the readers the test makes (config_), reading `path`;
  // the caller may change them further through the reference.
  proto::FileSourceConfig& Config(const std::string& path, const std::string& unit = "ms") {
    config_.set_path(path);
    config_.mutable_event_time()->set_field("ts");
    config_.mutable_event_time()->set_unit(unit);
    config_.mutable_watermark()->set_max_out_of_orderness_ms(10);
    return config_;
  }

  // spec_ with the current settings packed in, as a job's spec holds them.
  const proto::OperatorSpec& Spec() {
    spec_.mutable_config()->PackFrom(config_);
    return spec_;
  }

  OperatorContext Context() const {
    OperatorContext ctx;
    ctx.spec = &spec_;
    return ctx;
  }

  // A source that follows dir_ with `idle_timeout_ms`, on `clock`.
  OperatorContext FollowContext(const Clock& clock, int64_t idle_timeout_ms) {
    Config(dir_.string()).set_follow(true);
    Config(dir_.string()).mutable_watermark()->set_idle_timeout_ms(idle_timeout_ms);
    OperatorContext ctx = Context();
    ctx.clock = &clock;
    return ctx;
  }

  struct Reading {
    CaptureOutput out;
    absl::Status status;
    int polls = 0;
    // Position() before the first poll and after each one.
    std::vector<proto::FilePosition> positions;
  };

  // Polls a reader of the current config to its end (after Seek(*seek) if
  // given), checking the per-poll contract on the way.
  Reading Read(const OperatorContext& ctx, FileSourceReader::Options options = {},
               const proto::FilePosition* seek = nullptr) {
    Reading r;
    FileSourceReader reader(config_, options);
    r.status = reader.Open(ctx);
    if (r.status.ok() && seek != nullptr) r.status = reader.Seek(seek->SerializeAsString());
    if (!r.status.ok()) return r;
    r.positions.push_back(FilePositionOf(reader));
    while (r.polls < 1'000'000) {
      const size_t batches = r.out.main.size(), watermarks = r.out.watermarks.size();
      absl::StatusOr<SourceReader::Poll> poll = reader.PollNext(r.out);
      ++r.polls;
      if (!poll.ok()) {
        r.status = poll.status();
        return r;
      }
      r.positions.push_back(FilePositionOf(reader));
      // At most one batch per poll, followed by its watermark.
      EXPECT_LE(r.out.main.size(), batches + 1);
      if (r.out.main.size() > batches) {
        EXPECT_GT(r.out.watermarks.size(), watermarks);
      }
      if (*poll == SourceReader::Poll::kEnd) {
        EXPECT_FALSE(r.out.watermarks.empty());
        if (!r.out.watermarks.empty()) {
          EXPECT_EQ(r.out.watermarks.back(), kMaxWatermark);
        }
        return r;
      }
      EXPECT_EQ(*poll, SourceReader::Poll::kEmitted);
    }
    r.status = absl::DeadlineExceededError("reader never ended");
    return r;
  }

  std::filesystem::path dir_;
  proto::OperatorSpec spec_;
  proto::FileSourceConfig config_;  // the readers' settings (Config())
};

// One line per record: "ts=<event time>|name=value|..." for `names`, in that
// order; a field the batch lacks or holds null reads "null".
inline std::vector<std::string> Records(const std::vector<Batch>& batches,
                                        const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const Batch& b : batches) {
    for (size_t r = 0; r < b.num_rows(); ++r) {
      std::string s = absl::StrCat("ts=", b.event_time()[r]);
      for (const std::string& name : names) {
        absl::StrAppend(&s, "|", name, "=");
        const int c = b.schema()->IndexOf(name);
        if (c < 0 || b.column(c).IsNull(r)) {
          s += "null";
          continue;
        }
        const Column& col = b.column(c);
        switch (col.type) {
          case FieldType::kBool:
            s += col.ints[r] != 0 ? "true" : "false";
            break;
          case FieldType::kInt64:
          case FieldType::kDouble:
            absl::StrAppend(&s, col.NumberAt(r));
            break;
          case FieldType::kString:
            absl::StrAppend(&s, std::string(col.StringAt(r)));
            break;
          case FieldType::kNull:
            s += "null";
            break;
        }
      }
      out.push_back(std::move(s));
    }
  }
  return out;
}

// One line per dead letter: "file|line|reason|raw", and "|base64:" and the
// exact bytes decoded from raw_base64 when it is set (and the source's id
// checked).
inline std::vector<std::string> DeadLetterLines(CaptureOutput& out) {
  std::vector<std::string> lines;
  for (const Batch& b : out.side["dead_letter"]) {
    for (size_t r = 0; r < b.num_rows(); ++r) {
      EXPECT_EQ(b.column(0).StringAt(r), "src");
      lines.push_back(absl::StrCat(std::string(b.column(1).StringAt(r)), "|", b.column(2).ints[r],
                                   "|", std::string(b.column(3).StringAt(r)), "|",
                                   std::string(b.column(4).StringAt(r))));
      if (!b.column(5).IsNull(r)) {
        std::string bytes;
        const std::string encoded(b.column(5).StringAt(r));
        EXPECT_TRUE(absl::Base64Unescape(encoded, &bytes));
        absl::StrAppend(&lines.back(), "|base64:", bytes);
      }
    }
  }
  return lines;
}

}  // namespace sluice
