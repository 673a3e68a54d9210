// Embedded mode: real coordinator and workers in one process.

#include <filesystem>
#include <fstream>
#include <map>

#include "absl/time/clock.h"
#include "common/job_file.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tools/embedded_cluster.h"
#include "tools/job_client.h"
#include "worker/operators/generator_source.h"

namespace sluice {
namespace {

class EmbeddedRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("sluice-embedded-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto cluster = EmbeddedCluster::Start(2, 2);
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = std::move(*cluster);
  }
  void TearDown() override {
    cluster_.reset();
    std::filesystem::remove_all(dir_);
  }

  proto::JobGraph Graph(const std::string& yaml) {
    auto g = ParseJobYaml(yaml, "job.yaml", dir_.string());
    EXPECT_TRUE(g.ok()) << g.status();
    return *g;
  }

  std::filesystem::path dir_;
  std::unique_ptr<EmbeddedCluster> cluster_;
};

TEST_F(EmbeddedRunTest, GeneratorWindowJobMatchesEventModel) {
  proto::JobGraph graph = Graph(R"(name: gen
parallelism: 2
operators:
  - id: sensors
    type: generator
    devices: 50
    count: 20000
    start_time: "2026-01-01T00:00:00Z"
    interval: 1s
    jitter: 3s
    duplicate_rate: 0.05
    seed: 7
  - id: w
    type: window
    input: sensors
    key_by: [device_id]
    window: {type: tumbling, size: 10s}
    aggregates: {n: count(), lo: min(temperature)}
  - id: out
    type: file_sink
    input: w
    path: out
)");
  auto job = SubmitJob(cluster_->coordinator(), graph);
  ASSERT_TRUE(job.ok()) << job.status();
  auto status = WaitForJob(cluster_->coordinator(), *job, nullptr);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->state(), proto::FINISHED) << status->failure();

  EventModel model(graph.operators(0).generator());
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, double>> expected;
  std::string dev;
  for (int64_t i = 0; i < 20000; ++i) {
    GeneratedEvent e = model.Make(i);
    model.FormatDevice(e.device, &dev);
    auto& agg = expected[{dev, e.ts / 10000 * 10000}];
    if (agg.first == 0 || e.temperature < agg.second) agg.second = e.temperature;
    agg.first += e.duplicate ? 2 : 1;
  }
  std::map<std::pair<std::string, int64_t>, std::pair<int64_t, double>> got;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "out")) {
    std::string name = entry.path().filename().string();
    ASSERT_FALSE(name.starts_with(".")) << "unfinished file left: " << name;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      got[{j["device_id"].get<std::string>(), j["window_start"].get<int64_t>()}] = {
          j["n"].get<int64_t>(), j["lo"].get<double>()};
    }
  }
  EXPECT_EQ(got, expected);
}

TEST_F(EmbeddedRunTest, MissingInputFailsTheJobWithTheReason) {
  proto::JobGraph graph = Graph(R"(name: missing
operators:
  - id: src
    type: file_source
    path: no/such/file.jsonl
    event_time: {field: ts}
  - {id: out, type: blackhole_sink, input: src}
)");
  auto job = SubmitJob(cluster_->coordinator(), graph);
  ASSERT_TRUE(job.ok());
  auto status = WaitForJob(cluster_->coordinator(), *job, nullptr);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), proto::FAILED);
  EXPECT_NE(status->failure().find("no/such/file.jsonl"), std::string::npos) << status->failure();
}

TEST_F(EmbeddedRunTest, CancelStopsAnUnboundedJob) {
  proto::JobGraph graph = Graph(R"(name: endless
parallelism: 2
operators:
  - {id: src, type: generator, devices: 10, rate: 1000}
  - {id: w, type: window, input: src, key_by: device_id, window: {size: 1s}, aggregates: {n: count()}}
  - {id: out, type: blackhole_sink, input: w}
)");
  auto job = SubmitJob(cluster_->coordinator(), graph);
  ASSERT_TRUE(job.ok());
  absl::SleepFor(absl::Milliseconds(500));
  auto running = DescribeJob(cluster_->coordinator(), *job);
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->state(), proto::RUNNING);
  volatile bool interrupted = true;  // makes WaitForJob send the cancel
  auto status = WaitForJob(cluster_->coordinator(), *job, &interrupted);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->state(), proto::CANCELED);
}

}  // namespace
}  // namespace sluice
