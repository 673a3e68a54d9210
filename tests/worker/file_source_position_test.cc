// file_source positions: a reader that Seek()s to any position another
// reader reported between polls emits exactly what followed it. The
// expectation is computed from the lines as they were written, not from a
// reader.

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/file/file_source.h"
#include "gtest/gtest.h"
#include "tests/worker/file_source_helpers.h"

namespace sluice {
namespace {

struct WrittenLine {
  size_t file;  // index in the sorted listing
  int64_t line;
  int64_t offset;
  std::string record;  // as Records() renders it; empty if none
  std::string dead;    // as DeadLetterLines() renders it; empty if none
};

struct Params {
  bool declared;
  FileSourceReader::Options options;
  size_t max_batch_bytes;
  int subtask = 0;
  int parallelism = 1;
};

class FileSourcePositionTest : public FileSourceTestBase {
 protected:
  // Four files: a (LF), b (empty), c (CRLF), d (LF, no final newline). Line
  // i of all is valid, blank, not JSON, without event time, or (only with
  // `type_errors`) has a field of the wrong type; valid lines vary key order,
  // nulls, escapes and undeclared nested fields.
  void WriteFiles(bool type_errors) {
    const std::vector<std::pair<std::string, int>> files = {
        {"a.jsonl", 60}, {"b.jsonl", 0}, {"c.jsonl", 40}, {"d.jsonl", 50}};
    int i = 0;
    for (size_t f = 0; f < files.size(); ++f) {
      const auto& [name, count] = files[f];
      const std::string path = (dir_ / name).string();
      const std::string eol = name == "c.jsonl" ? "\r\n" : "\n";
      std::string text;
      file_sizes_.push_back(0);
      for (int l = 1; l <= count; ++l, ++i) {
        WrittenLine w{f, l, static_cast<int64_t>(text.size()), "", ""};
        const int64_t ts = 1000 + (i * 7) % 50;
        const std::string dev = absl::StrCat(i % 7 == 0 ? "d\"" : "d", i);
        std::vector<std::pair<std::string, std::string>> fields = {
            {"ts", absl::StrCat(ts)},
            {"dev", absl::StrCat("\"", i % 7 == 0 ? "d\\\"" : "d", i, "\"")},
            {"v", i % 5 == 0 ? "null" : absl::StrCat(i, ".5")},
            {"n", absl::StrCat(i)},
            {"ok", i % 2 == 0 ? "true" : "false"}};
        if (i % 4 == 0) fields.push_back({"extra", "[1, {\"k\": 2}]"});
        if (i % 3 == 0) std::reverse(fields.begin(), fields.end());
        const int kind = i % 10 == 9 && !type_errors ? 0 : i % 10;
        std::string body;
        std::string reason;
        if (kind == 6) {
          body = i % 20 == 6 ? "" : "  \t";
        } else if (kind == 7) {
          body = absl::StrCat("not json {", i);
          reason = "invalid JSON";
        } else {
          if (kind == 8) {
            fields.erase(std::find_if(fields.begin(), fields.end(),
                                      [](const auto& kv) { return kv.first == "ts"; }));
            reason = "missing event-time field 'ts'";
          } else if (kind == 9) {
            for (auto& kv : fields) {
              if (kv.first == "n") kv.second = "\"x\"";
            }
            reason = "field 'n': expected int64, got string";
          }
          for (const auto& [key, value] : fields) {
            absl::StrAppend(&body, body.empty() ? "{" : ", ", "\"", key, "\": ", value);
          }
          body += "}";
        }
        if (!reason.empty()) {
          w.dead = absl::StrCat(path, "|", l, "|", reason, "|", body);
        } else if (kind != 6) {
          w.record = absl::StrCat("ts=", ts, "|dev=", dev,
                                  "|v=", i % 5 == 0 ? "null" : absl::StrCat(i + 0.5), "|n=", i,
                                  "|ok=", i % 2 == 0 ? "true" : "false");
          if (!declared_)
            absl::StrAppend(&w.record, "|extra=", i % 4 == 0 ? "[1,{\"k\":2}]" : "null");
        }
        text += body;
        if (l < count || name != "d.jsonl") text += eol;
        written_.push_back(std::move(w));
      }
      Write(name, text);
      paths_.push_back(path);
      file_sizes_.back() = static_cast<int64_t>(text.size());
    }
  }

  bool Reads(size_t file, const Params& p) const {
    return static_cast<int>(file) % p.parallelism == p.subtask;
  }

  // What a reader started at `pos` must emit: records and dead letters of
  // the lines at or after it.
  void Expected(const proto::FilePosition& pos, const Params& p, std::vector<std::string>* records,
                std::vector<std::string>* dead) const {
    for (const WrittenLine& w : written_) {
      if (!Reads(w.file, p)) continue;
      const int64_t file = static_cast<int64_t>(w.file);
      if (file < pos.file_index() || (file == pos.file_index() && w.offset < pos.offset()))
        continue;
      if (!w.record.empty()) records->push_back(w.record);
      if (!w.dead.empty()) dead->push_back(w.dead);
    }
  }

  // The position names a line start (or the end) of a file this subtask
  // reads, with the number of lines before it.
  void CheckPosition(const proto::FilePosition& pos, const Params& p) const {
    const size_t index = static_cast<size_t>(pos.file_index());
    ASSERT_TRUE(Reads(index, p)) << pos.ShortDebugString();
    if (index >= paths_.size()) {
      EXPECT_EQ(pos.offset(), 0);
      return;
    }
    EXPECT_EQ(pos.file(), paths_[index]);
    int64_t before = 0;
    bool at_line_start = pos.offset() == file_sizes_[index];
    for (const WrittenLine& w : written_) {
      if (w.file != index) continue;
      if (w.offset < pos.offset()) ++before;
      if (w.offset == pos.offset()) at_line_start = true;
    }
    EXPECT_TRUE(at_line_start) << pos.ShortDebugString();
    EXPECT_EQ(pos.line(), before) << pos.ShortDebugString();
  }

  void CheckResumesFromEveryPosition(const Params& p) {
    declared_ = p.declared;
    WriteFiles(/*type_errors=*/p.declared);
    proto::FileSourceConfig& config = Config(dir_.string());
    std::vector<std::string> names = {"dev", "v", "n", "ok"};
    if (p.declared) {
      for (auto [name, type] :
           std::vector<std::pair<std::string, proto::FieldType>>{{"dev", proto::FIELD_TYPE_STRING},
                                                                 {"v", proto::FIELD_TYPE_DOUBLE},
                                                                 {"n", proto::FIELD_TYPE_INT64},
                                                                 {"ok", proto::FIELD_TYPE_BOOL}}) {
        auto* f = config.add_schema();
        f->set_name(name);
        f->set_type(type);
      }
    } else {
      names.push_back("extra");
    }
    OperatorContext ctx = Context();
    ctx.max_batch_bytes = p.max_batch_bytes;
    ctx.subtask = p.subtask;
    ctx.parallelism = p.parallelism;

    Reading full = Read(ctx, p.options);
    ASSERT_TRUE(full.status.ok()) << full.status;
    ASSERT_GT(full.positions.size(), 3u);
    std::vector<std::string> want_records, want_dead;
    Expected(full.positions.front(), p, &want_records, &want_dead);
    ASSERT_FALSE(want_records.empty());
    EXPECT_EQ(Records(full.out.main, names), want_records);
    EXPECT_EQ(DeadLetterLines(full.out), want_dead);

    for (const proto::FilePosition& pos : full.positions) {
      SCOPED_TRACE(pos.ShortDebugString());
      CheckPosition(pos, p);
      Reading tail = Read(ctx, p.options, &pos);
      ASSERT_TRUE(tail.status.ok()) << tail.status;
      std::vector<std::string> records, dead;
      Expected(pos, p, &records, &dead);
      EXPECT_EQ(Records(tail.out.main, names), records);
      EXPECT_EQ(DeadLetterLines(tail.out), dead);
      // Positions the resumed reader reports are those of the full run.
      ASSERT_LE(tail.positions.size(), full.positions.size());
      for (size_t k = 1; k < tail.positions.size(); ++k) {
        CheckPosition(tail.positions[k], p);
      }
      EXPECT_EQ(tail.positions.back().ShortDebugString(), full.positions.back().ShortDebugString());
    }
  }

  bool declared_ = true;
  std::vector<WrittenLine> written_;
  std::vector<std::string> paths_;
  std::vector<int64_t> file_sizes_;
};

TEST_F(FileSourcePositionTest, DeclaredSchemaSmallChunksManyPolls) {
  CheckResumesFromEveryPosition({.declared = true,
                                 .options = {.chunk_bytes = 64, .max_line_bytes = 1 << 20},
                                 .max_batch_bytes = 256});
}

TEST_F(FileSourcePositionTest, InferredSchemaSmallChunksManyPolls) {
  CheckResumesFromEveryPosition({.declared = false,
                                 .options = {.chunk_bytes = 64, .max_line_bytes = 1 << 20},
                                 .max_batch_bytes = 256});
}

TEST_F(FileSourcePositionTest, DeclaredSchemaLargeChunks) {
  CheckResumesFromEveryPosition({.declared = true, .options = {}, .max_batch_bytes = 1500});
}

TEST_F(FileSourcePositionTest, SecondOfTwoSubtasks) {
  CheckResumesFromEveryPosition({.declared = true,
                                 .options = {.chunk_bytes = 100, .max_line_bytes = 1 << 20},
                                 .max_batch_bytes = 400,
                                 .subtask = 1,
                                 .parallelism = 2});
}

TEST_F(FileSourcePositionTest, SeekChecksThePosition) {
  Write("a.jsonl", "{\"ts\": 1}\n");
  Write("b.jsonl", "{\"ts\": 2}\n");
  Config(dir_.string());
  OperatorContext ctx = Context();
  proto::FilePosition pos;
  pos.set_file_index(1);
  pos.set_file((dir_ / "b.jsonl").string());
  pos.set_offset(10);
  pos.set_line(1);
  {
    FileSourceReader reader(config_);
    ASSERT_TRUE(reader.Open(ctx).ok());
    EXPECT_TRUE(reader.Seek(pos.SerializeAsString()).ok());
    EXPECT_EQ(FilePositionOf(reader).ShortDebugString(), pos.ShortDebugString());
  }
  {
    // Another file at that index: the directory changed.
    proto::FilePosition other = pos;
    other.set_file((dir_ / "x.jsonl").string());
    FileSourceReader reader(config_);
    ASSERT_TRUE(reader.Open(ctx).ok());
    EXPECT_TRUE(absl::IsFailedPrecondition(reader.Seek(other.SerializeAsString())));
  }
  {
    // Past the end of the file.
    proto::FilePosition past = pos;
    past.set_offset(11);
    FileSourceReader reader(config_);
    ASSERT_TRUE(reader.Open(ctx).ok());
    ASSERT_TRUE(reader.Seek(past.SerializeAsString()).ok());
    CaptureOutput out;
    EXPECT_TRUE(absl::IsOutOfRange(reader.PollNext(out).status()));
  }
  {
    // A file another subtask reads, and a seek after polling.
    OperatorContext first = ctx;
    first.parallelism = 2;
    FileSourceReader reader(config_);
    ASSERT_TRUE(reader.Open(first).ok());
    EXPECT_TRUE(absl::IsInvalidArgument(reader.Seek(pos.SerializeAsString())));
    CaptureOutput out;
    ASSERT_TRUE(reader.PollNext(out).ok());
    pos.set_file_index(0);
    pos.set_file((dir_ / "a.jsonl").string());
    EXPECT_TRUE(absl::IsFailedPrecondition(reader.Seek(pos.SerializeAsString())));
  }
}

}  // namespace
}  // namespace sluice
