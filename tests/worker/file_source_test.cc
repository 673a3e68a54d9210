#include "connectors/file/file_source.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "catalog/catalog.h"
#include "gtest/gtest.h"
#include "job/builtin_kinds.h"
#include "tests/worker/capture_output.h"
#include "tests/worker/file_source_helpers.h"
#include "worker/operators/generator/generator.pb.h"
#include "worker/operators/transform/transform.pb.h"

namespace sluice {
namespace {

class FileSourceTest : public FileSourceTestBase {
 protected:
  // Polls a reader of `path` to its end, as a task does.
  CaptureOutput Run(const std::string& path, const std::string& unit = "ms") {
    FileSourceReader source(Config(path, unit));
    CaptureOutput out;
    EXPECT_TRUE(source.Open(Context()).ok());
    while (true) {
      auto poll = source.PollNext(out);
      EXPECT_TRUE(poll.ok()) << poll.status();
      if (!poll.ok() || *poll == SourceReader::Poll::kEnd) break;
    }
    return out;
  }

  // Polls a reader of `path` to its end.
  Reading ReadPath(const std::string& path, FileSourceReader::Options options = {}) {
    Config(path);
    return Read(Context(), options);
  }
};

TEST_F(FileSourceTest, MalformedLinesGoToDeadLetterWithLineAndReason) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1000, \"dev\": \"a\", \"t\": 20.5}\n"
                           "{\"dev\": \"b\", \"t\": 1.0}\n"
                           "garbage\n"
                           "\n"
                           "{\"ts\": \"soon\", \"dev\": \"c\"}\n"
                           "{\"ts\": 1001, \"dev\": \"d\", \"t\": \"warm\"}\n"
                           "[1]\n"
                           "{\"ts\": 1002, \"dev\": \"e\", \"t\": 21}\n");
  CaptureOutput out = Run(path);
  EXPECT_EQ(out.MainRows(), 2u);
  ASSERT_EQ(out.side["dead_letter"].size(), 1u);
  const Batch& dead = out.side["dead_letter"][0];
  ASSERT_EQ(dead.num_rows(), 5u);
  std::vector<std::pair<int64_t, std::string>> got;
  for (size_t r = 0; r < dead.num_rows(); ++r) {
    got.emplace_back(dead.column(2).ints[r], std::string(dead.column(3).StringAt(r)));
    EXPECT_EQ(dead.column(0).StringAt(r), "src");
    EXPECT_EQ(dead.column(1).StringAt(r), path);
  }
  EXPECT_EQ(got, (std::vector<std::pair<int64_t, std::string>>{
                     {2, "missing event-time field 'ts'"},
                     {3, "invalid JSON"},
                     {5,
                      "event-time field 'ts' is neither a number nor an RFC 3339 time such as "
                      "2026-01-01T00:00:00Z"},
                     {6, "field 't': expected double, got string"},
                     {7, "not a JSON object"}}));
  EXPECT_EQ(dead.column(4).StringAt(1), "garbage");
  EXPECT_EQ(out.watermarks.back(), kMaxWatermark);
}

// unit: auto reads each number in its own unit, by magnitude, and RFC 3339
// strings are read whatever the unit. The expected milliseconds are
// written out by hand from the same instants.
TEST_F(FileSourceTest, AutoUnitsAndRfc3339TimesLandOnTheSameMilliseconds) {
  // 2026-11-26T10:45:50.250Z is 1795689950250 ms.
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1795689950}\n"           // s
                           "{\"ts\": 1795689950.25}\n"        // s, fraction
                           "{\"ts\": 1795689950250}\n"        // ms
                           "{\"ts\": 1795689950250000}\n"     // us
                           "{\"ts\": 1795689950250000000}\n"  // ns
                           "{\"ts\": \"2026-11-26T10:45:50.25Z\"}\n"
                           "{\"ts\": \"2026-11-26T11:45:50.25+01:00\"}\n"
                           "{\"ts\": \"yesterday\"}\n");
  Config(path, "auto");
  Reading r = Read(Context());
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<int64_t> times;
  for (const Batch& b : r.out.main) {
    times.insert(times.end(), b.event_time().begin(), b.event_time().end());
  }
  EXPECT_EQ(times, (std::vector<int64_t>{1795689950000, 1795689950250, 1795689950250, 1795689950250,
                                         1795689950250, 1795689950250, 1795689950250}));
  EXPECT_EQ(DeadLetterLines(r.out),
            (std::vector<std::string>{path + "|8|event-time field 'ts' is neither a number nor an "
                                             "RFC 3339 time such as 2026-01-01T00:00:00Z|"
                                             "{\"ts\": \"yesterday\"}"}));
  // With a fixed unit, strings are still read as RFC 3339.
  Config(path, "ms");
  Reading fixed = Read(Context());
  ASSERT_TRUE(fixed.status.ok()) << fixed.status;
  EXPECT_EQ(fixed.out.main.back().event_time().back(), 1795689950250);
}

TEST_F(FileSourceTest, InfersAndWidensTheSchemaAndConvertsTimeUnits) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1, \"n\": 1}\n"
                           "{\"ts\": 2, \"n\": 2.5, \"extra\": true}\n");
  CaptureOutput out = Run(path, "s");
  ASSERT_EQ(out.MainRows(), 2u);
  const Batch& last = out.main.back();
  EXPECT_EQ(last.schema()->field(last.schema()->IndexOf("n")).type, FieldType::kDouble);
  EXPECT_GE(last.schema()->IndexOf("extra"), 0);
  std::vector<int64_t> ts;
  for (const Batch& b : out.main) ts.insert(ts.end(), b.event_time().begin(), b.event_time().end());
  EXPECT_EQ(ts, (std::vector<int64_t>{1000, 2000}));
}

TEST_F(FileSourceTest, ReadsEveryVisibleFileOfADirectory) {
  Write("a.jsonl", "{\"ts\": 1}\n");
  Write("b.jsonl", "{\"ts\": 2}\n{\"ts\": 3}\n");
  Write(".hidden.jsonl", "{\"ts\": 4}\n");
  Write("_SUCCESS", "{\"ts\": 5}\n");
  CaptureOutput out = Run(dir_.string());
  EXPECT_EQ(out.MainRows(), 3u);
}

TEST_F(FileSourceTest, SubtasksReadEveryPthFile) {
  for (int i = 0; i < 5; ++i) Write(absl::StrCat("f", i), absl::StrCat("{\"ts\": ", i, "}\n"));
  Config(dir_.string());
  std::vector<std::string> seen[2];
  for (int s = 0; s < 2; ++s) {
    OperatorContext ctx = Context();
    ctx.subtask = s;
    ctx.parallelism = 2;
    Reading r = Read(ctx);
    ASSERT_TRUE(r.status.ok()) << r.status;
    seen[s] = Records(r.out.main, {});
  }
  EXPECT_EQ(seen[0], (std::vector<std::string>{"ts=0", "ts=2", "ts=4"}));
  EXPECT_EQ(seen[1], (std::vector<std::string>{"ts=1", "ts=3"}));
}

TEST_F(FileSourceTest, DeclaredSchemaIgnoresOtherFieldsAndChecksTypes) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1, \"n\": 5, \"x\": 1, \"d\": 2, \"s\": \"a\", \"b\": true}\n"
                           "{\"ts\": 2, \"n\": 1.5}\n"
                           "{\"ts\": 3, \"n\": 9223372036854775807, \"d\": 18446744073709551615}\n"
                           "{\"ts\": 4, \"n\": 9223372036854775808}\n"
                           "{\"ts\": 5, \"b\": 1}\n"
                           "{\"ts\": 6, \"s\": 7}\n"
                           "{\"ts\": 7, \"s\": {\"k\": [1, 2]}, \"n\": null}\n"
                           "{\"ts\": 8, \"d\": [1]}\n");
  proto::FileSourceConfig& config = Config(path);
  for (auto [name, type] :
       std::vector<std::pair<std::string, proto::FieldType>>{{"n", proto::FIELD_TYPE_INT64},
                                                             {"d", proto::FIELD_TYPE_DOUBLE},
                                                             {"s", proto::FIELD_TYPE_STRING},
                                                             {"b", proto::FIELD_TYPE_BOOL}}) {
    auto* f = config.add_schema();
    f->set_name(name);
    f->set_type(type);
  }
  Reading r = Read(Context());
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_FALSE(r.out.main.empty());
  EXPECT_EQ(r.out.main[0].schema()->size(), 4u);
  EXPECT_EQ(Records(r.out.main, {"n", "d", "s", "b"}),
            (std::vector<std::string>{
                "ts=1|n=5|d=2|s=a|b=true",
                "ts=3|n=9.22337e+18|d=1.84467e+19|s=null|b=null",
                "ts=7|n=null|d=null|s={\"k\":[1,2]}|b=null",
            }));
  EXPECT_EQ(r.out.main[0].column(0).ints[1], INT64_MAX);
  EXPECT_EQ(DeadLetterLines(r.out),
            (std::vector<std::string>{
                path + "|2|field 'n': expected int64, got number|{\"ts\": 2, \"n\": 1.5}",
                path + "|4|field 'n': 9223372036854775808 is outside the int64 range|"
                       "{\"ts\": 4, \"n\": 9223372036854775808}",
                path + "|5|field 'b': expected bool, got int64|{\"ts\": 5, \"b\": 1}",
                path + "|6|field 's': expected string, got int64|{\"ts\": 6, \"s\": 7}",
                path + "|8|field 'd': expected double, got array|{\"ts\": 8, \"d\": [1]}",
            }));
}

TEST_F(FileSourceTest, InferredSchemaGrowsWidensAndStartsANewBatchOnEachChange) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1, \"n\": 1}\n"
                           "{\"ts\": 2, \"n\": 2}\n"
                           "{\"ts\": 3, \"n\": 3, \"tag\": \"x\"}\n"
                           "{\"ts\": 4, \"n\": 4.5, \"tag\": \"y\"}\n"
                           "{\"ts\": 5, \"n\": 5, \"tag\": 6}\n"
                           "{\"ts\": 6, \"n\": 18446744073709551615, \"nested\": [{\"a\": 1}]}\n"
                           "{\"ts\": 7, \"n\": 7, \"nothing\": null}\n");
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  // Batches end where the schema changes: before lines 3 (tag), 4 (n widens), 6 (nested).
  ASSERT_EQ(r.out.main.size(), 4u);
  const std::vector<Field> one = {{"ts", FieldType::kInt64}, {"n", FieldType::kInt64}};
  const std::vector<Field> two = {
      {"ts", FieldType::kInt64}, {"n", FieldType::kInt64}, {"tag", FieldType::kString}};
  const std::vector<Field> three = {
      {"ts", FieldType::kInt64}, {"n", FieldType::kDouble}, {"tag", FieldType::kString}};
  std::vector<Field> four = three;
  four.push_back({"nested", FieldType::kString});
  EXPECT_EQ(r.out.main[0].schema()->fields(), one);
  EXPECT_EQ(r.out.main[1].schema()->fields(), two);
  EXPECT_EQ(r.out.main[2].schema()->fields(), three);
  EXPECT_EQ(r.out.main[3].schema()->fields(), four);
  EXPECT_EQ(r.out.main[0].num_rows(), 2u);
  EXPECT_EQ(Records(r.out.main, {"n", "tag", "nested"}),
            (std::vector<std::string>{
                "ts=1|n=1|tag=null|nested=null",
                "ts=2|n=2|tag=null|nested=null",
                "ts=3|n=3|tag=x|nested=null",
                "ts=4|n=4.5|tag=y|nested=null",
                "ts=6|n=1.84467e+19|tag=null|nested=[{\"a\":1}]",
                "ts=7|n=7|tag=null|nested=null",
            }));
  EXPECT_EQ(DeadLetterLines(r.out),
            (std::vector<std::string>{path + "|5|field 'tag': expected string, got int64|" +
                                      "{\"ts\": 5, \"n\": 5, \"tag\": 6}"}));
  // A watermark follows every batch: max event time - 10 ms - 1.
  EXPECT_EQ(r.out.watermarks, (std::vector<int64_t>{-9, -8, -7, -4, kMaxWatermark}));
}

TEST_F(FileSourceTest, EventTimeUnitsAndRanges) {
  const std::string lines =
      "{\"ts\": 3}\n"
      "{\"ts\": 2.5}\n"
      "{\"ts\": null}\n"
      "{\"ts\": 9000000000000001}\n"
      "{\"ts\": 1e300}\n"
      "{\"ts\": -9000000000000000}\n"
      "{\"ts\": 18446744073709551615}\n"
      "{\"ts\": true}\n";
  std::string path = Write("in.jsonl", lines);
  // In range: within 9e15 ms (about 285,000 years) of the epoch once in ms.
  const std::string kOut = "|event-time field 'ts' is out of range|";
  const std::string kNull = "3|missing event-time field 'ts'|{\"ts\": null}";
  const std::string kBool =
      "8|event-time field 'ts' is neither a number nor an RFC 3339 time|{\"ts\": true}";
  struct Case {
    std::string unit;
    std::vector<std::string> records;
    std::vector<std::string> dead;
  } cases[] = {
      {"s",
       {"ts=3000", "ts=2500"},
       {kNull, "4" + kOut + "{\"ts\": 9000000000000001}", "5" + kOut + "{\"ts\": 1e300}",
        "6" + kOut + "{\"ts\": -9000000000000000}", "7" + kOut + "{\"ts\": 18446744073709551615}",
        kBool}},
      {"ms",
       {"ts=3", "ts=2", "ts=-9000000000000000"},
       {kNull, "4" + kOut + "{\"ts\": 9000000000000001}", "5" + kOut + "{\"ts\": 1e300}",
        "7" + kOut + "{\"ts\": 18446744073709551615}", kBool}},
      {"us",
       {"ts=0", "ts=0", "ts=9000000000000", "ts=-9000000000000"},
       {kNull, "5" + kOut + "{\"ts\": 1e300}", "7" + kOut + "{\"ts\": 18446744073709551615}",
        kBool}},
      {"ns",
       {"ts=0", "ts=0", "ts=9000000000", "ts=-9000000000"},
       {kNull, "5" + kOut + "{\"ts\": 1e300}", "7" + kOut + "{\"ts\": 18446744073709551615}",
        kBool}},
  };
  for (const auto& c : cases) {
    CaptureOutput out = Run(path, c.unit);
    EXPECT_EQ(Records(out.main, {}), c.records) << c.unit;
    std::vector<std::string> reasons;
    for (const std::string& d : DeadLetterLines(out)) reasons.push_back(d.substr(path.size() + 1));
    EXPECT_EQ(reasons, c.dead) << c.unit;
  }
}

TEST_F(FileSourceTest, RejectsAnythingAfterTheObject) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1} x\n"
                           "{\"ts\": 2}}\n"
                           "{\"ts\": 3}{\"ts\": 4}\n"
                           "{\"ts\": 5} [\n"
                           "{\"ts\": 6}   \t\n"
                           "{\"ts\": 7,}\n"
                           "{\"ts\": 8, \"a\": [1,,2]}\n"
                           "{\"ts\": 9, \"a\": tru}\n");
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {}), (std::vector<std::string>{"ts=6"}));
  std::vector<std::string> lines;
  for (const std::string& d : DeadLetterLines(r.out))
    lines.push_back(d.substr(path.size() + 1, 15));
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "1|invalid JSON|", "2|invalid JSON|", "3|invalid JSON|", "4|invalid JSON|",
                       "6|invalid JSON|", "7|invalid JSON|", "8|invalid JSON|"}));
}

TEST_F(FileSourceTest, DeeplyNestedLinesAreDeadLetteredTruncated) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  std::string path = Write("in.jsonl", "{\"ts\": 1, \"a\": " + deep + "}\n" + deep + "\n" +
                                           "{\"ts\": 2, \"a\": [[[1]]]}\n");
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {"a"}), (std::vector<std::string>{"ts=2|a=[[[1]]]"}));
  ASSERT_EQ(r.out.SideRows("dead_letter"), 2u);
  const Batch& dead = r.out.side["dead_letter"][0];
  for (size_t row = 0; row < 2; ++row) {
    EXPECT_EQ(dead.column(2).ints[row], static_cast<int64_t>(row + 1));
    EXPECT_EQ(dead.column(3).StringAt(row), "invalid JSON: nested deeper than 1024 levels");
    EXPECT_EQ(dead.column(4).StringAt(row).size(), 64u * 1024);
  }
  EXPECT_TRUE(dead.column(4).StringAt(1).starts_with("[[[["));
}

TEST_F(FileSourceTest, LinesLongerThanAChunkAndLongerThanTheLimit) {
  const std::string big(5 << 20, 'x');
  const std::string long_line = "{\"ts\": 2, \"s\": \"" + big + "\"}";
  std::string path = Write(
      "in.jsonl", "{\"ts\": 1, \"s\": \"a\"}\n" + long_line + "\n{\"ts\": 3, \"s\": \"b\"}\n");
  Reading r = ReadPath(path, {.chunk_bytes = 1 << 20, .max_line_bytes = 16 << 20});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {"s"}),
            (std::vector<std::string>{"ts=1|s=a", "ts=2|s=" + big, "ts=3|s=b"}));
  EXPECT_EQ(r.out.SideRows("dead_letter"), 0u);

  // With a 4 MiB limit, the long line is dead-lettered (its first 64 KiB)
  // and reading goes on after it.
  r = ReadPath(path, {.chunk_bytes = 1 << 20, .max_line_bytes = 4 << 20});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {"s"}), (std::vector<std::string>{"ts=1|s=a", "ts=3|s=b"}));
  std::vector<std::string> dead = DeadLetterLines(r.out);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0], absl::StrCat(path, "|2|line longer than 4194304 bytes|{\"ts\": 2, \"s\": \"",
                                  big.substr(0, 64 * 1024 - 16)));
}

TEST_F(FileSourceTest, CrLfLinesAndAMissingFinalNewline) {
  std::string path = Write("in.jsonl",
                           "{\"ts\": 1, \"s\": \"a\"}\r\n"
                           "\r\n"
                           "oops\r\n"
                           "{\"ts\": 2, \"s\": \"b\\r\"}\r\n"
                           "{\"ts\": 3, \"s\": \"c\"}");
  Reading r = ReadPath(path, {.chunk_bytes = 16, .max_line_bytes = 1 << 20});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {"s"}),
            (std::vector<std::string>{"ts=1|s=a", "ts=2|s=b\r", "ts=3|s=c"}));
  EXPECT_EQ(DeadLetterLines(r.out), (std::vector<std::string>{path + "|3|invalid JSON|oops"}));
  EXPECT_EQ(r.positions.back().offset(), 0);
  EXPECT_EQ(r.positions.back().file_index(), 1);
}

// A long dead line is kept to its first 64 KiB, cut before a character,
// not inside one (which would make raw need raw_base64).
TEST_F(FileSourceTest, ALongDeadLineIsCutAtACharacterBoundary) {
  // "{" then 'a' up to byte 65535, then a 3-byte character over the cut.
  std::string line = "{" + std::string(65534, 'a') + "\xe2\x82\xac" + "bad json";
  std::string path = Write("in.jsonl", line + "\n");
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.out.SideRows("dead_letter"), 1u);
  const Batch& dead = r.out.side["dead_letter"][0];
  EXPECT_EQ(dead.column(4).StringAt(0), line.substr(0, 65535));
  EXPECT_TRUE(dead.column(5).IsNull(0));  // raw is the exact (cut) bytes
}

TEST_F(FileSourceTest, KeysWithEscapesDuplicatesAndUnicode) {
  std::string path = Write("in.jsonl",
                           "{\"t\\u0073\": 1, \"s\": \"caf\\u00e9 \\\"q\\\"\"}\n"
                           "{\"ts\": 2, \"s\": \"x\", \"s\": \"y\", \"ts\": 3}\n"
                           "{\"ts\": 4, \"s\": \"\xc3\xa9\"}\n"
                           "{\"ts\": 5, \"s\": \"\xff\"}\n");
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Records(r.out.main, {"s"}), (std::vector<std::string>{
                                            "ts=1|s=caf\xc3\xa9 \"q\"",
                                            "ts=3|s=y",
                                            "ts=4|s=\xc3\xa9",
                                        }));
  std::vector<std::string> dead = DeadLetterLines(r.out);
  ASSERT_EQ(dead.size(), 1u);
  // raw is valid UTF-8 (U+FFFD for the byte), raw_base64 the exact line.
  EXPECT_EQ(dead[0].substr(path.size()),
            "|4|invalid JSON: not valid UTF-8|{\"ts\": 5, \"s\": \"\xef\xbf\xbd\"}"
            "|base64:{\"ts\": 5, \"s\": \"\xff\"}");
}

TEST_F(FileSourceTest, EveryMangledLineBecomesARecordOrADeadLetter) {
  const std::string base =
      "{\"ts\": 12, \"s\": \"a\\\"b\", \"n\": [1, {\"x\": null}], \"d\": -1.5e3, \"b\": true}";
  const std::string alphabet = "{}[]\":,\\ \tnulltrue0123456789.-eE\xff\xc3";
  std::mt19937 rng(7);
  std::string text;
  size_t events = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string line = base;
    for (int edits = 1 + static_cast<int>(rng() % 4); edits > 0; --edits) {
      const size_t at = rng() % (line.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          if (at < line.size()) line.erase(at, 1);
          break;
        case 1:
          line.insert(at, 1, c);
          break;
        default:
          if (at < line.size()) line[at] = c;
          break;
      }
    }
    if (rng() % 10 == 0) line.resize(rng() % (line.size() + 1));
    if (line.find_first_not_of(" \t") != std::string::npos) ++events;
    text += line + "\n";
  }
  Reading r = ReadPath(Write("in.jsonl", text), {.chunk_bytes = 256, .max_line_bytes = 1 << 20});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_GT(r.out.MainRows(), 0u);
  EXPECT_GT(r.out.SideRows("dead_letter"), 0u);
  EXPECT_EQ(r.out.MainRows() + r.out.SideRows("dead_letter"), events);
}

TEST_F(FileSourceTest, CutsBatchesAtRowsAndBytes) {
  std::string text;
  for (int i = 0; i < 10'000; ++i) absl::StrAppend(&text, "{\"ts\": ", i, ", \"s\": \"abc\"}\n");
  std::string path = Write("in.jsonl", text);
  Reading r = ReadPath(path);
  ASSERT_TRUE(r.status.ok()) << r.status;
  std::vector<size_t> rows;
  for (const Batch& b : r.out.main) rows.push_back(b.num_rows());
  EXPECT_EQ(rows, (std::vector<size_t>{kTargetBatchRows, kTargetBatchRows,
                                       10'000 - 2 * kTargetBatchRows}));
  EXPECT_EQ(r.polls, 3);

  // Compact lines take fewer bytes than their rows (16 bytes each), so the
  // batch's ByteSize reaches the limit first.
  text.clear();
  for (int i = 0; i < 10'000; ++i) absl::StrAppend(&text, "{\"ts\":", i, "}\n");
  Config(Write("compact.jsonl", text));
  OperatorContext ctx = Context();
  ctx.max_batch_bytes = 10'000;
  r = Read(ctx);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.out.MainRows(), 10'000u);
  EXPECT_GT(r.out.main.size(), 10u);
  for (size_t i = 0; i + 1 < r.out.main.size(); ++i) {
    const Batch& b = r.out.main[i];
    EXPECT_GE(b.ByteSize(), 10'000u);
    Batch less(b.schema());
    less.AppendRange(b, 0, b.num_rows() - 1);
    EXPECT_LT(less.ByteSize(), 10'000u);
  }
}

TEST_F(FileSourceTest, StopsWhenAskedAndChecksItsInputs) {
  std::string path = Write("in.jsonl", "{\"ts\": 1}\n");
  Config(path);
  std::stop_source stop;
  OperatorContext ctx = Context();
  ctx.stop = stop.get_token();
  FileSourceReader reader(config_);
  ASSERT_TRUE(reader.Open(ctx).ok());
  stop.request_stop();
  CaptureOutput out;
  EXPECT_TRUE(absl::IsCancelled(reader.PollNext(out).status()));

  Config((dir_ / "missing").string());
  EXPECT_TRUE(absl::IsNotFound(FileSourceReader(config_).Open(Context())));
  Config(path, "fortnights");
  EXPECT_TRUE(absl::IsInvalidArgument(FileSourceReader(config_).Open(Context())));
}

TEST_F(FileSourceTest, FactoryMakesReadersForSourcesOnly) {
  Config(Write("in.jsonl", "{\"ts\": 1}\n"));
  const Catalog& catalog = BuiltinCatalog();
  EXPECT_TRUE(catalog.Find("file_source")->CreateSource(Spec()).ok());
  proto::OperatorSpec generator;
  generator.set_type("generator");
  generator.mutable_config()->PackFrom(proto::GeneratorConfig());
  EXPECT_TRUE(catalog.Find("generator")->CreateSource(generator).ok());
  proto::OperatorSpec filter;
  filter.set_type("filter");
  filter.mutable_config()->PackFrom(proto::FilterConfig());
  EXPECT_TRUE(absl::IsInvalidArgument(catalog.Find("filter")->CreateSource(filter).status()));
}

}  // namespace
}  // namespace sluice
