#include "worker/operators/file_source.h"

#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/worker/capture_output.h"

namespace sluice {
namespace {

class FileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-fs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    std::string path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }

  CaptureOutput Run(const std::string& path, const std::string& unit = "ms") {
    spec_.set_id("src");
    auto* f = spec_.mutable_file_source();
    f->set_path(path);
    f->mutable_event_time()->set_field("ts");
    f->mutable_event_time()->set_unit(unit);
    f->mutable_watermark()->set_max_out_of_orderness_ms(10);
    FileSource source(*f);
    OperatorContext ctx;
    ctx.spec = &spec_;
    CaptureOutput out;
    EXPECT_TRUE(source.Run(ctx, out).ok());
    return out;
  }

  std::filesystem::path dir_;
  proto::OperatorSpec spec_;
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
                     {5, "event-time field 'ts' is not a number"},
                     {6, "field 't': expected double, got string"},
                     {7, "not a JSON object"}}));
  EXPECT_EQ(dead.column(4).StringAt(1), "garbage");
  EXPECT_EQ(out.watermarks.back(), kMaxWatermark);
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
  CaptureOutput out = Run(dir_.string());
  EXPECT_EQ(out.MainRows(), 3u);
}

}  // namespace
}  // namespace sluice
